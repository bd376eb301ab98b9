"""Sparse TNN building blocks (seed 002 §3.2): eq. 3.1 quantizer, eq. 3.4/3.5 L2 on the
quantized weights, eq. 3.6 quantization-pruning mask."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from hwnn.nn.layers import QuantLinear
from hwnn.quant.ternary import (
    BinaryQuantizer,
    TernaryQuantizer,
    clip_real_weights,
    quantization_prune_mask,
    quantized_l2,
)


def test_ternary_levels_follow_eq_3_1() -> None:
    q = TernaryQuantizer(0.5)
    w = torch.tensor([-0.9, -0.5, -0.2, 0.0, 0.5, 0.51, 1.0])
    assert q(w).tolist() == [-1, 0, 0, 0, 0, 1, 1]
    codes, scale = q.quantize(w)
    assert codes.tolist() == [-1, 0, 0, 0, 0, 1, 1] and float(scale) == 1.0
    assert BinaryQuantizer()(w).tolist() == [-1, -1, -1, 1, 1, 1, 1]


@given(st.floats(0.0, 0.95), st.integers(0, 2**31 - 1))
def test_higher_threshold_never_makes_fewer_zeros(eta: float, seed: int) -> None:
    w = torch.rand(500, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    lo, hi = TernaryQuantizer(eta / 2)(w), TernaryQuantizer(eta)(w)
    assert int((hi == 0).sum()) >= int((lo == 0).sum())
    assert set(hi.unique().tolist()) <= {-1.0, 0.0, 1.0}


def test_gradient_passes_straight_through() -> None:
    w = torch.tensor([0.3, -0.8, 0.95], requires_grad=True)
    (TernaryQuantizer(0.5)(w) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad is not None and w.grad.tolist() == [1.0, 2.0, 3.0]


def test_l2_on_quantized_weights_only_pulls_nonzeros() -> None:
    layer = QuantLinear(3, 2, weight_quant=TernaryQuantizer(0.5))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.9, 0.1, -0.7], [0.0, -0.4, 0.6]]))
    penalty = quantized_l2(layer)
    assert float(penalty.detach()) == 0.5 * 3  # three non-zero w_q, each 1/2 * 1
    penalty.backward()
    # eq. 3.5: gradient lambda * w_q (lambda = 1 here): zero where w_q = 0
    assert layer.weight.grad is not None
    assert layer.weight.grad.tolist() == [[1.0, 0.0, -1.0], [0.0, 0.0, 1.0]]


def test_prune_mask_and_clipping() -> None:
    w = torch.tensor([-1.3, -0.9, -0.2, 0.9, 0.95])
    assert quantization_prune_mask(w, 0.9).tolist() == [1, 0, 0, 0, 1]
    layer = QuantLinear(5, 1, weight_quant=TernaryQuantizer(0.9))
    with torch.no_grad():
        layer.weight.copy_(w[None] * 2)
    clip_real_weights(layer)
    assert float(layer.weight.abs().max()) == 1.0


def test_ternary_mlp_exports_bit_exactly() -> None:
    import numpy as np

    from hwnn.data.base import InputQuant
    from hwnn.ir import run
    from hwnn.ir.export import export_model
    from hwnn.nn.model import build_mlp, set_quant_enabled

    torch.manual_seed(0)
    model = build_mlp(20, [12], 3, InputQuant(bits=8, signed=True, scale=None))
    for i, layer in enumerate(m for m in model.modules() if isinstance(m, QuantLinear)):
        layer.weight_quant = TernaryQuantizer(0.3) if i == 0 else BinaryQuantizer()
        with torch.no_grad():
            layer.weight.uniform_(-1, 1)
    set_quant_enabled(model, True)
    x = torch.randn(256, 20)
    model.train()
    model(x)  # calibrate activation scales
    model.eval()
    ir = export_model(model, "tern", "argmax", {})
    assert ir.layers[0].weight_bits == 2 and set(np.unique(ir.layers[0].weight)) <= {-1, 0, 1}
    assert set(np.unique(ir.layers[1].weight)) == {-1, 1}
    codes = model.quantize_input(x)
    trace = run(ir, codes.value.numpy())
    assert np.array_equal(trace.outputs[-1], model.forward_int(codes).value.numpy())

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


@given(st.floats(0.1, 0.9), st.integers(0, 2**31 - 1))
def test_uniformized_weights_zero_a_fraction_eta(eta: float, seed: int) -> None:
    from hwnn.quant.ternary import uniformize_real_weights

    layer = QuantLinear(50, 40, weight_quant=TernaryQuantizer(eta))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(40, 50, generator=gen) * 0.05)
    before = layer.weight.detach().clone()
    uniformize_real_weights(layer)
    w = layer.weight.detach()
    assert abs(float((TernaryQuantizer(eta)(w) == 0).float().mean()) - eta) <= 1 / 2000 + 1e-9
    # monotone: the order of the float weights is kept
    assert torch.equal(torch.argsort(before.reshape(-1), stable=True),
                       torch.argsort(w.reshape(-1), stable=True))


def test_prune_mask_and_clipping() -> None:
    w = torch.tensor([-1.3, -0.9, -0.2, 0.9, 0.95])
    assert quantization_prune_mask(w, 0.9).tolist() == [1, 0, 0, 0, 1]
    layer = QuantLinear(5, 1, weight_quant=TernaryQuantizer(0.9))
    with torch.no_grad():
        layer.weight.copy_(w[None] * 2)
    clip_real_weights(layer)
    assert float(layer.weight.detach().abs().max()) == 1.0


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


def _tnn_config(l2: float, eta: float | list[float] = 0.5, prune: bool = True,
                weights: str = "ternary"):
    from hwnn.config import parse_config

    stage = {"epochs": 3, "lr": 3e-3, "lr_step": 2, "patience": 3}
    train = {"seed": 2, "batch_size": 64, "float": {**stage, "epochs": 2}, "qat": stage,
             "l2_quant": l2}
    if prune:
        train["prune"] = {**stage, "method": "quantization"}
    return parse_config({"name": "tnn", "data": {"task": "mnist"},
                         "model": {"hidden": [16], "weights": weights, "eta": eta},
                         "train": train})


def test_sparse_tnn_run_end_to_end(tmp_path) -> None:
    import numpy as np
    from toy import toy_dataset

    from hwnn.ir import run
    from hwnn.ir.export import export_run
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer

    ds = toy_dataset(n=1500)
    metrics = Trainer(_tnn_config(0.0, eta=[0.5, 0.3]), ds, tmp_path / "a",
                      progress=False).run()
    assert metrics["summary_test"]["finetune"] > 0.4  # 3 classes
    sparsity = metrics["sparsity"]
    assert 0 < sparsity["total"] < 1
    _, model, _ = load_run(tmp_path / "a")
    quants = [m.weight_quant for m in model.modules() if isinstance(m, QuantLinear)]
    assert [q.threshold for q in quants] == [0.5, 0.3]  # eta per layer survives reload
    for layer in (m for m in model.modules() if isinstance(m, QuantLinear)):
        codes, _ = layer.weight_quant.quantize(layer.masked_weight())
        assert set(codes.unique().tolist()) <= {-1, 0, 1}
        assert float(layer.weight.detach().abs().max()) <= 1.0  # clipped real weights
        assert bool(((layer.weight_mask == 0) <= (codes == 0)).all())  # pruned stay zero
    ir = export_run(tmp_path / "a")
    x = torch.from_numpy(ds.test.x)
    codes = model.quantize_input(x)
    assert np.array_equal(run(ir, codes.value.numpy()).outputs[-1],
                          model.forward_int(codes).value.numpy())
    # a strong L2 penalty on the quantized weights leaves more zeros (eq. 3.3-3.5)
    strong = Trainer(_tnn_config(0.05, eta=[0.5, 0.3]), ds, tmp_path / "b",
                     progress=False).run()
    assert strong["sparsity"]["total"] > sparsity["total"]


def test_bnn_run_has_no_zero_weights(tmp_path) -> None:
    from toy import toy_dataset

    from hwnn.train.loop import Trainer

    metrics = Trainer(_tnn_config(0.0, prune=False, weights="binary"), toy_dataset(n=900),
                      tmp_path / "bnn", progress=False).run()
    assert metrics["sparsity"]["total"] == 0.0


def test_tnn_config_errors() -> None:
    import pytest

    from hwnn.config import parse_config
    from hwnn.errors import ConfigError

    base = {"name": "t", "data": {"task": "mnist"}, "model": {"hidden": [8]},
            "train": {"float": {"epochs": 1}, "qat": {"epochs": 1}}}
    cases = [
        ({"prune": {"epochs": 1, "method": "quantization"}}, {},
         "method: quantization needs model.weights: ternary"),
        ({"prune": {"epochs": 1}}, {}, "method: magnitude needs sparsity"),
        ({"l2_quant": 0.1}, {}, "l2_quant penalises ternary weights"),
        ({}, {"weights": "ternary", "eta": [0.5]}, "one value per weight layer"),
        ({}, {"weights": "ternary", "eta": 1.2}, r"eta must be in \[0, 1\)"),
    ]
    for train, model, needle in cases:
        data = {**base, "train": {**base["train"], **train}, "model": {**base["model"], **model}}
        with pytest.raises(ConfigError, match=needle):
            parse_config(data, "x.yaml")

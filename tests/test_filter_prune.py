"""Filter ranking (seed 002 eq. 4.8, §4.5.4) and structural filter removal."""

from __future__ import annotations

import pytest
import torch

from hwnn.config import ModelConfig
from hwnn.data.base import InputQuant
from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantLinear
from hwnn.nn.model import build_cnn, set_quant_enabled
from hwnn.prune.filters import (
    filter_importance,
    msqe,
    prunable_layers,
    pruned_config,
    select_filters,
    shrink,
)
from hwnn.quant.ternary import BinaryQuantizer
from hwnn.train.build import build_from_shape


def _hand_layer() -> QuantLinear:
    """Three binary filters; the layer's least-squares scale is mean |w| = 6 / 12 = 0.5 (the
    fixed scale 0.125 of the quantizer does not enter eq. 4.8)."""
    layer = QuantLinear(4, 3, weight_quant=BinaryQuantizer(0.125))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -0.5, 0.5, -0.5],  # q = 0.5 sign(w) = w: 0
                                         [1.0, -1.0, 0.5, 0.5],  # (0.25 + 0.25) / 4 = 0.125
                                         [0.1, 0.4, -0.1, -0.4]]))  # (.16+.01+.16+.01)/4
    return layer


def test_msqe_by_hand() -> None:
    assert msqe(_hand_layer()).tolist() == pytest.approx([0.0, 0.125, 0.085])


def test_msqe_of_ternary_and_uniform_layers() -> None:
    from hwnn.quant.ternary import TernaryQuantizer
    from hwnn.quant.uniform import int_weight_quant

    tern = QuantLinear(4, 2, weight_quant=TernaryQuantizer(0.3, 0.125))
    with torch.no_grad():  # non-zero levels: |w| = 0.5, 0.7, 0.4, 0.6 -> alpha = 0.55
        tern.weight.copy_(torch.tensor([[0.5, -0.7, 0.1, 0.0], [0.4, 0.6, -0.2, 0.3]]))
    want0 = (0.05**2 + 0.15**2 + 0.1**2 + 0.0) / 4
    want1 = (0.15**2 + 0.05**2 + 0.2**2 + 0.3**2) / 4
    assert msqe(tern).tolist() == pytest.approx([want0, want1])
    uni = QuantLinear(3, 1, weight_quant=int_weight_quant(2, per_channel=True))
    with torch.no_grad():  # 2-bit narrow range: levels -1, 0, 1 of scale max|w| = 1.0
        uni.weight.copy_(torch.tensor([[1.0, 0.4, -0.6]]))
    assert msqe(uni).tolist() == pytest.approx([(0.0 + 0.16 + 0.16) / 3])


def test_msqe_prunes_the_largest_error_and_l1_the_smallest_norm() -> None:
    layer = _hand_layer()
    assert torch.argsort(filter_importance(layer, "msqe")).tolist() == [1, 2, 0]
    assert filter_importance(layer, "l1").tolist() == pytest.approx([2.0, 3.0, 1.0])
    a = filter_importance(layer, "random", torch.Generator().manual_seed(3))
    b = filter_importance(layer, "random", torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown filter ranking"):
        filter_importance(layer, "nope")  # type: ignore[arg-type]


def _cnn_cfg() -> ModelConfig:
    return ModelConfig(kind="cnn", image=[1, 8, 8], channels=[4, 6], kernel=3, hidden=[5],
                       weight_bits=8, act_bits=8)


IQ = InputQuant(bits=8, signed=False, scale=1 / 256)


def _trained_like_cnn(seed: int = 0):
    torch.manual_seed(seed)
    model = build_from_shape(_cnn_cfg(), 64, 3, IQ)
    x = torch.rand(16, 64)
    model.train()
    model(x)  # initialise the learned activation scales
    model.eval()
    return model, x


def test_select_filters_and_pruned_config() -> None:
    model, _ = _trained_like_cnn()
    assert [(p.index, p.filters, p.kind) for p in prunable_layers(model)] == \
        [(0, 4, "conv"), (1, 6, "conv"), (2, 5, "fc")]
    keep = select_filters(model, {0: 1, 1: 2, 2: 1}, "l1")
    assert [len(keep[i]) for i in range(3)] == [3, 4, 4]
    assert all(k == sorted(k) for k in keep.values())
    cfg = pruned_config(_cnn_cfg(), keep)
    assert cfg.channels == [3, 4] and cfg.hidden == [4]
    with pytest.raises(ValueError, match="cannot remove"):
        select_filters(model, {0: 4}, "l1")
    with pytest.raises(ValueError, match="cannot be pruned"):
        select_filters(model, {3: 1}, "l1")


@pytest.mark.parametrize("quant", [False, True])
def test_shrunk_network_computes_what_the_zeroed_original_does(quant: bool) -> None:
    """Zero the removed filters (weights and bias) and the next layers' columns they feed:
    the rebuilt smaller network gives the same outputs, bit for bit in integer mode."""
    model, x = _trained_like_cnn(1)
    set_quant_enabled(model, quant)
    keep = select_filters(model, {0: 1, 1: 2, 2: 2}, "msqe")
    layers = [m for _, m in model.weight_layers()]
    with torch.no_grad():
        for i, kept in keep.items():
            gone = [k for k in range(layers[i].weight.shape[0]) if k not in kept]
            layers[i].weight[gone] = 0
            layers[i].bias[gone] = 0
            nxt = layers[i + 1]
            if nxt.weight.dim() == 2 and layers[i].weight.dim() == 4:
                per = nxt.weight.shape[1] // layers[i].weight.shape[0]
                cols = [g * per + p for g in gone for p in range(per)]
            else:
                cols = gone
            nxt.weight[:, cols] = 0
    small = build_from_shape(pruned_config(_cnn_cfg(), keep), 64, 3, IQ)
    shrink(model, small, keep)
    small.eval()
    set_quant_enabled(small, quant)
    if quant:
        xi = model.quantize_input(x)
        a = model.forward_int(xi)
        b = small.forward_int(IntTensor(xi.value, xi.scale))
        assert torch.equal(a.value, b.value)
    else:
        assert torch.allclose(model(x), small(x), atol=1e-5)


def test_shrink_refuses_a_different_structure() -> None:
    model, _ = _trained_like_cnn()
    other = build_cnn([1, 8, 8], [4], [5], 3, IQ)
    with pytest.raises(ValueError, match="different structure"):
        shrink(model, other, {})

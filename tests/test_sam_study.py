"""Seed 001 §III-D pruning curves and Table I costs (hwnn.prune.sam_study)."""

from __future__ import annotations

import pytest
import torch

from hwnn.data.base import InputQuant
from hwnn.nn.model import build_mlp, set_quant_enabled
from hwnn.nn.sam import SAMNet
from hwnn.prune.sam_study import (
    CurvePoint,
    activation_counts,
    activation_curve,
    fewest_kept,
    magnitude_curve,
    table_one_costs,
)


def test_table_one_costs_reproduce_the_papers_rows() -> None:
    """Seed 001 Table I: A keeps 80.0e3 parameters -> 80e3 mul and add; B keeps 5.5e3 ->
    0 mul, 11e3 add."""
    assert table_one_costs("mac", 80_000) == {"parameters": 80_000,
                                               "multiplications": 80_000, "additions": 80_000}
    assert table_one_costs("sam", 5_500) == {"parameters": 5_500, "multiplications": 0,
                                              "additions": 11_000}
    with pytest.raises(ValueError, match="'mac' or 'sam'"):
        table_one_costs("lut", 1)


def test_fewest_kept_at_an_accuracy() -> None:
    points = [CurvePoint(0, 100, 0.96), CurvePoint(1, 60, 0.95), CurvePoint(2, 30, 0.91),
              CurvePoint(3, 10, 0.5)]
    assert fewest_kept(points, 0.95).kept == 60
    assert fewest_kept(points, 0.90).kept == 30
    assert fewest_kept(points, 0.99) is None


def test_magnitude_curve_zeroes_small_hidden_weights_and_restores_them() -> None:
    torch.manual_seed(0)
    model = build_mlp(4, [3], 2, InputQuant(bits=8, signed=True, scale=None))
    set_quant_enabled(model, False)
    hidden = next(m for m in model.modules() if hasattr(m, "weight_quant")).weight
    with torch.no_grad():
        hidden.copy_(torch.tensor([[0.1, -0.5, 0.9, 0.0], [0.3, 0.2, -0.05, 1.0],
                                   [-0.7, 0.4, 0.6, 0.25]]))
    before = hidden.detach().clone()
    x, y = torch.randn(50, 4), torch.randint(0, 2, (50,))
    curve = magnitude_curve(model, [0.0, 0.15, 0.5, 2.0], x, y)
    assert [p.kept for p in curve] == [11, 9, 5, 0]  # |w| < t goes: -0.5 stays at 0.5
    assert all(0.0 <= p.accuracy <= 1.0 for p in curve)
    assert torch.equal(hidden, before)


def test_activation_curve_on_a_hand_made_sam_net() -> None:
    """Two inputs, two SAM outputs. Output 0: W+ = (0, 10) makes input 1 win the max on all
    three samples; output 1: W+ = (10, 0) makes input 0 win. W- = 0: the min goes to the
    smaller input (input 0 twice, input 1 once) for both outputs."""
    model = SAMNet(2, [2], 2).double()
    layer = model.sam[0]
    with torch.no_grad():
        layer.weight_plus.copy_(torch.tensor([[0.0, 10.0], [10.0, 0.0]]))
        layer.weight_minus.zero_()
    x = torch.tensor([[0.0, 1.0], [-1.0, 3.0], [2.0, 1.0]], dtype=torch.float64)
    plus, minus = activation_counts(model, x, batch=2)  # two batches, summed
    assert plus.tolist() == [[0, 3], [3, 0]]
    assert minus.tolist() == [[2, 2], [1, 1]]
    y = torch.tensor([0, 1, 0])
    curve = activation_curve(model, (plus, minus), [0, 1, 2, 3, 4], x, y)
    assert [p.kept for p in curve] == [8, 6, 4, 2, 0]
    assert layer.keep_plus.all() and layer.keep_minus.all()  # restored

"""Hardware-aware layer selection and filter rounding (seed 002 §4.5.1-4.5.2, Algorithm 3)."""

from __future__ import annotations

import pytest

from hwnn.cost.dataflow import LayerShape, LutModel, optimise_folding
from hwnn.prune.layer_selection import heaviest_layer, round_filters, with_filters

MODEL = LutModel(control=50.0, per_acc_bit=10.0, per_lane_bit=2.0, per_mult_bit2=2.0)
NET = [
    LayerShape("conv0", "conv", 1, 16, 3, 28, 28, weight_bits=1, act_bits=8),
    LayerShape("conv1", "conv", 16, 31, 3, 14, 14, weight_bits=1, act_bits=2),
    LayerShape("fc0", "fc", 31 * 49, 64, weight_bits=1, act_bits=2),
    LayerShape("fc1", "fc", 64, 10, weight_bits=1, act_bits=2),
]


def test_with_filters_updates_the_next_layers_inputs() -> None:
    out = with_filters(NET, {0: 12, 1: 24, 2: 50})
    assert [s.out_channels for s in out] == [12, 24, 50, 10]
    assert out[1].in_channels == 12
    assert out[2].in_channels == 24 * 49  # conv -> fc: 49 inputs per channel
    assert out[3].in_channels == 50


def test_heaviest_layer_is_the_one_with_most_luts() -> None:
    cost = optimise_folding(NET, 1e8, lut_budget=20_000, lut_model=MODEL)
    heavy = heaviest_layer(cost, [0, 1, 2])
    assert cost.layers[heavy].luts == max(cost.layers[i].luts for i in (0, 1, 2))
    with pytest.raises(ValueError):
        heaviest_layer(cost, [])


def test_bram_bound_designs_prune_the_layer_with_most_brams() -> None:
    cost = optimise_folding(NET, 1e8, lut_budget=20_000, lut_model=MODEL)
    heavy = heaviest_layer(cost, [0, 1, 2], bram_budget=0)
    brams = [c.weight_brams + c.fm_brams for c in cost.layers]
    assert brams[heavy] == max(brams[:3])


def test_rounding_a_prime_filter_count_speeds_up_the_pipeline() -> None:
    budget = 6_000  # conv1 is the bottleneck: 31 filters fold as PE = 1 only
    before = optimise_folding(NET, 1e8, lut_budget=budget, lut_model=MODEL)
    counts, after = round_filters(NET, [1], 1e8, budget, {1: 4}, MODEL)
    assert 27 <= counts[1] < 31  # 31 is prime: only PE = 1 or 31
    assert after.fps > before.fps and after.luts <= budget
    # nothing to gain: no change
    same, cost = round_filters(NET, [3], 1e8, budget, {3: 0}, MODEL)
    assert same == {3: 10} and cost.fps == before.fps

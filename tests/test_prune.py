"""Magnitude pruning: exact sparsity, smallest weights go first, masks survive training."""

from __future__ import annotations

import pytest
import torch

from hwnn.data.base import InputQuant
from hwnn.nn import build_mlp
from hwnn.prune import magnitude_prune, sparsity_report


def test_layer_sparsity_is_exact_and_removes_smallest() -> None:
    torch.manual_seed(0)
    model = build_mlp(50, [40], 10, InputQuant(8, True, None))
    before = model[1].weight.detach().abs().clone()
    report = magnitude_prune(model, 0.75, scope="layer")
    assert report["1"] == pytest.approx(0.75, abs=1e-3)
    assert report["3"] == pytest.approx(0.75, abs=1e-2)
    kept = before[model[1].weight_mask.bool()]
    dropped = before[~model[1].weight_mask.bool()]
    assert kept.min() >= dropped.max()


def test_global_scope_and_cumulative() -> None:
    torch.manual_seed(1)
    model = build_mlp(20, [20], 5, InputQuant(8, True, None))
    assert magnitude_prune(model, 0.5, scope="global")["total"] == pytest.approx(0.5, abs=0.01)
    first_mask = model[1].weight_mask.clone()
    magnitude_prune(model, 0.8, scope="global")
    assert torch.all(model[1].weight_mask <= first_mask)  # never revived
    assert sparsity_report(model)["total"] == pytest.approx(0.8, abs=0.01)


def test_masks_survive_finetuning_and_state_dict() -> None:
    torch.manual_seed(2)
    model = build_mlp(8, [6], 3, InputQuant(8, True, None))
    magnitude_prune(model, 0.5)
    mask = model[1].weight_mask.clone()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(20):
        opt.zero_grad()
        model(torch.randn(16, 8)).pow(2).sum().backward()
        opt.step()
    assert torch.all(model[1].masked_weight()[mask == 0] == 0)
    fresh = build_mlp(8, [6], 3, InputQuant(8, True, None))
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh[1].weight_mask, mask)


def test_bad_sparsity() -> None:
    model = build_mlp(4, [], 2, InputQuant(8, True, None))
    with pytest.raises(ValueError, match="sparsity"):
        magnitude_prune(model, 1.0)


def test_only_the_named_layers_are_pruned() -> None:
    """Seed 001 §III-D prunes the hidden layer of configuration A and keeps the output
    layer whole."""
    torch.manual_seed(2)
    model = build_mlp(30, [20], 5, InputQuant(8, True, None))
    report = magnitude_prune(model, 0.5, scope="layer", only=[0])
    assert report["1"] == pytest.approx(0.5, abs=1e-3)
    assert report["3"] == 0.0
    with pytest.raises(ValueError, match=r"among 0\.\.1"):
        magnitude_prune(model, 0.5, only=[2])


def test_prune_layers_config_is_checked() -> None:
    from hwnn.config import PruneConfig

    assert PruneConfig(epochs=1, sparsity=0.5, layers=[0]).layers == [0]
    with pytest.raises(ValueError, match="layers applies to method: magnitude"):
        PruneConfig(epochs=1, method="quantization", layers=[0])

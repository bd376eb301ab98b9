"""SAMLinear (seed 001 eq. 5): forward, gradient routing, pruning and activation counting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.nn.sam import SAMLinear


def _naive(x: torch.Tensor, wp: torch.Tensor, wm: torch.Tensor, kp: torch.Tensor,
           km: torch.Tensor) -> torch.Tensor:
    """Eq. 5 by loops; a term with no kept parameter contributes 0."""
    batch, n = x.shape
    m = wp.shape[1]
    out = torch.zeros(batch, m, dtype=x.dtype)
    for b in range(batch):
        for j in range(m):
            plus = [x[b, i] + wp[i, j] for i in range(n) if kp[i, j]]
            minus = [x[b, i] + wm[i, j] for i in range(n) if km[i, j]]
            out[b, j] = (max(plus) if plus else 0.0) + (min(minus) if minus else 0.0)
    return out


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 70), n=st.integers(1, 6), m=st.integers(1, 7),
       block=st.integers(1, 64), seed=st.integers(0, 10_000), prune=st.booleans())
def test_forward_matches_the_naive_reference(batch: int, n: int, m: int, block: int,
                                             seed: int, prune: bool) -> None:
    """Any block size and batch (blocks tile samples and outputs), with and without removed
    connections."""
    torch.manual_seed(seed)
    layer = SAMLinear(n, m, block_elements=block, init_scale=1.0).double()
    if prune:
        layer.keep_plus.copy_(torch.rand(n, m) > 0.4)
        layer.keep_minus.copy_(torch.rand(n, m) > 0.4)
    x = torch.randn(batch, n, dtype=torch.float64)
    expected = _naive(x, layer.weight_plus.detach(), layer.weight_minus.detach(),
                      layer.keep_plus, layer.keep_minus)
    assert torch.allclose(layer(x), expected)


@settings(max_examples=30, deadline=None)
@given(batch=st.integers(1, 70), n=st.integers(8, 24), m=st.integers(1, 7),
       block=st.integers(1, 64), seed=st.integers(0, 10_000))
def test_heavily_pruned_layer_gathers_kept_inputs_and_matches(batch: int, n: int, m: int,
                                                               block: int, seed: int) -> None:
    """Fewer than n/4 kept inputs per output takes the gathered path: same values as the
    loop reference, same gradients as autograd through masked max/min."""
    torch.manual_seed(seed)
    layer = SAMLinear(n, m, block_elements=block, init_scale=1.0).double()
    most = (n - 1) // 4  # per output, so that 4 x kept < n
    for keep in (layer.keep_plus, layer.keep_minus):
        rank = torch.rand(n, m).argsort(0).argsort(0)  # a random order of the inputs
        keep.copy_(rank < torch.randint(0, most + 1, (m,)))  # 0..most kept, some none
    x = torch.randn(batch, n, dtype=torch.float64, requires_grad=True)
    wp, wm = layer.weight_plus.detach(), layer.weight_minus.detach()
    out = layer(x)
    assert torch.allclose(out, _naive(x.detach(), wp, wm, layer.keep_plus, layer.keep_minus))
    upstream = torch.randn(batch, m, dtype=torch.float64)
    (out * upstream).sum().backward()
    x2 = x.detach().clone().requires_grad_()
    wp2, wm2 = wp.clone().requires_grad_(), wm.clone().requires_grad_()
    plus = (x2[:, :, None] + wp2.masked_fill(~layer.keep_plus, float("-inf"))).amax(dim=1)
    minus = (x2[:, :, None] + wm2.masked_fill(~layer.keep_minus, float("inf"))).amin(dim=1)
    ref = (torch.where(layer.keep_plus.any(0), plus, 0.0)
           + torch.where(layer.keep_minus.any(0), minus, 0.0))
    (ref * upstream).sum().backward()
    assert torch.allclose(x.grad, x2.grad)
    assert torch.allclose(layer.weight_plus.grad, torch.nan_to_num(wp2.grad))
    assert torch.allclose(layer.weight_minus.grad, torch.nan_to_num(wm2.grad))


def test_gradient_goes_to_the_selected_term_only() -> None:
    """One sample, one output: max picks x_1 + W+_1 = 5, min picks x_0 + W-_0 = -4; the
    upstream gradient reaches exactly those inputs and parameters (§II)."""
    layer = SAMLinear(3, 1).double()
    with torch.no_grad():
        layer.weight_plus.copy_(torch.tensor([[0.0], [3.0], [1.0]]))
        layer.weight_minus.copy_(torch.tensor([[-5.0], [0.0], [0.0]]))
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.item() == pytest.approx(5.0 - 4.0)
    (out * 2.0).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0, 0.0]]
    assert layer.weight_plus.grad.flatten().tolist() == [0.0, 2.0, 0.0]
    assert layer.weight_minus.grad.flatten().tolist() == [2.0, 0.0, 0.0]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), block=st.integers(1, 200))
def test_gradients_equal_autograd_through_max_and_min(seed: int, block: int) -> None:
    """The custom backward equals autograd through torch.max/min on the full sum tensor
    (continuous random values: no ties)."""
    torch.manual_seed(seed)
    layer = SAMLinear(6, 5, bias=True, block_elements=block, init_scale=1.0).double()
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(4, 5, dtype=torch.float64)
    (layer(x) * upstream).sum().backward()
    ours = (x.grad.clone(), layer.weight_plus.grad.clone(), layer.weight_minus.grad.clone(),
            layer.bias.grad.clone())
    wp = layer.weight_plus.detach().clone().requires_grad_()
    wm = layer.weight_minus.detach().clone().requires_grad_()
    b = layer.bias.detach().clone().requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    ref = ((x2[:, :, None] + wp[None]).amax(dim=1) + (x2[:, :, None] + wm[None]).amin(dim=1)
           + b)
    (ref * upstream).sum().backward()
    for got, want in zip(ours, (x2.grad, wp.grad, wm.grad, b.grad), strict=True):
        assert torch.allclose(got, want)


def test_activation_counts_and_pruning_on_a_hand_made_example() -> None:
    """Two inputs, one output. W+ = (0, 10): input 1 wins the max unless x_0 > x_1 + 10;
    W- = (0, 0): the min goes to the smaller input. Three samples."""
    layer = SAMLinear(2, 1).double()
    with torch.no_grad():
        layer.weight_plus.copy_(torch.tensor([[0.0], [10.0]]))
        layer.weight_minus.zero_()
    x = torch.tensor([[0.0, 1.0], [20.0, 1.0], [5.0, -1.0]], dtype=torch.float64)
    plus, minus = layer.activation_counts(x)
    assert plus.flatten().tolist() == [1, 2]
    assert minus.flatten().tolist() == [1, 2]
    assert layer.prune_by_activation(plus, minus, threshold=2) == 2
    assert layer.keep_plus.flatten().tolist() == [False, True]
    # pruned W+_0 can no longer win: sample 1 now takes x_1 + 10 = 11
    out = layer(x)
    assert out[1].item() == pytest.approx(11.0 + 1.0)
    plus, minus = layer.activation_counts(x)
    assert plus.flatten().tolist() == [0, 3] and minus.flatten().tolist() == [0, 3]


def test_a_term_with_every_connection_removed_contributes_zero_and_no_gradient() -> None:
    layer = SAMLinear(3, 2).double()
    layer.keep_minus[:, 0] = False
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    plus_only = (x[:, :, None] + layer.weight_plus[None]).amax(dim=1)[:, 0]
    assert torch.allclose(out[:, 0], plus_only)
    out[:, 0].sum().backward()
    assert layer.weight_minus.grad.abs().sum().item() == 0.0
    assert layer.kept_parameters() == 2 * 6 - 3


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive sizes"):
        SAMLinear(0, 3)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        SAMLinear(4, 2)(torch.zeros(3, 5))


def test_sam_run_trains_saves_and_refuses_export(tmp_path: Path) -> None:
    """``kind: sam`` trains on seed 001's task (on-the-fly batches; 60 steps lower the loss,
    accuracy needs hundreds: §III-C's slow convergence), is rebuilt by load_run, and export
    asks for the integer version (hwnn sam-hardware) first."""
    from hwnn.config import parse_config
    from hwnn.data.sam_task import load_sam
    from hwnn.ir.export import export_run
    from hwnn.ir.model import IRError
    from hwnn.nn.sam import SAMNet
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer

    cfg = parse_config({
        "name": "toy_sam", "data": {"task": "sam"}, "model": {"kind": "sam", "hidden": [32]},
        "train": {"seed": 0, "batch_size": 64, "steps_per_epoch": 20,
                  "float": {"epochs": 3, "lr": 8e-3, "patience": None}}})
    ds = load_sam(n=64, n_test=2000, n_val=1000)
    metrics = Trainer(cfg, ds, tmp_path / "run", progress=False).run()
    assert 0.0 <= metrics["summary_test"]["float"] <= 1.0
    _, model, _ = load_run(tmp_path / "run")
    assert isinstance(model, SAMNet) and model.sam[0].weight_plus.shape == (64, 32)
    torch.manual_seed(0)  # the Trainer seeds the initialisation with train.seed
    untrained = SAMNet(64, [32], 10)
    x, y = torch.from_numpy(ds.test.x), torch.from_numpy(ds.test.y)
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(untrained(x), y).item()
        after = torch.nn.functional.cross_entropy(model(x), y).item()
    assert after < before
    with pytest.raises(IRError, match="SAM network"):
        export_run(tmp_path / "run")


def test_sam_config_fields_are_checked() -> None:
    from hwnn.config import parse_config
    from hwnn.errors import ConfigError

    base = {"name": "s", "data": {"task": "sam"},
            "train": {"batch_size": 8, "float": {"epochs": 1}}}
    with pytest.raises(ConfigError, match="sam_bias applies"):
        parse_config({**base, "model": {"kind": "mlp", "hidden": [4], "sam_bias": True}})
    with pytest.raises(ConfigError, match="kind: sam takes"):
        parse_config({**base, "model": {"kind": "sam", "hidden": [4], "weights": "binary"}})
    assert parse_config({**base, "model": {"kind": "sam", "hidden": [4], "sam_bias": True}})

"""AddNet distribution matching (seed 002 eq. 6.2) and weight quantizer (eqs. 6.3-6.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.arith.rccm import TABLE_6_2, Rccm, ShiftSpace, enumerate_rccm, table_6_3
from hwnn.arith.rccm_match import match_rccm, set_divergences, weight_histogram
from hwnn.config import ConfigError, parse_config
from hwnn.quant.addnet import AddNetQuantizer

SMALL = ShiftSpace(phi_max=2)
_SETS3 = enumerate_rccm(3, SMALL).coefficient_sets()


@pytest.mark.parametrize("n_add", [2, 3])
def test_matching_recovers_a_set_the_weights_were_drawn_from(n_add: int) -> None:
    """Weights that are exactly a (scaled) Table 6.3 set, each value equally often: the
    divergence of that set is ~0 and it is the one chosen (the largest of the top 5)."""
    target = table_6_3(n_add).coefficient_set()
    weights = np.tile(target / 64.0, 7)  # power-of-two scale: bin edges compare exactly
    match = match_rccm(weights, n_add)
    assert np.array_equal(match.coefficients, target)
    assert match.divergence < 1e-4
    assert match.scale == 1 / 64
    assert np.array_equal(match.rccm.coefficient_set(), target)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_matching_shortlists_a_zero_divergence_set_for_any_enumerated_set(data) -> None:
    """The top of the shortlist fits exactly; the choice is the largest shortlisted set
    that holds zero (§6.5.1), which may trade a little divergence for more coefficients."""
    target = data.draw(st.sampled_from([s for s in _SETS3 if 0 in s and len(s) > 3]))
    match = match_rccm(np.repeat(target.astype(float), 3) / 8.0, 3, SMALL)
    assert match.candidates[0][0] < 1e-4
    assert len(match.candidates) == 5
    assert len(match.coefficients) == max(size for _, size in match.candidates)
    assert len(match.coefficients) >= len(target)
    assert 0 in match.coefficients


def test_gaussian_weights_prefer_sets_dense_near_zero() -> None:
    rng = np.random.default_rng(0)
    gauss = match_rccm(rng.normal(size=20_000), 3, SMALL)
    uniform = match_rccm(rng.uniform(-1, 1, size=20_000), 3, SMALL)
    def inner_share(c: np.ndarray) -> float:  # coefficients within a third of the range
        return float((np.abs(c) <= np.abs(c).max() / 3).mean())
    assert inner_share(gauss.coefficients) > inner_share(uniform.coefficients)


def test_divergence_by_hand() -> None:
    """Two bins, P = (1/2, 1/2); R = histogram of {-1, 1} = (1/2, 1/2): KL 0; R of {0, 1}
    puts both values in the upper bin: KL = 1/2 log(1/2 / eps') + 1/2 log(1/2 / (1-eps'))."""
    p = np.array([0.5, 0.5])
    rows = np.array([[-1, 1], [0, 1]], dtype=np.int64)
    kl, sizes, zero = set_divergences(rows, p)
    assert kl[0] == pytest.approx(0.0, abs=1e-5)
    eps = 1e-6 / (1 + 2e-6)
    expected = 0.5 * math.log(0.5 / eps) + 0.5 * math.log(0.5 / ((1 + 1e-6) / (1 + 2e-6)))
    assert kl[1] == pytest.approx(expected, rel=1e-6)
    assert sizes.tolist() == [2, 2] and zero.tolist() == [False, True]


def test_weight_histogram_refuses_empty_or_zero_weights() -> None:
    with pytest.raises(ValueError, match="at least one"):
        weight_histogram(np.array([]))
    with pytest.raises(ValueError, match="all weights are zero"):
        weight_histogram(np.zeros(5))


# ------------------------------------------------------------------------------ quantizer
def _quantizer(w: torch.Tensor, n_add: int = 2, select: str = "kl") -> AddNetQuantizer:
    q = AddNetQuantizer(n_add, select, SMALL)  # type: ignore[arg-type]
    q(w)
    return q


def test_quantized_weights_are_scaled_coefficients() -> None:
    w = torch.randn(16, 40)
    q = _quantizer(w, 3)
    out = q(w).detach().double()
    s = float(q.scale().detach())
    codes = out / s
    assert torch.equal(codes, codes.round())
    assert set(codes.unique().tolist()) <= set(q.book.tolist())
    int_codes, scale = q.quantize(w)
    assert torch.equal(int_codes.double(), codes) and float(scale) == s
    # the extreme weight lands on the largest coefficient (lambda = max|w| / max|C|)
    assert float(codes.abs().max()) == float(q.book.abs().max())


def test_table62_selection_uses_the_thesis_sets() -> None:
    q = _quantizer(torch.randn(8, 8), 2, "table62")
    half = sorted(int(v) for v in q.book.tolist() if v >= 0)
    assert tuple(half) == TABLE_6_2[2] and q.bits == 8


def test_gradients_are_ste_for_w_and_code_sum_for_lambda() -> None:
    torch.manual_seed(0)
    w = torch.randn(6, 10, requires_grad=True)
    q = _quantizer(w.detach(), 2)
    upstream = torch.randn(6, 10)
    (q(w) * upstream).sum().backward()
    assert torch.allclose(w.grad, upstream)  # eq. 6.4
    codes = q.quantize(w.detach())[0].float()
    # q = snap(lambda) * c with lambda = 2^log2_lam; the 12-bit snap is straight-through,
    # so d q / d log2_lam = c * lambda * ln 2 with the unsnapped lambda
    lam = torch.exp2(q.log2_lam.detach())
    expected = (codes * upstream).sum() * lam * math.log(2)
    assert float(q.log2_lam.grad) == pytest.approx(float(expected), rel=1e-4)


def test_chosen_set_survives_state_dict_round_trip() -> None:
    w = torch.randn(12, 30)
    q = _quantizer(w, 3)
    fresh = AddNetQuantizer(3, "kl", SMALL)
    fresh.load_state_dict(q.state_dict())
    assert torch.equal(fresh.book, q.book) and fresh.bits == q.bits
    assert torch.equal(fresh(w), q(w))
    assert Rccm.from_dict(q.rccm.to_dict()) == q.rccm
    info = fresh.describe()
    assert info["size"] == len(q.book) and info["rccm"]["nodes"][-1]["topology"] == "B"


def test_quantizer_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="2, 3 or 4"):
        AddNetQuantizer(5)
    with pytest.raises(ValueError, match="select"):
        AddNetQuantizer(2, "best")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="run one forward"):
        AddNetQuantizer(2).scale()


def _config(**model: object) -> dict:
    return {"name": "t", "data": {"task": "mnist"},
            "model": {"hidden": [16, 8], **model},
            "train": {"float": {"epochs": 1}, "qat": {"epochs": 1}}}


def test_addnet_config_builds_4_add_at_the_ends() -> None:
    from hwnn.data.base import InputQuant
    from hwnn.train.build import build_from_shape

    cfg = parse_config(_config(weights="addnet", addnet={"adders": 3, "phi_max": 2}))
    model = build_from_shape(cfg.model, 784, 10, InputQuant(bits=8, signed=False, scale=2**-8))
    quants = [m.weight_quant for m in model.modules()
              if isinstance(getattr(m, "weight_quant", None), AddNetQuantizer)]
    assert [q.n_add for q in quants] == [4, 3, 4]
    assert all(q.space.phi_max == 2 for q in quants)
    with pytest.raises(ConfigError, match="weights: addnet only"):
        parse_config(_config(addnet={"adders": 2}))
    with pytest.raises(ConfigError, match="qat"):
        parse_config({**_config(weights="addnet"), "train": {"float": {"epochs": 1}}})


def test_cached_matching_gives_the_same_answer(monkeypatch, tmp_path) -> None:
    from hwnn.arith import rccm_match

    monkeypatch.setenv("HWNN_CACHE_DIR", str(tmp_path))
    w = np.random.default_rng(3).normal(size=500)
    first = rccm_match.match_rccm_cached(w, 3, SMALL)
    assert len(list((tmp_path / "rccm_match").glob("*.json"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(rccm_match, "match_rccm", fail)
    again = rccm_match.match_rccm_cached(w * 2.0, 3, SMALL)  # same P, twice the range
    assert again.rccm == first.rccm and again.divergence == first.divergence
    assert again.scale == pytest.approx(2 * first.scale)


@pytest.mark.parametrize("n_add", [2, 3])
def test_addnet_mlp_exports_bit_exactly(n_add: int) -> None:
    """torch integer mode == IR reference for an AddNet MLP, weights in the chosen sets,
    with the learned scales moved off their initial values."""
    from hwnn.data.base import InputQuant
    from hwnn.ir import run
    from hwnn.ir.export import export_model
    from hwnn.nn.layers import QuantLinear
    from hwnn.nn.model import build_mlp, set_quant_enabled

    torch.manual_seed(2)
    model = build_mlp(20, [12], 3, InputQuant(bits=8, signed=True, scale=None))
    linears = [m for m in model.modules() if isinstance(m, QuantLinear)]
    for layer in linears:
        layer.weight_quant = AddNetQuantizer(n_add, "kl", SMALL)
    set_quant_enabled(model, True)
    x = torch.randn(300, 20)
    model.train()
    model(x)
    with torch.no_grad():
        for layer in linears:
            layer.weight_quant.log2_lam.add_(0.37)
    model.eval()
    ir = export_model(model, "addnet", "argmax", {})
    for layer, q in zip(ir.layers, (m.weight_quant for m in linears), strict=True):
        assert set(np.unique(layer.weight).tolist()) <= set(q.book.tolist())
        assert layer.weight_bits == q.bits
    codes = model.quantize_input(x)
    assert np.array_equal(run(ir, codes.value.numpy()).outputs[-1],
                          model.forward_int(codes).value.numpy())

"""Quantizer properties (hypothesis): idempotence, range, STE gradient, rounding rule."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hwnn.quant import CodebookQuantizer, UniformQuantizer, int_act_quant, int_weight_quant
from hwnn.quant.ste import round_half_up as torch_round_half_up
from hwnn.rules import dyadic, int_range, requantize, round_half_up, snap_mantissa

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
tensors = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 9)), elements=finite)
bits = st.integers(2, 12)


def make(kind: str, b: int) -> UniformQuantizer:
    if kind == "weight":
        return int_weight_quant(b, per_channel=True)
    if kind == "act_unsigned":
        return UniformQuantizer(b, False, scale_mode="fixed", scale=0.25, po2=True)
    return UniformQuantizer(b, True, scale_mode="fixed", scale=2.0**-3, po2=True)


@settings(max_examples=60, deadline=None)
@given(tensors, bits, st.sampled_from(["weight", "act_unsigned", "act_signed"]))
@example(np.array([[1e-45]], dtype=np.float32), 3, "weight")  # scale below float32's normals
def test_idempotent_and_in_range(x: np.ndarray, b: int, kind: str) -> None:
    q = make(kind, b)
    t = torch.from_numpy(x)
    once = q(t)
    assert torch.equal(q(once), once)
    codes, scale = q.quantize(t)
    assert int(codes.min()) >= q.qmin and int(codes.max()) <= q.qmax
    shaped = scale.reshape(-1, 1) if scale.dim() else scale
    assert torch.equal((codes.double() * shaped).float(), once)


@settings(max_examples=40, deadline=None)
@given(tensors, bits)
@example(np.array([[1.4e-44]], dtype=np.float32), 2)  # subnormal: float32 scale underflowed
@example(np.array([[1.4e-44]], dtype=np.float32), 5)
def test_weight_scale_uses_full_range(x: np.ndarray, b: int) -> None:
    """Per channel, the largest |w| maps to qmax (up to the 12-bit scale snap)."""
    q = int_weight_quant(b)
    codes, _ = q.quantize(torch.from_numpy(x))
    nonzero_rows = np.abs(x).max(axis=1) > 0
    peak = codes.abs().amax(dim=1).numpy()[nonzero_rows]
    assert np.all(peak >= q.qmax - 1)


def test_ste_gradient_is_identity_inside_range() -> None:
    q = UniformQuantizer(8, True, scale_mode="fixed", scale=0.5, po2=True)
    x = torch.tensor([-70.0, -3.3, 0.2, 10.7, 70.0], requires_grad=True)
    q(x).sum().backward()
    # inside [-64, 63.5] the gradient passes straight through; outside it is clipped to 0
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_learned_scale_gets_gradient_and_is_power_of_two() -> None:
    q = int_act_quant(8, signed=False)
    x = torch.rand(256) * 5
    q.train()
    q(x).sum().backward()
    assert q.raw_scale.grad is not None and q.raw_scale.grad.abs().item() > 0
    s = q.scale().item()
    assert math.log2(s) == round(math.log2(s))


def _mse(q: UniformQuantizer, x: torch.Tensor) -> float:
    return float(((q(x) - x) ** 2).mean().detach())


@settings(deadline=None, max_examples=25)
@given(st.integers(2, 4), st.booleans(), st.integers(0, 2**31 - 1))
def test_mse_init_is_no_worse_than_the_percentile_init(bits: int, signed: bool,
                                                       seed: int) -> None:
    """init='mse' searches down from the percentile scale, so on the calibration batch its
    quantization error never exceeds the percentile scale's; ties keep the larger scale."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4096, generator=gen) * torch.exp(torch.randn(4096, generator=gen))
    if not signed:
        x = x.abs()
    qs = {init: int_act_quant(bits, signed, init=init) for init in ("percentile", "mse")}
    for q in qs.values():
        q.train()
        q(x)  # first batch: initialise
        q.eval()
    assert _mse(qs["mse"], x) <= _mse(qs["percentile"], x)
    assert qs["mse"].scale().item() <= qs["percentile"].scale().item()
    s = qs["mse"].scale().item()
    assert math.log2(s) == round(math.log2(s))


def test_mse_init_keeps_low_bit_codes_alive() -> None:
    """2-bit signed codes of heavy-tailed standardised data (JSC-like): the percentile scale
    rounds nearly everything to 0, the least-error scale does not."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8192, generator=gen)
    x[:8] = 8.0  # a few outliers set the 99.99th percentile
    zero_share = {}
    for init in ("percentile", "mse"):
        q = int_act_quant(2, signed=True, init=init)
        q.train()
        q(x)
        codes, _ = q.quantize(x)
        zero_share[init] = float((codes == 0).float().mean())
    assert zero_share["percentile"] > 0.95
    assert zero_share["mse"] < 0.6


def test_mse_init_rejects_what_it_does_not_cover() -> None:
    with pytest.raises(ValueError, match="per-tensor learned"):
        UniformQuantizer(4, True, scale_mode="max", init="mse")
    with pytest.raises(ValueError, match="unknown scale init"):
        UniformQuantizer(4, True, scale_mode="learned", init="median")  # type: ignore[arg-type]


def test_round_half_up_ties() -> None:
    q = UniformQuantizer(8, True, scale_mode="fixed", scale=1.0, po2=True)
    x = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    assert q(x).tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]


@settings(max_examples=200, deadline=None)
@given(st.floats(-2.0**40, 2.0**40, allow_nan=False, width=32))
@example(float(np.nextafter(np.float32(0.5), np.float32(0))))  # 0.49999997 + 0.5 == 1 in fp32
@example(-2.5)
def test_round_half_up_is_exact_in_every_precision(v: float) -> None:
    """floor(v + 1/2) of the exact rational v, in numpy float32/float64 and torch."""
    exact = math.floor(Fraction(v) + Fraction(1, 2))
    for dtype in (np.float32, np.float64):
        assert int(round_half_up(np.array([v], dtype=dtype))[0]) == exact
    for tdtype in (torch.float32, torch.float64):
        assert int(torch_round_half_up(torch.tensor([v], dtype=tdtype))[0]) == exact


def test_fake_and_integer_quantize_round_the_same_quotient() -> None:
    """0.75 / float32(0.3) is 2.4999999 in float64 but rounds to 2.5 in float32: both the
    fake-quant and the integer path must give code 2."""
    q = UniformQuantizer(8, True, scale_mode="fixed", scale=0.3, po2=False)
    x = torch.tensor([0.75, 1.35, 3.45], dtype=torch.float32)
    codes, scale = q.quantize(x)
    assert codes.tolist() == [2, 4, 11]
    assert torch.equal((codes * scale).float(), q(x))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(1, 40), elements=finite),
       st.lists(st.integers(-127, 127), min_size=1, max_size=20, unique=True))
def test_codebook_nearest_and_idempotent(x: np.ndarray, values: list[int]) -> None:
    values = sorted({0, *values})  # idempotence holds for codebooks holding 0 (docstring)
    q = CodebookQuantizer(values, per_channel=False)
    t = torch.from_numpy(x)
    codes, scale = q.quantize(t)
    book = np.array(sorted(values), dtype=np.float64)
    assert set(codes.tolist()) <= set(values)
    ratio = x.astype(np.float64) / scale.item()
    best = np.abs(ratio[:, None] - book[None, :]).min(axis=1)
    assert np.allclose(np.abs(ratio - codes.numpy()), best)
    once = q(t)
    assert torch.equal(q(once), once)


def test_codebook_ste_and_errors() -> None:
    q = CodebookQuantizer([-4, 0, 1, 4])
    w = torch.randn(3, 5, requires_grad=True)
    q(w).sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))
    with pytest.raises(ValueError, match="fit in int8"):
        CodebookQuantizer([0, 200])


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**30), 2**30), st.floats(2.0**-20, 2.0**4, allow_nan=False))
def test_requantize_equals_exact_round_half_up(acc: int, ratio: float) -> None:
    ratio = snap_mantissa(ratio, 12)
    mult, shift = dyadic(ratio)
    got = int(requantize(np.array([acc]), mult, shift)[0])
    from fractions import Fraction

    exact = Fraction(acc) * Fraction(ratio)
    assert got == math.floor(exact + Fraction(1, 2))


def test_int_range() -> None:
    assert int_range(8, True) == (-128, 127)
    assert int_range(8, True, narrow=True) == (-127, 127)
    assert int_range(4, False) == (0, 15)
    with pytest.raises(ValueError):
        int_range(1, True)

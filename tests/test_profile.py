"""Adder bit-width profiling (seed 000 §III-B): per-neuron widths never exceed the worst
case, profiling without outlier removal changes nothing on the profiled data, clipping
saturates (or wraps) exactly as the IR says, and the profiled RTL equals the profiled IR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from toy import random_ir

from hwnn.eda.rtlsim import simulate
from hwnn.ir import IRError, load_ir, run, save_ir
from hwnn.ir.model import DenseLayer, Head, IRInput, IRNetwork
from hwnn.ir.profile import apply_profile, profile_accumulators
from hwnn.logic.testbench import make_testbench, write_vectors
from hwnn.logic.verilog import network_verilog


def skewed_inputs(seed: int, n: int, fan_in: int) -> np.ndarray:
    """Mostly small codes (a narrow profiled range), so later full-range codes overflow it."""
    rng = np.random.default_rng(seed + 1)
    return rng.integers(0, 4, size=(n, fan_in))


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**31 - 1), st.integers(2, 10), st.integers(2, 6), st.integers(2, 4),
       st.sampled_from([None, 0.05]), st.sampled_from(["saturate", "wrap"]))
def test_profiled_ir_matches_rtl(tmp_path_factory: pytest.TempPathFactory, seed: int,
                                 fan_in: int, hidden: int, outs: int, quantile: float | None,
                                 overflow: str) -> None:
    net = random_ir(seed, fan_in, hidden, outs)
    profiles = profile_accumulators(net, skewed_inputs(seed, 200, fan_in), quantile)
    prof = apply_profile(net, profiles, overflow)  # type: ignore[arg-type]
    for layer, p in zip(prof.layers, profiles, strict=True):
        assert np.all(layer.acc_widths() <= p.worst_bits())
        assert layer.acc_bits == int(layer.acc_widths().max())
    # full-range test codes: values beyond the profiled ranges saturate / wrap in both
    x = np.random.default_rng(seed).integers(0, 16, size=(60, fan_in))
    x[0] = 15
    trace = run(prof, x)
    tmp = tmp_path_factory.mktemp("prof")
    (tmp / "net.v").write_text(network_verilog(prof, "prof"))
    n = write_vectors(prof, trace, tmp)
    (tmp / "tb.v").write_text(make_testbench(prof, "prof", n))
    result = simulate([tmp / "tb.v", tmp / "net.v"], tmp, "icarus")
    assert result.passed, result.first_failure()


def test_profiling_without_outliers_is_exact_on_its_data() -> None:
    net = random_ir(7, 8, 5, 3)
    x = skewed_inputs(7, 500, 8)
    profiles = profile_accumulators(net, x)
    prof = apply_profile(net, profiles)
    base, narrow = run(net, x), run(prof, x)
    for a, b in zip(base.accumulators, narrow.accumulators, strict=True):
        assert np.array_equal(a, b)
    saved = sum(p.summary()["bits_saved"] for p in profiles)
    assert saved > 0  # the skewed data uses a fraction of the worst-case range
    p0 = profiles[0]
    assert np.array_equal(p0.kept_lo, p0.observed_lo) and np.array_equal(p0.kept_hi,
                                                                         p0.observed_hi)
    acc = base.accumulators[0]
    assert np.array_equal(p0.observed_lo, acc.min(axis=0))


def test_quantile_clips_outliers_with_saturation() -> None:
    layer = DenseLayer("fc0", np.array([[1]], dtype=np.int64), np.zeros(1, np.int64),
                       np.ones(1, np.int64), np.zeros(1, np.int64), in_bits=8,
                       in_signed=False, acc_bits=10, out_bits=16, out_signed=True)
    net = IRNetwork("one", IRInput(1, 8, False), [layer], Head("raw")).validate()
    x = np.array([[3]] * 999 + [[200]])  # one outlier needing 9 bits; the rest need 3
    profiles = profile_accumulators(net, x, quantile=0.01)
    assert profiles[0].kept_hi.tolist() == [3] and profiles[0].observed_hi.tolist() == [200]
    assert profiles[0].profiled_bits().tolist() == [3]
    sat = apply_profile(net, profiles, "saturate")
    wrap = apply_profile(net, profiles, "wrap")
    assert run(sat, np.array([[200]])).outputs[0].tolist() == [[3]]  # clipped to 2^2 - 1
    assert run(wrap, np.array([[200]])).outputs[0].tolist() == [[0]]  # 200 mod 8 = 0
    assert run(sat, np.array([[3]])).outputs[0].tolist() == [[3]]


def test_profiled_ir_round_trips_and_bad_profiles_are_rejected(tmp_path: Path) -> None:
    net = random_ir(3, 6, 4, 2)
    prof = apply_profile(net, profile_accumulators(net, skewed_inputs(3, 100, 6)))
    back = load_ir(save_ir(prof, tmp_path / "p.ir.json"))
    for a, b in zip(prof.layers, back.layers, strict=True):
        assert np.array_equal(a.acc_widths(), b.acc_widths()) and b.overflow == "saturate"
    with pytest.raises(IRError, match="quantile"):
        profile_accumulators(net, skewed_inputs(3, 10, 6), quantile=0.7)
    with pytest.raises(IRError, match="at least one"):
        profile_accumulators(net, np.zeros((0, 6), dtype=np.int64))
    bad = apply_profile(net, profile_accumulators(net, skewed_inputs(3, 100, 6)))
    bad.layers[0].neuron_acc_bits = np.full(4, bad.layers[0].acc_bits + 1, dtype=np.int64)
    with pytest.raises(IRError, match="neuron_acc_bits must be in"):
        bad.validate()

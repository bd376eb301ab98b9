"""FINN-style dataflow model (seed 002 ch. 4): folding constraints, eqs. 4.5-4.7, the
folding optimiser, and the cycle count of the generated MVU against the model."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.cost.dataflow import (
    Folding,
    LayerShape,
    LutModel,
    cycles,
    divisors,
    fm_brams,
    foldings,
    memory_brams,
    optimise_folding,
    pipeline_cost,
    reuse,
    weight_brams,
    words_per_bram,
)
from hwnn.ir.model import DenseLayer
from hwnn.ir.reference import layer_forward

needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs iverilog")

CONV = LayerShape("conv1", "conv", in_channels=16, out_channels=32, kernel=3, in_size=14,
                  out_size=14, weight_bits=1, act_bits=2)


def test_shape_quantities_follow_eq_4_5() -> None:
    assert (CONV.mw, CONV.mh, CONV.pixels) == (144, 32, 196)
    assert CONV.ops() == 3 * 3 * 16 * 32 * 14 * 14


def test_cycles_and_reuse() -> None:
    fold = Folding(pe=8, simd=16)
    assert cycles(CONV, fold) == (32 // 8) * (144 // 16) * 196
    assert reuse(CONV, fold) == cycles(CONV, fold)  # eq. 4.6 with PE | MH, SIMD | MW


@pytest.mark.parametrize("fold", [Folding(3, 1), Folding(1, 5), Folding(0, 1)])
def test_folding_must_divide(fold: Folding) -> None:
    with pytest.raises(ValueError):
        cycles(CONV, fold)


def test_every_listed_folding_is_legal() -> None:
    for fold in foldings(CONV):
        assert CONV.mh % fold.pe == 0 and CONV.mw % fold.simd == 0
    assert len(foldings(CONV)) == len(divisors(32)) * len(divisors(144))


@given(st.integers(1, 5000))
def test_divisors(n: int) -> None:
    assert divisors(n) == [d for d in range(1, n + 1) if n % d == 0]


def test_fm_brams_eq_4_7() -> None:
    # I * F_in^2 = 16 * 196 = 3136 two-bit words, B_w = 8192 (8K x 2)
    assert words_per_bram(2) == 8192
    assert fm_brams(CONV, 1) == 0  # fully pipelined: no buffer
    assert fm_brams(CONV, 4) == -(-3136 * 3 // (4 * 8192)) == 1
    big = LayerShape("c", "conv", 256, 64, 3, 56, 56, 1, 8)  # 802,816 eight-bit words
    assert words_per_bram(8) == 2048
    assert fm_brams(big, 2) == -(-802816 * 1 // (2 * 2048)) == 196


def test_memory_brams_picks_the_best_aspect_ratio() -> None:
    assert memory_brams(1, 16384) == 1
    assert memory_brams(36, 512) == 1
    assert memory_brams(16, 2048) == 2  # 2 x (9 x 2048) or 2 x (18 x 1024)
    assert memory_brams(4, 8192) == 2  # 2 x (4 x 4096) or 4 x (2 x 8192)
    assert memory_brams(72, 100) == 2
    fold = Folding(4, 8)  # 4 PEs, each (32 / 4) * (144 / 8) = 144 words of 8 one-bit weights
    assert weight_brams(CONV, fold) == 4 * memory_brams(8, (32 // 4) * (144 // 8))


def test_pipeline_ii_is_the_slowest_layer() -> None:
    fc = LayerShape("fc", "fc", 32 * 7 * 7, 10, weight_bits=1, act_bits=2)
    cost = pipeline_cost([CONV, fc], [Folding(8, 16), Folding(1, 1)], clock_hz=200e6,
                         lut_model=MODEL)
    assert cost.ii == max(cycles(CONV, Folding(8, 16)), cycles(fc, Folding(1, 1)))
    assert cost.fps == pytest.approx(200e6 / cost.ii)


MODEL = LutModel(control=50.0, per_acc_bit=10.0, per_lane_bit=2.0, per_mult_bit2=2.0)
NET = [
    LayerShape("conv0", "conv", 1, 16, 3, 28, 28, weight_bits=8, act_bits=8),
    LayerShape("conv1", "conv", 16, 32, 3, 14, 14, weight_bits=1, act_bits=2),
    LayerShape("fc0", "fc", 32 * 7 * 7, 64, weight_bits=1, act_bits=2),
    LayerShape("fc1", "fc", 64, 10, weight_bits=8, act_bits=2),
]


@settings(max_examples=25, deadline=None)
@given(budget=st.floats(3_000, 200_000))
def test_optimiser_never_exceeds_the_budget_and_is_fastest(budget: float) -> None:
    try:
        best = optimise_folding(NET, 100e6, lut_budget=budget, lut_model=MODEL)
    except ValueError:
        smallest = pipeline_cost(NET, [Folding(1, 1)] * len(NET), 100e6, MODEL)
        assert smallest.luts > budget
        return
    assert best.luts <= budget
    for layer_cost in best.layers:
        layer_cost.fold.check(layer_cost.layer)
    # no faster pipeline fits: the cheapest design one II step faster is over budget
    faster = [c for c in {cycles(la, f) for la in NET for f in foldings(la)} if c < best.ii]
    for ii in sorted(faster, reverse=True)[:3]:
        try:
            quicker = optimise_folding(NET, 100e6, target_fps=100e6 / ii, lut_model=MODEL)
        except ValueError:
            continue
        assert quicker.luts > budget


def test_optimiser_matches_brute_force_on_a_small_net() -> None:
    small = [LayerShape("a", "conv", 2, 4, 3, 6, 6, 1, 2),
             LayerShape("b", "fc", 36, 6, 1, 1, 1, 1, 2)]
    budget = 400.0
    model = MODEL
    best_ii = None
    for folds in itertools.product(foldings(small[0]), foldings(small[1])):
        cost = pipeline_cost(small, list(folds), 1e8, model)
        if cost.luts <= budget and (best_ii is None or cost.ii < best_ii):
            best_ii = cost.ii
    assert best_ii is not None
    assert optimise_folding(small, 1e8, lut_budget=budget, lut_model=MODEL).ii == best_ii


def test_target_fps_gives_the_cheapest_design_that_meets_it() -> None:
    cost = optimise_folding(NET, 100e6, target_fps=5_000, lut_model=MODEL)
    assert cost.fps >= 5_000
    for lc in cost.layers:  # each layer: no cheaper legal folding meets the cycle bound
        bound = 100e6 // 5_000
        cheaper = [f for f in foldings(lc.layer) if cycles(lc.layer, f) <= bound
                   and MODEL.layer(lc.layer, f) < lc.luts]
        assert not cheaper


def test_lut_model_fit_recovers_known_coefficients() -> None:
    samples = [(la, f, MODEL.layer(la, f)) for la in NET for f in foldings(la)[:6]]
    fitted = LutModel.fit(samples)
    for got, want in zip(fitted.__dict__.values(), MODEL.__dict__.values(), strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    with pytest.raises(ValueError, match="four samples"):
        LutModel.fit(samples[:3])


def test_lut_model_defaults_are_the_measured_fit() -> None:
    """The defaults are the fit scripts/dataflow_check.py wrote (rounded)."""
    import json

    path = Path(__file__).resolve().parents[1] / "results/dataflow/dataflow_check.json"
    if not path.is_file():
        pytest.skip("no dataflow_check.json: run scripts/dataflow_check.py")
    fitted = json.loads(path.read_text())["lut_model"]
    for key, value in LutModel().__dict__.items():
        assert value == pytest.approx(fitted[key], rel=1e-3)


def test_optimiser_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        optimise_folding(NET, 1e8)
    with pytest.raises(ValueError, match="full unrolling"):
        optimise_folding(NET, 1e8, target_fps=1e8)
    with pytest.raises(ValueError, match="most folded"):
        optimise_folding(NET, 1e8, lut_budget=10, lut_model=MODEL)


def _layer(rng: np.random.Generator, n_in: int, n_out: int, binary: bool,
           signed_in: bool) -> DenseLayer:
    w = rng.choice([-1, 1], (n_out, n_in)) if binary else rng.integers(-7, 8, (n_out, n_in))
    return DenseLayer("fc", w.astype(np.int64), rng.integers(-50, 50, n_out),
                      rng.integers(1, 1 << 10, n_out), rng.integers(0, 12, n_out), in_bits=4,
                      in_signed=signed_in, acc_bits=24, out_bits=6, out_signed=not binary,
                      activation="relu" if binary else "identity", weight_bits=4)


@needs_iverilog
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), binary=st.booleans(), signed_in=st.booleans(),
       pe=st.sampled_from([1, 2, 4]), simd=st.sampled_from([1, 3, 6]))
def test_mvu_is_bit_exact_and_takes_the_modelled_cycles(tmp_path_factory, seed: int,
                                                        binary: bool, signed_in: bool, pe: int,
                                                        simd: int) -> None:
    _check_mvu(tmp_path_factory, seed, binary, signed_in, pe, simd, ["icarus"])


@needs_iverilog
def test_mvu_in_every_simulator(tmp_path_factory) -> None:
    from hwnn.eda.rtlsim import available_simulators

    _check_mvu(tmp_path_factory, 7, True, True, 2, 3, available_simulators())


@needs_iverilog
def test_simulation_from_a_relative_folder(tmp_path: Path, monkeypatch) -> None:
    """`hwnn sim runs/x` passes relative folders; Verilator's object folder must still be
    found (it once resolved against the simulation folder twice)."""
    from hwnn.eda.rtlsim import available_simulators, simulate
    from hwnn.logic.mvu import mvu_testbench, mvu_verilog

    layer = _layer(np.random.default_rng(3), 12, 8, True, False)
    x = np.random.default_rng(4).integers(0, 16, (2, 12))
    _, y = layer_forward(layer, x)
    monkeypatch.chdir(tmp_path)
    folder = Path("rel") / "sim"
    (folder).mkdir(parents=True)
    (folder / "mvu.v").write_text(mvu_verilog(layer, Folding(2, 3)))
    mvu_testbench(layer, Folding(2, 3), x, y, folder)
    for simulator in available_simulators():
        result = simulate([folder / "tb.v", folder / "mvu.v"], folder, simulator)  # type: ignore[arg-type]
        assert result.vectors == 2 and result.mismatches == 0


def _check_mvu(tmp_path_factory, seed: int, binary: bool, signed_in: bool, pe: int, simd: int,
               simulators: list[str]) -> None:
    from hwnn.eda.rtlsim import simulate
    from hwnn.logic.mvu import measured_cycles, mvu_testbench, mvu_verilog

    rng = np.random.default_rng(seed)
    layer = _layer(rng, 12, 8, binary, signed_in)
    lo, hi = (-8, 7) if signed_in else (0, 15)
    pixels = 4
    x = rng.integers(lo, hi + 1, (pixels, 12))
    _, y = layer_forward(layer, x)
    fold = Folding(pe, simd)
    # the P = 4 vectors are the output pixels of a 2 x 2 convolution with a 12-wide window
    conv = LayerShape("c", "conv", in_channels=12, out_channels=8, kernel=1, in_size=2,
                      out_size=2)
    for simulator in simulators:
        folder: Path = tmp_path_factory.mktemp(f"mvu_{simulator}")
        (folder / "mvu.v").write_text(mvu_verilog(layer, fold))
        mvu_testbench(layer, fold, x, y, folder)
        result = simulate([folder / "tb.v", folder / "mvu.v"], folder, simulator)  # type: ignore[arg-type]
        assert result.vectors == pixels and result.mismatches == 0
        assert measured_cycles(Path(result.log_path).read_text()) == cycles(conv, fold)


def test_mvu_refuses_bad_folding_and_overflowing_layers() -> None:
    from hwnn.logic.mvu import mvu_verilog

    layer = _layer(np.random.default_rng(0), 12, 8, False, False)
    with pytest.raises(ValueError, match="PE must divide"):
        mvu_verilog(layer, Folding(3, 1))
    narrow = DenseLayer(**{**layer.__dict__, "acc_bits": 6})
    with pytest.raises(ValueError, match="overflow"):
        mvu_verilog(narrow, Folding(1, 1))

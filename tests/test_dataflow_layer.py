"""Dataflow layer with AddNet RCCM or generic multipliers (seed 002 §6.6.2): bit-exact
against the IR reference, including narrow accumulators (wrap and saturate)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.arith.rccm import table_6_3
from hwnn.ir.model import DenseLayer
from hwnn.ir.reference import layer_forward
from hwnn.logic.dataflow_layer import dataflow_layer_verilog, dataflow_testbench, select_words

needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs iverilog")


def _layer(seed: int, n_in: int, n_out: int, values: np.ndarray, in_signed: bool,
           relu: bool, acc_bits: int, overflow: str) -> DenseLayer:
    rng = np.random.default_rng(seed)
    w = rng.choice(values, size=(n_out, n_in)).astype(np.int64)
    return DenseLayer("fc", w, rng.integers(-300, 300, n_out), rng.integers(1, 1 << 10, n_out),
                      rng.integers(6, 12, n_out), in_bits=4, in_signed=in_signed,
                      acc_bits=acc_bits, out_bits=6, out_signed=not relu,
                      activation="relu" if relu else "identity", overflow=overflow,  # type: ignore[arg-type]
                      weight_bits=9)


def _simulate(layer: DenseLayer, folder: Path, rccm, seed: int = 0) -> tuple[int, int]:
    from hwnn.eda.rtlsim import simulate

    lo, hi = (-8, 7) if layer.in_signed else (0, 15)
    x = np.random.default_rng(seed).integers(lo, hi + 1, size=(25, layer.in_features))
    x[0] = hi  # extremes
    x[1] = lo
    _, y = layer_forward(layer, x)
    (folder / "l.v").write_text(dataflow_layer_verilog(layer, rccm))
    vectors = dataflow_testbench(layer, x, y, folder)
    result = simulate([folder / "tb.v", folder / "l.v"], folder)
    assert result.vectors == vectors
    return result.vectors, result.mismatches


@needs_iverilog
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n_add=st.sampled_from([2, 3, 4]),
       in_signed=st.booleans(), relu=st.booleans(), acc_bits=st.sampled_from([8, 12, 24]),
       overflow=st.sampled_from(["wrap", "saturate"]), generic=st.booleans())
def test_dataflow_layer_matches_the_ir_reference(tmp_path_factory, seed: int, n_add: int,
                                                  in_signed: bool, relu: bool, acc_bits: int,
                                                  overflow: str, generic: bool) -> None:
    rccm = table_6_3(n_add)
    values = rccm.coefficient_set()
    if generic:  # generic 9-bit multipliers hold the same weights
        values = values[np.abs(values) <= 255]
    layer = _layer(seed, 6, 3, values, in_signed, relu, acc_bits, overflow)
    folder = tmp_path_factory.mktemp("df")
    vectors, mismatches = _simulate(layer, folder, None if generic else rccm, seed)
    assert vectors == 25 and mismatches == 0


@needs_iverilog
def test_a_wrong_select_is_caught(tmp_path) -> None:
    """Not vacuous: the Verilog of a layer with one weight changed fails the bench."""
    from hwnn.eda.rtlsim import simulate

    rccm = table_6_3(2)
    layer = _layer(1, 5, 2, rccm.coefficient_set(), False, False, 24, "wrap")
    layer.multiplier[:], layer.shift[:], layer.out_bits = 1, 0, 16  # y = acc, no clipping
    x = np.random.default_rng(2).integers(1, 16, size=(10, 5))
    _, y = layer_forward(layer, x)
    wrong = DenseLayer(**{**layer.__dict__, "weight": layer.weight.copy()})
    values = list(rccm.coefficient_set())
    wrong.weight[1, 3] = values[(values.index(int(layer.weight[1, 3])) + 1) % len(values)]
    (tmp_path / "l.v").write_text(dataflow_layer_verilog(wrong, rccm))
    dataflow_testbench(layer, x, y, tmp_path)
    assert simulate([tmp_path / "tb.v", tmp_path / "l.v"], tmp_path).mismatches > 0


def test_select_words_map_weights_to_selects() -> None:
    rccm = table_6_3(2)
    layer = _layer(0, 7, 4, rccm.coefficient_set(), False, True, 20, "wrap")
    sel = select_words(layer, rccm)
    assert np.array_equal(rccm.coefficients()[sel], layer.weight)
    layer.weight[0, 0] = 3  # not a 2-Add coefficient (Table 6.2: 0 1 2 8 28 ...)
    with pytest.raises(ValueError, match="not coefficients"):
        select_words(layer, rccm)

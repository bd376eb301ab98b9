"""Effective-throughput model (seed 002 §3.4.4) and the RLE decompressor in logic."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwnn.codec import rle_encode
from hwnn.cost.throughput import (
    KU115,
    TYPE1_MAC,
    TYPE2_MAC,
    break_even_gamma,
    effective_cost,
    effective_tops,
    peak_tops,
    reuse_factor,
)
from hwnn.logic.rle_decoder import rle_decoder_testbench, rle_decoder_verilog


def test_peak_matches_the_thesis() -> None:
    # seed 002 §3.4.3: 46.4 TOPs for type 1 (5 LUTs per MAC, 70 % of the KU115's LUTs)
    assert peak_tops(KU115, TYPE1_MAC) == pytest.approx(46.4, abs=0.05)
    # type 2: the thesis quotes 1.3 TOPs; 2 DSPs per float adder gives 1.38
    assert peak_tops(KU115, TYPE2_MAC) == pytest.approx(1.38, abs=0.01)


def test_effective_cost_formula() -> None:
    assert effective_cost(0.5, 1e-5, 4e-5, 8) == pytest.approx(0.5 * (1e-5 + 5e-6))
    assert effective_cost(1.0, 1e-5, 0.0, 1) == pytest.approx(1e-5)
    assert reuse_factor(16) == 16 and reuse_factor(16, 49) == 784
    with pytest.raises(ValueError):
        effective_cost(1.5, 1e-5, 1e-5, 1)


def test_sparse_beats_dense_below_the_break_even_gamma() -> None:
    c_op, c_d = KU115.share(**TYPE1_MAC), KU115.share(luts=40)
    for reuse in (1, 4, 64):
        g = break_even_gamma(c_op, c_d, reuse)
        dense = peak_tops(KU115, TYPE1_MAC)
        assert effective_tops(KU115, TYPE1_MAC, 40, g * 0.99, reuse) > dense
        assert effective_tops(KU115, TYPE1_MAC, 40, min(1.0, g * 1.01), reuse) < dense
    # more re-use amortises the decoder: the break-even moves towards gamma = 1
    assert break_even_gamma(c_op, c_d, 64) > break_even_gamma(c_op, c_d, 1)


def _run_icarus(folder: Path, top: Path) -> list[str]:
    subprocess.run(["iverilog", "-g2005", "-o", "sim.vvp", "tb.v", str(top)], cwd=folder,
                   check=True, timeout=120)
    out = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=folder, check=True, timeout=120,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line and line[0].isdigit()]


@pytest.mark.parametrize(("density", "gap_bits"), [(0.3, 2), (0.05, 3), (0.0, 2), (1.0, 1)])
def test_rle_decoder_emits_every_nonzero(tmp_path: Path, density: float, gap_bits: int) -> None:
    if shutil.which("iverilog") is None:
        pytest.skip("needs iverilog")
    rng = np.random.default_rng(1)
    w = np.where(rng.random(300) < density, rng.choice([-1, 1], size=300), 0).astype(np.int8)
    stream = rle_encode(w, gap_bits)
    (tmp_path / "dec.v").write_text(rle_decoder_verilog(gap_bits, 10))
    expected = rle_decoder_testbench(stream, tmp_path, 10)
    lines = _run_icarus(tmp_path, tmp_path / "dec.v")
    got = [tuple(int(v) for v in line.split()) for line in lines]
    nz = np.flatnonzero(w)
    assert len(got) == expected == len(nz)
    assert got == [(int(i), int(w[i] < 0)) for i in nz]


def test_rle_decoder_synthesizes_to_a_few_luts(tmp_path: Path) -> None:
    if shutil.which("yosys") is None:
        pytest.skip("needs yosys")
    from hwnn.eda.yosys import synth_fpga

    (tmp_path / "dec.v").write_text(rle_decoder_verilog(4, 16))
    fpga = synth_fpga([tmp_path / "dec.v"], "rle_decoder", tmp_path, timeout_s=300,
                      use_dsp=False)
    assert 0 < fpga.luts <= 3 * 16 and fpga.flip_flops >= 16

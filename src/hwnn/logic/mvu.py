"""A folded matrix-vector unit (MVU) in the style of FINN's MVTU (seed 002 §4.6.2, Fig. 4.5):
``PE`` processing elements x ``SIMD`` lanes computing one IR dense layer, the unit the
dataflow model of :mod:`hwnn.cost.dataflow` counts cycles for.

With ``MH`` outputs and ``MW`` inputs, ``NF = MH / PE`` neuron folds and ``SF = MW / SIMD``
synapse folds:

* the input vector arrives as ``SF`` beats of ``SIMD`` activations (``in_valid``/``in_ready``),
  lane ``s`` of beat ``f`` is input ``f * SIMD + s``; beats are taken during neuron fold 0 and
  kept in an ``SF``-word buffer that the later neuron folds read;
* each cycle every PE ``p`` adds its ``SIMD`` products to its accumulator; the weights come
  from a ROM of ``NF * SF`` words of ``PE * SIMD`` weights (binary ``{-1, +1}`` weights as one
  bit each, an add or a subtract as in Fig. 4.5; otherwise ``weight_bits`` two's complement
  and a multiplier per lane);
* after synapse fold ``SF - 1`` of neuron fold ``n`` the PE outputs of neurons
  ``n * PE + p`` leave as one beat (``out_valid``, one cycle later), through a requantizer
  whose ``M``/``S`` come from a ROM indexed by the fold, and the output clip - the IR's
  ``y`` bit for bit (:mod:`hwnn.rules`).

One vector takes ``NF * SF`` cycles and vectors follow back to back, so ``P`` vectors (the
output pixels of a convolution) take ``P * NF * SF`` cycles - the model's count; the bench
measures the cycles from the first input beat taken to the last output beat.

The accumulator is as wide as the layer's exact partial sums, so the unit needs a layer
that never overflows its IR accumulator (every exported layer at worst-case width).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnn.cost.dataflow import Folding
from hwnn.ir.model import DenseLayer
from hwnn.ir.ranges import signed_bits, unsigned_bits
from hwnn.logic.dataflow_layer import rom_case, sum_ranges
from hwnn.logic.literals import hex_lines, pack_words, signed_literal
from hwnn.logic.testbench import count_mismatch
from hwnn.rules import int_range


@dataclass(frozen=True)
class MvuShape:
    """Widths and folds of one generated MVU."""

    pe: int
    simd: int
    nf: int
    sf: int
    binary: bool
    weight_field: int  # bits per weight in the ROM
    acc_bits: int

    @property
    def cycles_per_vector(self) -> int:
        return self.nf * self.sf


def mvu_shape(layer: DenseLayer, fold: Folding) -> MvuShape:
    """Check the folding and the no-overflow requirement; the unit's widths."""
    mh, mw = layer.out_features, layer.in_features
    if mh % fold.pe or mw % fold.simd:
        raise ValueError(f"layer {layer.name} ({mw} -> {mh}): PE must divide {mh} and SIMD "
                         f"must divide {mw}, got PE = {fold.pe}, SIMD = {fold.simd}")
    lo = hi = 0
    for j in range(mh):
        (p_lo, p_hi), (f_lo, f_hi) = sum_ranges(layer, j)
        a_lo, a_hi = int_range(int(layer.acc_widths()[j]), True)
        if f_lo < a_lo or f_hi > a_hi:
            raise ValueError(f"layer {layer.name}: neuron {j}'s sum can overflow its "
                             f"{int(layer.acc_widths()[j])}-bit accumulator; the MVU needs a "
                             "layer exported at worst-case accumulator width")
        lo, hi = min(lo, p_lo), max(hi, p_hi)
    binary = bool(np.isin(layer.weight, (-1, 1)).all())
    return MvuShape(fold.pe, fold.simd, mh // fold.pe, mw // fold.simd, binary,
                    1 if binary else layer.weight_bits, signed_bits(lo, hi))


def mvu_verilog(layer: DenseLayer, fold: Folding, name: str = "mvu") -> str:
    """Verilog of the folded MVU (module docstring)."""
    sh = mvu_shape(layer, fold)
    pe, simd, nf, sf = sh.pe, sh.simd, sh.nf, sh.sf
    a, ob, wa = layer.in_bits, layer.out_bits, sh.acc_bits
    wfield = sh.weight_field
    mb = unsigned_bits(int(layer.multiplier.max()))
    sb = unsigned_bits(int(layer.shift.max()))
    rw = max(wa + mb + 1, int(layer.shift.max()) + 2)
    nf_bits, sf_bits = max(1, (nf - 1).bit_length()), max(1, (sf - 1).bit_length())
    # ROM words: weights at (n, f), field p * SIMD + s = weight[n*PE + p][f*SIMD + s]
    w = layer.weight.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    w_words = pack_words((w > 0).astype(np.int64) if sh.binary else w, wfield)
    per_fold = [np.arange(n * pe, (n + 1) * pe) for n in range(nf)]
    bias_words = pack_words(np.stack([layer.bias[j] for j in per_fold]), wa)
    m_words = pack_words(np.stack([layer.multiplier[j] for j in per_fold]), mb)
    s_words = pack_words(np.stack([layer.shift[j] for j in per_fold]), sb)
    lo, hi = layer.out_range()
    x_ext = "$signed(xl{s})" if layer.in_signed else "$signed({{1'b0, xl{s}}})"
    kind = "binary add/sub lanes" if sh.binary else f"{wfield}-bit weights"
    lines = [
        f"// MVU {layer.name}: {layer.in_features} -> {layer.out_features}, PE = {pe}, "
        f"SIMD = {simd} ({kind}); {nf * sf} cycles per vector.",
        f"module {name} (",
        "  input  wire clk,",
        "  input  wire rst,",
        "  input  wire in_valid,",
        "  output wire in_ready,",
        f"  input  wire [{simd * a - 1}:0] x,",
        "  output reg  out_valid,",
        f"  output wire [{pe * ob - 1}:0] y",
        ");",
        f"  reg [{nf_bits - 1}:0] nf;",
        f"  reg [{sf_bits - 1}:0] sf;",
        f"  reg [{simd * a - 1}:0] buffer [0:{sf - 1}];",
        "  assign in_ready = nf == 0;",
        "  wire step = in_ready ? in_valid : 1'b1;",
        f"  wire last_sf = sf == {sf_bits}'d{sf - 1};",
        f"  wire last_nf = nf == {nf_bits}'d{nf - 1};",
        f"  wire [{simd * a - 1}:0] data = in_ready ? x : buffer[sf];",
        f"  wire [{sf_bits + nf_bits - 1}:0] waddr = nf * {sf_bits + nf_bits}'d{sf} + sf;",
    ]
    rom_case(lines.append, "wword", "waddr", w_words, pe * simd * wfield)
    rom_case(lines.append, "bword", "nf", bias_words, pe * wa)
    for s in range(simd):
        lines.append(f"  wire [{a - 1}:0] xl{s} = data[{(s + 1) * a - 1}:{s * a}];")
    lines += [
        f"  reg [{nf_bits - 1}:0] out_nf;",
        "  always @(posedge clk) begin",
        "    if (rst) begin",
        f"      nf <= {nf_bits}'d0;",
        f"      sf <= {sf_bits}'d0;",
        "      out_valid <= 1'b0;",
        "    end else begin",
        "      out_valid <= step & last_sf;",
        "      if (step) begin",
        "        if (in_ready) buffer[sf] <= x;",
        f"        sf <= last_sf ? {sf_bits}'d0 : sf + {sf_bits}'d1;",
        f"        if (last_sf) nf <= last_nf ? {nf_bits}'d0 : nf + {nf_bits}'d1;",
        "        out_nf <= nf;",
        "      end",
        "    end",
        "  end",
    ]
    rom_case(lines.append, "mword", "out_nf", m_words, pe * mb)
    rom_case(lines.append, "sword", "out_nf", s_words, pe * sb)
    lo_l, hi_l = signed_literal(lo, rw), signed_literal(hi, rw)
    for p in range(pe):
        terms = []
        for s in range(simd):
            bit = (p * simd + s) * wfield
            if sh.binary:
                terms.append(f"(wword[{bit}] ? {x_ext.format(s=s)} : -{x_ext.format(s=s)})")
            else:
                terms.append(f"{x_ext.format(s=s)} * $signed(wword[{bit + wfield - 1}:{bit}])")
        lines += [
            f"  // PE {p}",
            f"  reg signed [{wa - 1}:0] acc{p};",
            f"  wire signed [{wa - 1}:0] sum{p} = (sf == 0 ? "
            f"$signed(bword[{(p + 1) * wa - 1}:{p * wa}]) : acc{p}) + " + " + ".join(terms) + ";",
            f"  always @(posedge clk) if (step) acc{p} <= sum{p};",
            f"  wire [{mb - 1}:0] m{p} = mword[{(p + 1) * mb - 1}:{p * mb}];",
            f"  wire [{sb - 1}:0] s{p} = sword[{(p + 1) * sb - 1}:{p * sb}];",
            f"  wire signed [{rw - 1}:0] prod{p} = acc{p} * $signed({{1'b0, m{p}}});",
            f"  wire signed [{rw - 1}:0] rnd{p} = (s{p} == 0) ? {rw}'sd0 : "
            f"({rw}'sd1 <<< (s{p} - 1));",
            f"  wire signed [{rw - 1}:0] r{p} = (prod{p} + rnd{p}) >>> s{p};",
            f"  assign y[{(p + 1) * ob - 1}:{p * ob}] = (r{p} < {lo_l}) ? {ob}'h"
            f"{lo & ((1 << ob) - 1):x} : (r{p} > {hi_l}) ? {ob}'h{hi & ((1 << ob) - 1):x} : "
            f"r{p}[{ob - 1}:0];",
        ]
    lines += ["endmodule", ""]
    return "\n".join(lines)


def mvu_testbench(layer: DenseLayer, fold: Folding, inputs: np.ndarray, expected: np.ndarray,
                  folder: Path, name: str = "mvu") -> int:
    """Write ``tb.v``, ``x.hex``, ``y.hex`` for ``inputs`` (vectors x MW) and the IR outputs
    ``expected`` (vectors x MH). The bench offers a new beat in every cycle, checks every
    output beat and prints ``CYCLES first_in=… last_out=…`` (clock-edge indices of the first
    input beat taken and the last output beat seen) with the ``RESULT`` line of
    :mod:`hwnn.eda.rtlsim`. Returns the number of vectors."""
    sh = mvu_shape(layer, fold)
    n_vec = inputs.shape[0]
    a, ob = layer.in_bits, layer.out_bits
    beats_in = inputs.reshape(n_vec * sh.sf, sh.simd)
    beats_out = expected.reshape(n_vec * sh.nf, sh.pe)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.hex").write_text(hex_lines(pack_words(beats_in, a), sh.simd * a))
    (folder / "y.hex").write_text(hex_lines(pack_words(beats_out, ob), sh.pe * ob))
    n_in, n_out = len(beats_in), len(beats_out)
    (folder / "tb.v").write_text(f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1;
  wire in_ready, out_valid;
  wire [{sh.pe * ob - 1}:0] y;
  reg [{sh.simd * a - 1}:0] xs [0:{n_in - 1}];
  reg [{sh.pe * ob - 1}:0] ys [0:{n_out - 1}];
  integer k = 0, got = 0, errors = 0, edge_no = 0, first_in = -1, last_out = -1;
  wire in_valid = !rst && k < {n_in};
  wire [{sh.simd * a - 1}:0] x = xs[k < {n_in} ? k : 0];
  {name} dut (.clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .x(x),
             .out_valid(out_valid), .y(y));
  always #5 clk = ~clk;
  always @(posedge clk) begin
    edge_no = edge_no + 1;
    if (in_valid && in_ready) begin
      if (k == 0) first_in = edge_no;
      k <= k + 1;
    end
    if (!rst && out_valid) begin
      last_out = edge_no;
{count_mismatch("y", "ys[got]", "got / " + str(sh.nf), layer="0", indent="      ")}\
      got = got + 1;
    end
  end
  initial begin
    $readmemh("x.hex", xs);
    $readmemh("y.hex", ys);
    @(posedge clk); #1 rst = 0;
    wait (got == {n_out});
    @(posedge clk); @(posedge clk); #1;
    $display("CYCLES first_in=%0d last_out=%0d", first_in, last_out);
    $display("RESULT vectors=%0d mismatches=%0d layer_mismatches=", got / {sh.nf}, errors);
    $finish;
  end
  initial begin
    #{10 * (n_in * sh.nf + 100)};
    $display("RESULT vectors=%0d mismatches=%0d layer_mismatches=", got / {sh.nf}, errors + 1);
    $finish;
  end
endmodule
""")
    return n_vec


def measured_cycles(log_text: str) -> int:
    """Cycles from the first input beat taken to the last output beat, from the bench's
    ``CYCLES`` line."""
    match = re.search(r"CYCLES first_in=(-?\d+) last_out=(-?\d+)", log_text)
    if match is None:
        raise ValueError("the MVU bench printed no CYCLES line")
    first, last = int(match.group(1)), int(match.group(2))
    if first < 0 or last < 0:
        raise ValueError("the MVU bench took no input or gave no output")
    return last - first

"""A dataflow (weight-memory) implementation of one IR dense layer, with AddNet RCCM or
generic multipliers (seed 002 §6.6.2, Fig. 6.7b: processing elements that multiply and
accumulate, weights streamed from a buffer; "instead of storing the coefficients, only the
index s has to be stored", §6.6.4).

One processing element (PE) per output neuron; the input vector arrives one feature per
cycle (``in_valid``), in order ``i = 0 .. in-1``, and is broadcast to every PE. A ROM holds
one word per input index: the select words of all PEs (RCCM) or their weights (generic).

* PE ``j``: ``p = c_{j,i} * x_i`` (RCCM with select ``s_{j,i}``, or ``x * w`` with
  ``w = c_{j,i}`` from the ROM); ``acc <= (i == 0 ? bias_j : acc) + p`` at a width that holds
  every partial sum (the weights are known, so the bound is exact).
* After the last input, ``out_valid`` rises for one cycle and ``y`` holds every neuron's
  output: the full sum brought to the IR's accumulator width (``wrap``: its low ``A_j`` bits;
  ``saturate``: clipped), then the requantizer with embedded scale and the output clip
  (:func:`hwnn.logic.verilog.requantizer`), so ``y`` equals the IR reference bit for bit.

Vectors may follow back to back: a new vector's first input can arrive in the cycle after
the previous vector's last.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from hwnn.arith.rccm import Rccm
from hwnn.ir.model import DenseLayer
from hwnn.ir.ranges import product_range, signed_bits
from hwnn.logic.literals import hex_lines, pack_words, signed_literal
from hwnn.logic.rccm_verilog import generic_product_bits, rccm_ports, rccm_verilog
from hwnn.logic.testbench import count_mismatch
from hwnn.logic.verilog import Term, _Emitter, requantizer
from hwnn.rules import int_range


def select_words(layer: DenseLayer, rccm: Rccm) -> np.ndarray:
    """Select word of every weight: ``s[j, i]`` with ``rccm.coefficients()[s] == w[j, i]``
    (the lowest such ``s``). Raises ``ValueError`` for a weight the RCCM cannot make."""
    coeffs = rccm.coefficients()
    first: dict[int, int] = {}
    for s in range(len(coeffs) - 1, -1, -1):
        first[int(coeffs[s])] = s
    missing = sorted({int(v) for v in np.unique(layer.weight)} - set(first))
    if missing:
        raise ValueError(f"layer {layer.name}: weights {missing[:5]} are not coefficients of "
                         f"{rccm.name} (its set: {sorted(first)[:8]}...)")
    lookup = np.vectorize(first.__getitem__, otypes=[np.int64])
    return lookup(layer.weight)


def sum_ranges(layer: DenseLayer, j: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Bounds of neuron ``j``'s partial sums (bias first, then every prefix of the inputs)
    and of its full sum, from the known weights and the input range."""
    x_lo, x_hi = int_range(layer.in_bits, layer.in_signed)
    lo = hi = lo_any = hi_any = int(layer.bias[j])
    for c in layer.weight[j].tolist():
        p_lo, p_hi = product_range(int(c), x_lo, x_hi)
        lo, hi = lo + p_lo, hi + p_hi
        lo_any, hi_any = min(lo_any, lo), max(hi_any, hi)
    return (lo_any, hi_any), (lo, hi)


def rom_case(emit: Callable[[str], object], name: str, index: str, words: list[int],
             width: int) -> None:
    """A combinational ROM ``name = words[index]`` as a case statement (``emit`` takes one
    line)."""
    emit(f"  reg [{width - 1}:0] {name};")
    emit("  always @* begin")
    emit(f"    case ({index})")
    for i, word in enumerate(words):
        emit(f"      {i}: {name} = {width}'h{word:x};")
    emit(f"      default: {name} = {width}'h0;")
    emit("    endcase")
    emit("  end")


def dataflow_layer_verilog(layer: DenseLayer, rccm: Rccm | None = None,
                           name: str = "dataflow_layer") -> str:
    """Verilog of the layer (module docstring); ``rccm=None`` gives generic multipliers
    with ``layer.weight_bits``-bit weights in the ROM."""
    n_in, n_out = layer.in_features, layer.out_features
    if n_in < 2:
        raise ValueError("a dataflow layer needs at least 2 inputs")
    x_bits, signed = layer.in_bits, layer.in_signed
    idx_bits = max(1, (n_in - 1).bit_length())
    ob = layer.out_bits
    emit = _Emitter()
    parts: list[str] = []
    if rccm is not None:
        selects = select_words(layer, rccm)
        ws = rccm.select_bits
        y_bits = rccm_ports(rccm, x_bits, signed).y_bits
        mult = f"{name}_rccm"
        parts.append(rccm_verilog(rccm, x_bits, signed, name=mult))
        field_bits, fields = ws, selects
    else:
        y_bits = generic_product_bits(x_bits, layer.weight_bits, signed)
        field_bits, fields = layer.weight_bits, layer.weight
    words = pack_words(fields.T, field_bits)  # word i: field j = PE j's entry for input i
    kind = f"AddNet {rccm.name} ({rccm.select_bits}-bit selects)" if rccm else \
        f"generic {layer.weight_bits}-bit multipliers"
    emit(f"// Dataflow layer {layer.name}: {n_in} -> {n_out}, one PE per neuron, {kind};")
    emit("// one input per cycle, outputs valid for one cycle after the last input.")
    emit(f"module {name} (")
    emit("  input  wire clk,")
    emit("  input  wire rst,")
    emit("  input  wire in_valid,")
    emit(f"  input  wire [{x_bits - 1}:0] x,")
    emit("  output reg  out_valid,")
    emit(f"  output wire [{n_out * ob - 1}:0] y")
    emit(");")
    emit(f"  reg [{idx_bits - 1}:0] idx;")
    emit("  wire first = idx == 0;")
    emit(f"  wire last = idx == {idx_bits}'d{n_in - 1};")
    emit("  always @(posedge clk) begin")
    emit("    if (rst) begin")
    emit(f"      idx <= {idx_bits}'d0;")
    emit("      out_valid <= 1'b0;")
    emit("    end else begin")
    emit("      out_valid <= in_valid & last;")
    emit(f"      if (in_valid) idx <= last ? {idx_bits}'d0 : idx + {idx_bits}'d1;")
    emit("    end")
    emit("  end")
    rom_case(emit, "word", "idx", words, n_out * field_bits)
    x_ext = "$signed(x)" if signed else "$signed({1'b0, x})"
    for j in range(n_out):
        (lo, hi), (full_lo, full_hi) = sum_ranges(layer, j)
        wf = max(signed_bits(lo, hi), y_bits)
        field = f"word[{(j + 1) * field_bits - 1}:{j * field_bits}]"
        emit(f"  // PE {j}")
        emit(f"  wire signed [{y_bits - 1}:0] pe{j}_p;")
        if rccm is not None:
            emit(f"  {mult} u_pe{j} (.x(x), .s({field}), .y(pe{j}_p));")
        else:
            emit(f"  assign pe{j}_p = {x_ext} * $signed({field});")
        emit(f"  reg signed [{wf - 1}:0] pe{j}_sum;")
        bias = signed_literal(int(layer.bias[j]), wf)
        emit("  always @(posedge clk)")
        emit(f"    if (in_valid) pe{j}_sum <= (first ? {bias} : pe{j}_sum) + pe{j}_p;")
        acc_w = int(layer.acc_widths()[j])
        a_lo, a_hi = int_range(acc_w, True)
        if full_lo >= a_lo and full_hi <= a_hi:
            src, t_lo, t_hi = f"pe{j}_sum", full_lo, full_hi
        elif layer.overflow == "wrap":
            src, t_lo, t_hi = f"pe{j}_sum", a_lo, a_hi
        else:
            lo_l, hi_l = signed_literal(a_lo, wf), signed_literal(a_hi, wf)
            emit(f"  wire signed [{wf - 1}:0] pe{j}_sat = (pe{j}_sum < {lo_l}) ? {lo_l} : "
                 f"(pe{j}_sum > {hi_l}) ? {hi_l} : pe{j}_sum;")
            src, t_lo, t_hi = f"pe{j}_sat", a_lo, a_hi
        if wf > acc_w:
            src = f"{src}[{acc_w - 1}:0]"
        elif wf < acc_w:
            src = f"{{{{{acc_w - wf}{{{src}[{wf - 1}]}}}}, {src}}}"
        emit(f"  wire signed [{acc_w - 1}:0] n{j}_acc = {src};")
        acc = Term(f"n{j}_acc", acc_w, t_lo, t_hi)
        requantizer(emit, layer, j, acc, f"y[{(j + 1) * ob - 1}:{j * ob}]")
    emit("endmodule")
    emit("")
    parts.append("\n".join(emit.lines))
    return "\n".join(parts)


def dataflow_testbench(layer: DenseLayer, inputs: np.ndarray, expected: np.ndarray,
                       folder: Path, name: str = "dataflow_layer") -> int:
    """Write ``tb.v``, ``x.hex`` and ``y.hex``: the bench streams every vector back to back
    and compares each ``out_valid`` word with the IR reference; prints the ``RESULT`` line
    of :mod:`hwnn.eda.rtlsim`. Returns the number of vectors."""
    n_vec, n_in = inputs.shape
    n_out, ob, xb = layer.out_features, layer.out_bits, layer.in_bits
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.hex").write_text(hex_lines(pack_words(inputs.reshape(-1, 1), xb), xb))
    (folder / "y.hex").write_text(hex_lines(pack_words(expected, ob), n_out * ob))
    (folder / "tb.v").write_text(f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, in_valid = 0;
  reg [{xb - 1}:0] x = 0;
  wire out_valid;
  wire [{n_out * ob - 1}:0] y;
  reg [{xb - 1}:0] xs [0:{n_vec * n_in - 1}];
  reg [{n_out * ob - 1}:0] ys [0:{n_vec - 1}];
  integer k, got, errors;
  {name} dut (.clk(clk), .rst(rst), .in_valid(in_valid), .x(x), .out_valid(out_valid), .y(y));
  always #5 clk = ~clk;
  always @(posedge clk) if (!rst && out_valid) begin
{count_mismatch("y", "ys[got]", "got", layer="0")}    got = got + 1;
  end
  initial begin
    $readmemh("x.hex", xs);
    $readmemh("y.hex", ys);
    got = 0;
    errors = 0;
    @(posedge clk); #1 rst = 0;
    for (k = 0; k < {n_vec * n_in}; k = k + 1) begin
      in_valid = 1; x = xs[k];
      @(posedge clk); #1;
    end
    in_valid = 0;
    @(posedge clk); @(posedge clk); #1;
    if (got != {n_vec}) errors = errors + 1;
    $display("RESULT vectors=%0d mismatches=%0d layer_mismatches=", got, errors);
    $finish;
  end
endmodule
""")
    return n_vec

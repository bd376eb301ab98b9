"""Self-checking testbench for a generated network, and the vector files it reads.

The testbench reads ``x.hex`` (one packed input per line), ``y.hex`` (the expected
prediction) and ``h<k>.hex`` (the expected output of layer ``k``), applies one input per
clock and compares every layer output and ``y`` when they appear (layer ``k`` after
``(k+1)(1+E)`` cycles, ``y`` after :func:`hwnn.logic.verilog.latency`). A generic design
first gets its weights through the shift chain from ``w.bin``. It prints one
``MISMATCH`` line per failing (layer, vector) up to a cap, then
``RESULT vectors=N mismatches=M layer_mismatches=a,b,...``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnn.ir.model import IRNetwork
from hwnn.ir.reference import Trace
from hwnn.logic.literals import hex_lines, pack_words
from hwnn.logic.verilog import (
    Style,
    generic_chain_bits,
    generic_chain_stream,
    latency,
    output_width,
)

MAX_REPORTED = 10


def count_mismatch(got: str, expected: str, vector: str, layer: str = "y",
                   indent: str = "    ") -> str:
    """Verilog statements for a small bench: when ``got !== expected`` add one to
    ``errors`` and print the first :data:`MAX_REPORTED` in the ``MISMATCH`` format that
    :mod:`hwnn.eda.rtlsim` parses."""
    return (f"{indent}if ({got} !== {expected}) begin\n"
            f"{indent}  if (errors < {MAX_REPORTED}) $display(\"MISMATCH layer={layer} "
            f"vector=%0d got=%h expected=%h\", {vector}, {got}, {expected});\n"
            f"{indent}  errors = errors + 1;\n"
            f"{indent}end\n")


def output_words(net: IRNetwork, trace: Trace) -> list[int]:
    """The value of the design's ``y`` port for each vector of ``trace``: the prediction, or
    the packed last-layer outputs for a raw head."""
    if net.head.kind == "raw":
        return pack_words(trace.outputs[-1], net.layers[-1].out_bits)
    return [int(v) for v in np.asarray(trace.prediction).tolist()]


def write_vectors(net: IRNetwork, trace: Trace, folder: Path, style: Style = "embedded") -> int:
    """Write the vector files for ``trace`` (from :func:`hwnn.ir.reference.run`); returns N."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.hex").write_text(hex_lines(pack_words(trace.inputs, net.input.bits),
                                            net.input.features * net.input.bits))
    for k, (layer, out) in enumerate(zip(net.layers, trace.outputs, strict=True)):
        (folder / f"h{k}.hex").write_text(
            hex_lines(pack_words(out, layer.out_bits), layer.out_features * layer.out_bits))
    (folder / "y.hex").write_text(hex_lines(output_words(net, trace), output_width(net)))
    if style == "generic":
        (folder / "w.bin").write_text("".join(f"{b}\n" for b in generic_chain_stream(net)))
    return len(trace.inputs)


def make_testbench(net: IRNetwork, top: str, n_vectors: int, style: Style = "embedded",
                      extra_stages: int = 0, vcd: str | None = None,
                      chain_load: str = "direct") -> str:
    """Verilog source of module ``tb`` (reads the files of :func:`write_vectors` from the
    simulator's working directory).

    ``chain_load`` (generic designs): ``"shift"`` clocks the weights in through ``w_en``/
    ``w_in`` one bit per cycle (tests the chain; slow in Icarus for long chains),
    ``"direct"`` writes the chain register ``dut.wchain`` from the same bits at once.
    """
    if chain_load not in ("direct", "shift"):
        raise ValueError(f"chain_load must be 'direct' or 'shift', got {chain_load!r}")
    if n_vectors < 1:
        raise ValueError("need at least one test vector")
    in_w = net.input.features * net.input.bits
    out_w = output_width(net)
    lat = latency(net, extra_stages)
    layer_lat = [(k + 1) * (1 + extra_stages) for k in range(len(net.layers))]
    widths = [la.out_features * la.out_bits for la in net.layers]
    lines = [
        "`timescale 1ns/1ps",
        f"// self-checking testbench for {top}: {n_vectors} vectors, latency {lat}",
        "module tb;",
        f"  localparam N = {n_vectors};",
        "  reg clk = 1'b0;",
        f"  reg [{in_w - 1}:0] x;",
        f"  wire [{out_w - 1}:0] y;",
        f"  reg [{in_w - 1}:0] xs [0:N-1];",
        f"  reg [{out_w - 1}:0] ys [0:N-1];",
    ]
    for k, w in enumerate(widths):
        lines.append(f"  reg [{w - 1}:0] hs{k} [0:N-1];")
    lines += ["  integer c, k, errors, reported;",
              f"  integer lerr [0:{len(net.layers)}];"]
    if style == "generic":
        lines += [f"  localparam NW = {sum(generic_chain_bits(net))};", "  reg wbits [0:NW-1];",
                  "  reg [NW-1:0] wstate;", "  reg w_en = 1'b0, w_in = 1'b0;",
                  f"  {top} dut (.clk(clk), .x(x), .y(y), .w_en(w_en), .w_in(w_in));"]
    else:
        lines.append(f"  {top} dut (.clk(clk), .x(x), .y(y));")
    lines += ["  always #5 clk = ~clk;", "  initial begin",
              '    $readmemh("x.hex", xs);', '    $readmemh("y.hex", ys);']
    for k in range(len(net.layers)):
        lines.append(f'    $readmemh("h{k}.hex", hs{k});')
    lines += ["    errors = 0; reported = 0;",
              f"    for (k = 0; k <= {len(net.layers)}; k = k + 1) lerr[k] = 0;",
              "    x = xs[0];"]
    if style == "generic":
        lines.append('    $readmemb("w.bin", wbits);')
        if chain_load == "shift":
            lines += ["    w_en = 1'b1;", "    for (c = 0; c < NW; c = c + 1) begin",
                      "      w_in = wbits[c];", "      @(posedge clk); #1;", "    end",
                      "    w_en = 1'b0;"]
        else:  # bit c of the stream ends at chain position NW-1-c; one write to the chain
            # (bit by bit, Icarus re-evaluated every neuron reading the chain on each write:
            # 20+ min for JSC-B's 45k bits in the partitioned design instead of seconds)
            lines += ["    for (c = 0; c < NW; c = c + 1) wstate[NW - 1 - c] = wbits[c];",
                      "    dut.wchain = wstate;"]
    if vcd:
        lines += [f'    $dumpfile("{vcd}");', "    $dumpvars(0, dut);"]
    lines += [f"    for (c = 0; c < N + {lat}; c = c + 1) begin",
              "      if (c < N) x = xs[c];",
              "      @(posedge clk); #1;"]
    for k, ll in enumerate(layer_lat):
        lines += [
            f"      if (c >= {ll - 1} && c - {ll - 1} < N && dut.h{k} !== hs{k}[c - {ll - 1}]) "
            "begin",
            f"        lerr[{k}] = lerr[{k}] + 1;",
            f"        if (reported < {MAX_REPORTED}) begin",
            f'          $display("MISMATCH layer={k} vector=%0d got=%h expected=%h", '
            f"c - {ll - 1}, dut.h{k}, hs{k}[c - {ll - 1}]);",
            "          reported = reported + 1;", "        end", "      end"]
    nl = len(net.layers)
    lines += [
        f"      if (c >= {lat - 1} && c - {lat - 1} < N && y !== ys[c - {lat - 1}]) begin",
        "        errors = errors + 1;",
        f"        if (reported < {MAX_REPORTED}) begin",
        f'          $display("MISMATCH layer=y vector=%0d got=%h expected=%h", c - {lat - 1}, '
        f"y, ys[c - {lat - 1}]);",
        "          reported = reported + 1;", "        end", "      end",
        "    end",
        '    $display("RESULT vectors=%0d mismatches=%0d layer_mismatches=' +
        ",".join(["%0d"] * nl) + '", N, errors, ' +
        ", ".join(f"lerr[{k}]" for k in range(nl)) + ");",
        "    $finish;", "  end", "endmodule", ""]
    return "\n".join(lines)

"""The RLE weight decompressor of seed 002 Fig. 3.5 as Verilog, and a testbench.

It reads one entry of :mod:`hwnn.codec.rle` per cycle (``gap`` of ``GAP_BITS`` bits and the
sign bit) and emits the flat index and sign of each non-zero weight, so the processing
elements compute only non-zero weights:

* a real entry: ``index = next; next = next + gap + 1`` and ``out_valid = 1``;
* an escape (``gap = 2^GAP_BITS - 1``): ``next = next + gap``, no output.

``next`` starts at 0 after reset and the first output appears one cycle after its entry.
The decoder's LUT count (Yosys ``synth_xilinx``) is the ``C_d`` of the effective-throughput
model (:mod:`hwnn.cost.throughput`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnn.codec.rle import RLEStream


def rle_decoder_verilog(gap_bits: int, index_bits: int, name: str = "rle_decoder") -> str:
    if not 1 <= gap_bits < index_bits:
        raise ValueError(f"need 1 <= gap_bits < index_bits, got {gap_bits}, {index_bits}")
    g, n = gap_bits, index_bits
    return f"""// RLE decompressor (seed 002 Fig. 3.5): one (gap, sign) entry per cycle in, the
// index and sign of each non-zero weight out; gap = {(1 << g) - 1} is an escape (skip only).
module {name} (
  input  wire clk,
  input  wire rst,
  input  wire in_valid,
  input  wire [{g - 1}:0] in_gap,
  input  wire in_sign,
  output reg  out_valid,
  output reg  [{n - 1}:0] out_index,
  output reg  out_sign
);
  reg [{n - 1}:0] next;
  wire escape = &in_gap;
  wire [{n - 1}:0] at = next + {{{{{n - g}{{1'b0}}}}, in_gap}};
  always @(posedge clk) begin
    if (rst) begin
      next <= {n}'d0;
      out_valid <= 1'b0;
    end else begin
      out_valid <= in_valid & ~escape;
      if (in_valid) begin
        next <= escape ? at : at + {n}'d1;
        out_index <= at;
        out_sign <= in_sign;
      end
    end
  end
endmodule
"""


def rle_decoder_testbench(stream: RLEStream, folder: Path, index_bits: int,
                          name: str = "rle_decoder") -> int:
    """Write ``tb.v`` and ``entries.hex`` into ``folder``: the testbench feeds every entry
    and prints ``<index> <sign>`` for each output; returns the expected output count."""
    folder.mkdir(parents=True, exist_ok=True)
    g = stream.gap_bits
    words = (stream.gaps << 1) | stream.signs.astype(np.int64)
    (folder / "entries.hex").write_text("".join(f"{int(w):x}\n" for w in words))
    n_entries = max(stream.entries, 1)
    (folder / "tb.v").write_text(f"""`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1, in_valid = 0;
  reg [{g - 1}:0] in_gap = 0;
  reg in_sign = 0;
  wire out_valid, out_sign;
  wire [{index_bits - 1}:0] out_index;
  reg [{g}:0] mem [0:{n_entries - 1}];
  integer i;
  {name} dut (.clk(clk), .rst(rst), .in_valid(in_valid), .in_gap(in_gap), .in_sign(in_sign),
              .out_valid(out_valid), .out_index(out_index), .out_sign(out_sign));
  always #5 clk = ~clk;
  always @(posedge clk) if (out_valid) $display("%0d %0d", out_index, out_sign);
  initial begin
    if ({stream.entries} > 0) $readmemh("entries.hex", mem);
    @(posedge clk); #1 rst = 0;
    for (i = 0; i < {stream.entries}; i = i + 1) begin
      in_valid = 1; {{in_gap, in_sign}} = mem[i];
      @(posedge clk); #1;
    end
    in_valid = 0;
    @(posedge clk); @(posedge clk);
    $finish;
  end
endmodule
""")
    return int((stream.gaps != (1 << g) - 1).sum())

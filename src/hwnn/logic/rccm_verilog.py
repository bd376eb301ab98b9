"""Verilog for AddNet RCCMs (seed 002 §6.4, Figs. 6.2-6.4) and the generic-multiplier baseline.

Each node of an :class:`hwnn.arith.rccm.Rccm` becomes one adder whose operands pass through
the select logic of its base topology (the structure of Fig. 6.3, which fits the adder's
LUTs):

``n = (A ^ {W{inv_a}}) + (B ^ {W{inv_b}}) + inv_a + inv_b``

where ``A`` is the selected shifted A input (or 0), ``B`` the shifted B input (or 0), and
``inv_a``/``inv_b`` negate an operand in two's complement (``-v = ~v + 1``); all four come
from the node's 2-bit select through its mapping ``sigma(s)``. Arithmetic is modulo
``2^W`` at each node's own width ``W`` (enough bits for every value the node can take for
the given input width), which is exact because the true result always fits.

The generic baseline is ``y = x * w`` with an 8-bit signed run-time ``w`` (Fig. 6.8's
"generic multiplier").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnn.arith.rccm import Rccm
from hwnn.ir.ranges import signed_bits
from hwnn.logic.testbench import count_mismatch
from hwnn.rules import int_range


@dataclass(frozen=True)
class RccmPorts:
    """Port widths of a generated RCCM module."""

    x_bits: int
    signed: bool
    select_bits: int
    y_bits: int
    node_bits: tuple[int, ...]


def rccm_ports(rccm: Rccm, x_bits: int, signed: bool) -> RccmPorts:
    lo_x, hi_x = int_range(x_bits, signed)
    widths = []
    for coeffs in rccm.node_coefficients()[1:]:
        products = np.concatenate([coeffs * lo_x, coeffs * hi_x])
        widths.append(signed_bits(int(products.min()), int(products.max())))
    return RccmPorts(x_bits, signed, rccm.select_bits, widths[-1], tuple(widths))


def _extend(name: str, bits: int, to: int, signed: bool) -> str:
    """``name`` (``bits`` wide) sign- or zero-extended to ``to`` bits, or its low ``to`` bits
    when the node is narrower than its source (arithmetic mod ``2^to`` stays exact)."""
    if to == bits:
        return name
    if to < bits:
        return f"{name}[{to - 1}:0]"
    fill = f"{{{to - bits}{{{name}[{bits - 1}]}}}}" if signed else f"{to - bits}'d0"
    return f"{{{fill}, {name}}}"


def _mux(select: str, values: list[str]) -> str:
    """A 4-way select on a 2-bit ``select`` as a chain of conditionals."""
    return (f"{select} == 2'd0 ? {values[0]} : {select} == 2'd1 ? {values[1]} : "
            f"{select} == 2'd2 ? {values[2]} : {values[3]}")


def rccm_verilog(rccm: Rccm, x_bits: int = 8, signed: bool = False,
                 name: str | None = None) -> str:
    """Combinational module ``<name>(x, s, y)`` with ``y = c[s] * x`` (``c =
    rccm.coefficients()``); node ``k`` reads ``s[2k+1:2k]``."""
    if x_bits < 1:
        raise ValueError(f"x_bits must be >= 1, got {x_bits}")
    for k, node in enumerate(rccm.nodes):
        if any(op.sign_a < 0 and op.sign_b < 0 for op in node.ops):
            raise ValueError(f"node {k + 1}: -A-B needs a carry-in of 2; not a base-topology "
                             "operation (seed 002 Fig. 6.2)")
    name = name or rccm.name
    ports = rccm_ports(rccm, x_bits, signed)
    widths = (x_bits, *ports.node_bits)
    lines = [f"// AddNet RCCM {rccm.name}: {len(rccm.nodes)} adders, {rccm.select_bits}-bit "
             f"select, {'signed' if signed else 'unsigned'} {x_bits}-bit x (seed 002 Fig. 6.4)",
             f"module {name} (",
             f"  input  wire [{x_bits - 1}:0] x,",
             f"  input  wire [{rccm.select_bits - 1}:0] s,",
             f"  output wire signed [{ports.y_bits - 1}:0] y",
             ");",
             f"  wire [{x_bits - 1}:0] n0 = x;"]
    for k, node in enumerate(rccm.nodes, start=1):
        w = widths[k]
        sel = f"s{k}"
        src_signed = [signed if src == 0 else True for src in (node.a_src, node.b_src)]
        a_in = _extend(f"n{node.a_src}", widths[node.a_src], w, src_signed[0])
        b_in = _extend(f"n{node.b_src}", widths[node.b_src], w, src_signed[1])
        zero = f"{w}'d0"
        a_vals = [zero if op.p == 0 else f"n{k}_a{op.p}" for op in node.ops]
        b_vals = [zero if op.sign_b == 0 else f"n{k}_b1" for op in node.ops]
        inv_a = "".join("1" if op.sign_a < 0 else "0" for op in reversed(node.ops))
        inv_b = "".join("1" if op.sign_b < 0 else "0" for op in reversed(node.ops))
        ops = ", ".join(str(op) for op in node.ops)
        lines += [f"  // node {k}: Topology {node.topology}, sigma = [{ops}], "
                  f"A shifts {list(node.a_shifts)}, B1 shift {node.b_shift}",
                  f"  wire [1:0] {sel} = s[{2 * k - 1}:{2 * k - 2}];",
                  f"  wire [{w - 1}:0] n{k}_ain = {a_in};",
                  f"  wire [{w - 1}:0] n{k}_bin = {b_in};"]
        lines += [f"  wire [{w - 1}:0] n{k}_a{p} = n{k}_ain << {shift};"
                  for p, shift in enumerate(node.a_shifts, start=1)]
        lines += [f"  wire [{w - 1}:0] n{k}_b1 = n{k}_bin << {node.b_shift};",
                  f"  wire [{w - 1}:0] n{k}_asel = {_mux(sel, a_vals)};",
                  f"  wire [{w - 1}:0] n{k}_bsel = {_mux(sel, b_vals)};",
                  f"  wire [3:0] n{k}_inva_t = 4'b{inv_a};",
                  f"  wire [3:0] n{k}_invb_t = 4'b{inv_b};",
                  f"  wire n{k}_inva = n{k}_inva_t[{sel}];",
                  f"  wire n{k}_invb = n{k}_invb_t[{sel}];",
                  f"  wire [{w - 1}:0] n{k} = (n{k}_bsel ^ {{{w}{{n{k}_invb}}}}) + "
                  f"(n{k}_asel ^ {{{w}{{n{k}_inva}}}}) + {{{w - 1}'d0, n{k}_inva | n{k}_invb}};"]
    lines += [f"  assign y = n{len(rccm.nodes)};", "endmodule", ""]
    return "\n".join(lines)


def generic_product_bits(x_bits: int, w_bits: int, signed: bool) -> int:
    """Width of ``x * w`` for a ``x_bits``-bit ``x`` (signed or not) and a signed
    ``w_bits``-bit ``w``."""
    lo_x, hi_x = int_range(x_bits, signed)
    lo_w, hi_w = int_range(w_bits, True)
    corners = [a * b for a in (lo_x, hi_x) for b in (lo_w, hi_w)]
    return signed_bits(min(corners), max(corners))


def generic_multiplier_verilog(x_bits: int = 8, w_bits: int = 8, signed: bool = False,
                               name: str = "mult_generic") -> str:
    """``y = x * w`` with a run-time signed ``w_bits`` weight: the baseline of Fig. 6.8."""
    y_bits = generic_product_bits(x_bits, w_bits, signed)
    operand = "$signed(x)" if signed else "$signed({1'b0, x})"
    return (f"// generic {x_bits}-bit x {w_bits}-bit signed multiplier (run-time weight)\n"
            f"module {name} (\n  input  wire [{x_bits - 1}:0] x,\n"
            f"  input  wire signed [{w_bits - 1}:0] w,\n"
            f"  output wire signed [{y_bits - 1}:0] y\n);\n"
            f"  assign y = {operand} * w;\nendmodule\n")


def rccm_testbench(rccm: Rccm, folder: Path, x_bits: int, signed: bool,
                   module: str | None = None) -> int:
    """Write ``tb.v`` and ``expected.hex`` into ``folder`` for an exhaustive check of every
    (select, x) pair against ``rccm.coefficients()``; the bench prints the ``RESULT`` line
    of :mod:`hwnn.eda.rtlsim`. Returns the number of vectors."""
    module = module or rccm.name
    ports = rccm_ports(rccm, x_bits, signed)
    lo, hi = int_range(x_bits, signed)
    xs = np.arange(lo, hi + 1, dtype=np.int64)
    coeffs = rccm.coefficients()
    expected = (coeffs[:, None] * xs[None, :]).ravel() & ((1 << ports.y_bits) - 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "expected.hex").write_text("".join(f"{int(v):x}\n" for v in expected))
    n = len(expected)
    sb, yb = rccm.select_bits, ports.y_bits
    (folder / "tb.v").write_text(f"""`timescale 1ns/1ps
module tb;
  reg [{x_bits - 1}:0] x;
  reg [{sb - 1}:0] s;
  wire signed [{yb - 1}:0] y;
  reg [{yb - 1}:0] mem [0:{n - 1}];
  integer si, xi, v, errors;
  {module} dut (.x(x), .s(s), .y(y));
  initial begin
    $readmemh("expected.hex", mem);
    errors = 0;
    v = 0;
    for (si = 0; si < {1 << sb}; si = si + 1) begin
      for (xi = 0; xi < {len(xs)}; xi = xi + 1) begin
        s = si;
        x = xi + ({lo});
        #1;
{count_mismatch("y", "mem[v]", "v", indent="        ")}        v = v + 1;
      end
    end
    $display("RESULT vectors=%0d mismatches=%0d layer_mismatches=", v, errors);
    $finish;
  end
endmodule
""")
    return n

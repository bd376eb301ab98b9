"""One SAM neuron as logic (seed 001 eq. 5 in hardware; issue 9 item 4).

Per output ``j`` of a :class:`~hwnn.ir.sam.SamLayer` (module docstring of
:mod:`hwnn.ir.sam`):

* one adder per kept connection, ``x_i + c`` with the parameter ``c`` a constant (no
  multiplier anywhere); removed connections have no logic at all;
* a balanced comparator tree over the ``W+`` sums keeping the larger value (``a > b ? a :
  b``) and one over the ``W-`` sums keeping the smaller; ties need no rule (equal values);
* ``acc = max + min + bias`` and the same requantizer and clip as a dense neuron
  (:func:`hwnn.logic.verilog.requantizer`).

Every wire is as wide as the exact interval it carries (a max or min of intervals is the
interval ``[max/min of the lows, max/min of the highs]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwnn.ir.ranges import signed_bits
from hwnn.logic.literals import signed_literal

if TYPE_CHECKING:
    from hwnn.ir.sam import SamLayer
    from hwnn.logic.verilog import Term, _Emitter


def _select_tree(emit: _Emitter, prefix: str, terms: list[Term], largest: bool) -> Term:
    """Comparator tree keeping the larger (``largest``) or smaller value of each pair."""
    from hwnn.logic.verilog import balanced_tree

    pick = max if largest else min
    op = ">" if largest else "<"
    return balanced_tree(emit, f"{prefix}_c", terms, lambda a, b: (
        pick(a.lo, b.lo), pick(a.hi, b.hi), f"({a.name} {op} {b.name}) ? {a.name} : {b.name}"))


def sam_neuron(emit: _Emitter, layer: SamLayer, j: int, out_word: str) -> None:
    """Neuron ``j``'s logic, its output code assigned to ``out_word``."""
    from hwnn.logic.verilog import Term, _adder_tree, _input_term, requantizer
    from hwnn.rules import int_range

    pre = f"n{j}"
    x_lo, x_hi = int_range(layer.in_bits, layer.in_signed)
    parts: list[Term] = []
    for tag, params, idx, largest in (("mx", layer.plus, layer.kept(j)[0], True),
                                      ("mn", layer.minus, layer.kept(j)[1], False)):
        sums = []
        for i in idx.tolist():
            c = int(params[j, i])
            expr = _input_term(layer, i)  # type: ignore[arg-type]
            if c:
                expr += f" + {signed_literal(c, signed_bits(c, c))}"
            sums.append(emit.wire(f"{pre}_{tag}{i}", x_lo + c, x_hi + c, expr))
        if sums:
            parts.append(_select_tree(emit, f"{pre}_{tag}", sums, largest))
    bias = int(layer.bias[j])
    if bias or not parts:
        parts.append(Term(signed_literal(bias, signed_bits(bias, bias)), signed_bits(bias, bias),
                          bias, bias))
    total = _adder_tree(emit, pre, parts, None)
    width = layer.acc_bits
    emit(f"  wire signed [{width - 1}:0] {pre}_acc = {total.name};")
    requantizer(emit, layer, j, Term(f"{pre}_acc", width, total.lo, total.hi),  # type: ignore[arg-type]
                out_word)

"""A copy of a flat Nangate45 netlist whose data inputs are driven by registers (power runs).

Why: OpenSTA 2.0.17 (the Debian build) keeps no separate table of user activities.
``sta::set_power_pin_activity`` writes into the same per-pin table that its activity
propagation fills, and every ``report_power`` after an annotation re-propagates from the
levelisation roots - the primary inputs - through all combinational logic, evaluating each
gate's output density from its inputs (transition-density rule: through an XOR the input
densities add). So the annotated vector activities survived only on nets *not* reachable
from a primary input without passing a register: logic fed by registers. In a design whose
first layer is combinational from ``x`` every net of that layer carried the propagated
density instead, which grows without bound through adder and comparator chains.

Measured on the untrained 512->32 SAM smoke design (235,820 cells, 2 ns clock, 1,000
vectors): 6,528 mW reported with driver-pin annotations; one OAI21_X1 had 0.74 mW of
switching power on an output net the simulation saw toggle 0 times (propagated density 170
toggles per cycle); annotating driver and load pins still gave 3,410 mW. With every data
input driven by a DFF_X1 whose Q net carries the input's activity, the propagation stops at
those registers (4,096 D pins visited, nothing else) and every annotation holds: 549 mW, of
which the 4,096 added registers draw 52 mW, i.e. 498 mW for the design.

:func:`register_inputs` rewrites the top module in place: an input port ``x`` becomes
``hwnn_in_x`` and the former port net ``x`` becomes a wire driven, bit by bit, by
``DFF_X1 hwnn_inreg_<k>`` clocked by ``clock_port`` (added as an input if the design had
no clock). Net names inside the design do not change, so the activities recorded for ``x``
annotate the register outputs. The added registers' own power is reported by the caller
and subtracted. The input-cone slews now come from a DFF_X1 output instead of an ideal
input - what a registered upstream stage would drive.
"""

from __future__ import annotations

import re

from hwnn.eda.gatesim import module_span
from hwnn.errors import EdaError

INPUT_REGISTER_PREFIX = "hwnn_inreg_"
RENAMED_INPUT_PREFIX = "hwnn_in_"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_INPUT = re.compile(
    r"^(?P<indent>[ \t]*)input\s+(?:wire\s+)?(?P<signed>signed\s+)?"
    r"(?:\[\s*(?P<msb>-?\d+)\s*:\s*(?P<lsb>-?\d+)\s*\]\s*)?(?P<name>[^\s;,]+)\s*;",
    re.MULTILINE,
)


def register_inputs(text: str, top: str, clock_port: str = "clk") -> tuple[str, int]:
    """``text`` with every data input bit of ``top`` driven by a DFF_X1; (text, registers).

    ``clock_port`` is never registered; it is added to ``top``'s ports when missing.
    Raises :class:`EdaError` for port names that are not plain identifiers (the generated
    designs only use plain ones).
    """
    header, end = module_span(text, top)
    start = header.start()
    body = text[header.end():end]
    ports = [p.strip() for p in header.group(2).split(",") if p.strip()]
    inputs = [m for m in _INPUT.finditer(body) if m.group("name") != clock_port]
    for m in inputs:
        if not _IDENT.fullmatch(m.group("name")):
            raise EdaError(f"input port {m.group('name')!r} of {top} is not a plain identifier;"
                           " power from vectors cannot register it")
    renamed = {m.group("name") for m in inputs}
    new_ports = [RENAMED_INPUT_PREFIX + p if p in renamed else p for p in ports]
    decl_prefix = ""
    if clock_port not in ports:
        new_ports.insert(0, clock_port)
        decl_prefix = f"\n  input {clock_port};"
    registers: list[str] = []
    pieces: list[str] = []
    last = 0
    for m in inputs:
        name, indent = m.group("name"), m.group("indent")
        signed = m.group("signed") or ""
        if m.group("msb") is None:
            rng, bits = "", [None]
        else:
            msb, lsb = int(m.group("msb")), int(m.group("lsb"))
            rng = f"[{msb}:{lsb}] "
            bits = list(range(min(msb, lsb), max(msb, lsb) + 1))
        pieces += [body[last:m.start()],
                   f"{indent}input {signed}{rng}{RENAMED_INPUT_PREFIX}{name};\n"
                   f"{indent}wire {signed}{rng}{name};"]
        last = m.end()
        for bit in bits:
            sel = "" if bit is None else f"[{bit}]"
            registers.append(
                f"\n  DFF_X1 {INPUT_REGISTER_PREFIX}{len(registers)} (.CK({clock_port}), "
                f".D({RENAMED_INPUT_PREFIX}{name}{sel}), .Q({name}{sel}));")
    pieces.append(body[last:])
    new_header = f"module {top}({', '.join(new_ports)});"
    new_text = (text[:start] + new_header + decl_prefix + "".join(pieces)
                + "".join(registers) + text[end:])
    return new_text, len(registers)

"""Compiled cycle simulation of a mapped Nangate45 netlist with feedback, for switching activity.

Why: the LeNet-5 stream accelerators (hwnn.logic.stream, ~370k-470k cells, ~16k cycles for
20 images) have state that feeds back (line buffers, counters, accumulators), so the
whole-run numpy simulator :mod:`hwnn.eda.gatesim` (acyclic register graphs only) does not
apply. Icarus takes ~8 us per cell and cycle there (~13 h per design); Verilator with toggle
coverage needed 15 GB to translate the netlist and 1,085 generated C++ files at ~30 s of g++
each. Here the netlist becomes one straight-line C program: one statement per cell output in
topological order, one byte per net, compiled with ``gcc -O0`` (measured on the 368k-cell
LeNet-5 stream netlist: 24 s to compile and 46 s for 15,745 cycles; ``-O1`` had not finished
compiling after 8 minutes).

Timing model (the same as :mod:`hwnn.eda.activity` and :mod:`hwnn.eda.gatesim`): cycle ``i``
has phase ``A_i`` (``x = vectors[i]``, clock low, registers hold ``s_i``) and phase ``B_i``
(clock high, ``s_{i+1}`` = the ``D`` values of ``A_i``); ``y`` is read in ``B_i``. Values are
zero-delay (settled, no glitches); registers start at 0 unless ``initial_state`` preloads them.
Toggles are counted between consecutive phases from ``A_0`` on (the values of ``A_0`` are the
start, like the time-0 values of an Icarus VCD) up to a closing phase with the clock low
again (the testbench's last clock fall), so with every register preloaded the counts equal
the Icarus VCD toggles (``tests/test_eda.py``; on a 24,220-net stream design all equal).

Supported cells: combinational cells with a liberty ``function`` per output and edge-triggered
flip-flops with ``next_state`` and ``clocked_on`` (no clear/preset) clocked by the clock port;
combinational loops, other clocks and unknown cells raise :class:`EdaError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hwnn.eda.gatesim import (
    CellModel,
    GateSimResult,
    Instance,
    Netlist,
    checked_netlist,
    liberty_tokens,
    library,
    port_bit,
    resolve_preload,
)
from hwnn.eda.tools import require_tool, run_tool
from hwnn.errors import EdaError

#: Cell outputs per generated C function (keeps each function a moderate size for gcc).
STATEMENTS_PER_FUNCTION = 4000
_CONSTANTS = {"1'b0": 0, "1'h0": 0, "1'b1": 1, "1'h1": 1}


def c_expression(function: str, operand: Mapping[str, str], where: str) -> str:
    """A liberty boolean function as a C expression on 0/1 bytes.

    ``operand`` maps each pin or state variable to its C operand. Liberty's ``!``, ``&``,
    ``^`` and ``|`` bind in the same order as C's ``!``, ``&``, ``^``, ``|``, and ``!`` of a
    0/1 value is 0/1, so the tokens carry over one by one.
    """
    out = []
    for name, op in liberty_tokens(function, where):
        if name is None:
            out.append(str(op))
        elif name in ("0", "1"):
            out.append(name)
        elif name in operand:
            out.append(operand[name])
        else:
            raise EdaError(f"{where}: liberty function {function!r} uses unknown {name!r}")
    return "(" + " ".join(out) + ")"


class _Program:
    """Net indices and the C statements of one netlist (module docstring)."""

    def __init__(self, nl: Netlist, clock_port: str,
                 preload: Mapping[str, tuple[bool, str]],
                 data_dir: str | os.PathLike[str] | None) -> None:
        lib = library(data_dir)
        self.index: dict[str, int] = {}
        self.in_bits = [self.net(port_bit("x", nl.inputs["x"], k))
                        for k in range(nl.inputs["x"])]
        self.clock = self.net(clock_port) if clock_port in nl.inputs else None
        self.held: dict[str, int] = {}
        self.registers: list[tuple[int, int, list[tuple[int, str]]]] = []  # (state, D, outs)
        self.initial: list[int] = []
        comb: list[Instance] = []
        for inst in nl.instances:
            model = lib.get(inst.cell)
            if model is None:
                raise EdaError(f"cell {inst.cell} ({inst.name}) is not in the liberty or is a "
                               "flip-flop with clear/preset/scan, which the compiled "
                               "simulator does not model; use hwnn.eda.gate_level_activity")
            if model.state is None:
                comb.append(inst)
                continue
            if model.clocked_on != "CK" or model.next_state not in model.inputs:
                raise EdaError(f"flip-flop {inst.cell}: unsupported ff group")
            if inst.pins.get("CK") != clock_port:
                raise EdaError(f"{inst.name}: clocked by {inst.pins.get('CK')!r}, not by the "
                               f"clock port {clock_port!r}")
            k = len(self.registers)
            operand = {model.state[0]: f"s[{k}]", model.state[1]: f"(!s[{k}])"}
            outs = [(self.net(inst.pins[pin]),
                     c_expression(model.functions[pin], operand, f"{inst.cell}.{pin}"))
                    for pin in model.outputs if inst.pins.get(pin)]
            self.registers.append((k, self.net(inst.pins[model.next_state]), outs))
            self.initial.append(int(preload[inst.name][0]) if inst.name in preload else 0)
        self.statements = self._order(comb, lib)

    def net(self, name: str) -> int:
        if name not in self.index:
            self.index[name] = len(self.index)
        return self.index[name]

    def operand(self, name: str) -> str:
        if name in _CONSTANTS:
            return str(_CONSTANTS[name])
        return f"v[{self.net(name)}]"

    def _order(self, comb: list[Instance], lib: Mapping[str, CellModel]) -> list[str]:
        """C statements of the combinational cells in topological order (Kahn)."""
        driven = {inst.pins[pin] for inst in comb for pin in lib[inst.cell].functions
                  if inst.pins.get(pin)}
        consumers: dict[str, list[int]] = {}
        waiting = []
        for idx, inst in enumerate(comb):
            model = lib[inst.cell]
            needs = {inst.pins[p] for p in model.inputs
                     if inst.pins.get(p) and inst.pins[p] in driven}
            waiting.append(len(needs))
            for net in needs:
                consumers.setdefault(net, []).append(idx)
        ready = [i for i, w in enumerate(waiting) if w == 0]
        statements: list[str] = []
        while ready:
            inst = comb[ready.pop()]
            model = lib[inst.cell]
            operand = {p: (self.operand(inst.pins[p]) if inst.pins.get(p) else "0")
                       for p in model.inputs}
            for pin, function in model.functions.items():
                out = inst.pins.get(pin)
                if not out:
                    continue
                expr = c_expression(function, operand, f"{inst.cell}.{pin}")
                statements.append(f"v[{self.net(out)}] = {expr};")
                for j in consumers.pop(out, ()):
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        ready.append(j)
        if any(waiting):
            raise EdaError(f"{sum(w > 0 for w in waiting)} cells lie on a combinational loop; "
                           "the compiled simulator needs registers on every cycle")
        return statements


def _c_source(prog: _Program, out_bits: list[int]) -> str:
    """The C program: reads ``vectors.bin`` (one byte per x bit per cycle), writes
    ``outputs.bin`` (one byte per y bit per cycle) and ``toggles.bin`` (uint64 per net)."""
    chunks = [prog.statements[i:i + STATEMENTS_PER_FUNCTION]
              for i in range(0, len(prog.statements), STATEMENTS_PER_FUNCTION)]
    funcs = "".join(f"static void comb_{k}(void) {{\n  " + "\n  ".join(c) + "\n}\n"
                    for k, c in enumerate(chunks))
    calls = "".join(f"  comb_{k}();\n" for k in range(len(chunks)))
    outs = "".join(f"  v[{n}] = {e};\n" for _, _, o in prog.registers for n, e in o)
    latch = "".join(f"  s[{k}] = v[{d}];\n" for k, d, _ in prog.registers)
    n_nets, n_regs = len(prog.index), max(1, len(prog.registers))
    init = ", ".join(str(b) for b in prog.initial) or "0"
    in_bits = ", ".join(str(i) for i in prog.in_bits)
    y_bits = ", ".join(str(i) for i in out_bits)
    held = "".join(f"  v[{i}] = {b};\n" for i, b in prog.held.items())
    clock = f"v[{prog.clock}]" if prog.clock is not None else "clk_unused"
    return f"""/* Generated by hwnn.eda.cyclesim: zero-delay two-phase cycle simulation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define N_NETS {n_nets}
#define N_IN {len(prog.in_bits)}
#define N_OUT {len(out_bits)}
static uint8_t v[N_NETS], last[N_NETS];
static uint64_t toggles[N_NETS];
static uint8_t s[{n_regs}] = {{{init}}};
static uint8_t clk_unused;
static const int in_bits[N_IN] = {{{in_bits}}};
static const int y_bits[N_OUT] = {{{y_bits}}};
{funcs}
static void comb(void) {{
{outs}{calls}}}
static void latch(void) {{
{latch}}}
static void count(void) {{
  for (long i = 0; i < N_NETS; i++) {{ toggles[i] += v[i] != last[i]; }}
  memcpy(last, v, N_NETS);
}}
int main(int argc, char **argv) {{
  if (argc != 2) {{ fprintf(stderr, "usage: sim N_CYCLES\\n"); return 2; }}
  long n = atol(argv[1]);
  FILE *fi = fopen("vectors.bin", "rb"), *fo = fopen("outputs.bin", "wb");
  if (!fi || !fo) {{ perror("vectors.bin/outputs.bin"); return 2; }}
  uint8_t x[N_IN + 1], y[N_OUT + 1];
{held}  for (long c = 0; c < n; c++) {{
    if (fread(x, 1, N_IN, fi) != N_IN) {{ fprintf(stderr, "short vectors.bin\\n"); return 2; }}
    for (int k = 0; k < N_IN; k++) v[in_bits[k]] = x[k];
    {clock} = 0;
    comb();
    if (c == 0) memcpy(last, v, N_NETS); else count();
    latch();
    {clock} = 1;
    comb();
    count();
    for (int k = 0; k < N_OUT; k++) y[k] = v[y_bits[k]];
    fwrite(y, 1, N_OUT, fo);
  }}
  {clock} = 0;  /* the testbench's closing clock fall */
  comb();
  count();
  fclose(fi); fclose(fo);
  FILE *ft = fopen("toggles.bin", "wb");
  if (!ft || fwrite(toggles, sizeof(uint64_t), N_NETS, ft) != N_NETS) return 2;
  fclose(ft);
  return 0;
}}
"""


def simulate_compiled(
    netlist: str | os.PathLike[str],
    top: str,
    workdir: str | os.PathLike[str],
    *,
    in_width: int,
    vectors: Sequence[int],
    clock_port: str = "clk",
    initial_state: Sequence[tuple[Sequence[str], int]] | None = None,
    hold_inputs: Mapping[str, int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    timeout_s: float = 3600,
) -> GateSimResult:
    """Per-net toggles of ``netlist`` driven by one ``x`` vector per cycle (module docstring).

    ``initial_state``: ``(candidate Q-net names, bit)`` per preloaded register (the other
    registers start at 0); ``hold_inputs``: other input ports tied to constants.
    """
    n = len(vectors)
    nl = checked_netlist(netlist, top, in_width, n, clock_port, hold_inputs)
    preload, missing = resolve_preload(nl, library(data_dir), initial_state or ())
    prog = _Program(nl, clock_port, preload, data_dir)
    for port, value in (hold_inputs or {}).items():
        for k in range(nl.inputs[port]):
            prog.held[prog.net(port_bit(port, nl.inputs[port], k))] = (int(value) >> k) & 1
    y_w = nl.outputs["y"]
    out_bits = [prog.net(port_bit("y", y_w, k)) for k in range(y_w)]
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "sim.c").write_text(_c_source(prog, out_bits))
    words = np.array([int(v) for v in vectors], dtype=object)
    if any(w < 0 or w >> in_width for w in words):
        raise EdaError(f"an input vector does not fit in {in_width} unsigned bits")
    bits = np.array([[(w >> k) & 1 for k in range(in_width)] for w in words], dtype=np.uint8)
    (work / "vectors.bin").write_bytes(bits.tobytes())
    run_tool([require_tool("gcc"), "-O0", "-o", "sim", "sim.c"], cwd=work,
             log_path=work / "gcc.log", timeout_s=timeout_s)
    run_tool([work / "sim", str(n)], cwd=work, log_path=work / "sim.log", timeout_s=timeout_s)
    y = np.fromfile(work / "outputs.bin", dtype=np.uint8).reshape(n, y_w)
    outputs = [int(sum(int(b) << k for k, b in enumerate(row))) for row in y]
    counts = np.fromfile(work / "toggles.bin", dtype=np.uint64)
    toggles = {name: int(counts[i]) for name, i in prog.index.items()}
    return GateSimResult({k: t / n for k, t in toggles.items()}, toggles, n, outputs,
                         len(preload), missing)


__all__ = ["STATEMENTS_PER_FUNCTION", "c_expression", "simulate_compiled"]

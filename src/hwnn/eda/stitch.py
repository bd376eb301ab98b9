"""Flatten mapped leaf netlists into one flat Nangate45 netlist, sharing identical cells.

Partitioned synthesis (:func:`hwnn.eda.yosys.synth_asic` with ``partition=True``) maps every
leaf module (one neuron) on its own, then a *shell*: the glue modules flattened into the top,
with each leaf instance left as a black-box cell. :func:`stitch_netlist` puts the two
together the way Yosys ``flatten; opt_merge; opt_clean -purge`` would on the liberty cells,
without holding the design in Yosys (its Verilog frontend ran out of 8 GiB on 42 of the 107
leaf netlists of the 8-bit MNIST MLP, 1.74M cells in all; RTLIL input needed ~10 KB per
cell through ``flatten``):

1. every leaf instance is expanded in place; a leaf's net ``n`` in instance ``u`` becomes
   ``u.n`` and its cells ``u.<cell>`` (Yosys' flatten names), its port bits become the nets
   the shell connects them to;
2. constant folding in topological order: a combinational cell whose every connected output
   is the same value for all values of its non-constant inputs (liberty functions evaluated
   over every assignment) is dropped and its outputs become constants, starting from the
   tie cells. Constants cross leaves where a neuron's output bit is stuck (its register was
   replaced by a tie cell) and the next leaf, mapped without knowing it, still holds logic
   on it. Besides the area, this matters because OpenSTA 2.0.17's ``report_power``
   segfaults on some such cones (a tie-low into an inverter whose output reaches an
   ``OAI22`` on two pins, an ``AOI211`` and an ``AOI21``: found by delta debugging on the
   stitched 2-bit MNIST MLP). Every constant net left in use is then driven by one shared
   tie cell per value; flip-flops are never folded;
3. structural hashing in topological order: a cell with the same type and the same input
   nets (pin by pin, as ``opt_merge`` compares them) as an earlier cell is dropped and its
   output nets become that cell's outputs. Flip-flops count as cells whose ``D``/``CK`` are
   inputs, so identical register stages merge too;
4. cells whose outputs reach no top output are removed (``opt_clean``);
5. each output port bit keeps its name; a net that must drive two ports, or a port that an
   input drives directly, gets a ``BUF_X1`` (what ``insbuf`` does; OpenSTA 2.0.17 cannot
   read ``assign``).

Measured on the partitioned NID-A design (23 leaves): 68,380 leaf cells stitch to 54,582
cells and 64,202.026 um^2, the same cell count and area as the earlier whole-design Yosys
pass over the same leaves.

Net names in the written netlist are as OpenSTA prints them (``u_l0.u_n3.acc[2]``), so
:mod:`hwnn.eda.gatesim` activities annotate it directly. Leaf ports must be declared
``[W-1:0]`` (as :mod:`hwnn.logic.verilog` and Yosys write them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.eda.gatesim import (
    CellModel,
    Netlist,
    declarations,
    instances,
    library,
    module_body,
    net_name,
    parse_netlist,
    port_bit,
)
from hwnn.eda.liberty import (
    BUFFER,
    TIE_HI,
    TIE_LO,
    cell_areas,
    liberty_path,
    sequential_cells,
)
from hwnn.errors import EdaError

#: Version of the stitch (sharing rules); partitioned results record it. Version 2 added
#: constant folding (step 2 of the module docstring).
STITCH_VERSION = 2
#: Stitch versions whose results sweeps keep (the mapped leaves are reused for others).
#: Version 1 netlists are correct (checked at gate level against the IR) and differ only by
#: the constant cones they keep, so their results are not redone.
CURRENT_STITCH_VERSIONS = frozenset({1, 2})

_TOKEN = re.compile(r"\s*(?:(\\\S+|[A-Za-z_][\w$]*)\s*(?:\[\s*(\d+)\s*(?::\s*(\d+)\s*)?\])?"
                    r"|(\d*'[sS]?[bBhHdDoO][0-9a-fA-FxXzZ_]+)|([{},]))")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_BIT = re.compile(r"^(.*)\[(\d+)\]$")


@dataclass(frozen=True)
class StitchResult:
    """The stitched flat netlist and what it holds."""

    netlist_path: Path
    area_um2: float
    cells_by_type: dict[str, int]
    flip_flops: int
    leaf_cells: int  # cells in the leaves and the shell before sharing
    merged_cells: int  # dropped as duplicates of an identical cell
    removed_cells: int  # dropped because no top output depends on them
    buffers: int  # BUF_X1 added at output ports
    folded_cells: int = 0  # dropped because their outputs are constant (tie cells included)

    def summary(self) -> dict[str, int]:
        """The counts for result files, with the stitch version that made them."""
        return {"version": STITCH_VERSION, "leaf_cells": self.leaf_cells,
                "merged_cells": self.merged_cells, "removed_cells": self.removed_cells,
                "buffers": self.buffers, "folded_cells": self.folded_cells}


def _ranges(body: str) -> dict[str, tuple[int, int] | None]:
    """``name -> (msb, lsb)`` of every declared net (``None`` for a scalar)."""
    return {name: rng for _, rng, name in declarations(body)}


def _bit_name(name: str, rng: tuple[int, int] | None, k: int) -> str:
    if rng is None or rng[0] == rng[1]:
        return name
    return f"{name}[{k}]"


def expression_bits(expr: str, ranges: Mapping[str, tuple[int, int] | None]) -> list[str]:
    """The net names of a Verilog connection expression, LSB first: identifiers, bit and
    part selects and ``{...}`` concatenations. Constants are refused (the shell and the leaves
    carry tie cells instead)."""
    msb_first: list[str] = []
    pos, text = 0, expr.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise EdaError(f"cannot read connection expression {expr!r}")
        pos = m.end()
        ident, hi, lo, const, punct = m.groups()
        if punct is not None:
            continue
        if const is not None:
            raise EdaError(f"constant {const} in connection {expr!r}: map the netlist with "
                           "tie cells first (hwnn.eda.yosys.synth_asic)")
        name = net_name(ident)
        if name not in ranges:
            raise EdaError(f"net {name} in connection {expr!r} is not declared")
        rng = ranges[name]
        if hi is None:
            a, b = rng if rng is not None else (0, 0)
        else:
            a, b = int(hi), int(lo) if lo is not None else int(hi)
        step = -1 if a >= b else 1
        msb_first += [_bit_name(name, rng, k) for k in range(a, b + step, step)]
    return msb_first[::-1]


class _Graph:
    """Cells over integer net ids, as the stitch builds them."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        self.cells: list[tuple[str, str, dict[str, int]]] = []  # (type, instance, pin -> net)

    def net(self, name: str) -> int:
        found = self.ids.get(name)
        if found is None:
            found = self.ids[name] = len(self.names)
            self.names.append(name)
        return found


def _expand_leaf(graph: _Graph, leaf: Netlist, prefix: str, ports: Mapping[str, int],
                 lib: Mapping[str, CellModel]) -> None:
    for inst in leaf.instances:
        if inst.cell not in lib:
            raise EdaError(f"cell {inst.cell} of leaf {leaf.top} has no liberty model")
        pins = {}
        for pin, name in inst.pins.items():
            if not name:
                continue
            pins[pin] = ports[name] if name in ports else graph.net(f"{prefix}.{name}")
        graph.cells.append((inst.cell, f"{prefix}.{inst.name.lstrip(chr(92))}", pins))


def _topological(graph: _Graph, lib: Mapping[str, CellModel], sources: set[int]) -> list[int]:
    """Cell indices inputs-first (Kahn); cells on a loop come last, in file order."""
    driver_of: dict[int, int] = {}
    for idx, (cell, _, pins) in enumerate(graph.cells):
        for pin in lib[cell].outputs:
            if pin in pins:
                driver_of[pins[pin]] = idx
    waiting = [0] * len(graph.cells)
    users: dict[int, list[int]] = {}
    for idx, (cell, _, pins) in enumerate(graph.cells):
        needs = {pins[p] for p in lib[cell].inputs if p in pins}
        needs = {n for n in needs if n in driver_of and n not in sources}
        waiting[idx] = len(needs)
        for n in needs:
            users.setdefault(driver_of[n], []).append(idx)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order: list[int] = []
    while ready:
        idx = ready.pop()
        order.append(idx)
        for j in users.get(idx, ()):
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) < len(graph.cells):
        placed = set(order)
        order += [i for i in range(len(graph.cells)) if i not in placed]
    return order


def _esc(name: str) -> str:
    return name if _PLAIN.fullmatch(name) else f"\\{name} "


def _ref(name: str, vectors: set[str]) -> str:
    bit = _BIT.match(name)
    if bit and bit.group(1) in vectors:
        return f"{_esc(bit.group(1))}[{bit.group(2)}]"
    return _esc(name)


def _write(path: Path, top: str, port_order: list[str],
           port_decls: list[tuple[str, str, tuple[int, int] | None]],
           graph: _Graph, keep: list[int], rep: list[int], display: dict[int, str]) -> None:
    """Flat Verilog: ports, one declaration per internal net or bus, one line per cell."""
    port_names = {name for _, name, _ in port_decls}
    used: set[int] = set()
    for idx in keep:
        used.update(rep[n] for n in graph.cells[idx][2].values())
    bits: dict[str, list[int]] = {}
    scalars: set[str] = set()
    for n in used:
        name = display.get(n, graph.names[n])
        bit = _BIT.match(name)
        base = bit.group(1) if bit else name
        if base in port_names:
            continue
        if bit:
            bits.setdefault(base, []).append(int(bit.group(2)))
        else:
            scalars.add(name)
    vectors = {b for b in bits if b not in scalars}
    with path.open("w") as out:
        out.write(f"/* Generated by hwnn.eda.stitch */\n\nmodule {top}({', '.join(port_order)});\n")
        for kind, name, rng in port_decls:
            width = f"[{rng[0]}:{rng[1]}] " if rng and rng[0] != rng[1] else ""
            out.write(f"  {kind} {width}{_esc(name)};\n")
        vectors |= {name for _, name, rng in port_decls if rng and rng[0] != rng[1]}
        for base in sorted(vectors - port_names):
            idx = bits[base]
            out.write(f"  wire [{max(idx)}:{min(idx)}] {_esc(base)};\n")
        for base in sorted(set(bits) - vectors):
            for k in sorted(bits[base]):
                out.write(f"  wire {_esc(f'{base}[{k}]')};\n")
        for name in sorted(scalars):
            out.write(f"  wire {_esc(name)};\n")
        for idx in keep:
            cell, inst, pins = graph.cells[idx]
            conns = ", ".join(f".{p}({_ref(display.get(rep[n], graph.names[rep[n]]), vectors)})"
                              for p, n in pins.items())
            out.write(f"  {cell} {_esc(inst)} ({conns});\n")
        out.write("endmodule\n")


def stitch_netlist(shell_netlist: str | os.PathLike[str], top: str,
                   leaf_netlists: Mapping[str, str | os.PathLike[str]],
                   out_path: str | os.PathLike[str], *,
                   share: bool = True,
                   data_dir: str | os.PathLike[str] | None = None) -> StitchResult:
    """Flatten ``top`` of ``shell_netlist`` (liberty cells plus instances of the modules in
    ``leaf_netlists``, each a mapped netlist holding that module) into ``out_path`` and
    share identical cells (module docstring)."""
    lib = library(data_dir)
    liberty = liberty_path(data_dir)
    text = Path(shell_netlist).read_text()
    body = module_body(text, top)
    ranges = _ranges(body)
    header = re.search(rf"^module\s+\\?{re.escape(top)}\s*\(([^)]*)\)", text, re.MULTILINE)
    assert header is not None
    port_order = [p.strip() for p in header.group(1).split(",") if p.strip()]
    shell = parse_netlist(text, top)
    port_decls = [("input" if p in shell.inputs else "output", p, ranges[p]) for p in port_order]
    graph = _Graph()
    inputs = {graph.net(_bit_name(p, ranges[p], k))
              for p in shell.inputs for k in _port_bits(ranges[p])}
    outputs = [graph.net(_bit_name(p, ranges[p], k))
               for p in shell.outputs for k in _port_bits(ranges[p])]
    leaf_text: dict[str, str] = {}
    for cell, written, conns in instances(body):
        name = net_name(written)
        if cell in lib:
            pins = {p: graph.net(b) for p, e in conns.items()
                    for b in expression_bits(e, ranges)[:1]}
            graph.cells.append((cell, name, pins))
            continue
        if cell not in leaf_netlists:
            raise EdaError(f"instance {name} of {cell}: neither a liberty cell nor a leaf")
        if cell not in leaf_text:
            leaf_text[cell] = Path(leaf_netlists[cell]).read_text()
        leaf = parse_netlist(leaf_text[cell], cell)
        ports: dict[str, int] = {}
        for port, width in {**leaf.inputs, **leaf.outputs}.items():
            parent = expression_bits(conns[port], ranges) if conns.get(port) else []
            if parent and len(parent) != width:
                raise EdaError(f"{name}.{port}: {len(parent)} bits connected, port has {width}")
            for k in range(width):
                own = port_bit(port, width, k)
                ports[own] = graph.net(parent[k]) if parent else graph.net(f"{name}.{own}")
        _expand_leaf(graph, leaf, name, ports, lib)
    total = len(graph.cells)
    order = _topological(graph, lib, inputs)

    # 2. constant folding, then one tie cell per constant still in use
    rep = list(range(len(graph.names)))
    dropped = _fold_constants(graph, lib, order, rep)
    folded = len(dropped)

    # 3. structural hashing, inputs first
    seen: dict[tuple[str, tuple[int, ...]], int] = {}
    for idx in order if share else ():
        if idx in dropped:
            continue
        cell, _, pins = graph.cells[idx]
        model = lib[cell]
        key = (cell, tuple(rep[pins[p]] if p in pins else -1 for p in model.inputs))
        first = seen.setdefault(key, idx)
        if first == idx:
            continue
        other = graph.cells[first][2]
        if any(p in pins and p not in other for p in model.outputs):
            continue  # the kept cell leaves an output unconnected that this one uses
        for p in model.outputs:
            if p in pins:
                rep[pins[p]] = rep[other[p]]
        dropped.add(idx)
    merged = len(dropped) - folded

    # 4. keep the cells some top output depends on
    driver: dict[int, int] = {}
    for idx, (cell, _, pins) in enumerate(graph.cells):
        if idx not in dropped:
            for p in lib[cell].outputs:
                if p in pins:
                    driver[rep[pins[p]]] = idx
    live: set[int] = set()
    stack = [driver[rep[o]] for o in outputs if rep[o] in driver]
    while stack:
        idx = stack.pop()
        if idx in live:
            continue
        live.add(idx)
        cell, _, pins = graph.cells[idx]
        stack += [driver[rep[pins[p]]] for p in lib[cell].inputs
                  if p in pins and rep[pins[p]] in driver]
    keep = sorted(live)
    ties = sum(1 for idx in keep if idx >= total)
    removed = total - merged - folded - (len(keep) - ties)

    # 5. output ports keep their names; shared or input-driven ones get a buffer
    display: dict[int, str] = {n: graph.names[n] for n in inputs}
    claimed: set[int] = set(inputs)
    buffers = 0
    buf_cell, buf_in, buf_out = BUFFER
    for o in outputs:
        r = rep[o]
        if r not in claimed:
            claimed.add(r)
            display[r] = graph.names[o]
            continue
        fresh = len(rep)
        rep.append(fresh)
        graph.names.append(graph.names[o])
        display[fresh] = graph.names[o]
        graph.cells.append((buf_cell, f"hwnn_port_buf_{buffers}", {buf_in: r, buf_out: fresh}))
        keep.append(len(graph.cells) - 1)
        buffers += 1

    out = Path(out_path)
    _write(out, top, port_order, port_decls, graph, keep, rep, display)
    counts: dict[str, int] = {}
    for idx in keep:
        counts[graph.cells[idx][0]] = counts.get(graph.cells[idx][0], 0) + 1
    areas = cell_areas(liberty)
    flops = sequential_cells(liberty)
    return StitchResult(
        netlist_path=out,
        area_um2=sum(n * areas[c] for c, n in counts.items()),
        cells_by_type=counts,
        flip_flops=sum(n for c, n in counts.items() if c in flops),
        leaf_cells=total, merged_cells=merged, removed_cells=removed, buffers=buffers,
        folded_cells=folded)


def _constant_outputs(model: CellModel, pins: Mapping[str, int],
                      const: Mapping[int, bool]) -> dict[str, bool] | None:
    """The value of every connected output of a combinational cell when each is the same for
    all values of the inputs not in ``const`` (None otherwise, or when none is connected)."""
    outs = [p for p in model.outputs if p in pins]
    if not outs or model.state is not None:
        return None
    free = [p for p in model.inputs if p in pins and pins[p] not in const]
    if len(free) == len([p for p in model.inputs if p in pins]) and model.inputs:
        return None  # no constant input: nothing to fold
    n = 1 << len(free)
    codes = np.arange(n)
    env: dict[str, Any] = {"_C0": np.zeros(n, dtype=bool), "_C1": np.ones(n, dtype=bool)}
    for p in model.inputs:
        if p in free:
            env[f"v_{p}"] = ((codes >> free.index(p)) & 1).astype(bool)
        else:  # constant, or unconnected (read as 0, as the gate-level simulator does)
            env[f"v_{p}"] = np.full(n, const.get(pins[p], False) if p in pins else False)
    values = {}
    for p in outs:
        res = np.broadcast_to(eval(model.outputs[p], {"__builtins__": {}}, env), (n,))
        if res.min() != res.max():
            return None
        values[p] = bool(res[0])
    return values


def _fold_constants(graph: _Graph, lib: Mapping[str, CellModel], order: list[int],
                    rep: list[int]) -> set[int]:
    """Step 2 of the module docstring: drop every cell whose outputs are constant (returns
    their indices), append one tie cell per constant value still read, and point ``rep`` of
    every constant net at it."""
    const: dict[int, bool] = {}
    folded: set[int] = set()
    for idx in order:
        cell, _, pins = graph.cells[idx]
        values = _constant_outputs(lib[cell], pins, const)
        if values is None:
            continue
        folded.add(idx)
        for p, v in values.items():
            const[pins[p]] = v
    # constants nothing reads any more go with their tie cell in step 4 (no output needs it)
    for value, (cell, pin) in ((False, TIE_LO), (True, TIE_HI)):
        nets = [n for n, v in const.items() if v == value]
        if not nets:
            continue
        net = graph.net(f"hwnn_const{int(value)}")
        graph.cells.append((cell, f"hwnn_tie{int(value)}", {pin: net}))
        for n in nets:
            rep[n] = net
    while len(rep) < len(graph.names):
        rep.append(len(rep))
    return folded


def _port_bits(rng: tuple[int, int] | None) -> range:
    if rng is None:
        return range(1)
    lo, hi = min(rng), max(rng)
    return range(lo, hi + 1)

"""Timing, power and the gate-level check of a partitioned design one leaf at a time.

Why: the flat flow (stitched netlist → OpenSTA timing and power, :mod:`hwnn.eda.gatesim`
activity) holds the whole design in memory. Measured on SAM configuration B (2.01M cells):
7.7 GB for OpenSTA's vector power, 6.4 GB for the activity simulation. Configuration A
(318 leaves, ~36k cells per first-layer neuron, ~11M cells) would need about five times that,
more than the 24 GB machines here have. A leaf (one neuron of
:mod:`hwnn.logic.verilog` with ``partition=True``: its logic and its output register) is
small, so every step runs per leaf:

1. **Activity.** The shell (the glue mapped with every leaf a black box) only wires leaves
   together. Leaves are simulated in dependency order with :func:`simulate_activity`: a
   first-layer leaf sees the test vectors on ``x``; a later leaf sees, in cycle ``i``, the
   register state of the leaves that feed it, ``s_0 = 0``, ``s_i`` = their output read in
   cycle ``i - 1`` - what the flat simulation sees on those nets (its values on a net fed by
   a register change half a cycle earlier, which changes no toggle count but the last).
   The top output ``y`` per cycle (read after the clock edge, as in the flat simulation) is
   returned for the gate-level check against the IR.
2. **Loads.** Each net of the shell loads its driver with the input pins of every leaf on
   it and with a wire whose capacitance OpenSTA estimates from the liberty's default wire
   load by the net's fanout (Nangate45: 26.97 fF at 36 loads). A leaf's own netlist holds
   only its pins, so each of its port nets gets ``set_load`` = the other leaves' pins
   (:func:`port_loads`, liberty ``capacitance``) + the wire of the whole net.
3. **Timing.** OpenSTA on the leaf at the common clock: a leaf fed by other leaves gets its
   inputs driven by DFF_X1 registers (:func:`register_inputs`), i.e. the register-to-register
   paths of the flat design including clock-to-Q; a leaf fed by the top inputs keeps ideal
   input ports with zero input delay, as the flat flow times them. fmax = 1000 / the longest
   critical path over the leaves.
4. **Power.** :func:`power_from_activity` per leaf (power method 2: inputs registered,
   registers' own power subtracted) with the leaf's activities and loads; the design's
   power is the sum. The nets between leaves are counted once, with their driver.

Leaves of one dependency level (a layer's neurons) need only the outputs of earlier levels,
so with ``jobs > 1`` they are analysed in that many processes at once; the numbers do not
depend on ``jobs``.

Glue with registers (the generic baseline's weight chain, loaded once and held during
inference) is one more part, given the registers' preloaded state: it is simulated, timed and
powered like a leaf, and a leaf port fed by those registers (the weight slice ``w``) is a
constant input of that leaf (:func:`leafwise_analysis`).

Area, cells and power cover the *live* leaves: a leaf no top output depends on (a hidden
neuron whose outgoing weights were all pruned) is dropped, as the stitch drops its cells.
What it leaves out, and by how much: the flat flow's stitch shares identical cells across
leaves (SAM B: 132,031 of 2,142,412 leaf cells, 6.2 %) and removes dead logic inside live
leaves, so leaf sums are the design before sharing. Checked on SAM B against the flat flow
in ``results/sam/hardware.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.eda.gatesim import (
    declarations,
    drop_instances,
    instances,
    library,
    module_body,
    module_span,
    net_name,
    parse_netlist,
    port_bit,
    resolve_preload,
    simulate_activity,
)
from hwnn.eda.input_registers import register_inputs
from hwnn.eda.liberty import (
    cell_areas,
    default_wire_load,
    input_capacitances,
    liberty_path,
    sequential_cells,
)
from hwnn.eda.sta import POWER_METHOD_VERSION, PowerResult, power_from_activity, timing
from hwnn.eda.stitch import expression_bits
from hwnn.errors import EdaError

#: Version of this flow; cached per-leaf results made by another version are redone.
LEAFWISE_VERSION = 1
_RESULT = "leaf_analysis.json"

#: (leaves done, leaves in all, leaf just done)
LeafProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class LeafInstance:
    """One leaf instance of the shell: its module and the shell nets on its ports, LSB
    first."""

    name: str
    module: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    #: ports besides clk, x and y (the generic baseline's weight slice ``w``): port -> shell
    #: nets, LSB first; they must carry constants (preloaded glue registers)
    held: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Shell:
    """The top module of a partitioned design: its data ports and the leaves it wires."""

    top: str
    inputs: tuple[str, ...]  # x bits, LSB first
    outputs: tuple[str, ...]  # y bits, LSB first
    leaves: tuple[LeafInstance, ...]  # in dependency order
    #: cells of the shell besides the leaves (the generic baseline's weight chain), as
    #: ``(cell, instance, pin -> net)``; only with ``glue=True`` in :func:`read_shell`
    glue: tuple[tuple[str, str, dict[str, str]], ...] = ()


def read_shell(shell_netlist: str | os.PathLike[str], top: str, leaf_modules: set[str],
               clock_port: str = "clk", glue: bool = False) -> Shell:
    """The leaves of ``top`` in dependency order. Without ``glue`` the shell may hold
    nothing but leaf instances (ports ``clk``, ``x``, ``y``) and anything else is refused,
    since its power and timing would be missed; with ``glue`` other cells are returned in
    :attr:`Shell.glue` and leaves may have more input ports (:attr:`LeafInstance.held`)."""
    body = module_body(Path(shell_netlist).read_text(), top)
    ranges = {name: rng for _, rng, name in declarations(body)}

    def port_bits(name: str) -> tuple[str, ...]:
        if name not in ranges:
            raise EdaError(f"{top} has no port {name!r}")
        return tuple(expression_bits(name, ranges))

    leaves: list[LeafInstance] = []
    others: list[tuple[str, str, dict[str, str]]] = []
    for cell, written, conns in instances(body):
        name = net_name(written)
        if cell not in leaf_modules:
            if not glue:
                raise EdaError(f"shell {top} holds cell {cell} ({name}) besides the leaves; "
                               "the leaf-by-leaf flow needs a glue of wires only")
            others.append((cell, name, {pin: net_name(net) for pin, net in conns.items()}))
            continue
        extra = sorted(set(conns) - {clock_port, "x", "y"}) if glue else []
        if set(conns) - set(extra) != {clock_port, "x", "y"}:
            raise EdaError(f"leaf instance {name} has ports {sorted(conns)}; expected "
                           f"{clock_port}, x, y")
        if net_name(conns[clock_port].strip()) != clock_port:
            raise EdaError(f"leaf instance {name} is not clocked by {clock_port}")
        held = tuple((port, tuple(expression_bits(conns[port], ranges))) for port in extra)
        leaves.append(LeafInstance(name, cell, tuple(expression_bits(conns["x"], ranges)),
                                   tuple(expression_bits(conns["y"], ranges)), held))
    shell = Shell(top, port_bits("x"), port_bits("y"), tuple(leaves), tuple(others))
    return replace(shell, leaves=_dependency_order(shell))


def live_leaves(shell: Shell, used_inputs: Mapping[str, set[int]] | None = None) -> Shell:
    """``shell`` without the leaves no top output depends on, as the flat flow's stitch
    drops their cells. ``used_inputs``: per leaf module, the ``x`` bits its netlist reads
    (a bit with no load pin, e.g. the input of a pruned weight, does not make the leaf that
    drives it live); None: every connected bit counts. Example: a hidden neuron whose every
    outgoing weight was pruned is wired to the next layer's ``x`` bus but read by nobody."""
    driver = {net: leaf for leaf in shell.leaves for net in leaf.outputs}
    live: set[str] = set()
    stack = [driver[net] for net in shell.outputs if net in driver]
    while stack:
        leaf = stack.pop()
        if leaf.name in live:
            continue
        live.add(leaf.name)
        used = None if used_inputs is None else used_inputs[leaf.module]
        stack += [driver[net] for k, net in enumerate(leaf.inputs)
                  if net in driver and (used is None or k in used)]
    return replace(shell, leaves=tuple(leaf for leaf in shell.leaves if leaf.name in live))


def _levels(shell: Shell) -> list[list[LeafInstance]]:
    """The leaves of ``shell`` grouped by dependency level, in the shell's order within a
    level: level 0 reads only top inputs, level ``k`` reads at least one output of level
    ``k - 1`` and none of a later level. A level needs only earlier levels' outputs."""
    driver = {net: leaf.name for leaf in shell.leaves for net in leaf.outputs}
    level: dict[str, int] = {}
    for leaf in shell.leaves:  # in dependency order: every feeder has its level already
        level[leaf.name] = 1 + max((level[driver[net]] for net in leaf.inputs if net in driver),
                                   default=-1)
    groups: list[list[LeafInstance]] = [[] for _ in range(1 + max(level.values(), default=-1))]
    for leaf in shell.leaves:
        groups[level[leaf.name]].append(leaf)
    return groups


@contextlib.contextmanager
def _leaf_runner(jobs: int) -> Iterator[Callable[[list[tuple[Any, ...]]], list[dict[str, Any]]]]:
    """A function that runs :func:`_analyse_leaf` on a list of argument tuples and returns
    the rows in order: in this process for ``jobs <= 1``, else in a pool of ``jobs``
    processes (spawned, so a caller's threads, e.g. a Ray worker's, are not forked)."""
    if jobs <= 1:
        yield lambda tasks: [_analyse_leaf(*t) for t in tasks]
        return
    with ProcessPoolExecutor(max_workers=jobs,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda tasks: (list(pool.map(_analyse_leaf, *zip(*tasks, strict=True)))
                             if len(tasks) > 1 else [_analyse_leaf(*t) for t in tasks])


def _dependency_order(shell: Shell) -> tuple[LeafInstance, ...]:
    driver = {net: leaf.name for leaf in shell.leaves for net in leaf.outputs}
    known = set(shell.inputs)
    for leaf in shell.leaves:
        for net in leaf.inputs:
            if net not in driver and net not in known:
                raise EdaError(f"net {net} into {leaf.name} has no driver in the shell")
    order: list[LeafInstance] = []
    placed: set[str] = set()
    left = list(shell.leaves)
    while left:
        ready = [leaf for leaf in left
                 if all(net in known or driver[net] in placed for net in leaf.inputs)]
        if not ready:
            raise EdaError(f"leaves {[leaf.name for leaf in left[:5]]} lie on a loop")
        order += ready
        placed |= {leaf.name for leaf in ready}
        left = [leaf for leaf in left if leaf.name not in placed]
    return tuple(order)


def port_loads(netlist_text: str, module: str, caps: Mapping[str, Mapping[str, float]]
               ) -> dict[str, tuple[float, int]]:
    """Load of each input port bit of a mapped leaf (``x[3] -> (fF, pins)``): the summed
    liberty ``capacitance`` of the cell input pins on that net, and their number."""
    nl = parse_netlist(netlist_text, module)
    ports = {f"{p}[{k}]" if w > 1 else p for p, w in nl.inputs.items() for k in range(w)}
    total = dict.fromkeys(ports, (0.0, 0))
    for inst in nl.instances:
        pins = caps.get(inst.cell, {})
        for pin, net in inst.pins.items():
            if net in total and pin in pins:
                cap, count = total[net]
                total[net] = (cap + pins[pin], count + 1)
    return total


def _x_bit(port: str) -> int:
    """Bit index of an ``x`` port name (``x`` alone is bit 0)."""
    return 0 if port == "x" else int(port[2:-1])


def _cell_counts(netlist_text: str, module: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for inst in parse_netlist(netlist_text, module).instances:
        counts[inst.cell] = counts.get(inst.cell, 0) + 1
    return counts


def _pack(bits: np.ndarray) -> list[int]:
    """Rows of a (cycles, width) bool matrix as integers, column 0 the LSB."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _key(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@dataclass(frozen=True)
class LeafwiseResult:
    """Design totals over the live leaves and the top output per cycle."""

    area_um2: float
    cells_by_type: dict[str, int]
    flip_flops: int
    dead_leaves: tuple[str, ...]  # leaves no top output depends on: left out
    critical_path_ns: float
    fmax_mhz: float
    critical_leaf: str
    critical_path: tuple[str, str]
    total_mw: float
    internal_mw: float
    switching_mw: float
    leakage_mw: float
    input_register_mw: float
    annotated_nets: int
    unmatched_nets: int
    repropagated_pins: int
    outputs: list[int]
    leaves: int
    table_path: Path
    #: the glue's own row (its cells, timing and power; :func:`leafwise_analysis`), if any
    glue: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        glue = {} if self.glue is None else {"glue": {
            k: self.glue[k] for k in ("cells", "area_um2", "flip_flops", "power_mw",
                                      "critical_path_ns", "preloaded_bits",
                                      "unplaced_state_bits")}}
        return {"version": LEAFWISE_VERSION, "leaves": self.leaves,
                "dead_leaves": list(self.dead_leaves), "critical_leaf": self.critical_leaf,
                "table": str(self.table_path), **glue}


def leafwise_analysis(shell_netlist: str | os.PathLike[str], top: str,
                      leaf_netlists: Mapping[str, str | os.PathLike[str]],
                      work: str | os.PathLike[str], *, period_ns: float,
                      vectors: Sequence[int], clock_port: str = "clk",
                      timeout_s: float = 600, progress: LeafProgress | None = None,
                      data_dir: str | os.PathLike[str] | None = None,
                      initial_state: Sequence[tuple[Sequence[str], int]] | None = None,
                      hold_inputs: Mapping[str, int] | None = None,
                      jobs: int = 1) -> LeafwiseResult:
    """Steps 1-4 of the module docstring for every leaf of ``top``; each leaf's numbers
    are kept in ``work/<leaf>/leaf_analysis.json`` (keyed by its netlist, input stream,
    loads, clock and method), so an interrupted run resumes. ``jobs``: leaves of one
    dependency level analysed in parallel processes (:func:`_levels`).

    ``initial_state`` (``(candidate Q-net names, bit)`` per register, as for
    :func:`simulate_activity`) allows a shell with glue cells: registers preloaded once and
    held during inference by ``hold_inputs`` (the generic baseline's weight chain,
    ``w_en = 0``). The glue is then analysed as one more part (:func:`_analyse_glue`): the
    shell without its leaves, its registers preloaded, timed and powered like a leaf with
    the leaves' pins as the loads on its nets. A leaf port besides ``clk``, ``x`` and ``y``
    (the weight slice ``w``) must carry the Q nets of such registers, and is simulated as a
    constant input."""
    if not len(vectors):
        raise EdaError("need at least one input vector")
    work = Path(work)
    every = read_shell(shell_netlist, top, set(leaf_netlists), clock_port,
                       glue=initial_state is not None)
    liberty = liberty_path(data_dir)
    areas, flops = cell_areas(liberty), sequential_cells(liberty)
    lib_caps, wire = input_capacitances(liberty), default_wire_load(liberty)
    glue_path: Path | None = None
    constants: dict[str, bool] = {}
    if every.glue:
        assert initial_state is not None
        glue_path = work / "glue" / "glue_netlist.v"
        glue_path.parent.mkdir(parents=True, exist_ok=True)
        glue_path.write_text(glue_netlist(Path(shell_netlist).read_text(), top,
                                          set(leaf_netlists)))
        constants = held_values(glue_path, top, initial_state, data_dir)
    for leaf in every.leaves:
        loose = [net for _, nets in leaf.held for net in nets if net not in constants]
        if loose:
            raise EdaError(f"leaf instance {leaf.name}: nets {loose[:4]} on its ports "
                           f"{[port for port, _ in leaf.held]} are not the outputs of preloaded "
                           "glue registers; the leaf-by-leaf flow simulates only x as data")
    texts = {m: Path(p).read_text() for m, p in leaf_netlists.items()}
    own = {m: port_loads(t, m, lib_caps) for m, t in texts.items()}
    counts = {m: _cell_counts(t, m) for m, t in texts.items()}
    used = {m: {_x_bit(port) for port, (_, pins) in loads.items()
                if pins and (port == "x" or port.startswith("x["))} for m, loads in own.items()}
    shell = live_leaves(every, used)
    net_cap: dict[str, float] = {}
    net_pins: dict[str, int] = {}

    def add_pins(net: str, cap: float, pins: int) -> None:
        net_cap[net] = net_cap.get(net, 0.0) + cap
        net_pins[net] = net_pins.get(net, 0) + pins

    for leaf in shell.leaves:
        for port, nets in (("x", leaf.inputs), *leaf.held):
            for k, net in enumerate(nets):
                add_pins(net, *own[leaf.module][port_bit(port, len(nets), k)])
    glue_own: dict[str, float] = {}  # pin capacitance the glue's own cells put on a net
    for cell, _, conns in every.glue:
        for pin, net in conns.items():
            if pin in lib_caps.get(cell, {}):
                add_pins(net, lib_caps[cell][pin], 1)
                glue_own[net] = glue_own.get(net, 0.0) + lib_caps[cell][pin]

    def extra(net: str, own_cap: float) -> float:
        """set_load value: the other leaves' pins plus the wire of the whole net (set_load
        replaces OpenSTA's wire-load estimate, which would see this leaf's pins only)."""
        return net_cap[net] - own_cap + wire.net_capacitance(net_pins[net])
    n = len(vectors)
    words = np.array([int(v) for v in vectors], dtype=object)
    state: dict[str, np.ndarray] = {
        net: np.array([(w >> k) & 1 for w in words], dtype=bool)
        for k, net in enumerate(shell.inputs)}
    after: dict[str, np.ndarray] = {}  # each leaf output net, read after edge i
    top_inputs = set(shell.inputs)
    by_leaf: dict[str, dict[str, Any]] = {}

    def task(leaf: LeafInstance) -> tuple[Any, ...]:
        """The arguments of :func:`_analyse_leaf` for ``leaf`` (its feeders are done)."""
        idle = np.zeros(n, dtype=bool)  # a bit from a dead leaf: no pin reads it
        bits = np.stack([state.get(net, idle) for net in leaf.inputs], axis=1)
        mine = own[leaf.module]
        loads = {port_bit(port, len(nets), k): extra(net, mine[port_bit(port, len(nets), k)][0])
                 for port, nets in (("x", leaf.inputs), *leaf.held)
                 for k, net in enumerate(nets)}
        loads.update({port_bit("y", len(leaf.outputs), k): extra(net, 0.0)
                      for k, net in enumerate(leaf.outputs) if net in net_cap})
        hold = {port: sum(int(constants[net]) << k for k, net in enumerate(nets))
                for port, nets in leaf.held}
        fed_by_leaves = bool(leaf.held) or any(net not in top_inputs for net in leaf.inputs)
        return (leaf, texts[leaf.module], leaf_netlists[leaf.module], bits, loads,
                fed_by_leaves, work / _safe(leaf.name), period_ns, clock_port, timeout_s,
                data_dir, hold)

    with _leaf_runner(jobs) as run:
        for level in _levels(shell):
            for leaf, row in zip(level, run([task(leaf) for leaf in level]), strict=True):
                outs = np.array(row["outputs"], dtype=object)
                for k, net in enumerate(leaf.outputs):
                    after[net] = np.array([(w >> k) & 1 for w in outs], dtype=bool)
                    state[net] = np.concatenate([[False], after[net][:-1]])  # state in cycle i
                cells = counts[leaf.module]
                by_leaf[leaf.name] = {k: v for k, v in row.items() if k != "outputs"} | {
                    "area_um2": round(sum(count * areas[c] for c, count in cells.items()), 3),
                    "cells": sum(cells.values()),
                    "flip_flops": sum(count for c, count in cells.items() if c in flops)}
                if progress:
                    progress(len(by_leaf), len(shell.leaves), leaf.name)
    rows = [by_leaf[leaf.name] for leaf in shell.leaves]  # the shell's order, whatever jobs
    missing = [net for net in shell.outputs if net not in after]
    if missing:
        raise EdaError(f"top outputs {missing[:4]} are not driven by a leaf")
    outputs = [0] * n
    for k, net in enumerate(shell.outputs):
        for i in np.flatnonzero(after[net]).tolist():
            outputs[i] |= 1 << k
    glue_row: dict[str, Any] | None = None
    by_type: Counter[str] = Counter()
    for leaf in shell.leaves:
        by_type.update(counts[leaf.module])
    if glue_path is not None:
        assert initial_state is not None
        glue_loads = {net: net_cap[net] - glue_own.get(net, 0.0)
                      + wire.net_capacitance(net_pins[net]) for net in constants if net in net_cap}
        glue_row = _analyse_glue(glue_path, top, list(words), len(shell.inputs),
                                 initial_state, hold_inputs or {}, glue_loads,
                                 work / "glue", period_ns, clock_port, timeout_s, data_dir)
        glue_cells = Counter(cell for cell, _, _ in every.glue)
        glue_row |= {"area_um2": round(sum(n * areas[c] for c, n in glue_cells.items()), 3),
                     "cells": len(every.glue),
                     "flip_flops": sum(n for c, n in glue_cells.items() if c in flops)}
        by_type.update(glue_cells)
        rows.append(glue_row)
    table = work / "leaves.json"
    table.write_text(json.dumps(rows, indent=1) + "\n")
    worst = max(rows, key=lambda r: r["critical_path_ns"])
    total = {f: sum(r[f] for r in rows) for f in ("internal_mw", "switching_mw",
                                                  "leakage_mw", "input_register_mw")}
    total["total_mw"] = sum(r["power_mw"] for r in rows)
    return LeafwiseResult(
        area_um2=round(sum(r["area_um2"] for r in rows), 3), cells_by_type=dict(by_type),
        flip_flops=sum(r["flip_flops"] for r in rows),
        dead_leaves=tuple(leaf.name for leaf in every.leaves if leaf not in shell.leaves),
        critical_path_ns=worst["critical_path_ns"],
        fmax_mhz=1000.0 / worst["critical_path_ns"], critical_leaf=worst["leaf"],
        critical_path=(worst["startpoint"], worst["endpoint"]), **total,
        annotated_nets=sum(r["annotated_nets"] for r in rows),
        unmatched_nets=sum(r["unmatched_nets"] for r in rows),
        repropagated_pins=sum(r["repropagated_pins"] for r in rows),
        outputs=outputs, leaves=len(shell.leaves), table_path=table, glue=glue_row)


def glue_netlist(shell_text: str, top: str, leaf_modules: set[str]) -> str:
    """The shell netlist's ``top`` without its leaf instances: the glue cells alone (nets
    that only leaves drove or read are left dangling; ``y`` is then undriven)."""
    header, end = module_span(shell_text, top)
    body = drop_instances(shell_text[header.end():end], leaf_modules)
    return shell_text[:header.end()] + body + shell_text[end:]


def held_values(glue: str | os.PathLike[str], top: str,
                initial_state: Sequence[tuple[Sequence[str], int]],
                data_dir: str | os.PathLike[str] | None = None) -> dict[str, bool]:
    """Value of every net a preloaded glue register drives (``Q`` = its bit, ``QN`` = the
    inverse), found by :func:`resolve_preload` as the flat flow's simulation finds them."""
    nl = parse_netlist(Path(glue).read_text(), top)
    preload, _ = resolve_preload(nl, library(data_dir), initial_state)
    values: dict[str, bool] = {}
    for inst in nl.instances:
        if inst.name in preload:
            bit = preload[inst.name][0]
            if inst.pins.get("Q"):
                values[inst.pins["Q"]] = bit
            if inst.pins.get("QN"):
                values[inst.pins["QN"]] = not bit
    return values


def _power_fields(pw: PowerResult, loads: Mapping[str, float]) -> dict[str, Any]:
    """The power columns of a part's row in ``leaves.json``."""
    return {"power_mw": pw.total_mw, "internal_mw": pw.internal_mw,
            "switching_mw": pw.switching_mw, "leakage_mw": pw.leakage_mw,
            "input_register_mw": pw.input_register_mw,
            "annotated_nets": pw.annotated_nets, "unmatched_nets": len(pw.unmatched_nets),
            "repropagated_pins": pw.repropagated_pins,
            "extra_load_ff": round(sum(loads.values()), 3)}


def _analyse_glue(netlist: Path, top: str, words: list[int], in_width: int,
                  initial_state: Sequence[tuple[Sequence[str], int]],
                  hold_inputs: Mapping[str, int], loads: dict[str, float], folder: Path,
                  period_ns: float, clock_port: str, timeout_s: float,
                  data_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Activity (registers preloaded, ``hold_inputs`` tied; the simulation refuses a
    register that does not hold), timing and power (method 2) of the glue netlist, its nets
    loaded by the leaves' pins (``loads``, ``set_load`` per net)."""
    act = simulate_activity(netlist, top, in_width=in_width, vectors=words,
                            clock_port=clock_port, initial_state=initial_state,
                            hold_inputs=hold_inputs, data_dir=data_dir, read_outputs=False)
    tim = timing(netlist, top, folder / "timing", period_ns=period_ns, clock_port=clock_port,
                 timeout_s=timeout_s, data_dir=data_dir, net_loads=loads)
    pw = power_from_activity(netlist, top, folder / "power", period_ns=period_ns,
                             activity=act.activity, clock_port=clock_port,
                             timeout_s=timeout_s, data_dir=data_dir, net_loads=loads)
    return {"leaf": "(glue)", "module": top, "cycles": act.cycles,
            "critical_path_ns": round(tim.critical_path_ns, 6),
            "startpoint": tim.startpoint, "endpoint": tim.endpoint,
            "inputs_registered_for_timing": False, **_power_fields(pw, loads),
            "preloaded_bits": act.preloaded_bits,
            "unplaced_state_bits": act.unplaced_state_bits}


def _analyse_leaf(leaf: LeafInstance, text: str, netlist: str | os.PathLike[str],
                  bits: np.ndarray, loads: dict[str, float], fed_by_leaves: bool, folder: Path,
                  period_ns: float, clock_port: str, timeout_s: float,
                  data_dir: str | os.PathLike[str] | None,
                  hold: Mapping[str, int] | None = None) -> dict[str, Any]:
    key = _key(LEAFWISE_VERSION, POWER_METHOD_VERSION, text, np.packbits(bits).tobytes(),
               bits.shape, sorted(loads.items()), period_ns, fed_by_leaves,
               *([sorted(hold.items())] if hold else []))
    cached = folder / _RESULT
    if cached.is_file():
        doc = json.loads(cached.read_text())
        if doc.get("key") == key:
            return doc["row"]
    folder.mkdir(parents=True, exist_ok=True)
    cached.unlink(missing_ok=True)
    words = _pack(bits)
    act = simulate_activity(netlist, leaf.module, in_width=bits.shape[1], vectors=words,
                            clock_port=clock_port, hold_inputs=hold, data_dir=data_dir)
    timed = netlist
    if fed_by_leaves:  # register-to-register paths, as in the flat design
        wrapped, _ = register_inputs(text, leaf.module, clock_port)
        timed = folder / "timing_netlist.v"
        Path(timed).write_text(wrapped)
    tim = timing(timed, leaf.module, folder / "timing", period_ns=period_ns,
                 clock_port=clock_port, timeout_s=timeout_s, data_dir=data_dir,
                 net_loads=loads)
    pw = power_from_activity(netlist, leaf.module, folder / "power", period_ns=period_ns,
                             activity=act.activity, clock_port=clock_port,
                             timeout_s=timeout_s, data_dir=data_dir, net_loads=loads)
    row = {"leaf": leaf.name, "module": leaf.module, "cycles": act.cycles,
           "critical_path_ns": round(tim.critical_path_ns, 6),
           "startpoint": f"{leaf.name}.{tim.startpoint}",
           "endpoint": f"{leaf.name}.{tim.endpoint}",
           "inputs_registered_for_timing": fed_by_leaves, **_power_fields(pw, loads),
           "outputs": act.outputs}
    cached.write_text(json.dumps({"key": key, "row": row}) + "\n")
    return row

"""Fast zero-delay simulation of a mapped Nangate45 netlist for switching activity.

Why: Icarus on the behavioural cell models with a VCD dump ran for over 15 minutes on the
OFC-A netlist (~130k cells, 1,000 vectors, VCD > 240 MB) without finishing. Here every net is
a numpy boolean array over the whole run, cells are evaluated once each in topological order
with their liberty ``function`` strings, and toggles are counted directly: the same netlist
and vectors take seconds.

Timing model (the same as :mod:`hwnn.eda.activity`): cycle ``i`` has two phases: ``A_i``
(``x = vectors[i]``, clock low, registers hold state ``s_i``) and ``B_i`` (clock high,
registers hold ``s_{i+1} = D`` sampled in ``A_i``). ``y`` is read in ``B_i``. Values are
zero-delay (no glitches), registers start at 0 unless preloaded, so toggles are counted
between consecutive phases and activity = toggles / cycles, keyed by the names OpenSTA uses.

Supported: combinational cells with a liberty ``function`` per output and edge-triggered
flip-flops (``ff`` group with ``next_state`` and ``clocked_on``, no clear/preset) clocked
by the clock port. The register graph must be acyclic (a pipeline), except for registers
whose state is preloaded and held (``initial_state``, e.g. the generic baseline's weight
chain with ``w_en = 0``); that they really hold is checked. Anything else raises
:class:`EdaError` naming what is unsupported; agreement with Icarus on the same netlist is
tested in ``tests/test_eda.py``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType

import numpy as np

from hwnn.eda.liberty import iter_cells, liberty_path
from hwnn.errors import EdaError

_PIN = re.compile(r'\bpin\s*\(\s*"?(\w+)"?\s*\)\s*\{')
_DIRECTION = re.compile(r"\bdirection\s*:\s*(\w+)")
_FUNCTION = re.compile(r'\bfunction\s*:\s*"([^"]*)"')
_FF = re.compile(r'\bff\s*\(\s*"?(\w+)"?\s*,\s*"?(\w+)"?\s*\)\s*\{([^}]*)\}')
_ATTR = re.compile(r'\b(\w+)\s*:\s*"([^"]*)"')
_EXPR_TOKEN = re.compile(r"\s*(?:(\w+)|([!&|^()]))")
_HEADER = re.compile(r"^module\s+\\?(\S+?)\s*\(([^)]*)\)\s*;", re.MULTILINE)
_DECL = re.compile(r"^\s*(input|output|wire)\s+(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?(\\\S+|\w+)\s*;",
                   re.MULTILINE)
_INSTANCE = re.compile(r"^\s*(\w+)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\((.*?)\);",
                       re.MULTILINE | re.DOTALL)
_CONN = re.compile(r"\.(\w+)\(\s*([^()]*?)\s*\)")


@dataclass(frozen=True)
class CellModel:
    """Boolean view of one liberty cell."""

    name: str
    inputs: tuple[str, ...]
    outputs: dict[str, CodeType]  # pin -> compiled expression over ``v_<pin>`` variables
    state: tuple[str, str] | None = None  # (state var, inverted state var) of an ff group
    next_state: str | None = None
    clocked_on: str | None = None
    functions: dict[str, str] = field(default_factory=dict)  # output pin -> liberty function


def liberty_tokens(function: str, where: str) -> list[tuple[str | None, str | None]]:
    """The tokens of a liberty boolean function: ``(name, None)`` for a pin, state variable
    or the constant ``0``/``1``, ``(None, op)`` for ``! & | ^ ( )``."""
    out: list[tuple[str | None, str | None]] = []
    pos, text = 0, function.strip()
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if m is None:
            raise EdaError(f"{where}: cannot parse liberty function {function!r}")
        out.append(m.groups())
        pos = m.end()
        if not text[pos:].strip():
            break
    return out


def _python_expr(function: str, where: str) -> str:
    """Liberty boolean function → Python expression on numpy bool arrays."""
    out = []
    for name, op in liberty_tokens(function, where):
        if name is not None:
            out.append({"0": "_C0", "1": "_C1"}.get(name, f"v_{name}"))
        else:
            out.append("~" if op == "!" else str(op))
    return " ".join(out)


@functools.lru_cache(maxsize=2)
def _library(path: str) -> dict[str, CellModel]:
    text = Path(path).read_text()
    cells: dict[str, CellModel] = {}
    for name, start, end in iter_cells(text):
        body = text[start:end]
        pins = list(_PIN.finditer(body))
        inputs: list[str] = []
        outputs: dict[str, CodeType] = {}
        functions: dict[str, str] = {}
        for k, pm in enumerate(pins):
            seg = body[pm.end() : pins[k + 1].start() if k + 1 < len(pins) else len(body)]
            direction = _DIRECTION.search(seg)
            if direction is None:
                continue
            if direction.group(1) == "input":
                inputs.append(pm.group(1))
            elif direction.group(1) == "output":
                func = _FUNCTION.search(seg)
                if func is not None:
                    functions[pm.group(1)] = func.group(1)
                    expr = _python_expr(func.group(1), f"{name}.{pm.group(1)}")
                    outputs[pm.group(1)] = compile(expr, f"<{name}.{pm.group(1)}>", "eval")
        ff = _FF.search(body)
        if ff is None:
            cells[name] = CellModel(name, tuple(inputs), outputs, functions=functions)
            continue
        attrs = dict(_ATTR.findall(ff.group(3)))
        if set(attrs) - {"next_state", "clocked_on"}:
            continue  # flip-flops with clear/preset/scan-enable semantics: not supported
        cells[name] = CellModel(name, tuple(inputs), outputs, (ff.group(1), ff.group(2)),
                                attrs.get("next_state"), attrs.get("clocked_on"), functions)
    return cells


def library(data_dir: str | os.PathLike[str] | None = None) -> dict[str, CellModel]:
    """Boolean models of the Nangate45 cells (cached per process)."""
    return _library(str(liberty_path(data_dir)))


def net_name(text: str) -> str:
    """A netlist net reference as OpenSTA prints it: ``\\u_l0.w [3]`` → ``u_l0.w[3]``."""
    return re.sub(r"\s+", "", text.strip().lstrip("\\"))


@dataclass
class Instance:
    cell: str
    name: str
    pins: dict[str, str]  # pin -> net name ("" = unconnected)


@dataclass
class Netlist:
    top: str
    inputs: dict[str, int]  # port -> width
    outputs: dict[str, int]
    instances: list[Instance] = field(default_factory=list)


def module_span(text: str, top: str) -> tuple[re.Match[str], int]:
    """Header of module ``top`` in a Yosys netlist (group 2: its port list) and the index of
    the newline before its ``endmodule`` (``len(text)`` when it has none)."""
    header = next((m for m in _HEADER.finditer(text) if m.group(1) == top), None)
    if header is None:
        raise EdaError(f"module {top} not found in netlist")
    end = text.find("\nendmodule", header.end())
    return header, end if end >= 0 else len(text)


def module_body(text: str, top: str) -> str:
    """The text of module ``top`` of a Yosys netlist between its header and ``endmodule``."""
    header, end = module_span(text, top)
    return text[header.end() : end]


def declarations(body: str) -> list[tuple[str, tuple[int, int] | None, str]]:
    """``(input|output|wire, (msb, lsb) or None for a scalar, net name)`` of every
    declaration in a module body."""
    return [(kind, (int(msb), int(lsb)) if msb else None, net_name(name))
            for kind, msb, lsb, name in _DECL.findall(body)]


def drop_instances(body: str, cells: Collection[str]) -> str:
    """A module body without its instances of ``cells`` (e.g. a shell without its leaves)."""
    return _INSTANCE.sub(lambda m: "" if m.group(1) in cells else m.group(0), body)


def instances(body: str) -> list[tuple[str, str, dict[str, str]]]:
    """``(cell, instance name as written, pin -> connection expression)`` of every cell or
    module instance in a module body."""
    found = []
    for m in _INSTANCE.finditer(body):
        cell, inst, conns = m.groups()
        if cell in ("input", "output", "wire", "reg", "module", "assign"):
            continue
        found.append((cell, inst.strip(), dict(_CONN.findall(conns))))
    return found


def parse_netlist(text: str, top: str) -> Netlist:
    """The single flattened module ``top`` of a Yosys ``write_verilog -noattr`` netlist."""
    body = module_body(text, top)
    if re.search(r"^\s*assign\b", body, re.MULTILINE):
        raise EdaError("netlist has assign statements; synthesise with hwnn.eda.synth_asic "
                       "(it removes them)")
    net = Netlist(top, {}, {})
    for kind, rng, name in declarations(body):
        width = abs(rng[0] - rng[1]) + 1 if rng else 1
        if kind == "input":
            net.inputs[name] = width
        elif kind == "output":
            net.outputs[name] = width
    for cell, inst, conns in instances(body):
        pins = {p: (net_name(n) if n else "") for p, n in conns.items()}
        net.instances.append(Instance(cell, inst, pins))
    return net


def port_bit(port: str, width: int, k: int) -> str:
    """Net name of bit ``k`` of a ``width``-bit port in a Yosys netlist (``x`` or ``x[k]``)."""
    return port if width == 1 else f"{port}[{k}]"


def resolve_preload(nl: Netlist, lib: Mapping[str, CellModel],
                    initial_state: Sequence[tuple[Sequence[str], int]]
                    ) -> tuple[dict[str, tuple[bool, str]], int]:
    """Flip-flops to preload: ``{instance: (bit, state variable)}``, found by the first of
    each bit's candidate ``Q``-net names the netlist uses, and the number of bits without a
    flip-flop (synthesis removes registers nothing observes, e.g. the far end of a shift
    chain). Raises when none of them exists (wrong names rather than pruned registers)."""
    q_nets = {inst.pins.get("Q", ""): inst for inst in nl.instances
              if inst.cell in lib and lib[inst.cell].state is not None}
    preload: dict[str, tuple[bool, str]] = {}
    missing = 0
    for names, bit in initial_state:
        hit = next((q for q in names if q in q_nets), None)
        if hit is None:
            missing += 1
            continue
        inst = q_nets[hit]
        state = lib[inst.cell].state
        assert state is not None
        preload[inst.name] = (bool(bit), state[0])
    if initial_state and not preload:
        raise EdaError("none of the registers to preload exists in the netlist (names such as "
                       f"{list(initial_state[0][0])}); cannot preload the state")
    return preload, missing


def zero_state(netlist: str | os.PathLike[str], top: str,
               data_dir: str | os.PathLike[str] | None = None) -> list[tuple[tuple[str, ...], int]]:
    """Every flip-flop of ``netlist`` preloaded with 0 (its ``Q`` net), as ``initial_state``
    for :func:`hwnn.eda.gate_level_activity`: Icarus otherwise keeps registers at x until
    they are written (line buffers, operand registers) and x spreads through the data path
    pessimistically; :mod:`hwnn.eda.cyclesim` starts every register at 0 anyway."""
    lib = library(data_dir)
    nl = parse_netlist(Path(netlist).read_text(), top)
    return [((inst.pins["Q"],), 0) for inst in nl.instances
            if inst.cell in lib and lib[inst.cell].state is not None and inst.pins.get("Q")]


@dataclass(frozen=True)
class GateSimResult:
    activity: dict[str, float]
    toggles: dict[str, int]
    cycles: int
    outputs: list[int]
    preloaded_bits: int
    unplaced_state_bits: int


def checked_netlist(netlist: str | os.PathLike[str], top: str, in_width: int, n_vectors: int,
                    clock_port: str, hold_inputs: Mapping[str, int] | None) -> Netlist:
    """The parsed netlist of a simulation request, after checking the port contract (input
    ``x`` of ``in_width`` bits, output ``y``), that there are vectors, and that every other
    input port is the clock or held."""
    if n_vectors == 0:
        raise EdaError("need at least one input vector")
    nl = parse_netlist(Path(netlist).read_text(), top)
    if nl.inputs.get("x") != in_width or "y" not in nl.outputs:
        raise EdaError(f"{top} lacks the port contract (input x[{in_width}], output y)")
    for port in hold_inputs or {}:
        if port not in nl.inputs:
            raise EdaError(f"{top} has no input port {port!r} to hold")
    missing_ports = [p for p in nl.inputs if p not in ("x", clock_port, *(hold_inputs or {}))]
    if missing_ports:
        raise EdaError(f"input ports {missing_ports} need a value (hold_inputs)")
    return nl


def simulate_activity(
    netlist: str | os.PathLike[str],
    top: str,
    *,
    in_width: int,
    vectors: Sequence[int],
    clock_port: str = "clk",
    initial_state: Sequence[tuple[Sequence[str], int]] | None = None,
    hold_inputs: Mapping[str, int] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    read_outputs: bool = True,
) -> GateSimResult:
    """Per-net toggles of the netlist driven by one ``x`` vector per cycle (module docstring).

    ``initial_state``: ``(candidate names of a register's Q net, bit)`` per preloaded
    register; ``hold_inputs``: other input ports tied to constants. ``read_outputs=False``:
    ``y`` is not read (it may be undriven, e.g. in a partitioned design's glue without its
    leaves) and :attr:`GateSimResult.outputs` is empty.
    """
    n = len(vectors)
    nl = checked_netlist(netlist, top, in_width, n, clock_port, hold_inputs)
    lib = library(data_dir)
    phases = 2 * n
    values: dict[str, np.ndarray] = {}
    # ports: x bits (same in both phases of a cycle), the clock, held inputs
    words = np.array([int(v) for v in vectors], dtype=object)
    for k in range(in_width):
        bits = np.array([(w >> k) & 1 for w in words], dtype=bool)
        values[port_bit("x", in_width, k)] = np.repeat(bits, 2)
    if clock_port in nl.inputs:
        values[clock_port] = np.tile(np.array([False, True]), n)
    for port, value in (hold_inputs or {}).items():
        for k in range(nl.inputs[port]):
            values[port_bit(port, nl.inputs[port], k)] = np.full(phases, bool((value >> k) & 1))
    c0, c1 = np.zeros(phases, dtype=bool), np.ones(phases, dtype=bool)

    preload, missing = resolve_preload(nl, lib, initial_state or ())
    preload_bits = {inst: bit for inst, (bit, _) in preload.items()}

    # Kahn's algorithm over instances; a register waits for its D net only
    consumers: dict[str, list[int]] = {}
    waiting = []
    for idx, inst in enumerate(nl.instances):
        model = lib.get(inst.cell)
        if model is None:
            raise EdaError(f"cell {inst.cell} ({inst.name}) is not in the liberty or has "
                           "semantics the fast simulator does not model (flip-flops with "
                           "clear/preset/scan); use hwnn.eda.gate_level_activity (Icarus)")
        if model.state is not None:
            if model.clocked_on != "CK" or model.next_state not in model.inputs:
                raise EdaError(f"flip-flop {inst.cell}: unsupported ff group")
            if inst.pins.get(model.clocked_on) != clock_port:
                raise EdaError(f"{inst.name}: clocked by {inst.pins.get(model.clocked_on)!r}, "
                               f"not by the clock port {clock_port!r}")
            needs = [] if inst.name in preload_bits else [inst.pins[model.next_state]]
        else:
            needs = [inst.pins[p] for p in model.inputs if inst.pins.get(p)]
        needs = [x for x in set(needs) if x not in values]
        waiting.append(len(needs))
        for x in needs:
            consumers.setdefault(x, []).append(idx)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    done = 0
    held_checks: list[tuple[str, str, bool]] = []
    while ready:
        idx = ready.pop()
        done += 1
        inst = nl.instances[idx]
        model = lib[inst.cell]
        env: dict[str, np.ndarray] = {"_C0": c0, "_C1": c1}
        if model.state is not None:
            if inst.name in preload_bits:
                q = np.full(phases, preload_bits[inst.name])
                d_net = inst.pins[model.next_state]
                held_checks.append((inst.name, d_net, preload_bits[inst.name]))
            else:
                d = values[inst.pins[model.next_state]]
                state = np.concatenate([[False], d[0::2]])  # s_0 = 0, s_{i+1} = D(A_i)
                q = np.empty(phases, dtype=bool)
                q[0::2], q[1::2] = state[:-1], state[1:]
            env[f"v_{model.state[0]}"], env[f"v_{model.state[1]}"] = q, ~q
        else:
            for p in model.inputs:
                env[f"v_{p}"] = values[inst.pins[p]] if inst.pins.get(p) else c0
        for pin, expr in model.outputs.items():
            out = inst.pins.get(pin)
            if not out:
                continue
            res = eval(expr, {"__builtins__": {}}, env)  # a compiled liberty function
            values[out] = np.broadcast_to(res, (phases,)).astype(bool, copy=False)
            for j in consumers.pop(out, ()):
                waiting[j] -= 1
                if waiting[j] == 0:
                    ready.append(j)
    if done != len(nl.instances):
        raise EdaError(f"{len(nl.instances) - done} cells lie on a register or combinational "
                       "loop the fast simulator does not support; use "
                       "hwnn.eda.gate_level_activity (Icarus)")
    for inst_name, d_net, bit in held_checks:
        if not np.all(values[d_net] == bit):
            raise EdaError(f"preloaded register {inst_name} does not hold its value; tie the "
                           "load enable with hold_inputs")
    toggles = {name: int(np.count_nonzero(a[1:] != a[:-1])) for name, a in values.items()}
    y_w = nl.outputs["y"] if read_outputs else 0
    outputs = [0] * n if read_outputs else []
    for k in range(y_w):
        bits = values.get(port_bit("y", y_w, k))
        if bits is None:
            raise EdaError(f"output bit y[{k}] is not driven")
        for i in np.flatnonzero(bits[1::2]).tolist():
            outputs[i] |= 1 << k
    return GateSimResult({k: t / n for k, t in toggles.items()}, toggles, n, outputs,
                         len(preload_bits), missing)

"""Static timing and power with OpenSTA 2.0.17 (``sta -no_init -exit script.tcl``).

Each call writes one Tcl script into ``workdir``: ``read_liberty`` (uncompressed copy; this
build cannot read ``.gz``), ``read_verilog``, ``link_design``, then a clock of ``period_ns``
on the clock port - or a virtual clock when the design has no such port - and input/output
delays of 0 relative to it. Reports are redirected to files and parsed.

Measured on this build:

* ``sta`` keeps going after a Tcl error and exits 0, so every script ends with a marker
  line and the log is checked for ``Error:`` lines, missing cells ("Creating black box")
  and the marker.
* Power needs the inputs tied to the clock: without ``set_input_delay ... -clock`` the
  combinational switching power came out as ~1e-13 W because unclocked pins get no activity.
* ``set_power_activity -pins`` is broken (calls the missing ``get_pins_error``), and there is
  no VCD/SAIF reader. :func:`power_from_activity` follows the DESIGN.md recipe instead:
  ``set_power_activity -input``, ``report_power`` once (annotations made before the first
  ``report_power`` are ignored), then ``sta::set_power_pin_activity <pin> <a> 0.5`` on the
  driver and load pins of every annotated net, then ``report_power`` again - on a copy of
  the netlist whose data inputs are driven by registers, because this build re-propagates
  activities from the primary inputs at every report and overwrites the annotations of all
  logic in their combinational cone (:mod:`hwnn.eda.input_registers`; up to 2026-11-25 the
  flow annotated driver pins only and had no input registers, which overstated the power of
  designs whose first layer is combinational from the inputs).
* On the 4-input constant-weight test neuron (one register stage, 222.6 um^2, 2 ns clock):
  critical path 0.92 ns (1,085 MHz); vectorless power 0.412 mW at input activity 0.5 and
  0.411 mW from 200 uniformly random vectors (whose inputs toggle ~0.5 per cycle, so the two
  should agree). Annotating every net with activity 0 leaves only clock-pin internal power
  and leakage (switching exactly 0); going from activity 0.2 to 0.4 doubles the switching
  power.

Critical path = ``period - worst slack``: the data arrival of the worst path (clock-to-q
included, ideal clock) plus the endpoint's setup time; with zero input/output delays a
purely combinational design reports its maximum input-to-output delay.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hwnn.eda.input_registers import INPUT_REGISTER_PREFIX, register_inputs
from hwnn.eda.liberty import liberty_path
from hwnn.eda.tools import log_tail, require_tool, run_tool
from hwnn.errors import EdaError

DONE_MARKER = "HWNN_DONE"
#: 2: inputs registered and load pins annotated (:mod:`hwnn.eda.input_registers`); entries
#: without this number (method 1) overstate the power of logic fed by the inputs.
POWER_METHOD_VERSION = 2
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOTAL_ROW = re.compile(rf"^Total\s+({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})", re.MULTILINE)
_ARRIVAL = re.compile(rf"^\s*({_NUM})\s+data arrival time", re.MULTILINE)
_SLACK = re.compile(rf"^\s*({_NUM})\s+slack\b", re.MULTILINE)
_START = re.compile(r"^Startpoint:\s+(\S+)", re.MULTILINE)
_END = re.compile(r"^Endpoint:\s+(\S+)", re.MULTILINE)
_SAFE_TCL = re.compile(r"[^\s{}\\\"]+")


@dataclass(frozen=True)
class TimingResult:
    """Worst setup path of a netlist at the given clock period (times in ns)."""

    critical_path_ns: float
    fmax_mhz: float
    worst_slack_ns: float
    data_arrival_ns: float
    startpoint: str
    endpoint: str
    period_ns: float
    clocked: bool
    log_path: Path
    report_path: Path


@dataclass(frozen=True)
class PowerResult:
    """Power from OpenSTA's ``report_power`` (mW); ``mode`` is "vectorless" or "vectors"."""

    total_mw: float
    internal_mw: float
    switching_mw: float
    leakage_mw: float
    mode: str
    period_ns: float
    log_path: Path
    report_path: Path
    annotated_nets: int = 0
    unmatched_nets: tuple[str, ...] = field(default=())
    input_register_mw: float = 0.0  # added input registers' power, already subtracted
    repropagated_pins: int = -1  # pins OpenSTA re-evaluated despite annotations (-1: n/a)
    #: power of named instance groups (``instance_groups``): (internal, switching, leakage)
    groups_mw: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def tcl_word(text: str) -> str:
    """``text`` as one Tcl word, taken literally (brackets and ``$`` are not substituted)."""
    if _SAFE_TCL.fullmatch(text):
        return "{" + text + "}"
    return "".join("\\" + ch if not ch.isalnum() and ch != "_" else ch for ch in text)


def _prologue(
    lib: Path, netlist: Path, top: str, clock_port: str, period_ns: float
) -> list[str]:
    """Read, link and constrain the design: real or virtual clock, zero I/O delays."""
    if period_ns <= 0:
        raise EdaError(f"clock period must be positive, got {period_ns} ns")
    if not netlist.is_file():
        raise EdaError(f"netlist not found: {netlist}")
    return [
        f"read_liberty {tcl_word(str(lib))}",
        f"read_verilog {tcl_word(str(netlist))}",
        f"link_design {tcl_word(top)}",
        f"set hwnn_clk_ports [get_ports -quiet {tcl_word(clock_port)}]",
        "if {[llength $hwnn_clk_ports]} {",
        f"  create_clock -name hwnn_clk -period {period_ns:.6g} $hwnn_clk_ports",
        "  set hwnn_data_inputs [delete_from_list [all_inputs] $hwnn_clk_ports]",
        '  puts "HWNN_CLOCK port"',
        "} else {",
        f"  create_clock -name hwnn_clk -period {period_ns:.6g}",
        "  set hwnn_data_inputs [all_inputs]",
        '  puts "HWNN_CLOCK virtual"',
        "}",
        "set hwnn_clk_names {}",
        "foreach hwnn_port $hwnn_clk_ports { lappend hwnn_clk_names [get_full_name $hwnn_port] }",
        "if {[llength $hwnn_data_inputs]} { set_input_delay 0 -clock hwnn_clk $hwnn_data_inputs }",
        "if {[llength [all_outputs]]} { set_output_delay 0 -clock hwnn_clk [all_outputs] }",
    ]


def _run_sta(lines: list[str], workdir: Path, stem: str, timeout_s: float) -> tuple[str, Path]:
    """Write ``<stem>.tcl``, run it, check the log; returns (log text, log path)."""
    sta = require_tool("sta")
    script = workdir / f"{stem}.tcl"
    script.write_text("\n".join([*lines, f'puts "{DONE_MARKER}"', ""]))
    log = workdir / f"{stem}.log"
    text = run_tool([sta, "-no_init", "-exit", script], cwd=workdir, log_path=log,
                    timeout_s=timeout_s)
    problems = [
        line for line in text.splitlines()
        if line.startswith("Error") or "Creating black box" in line
    ]
    if problems or DONE_MARKER not in text:
        detail = "\n".join(problems[:10]) if problems else log_tail(log)
        raise EdaError(f"OpenSTA script {script} failed; log: {log}\n{detail}")
    return text, log


def _setup(netlist: str | os.PathLike[str], top: str, workdir: str | os.PathLike[str],
           clock_port: str, period_ns: float, data_dir: str | os.PathLike[str] | None
           ) -> tuple[Path, list[str]]:
    """The (created) work folder and the script prologue every STA run starts with."""
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    return work, _prologue(liberty_path(data_dir), Path(netlist).resolve(), top, clock_port,
                           period_ns)


def timing(
    netlist: str | os.PathLike[str],
    top: str,
    workdir: str | os.PathLike[str],
    *,
    clock_port: str = "clk",
    period_ns: float,
    timeout_s: float = 300,
    data_dir: str | os.PathLike[str] | None = None,
    net_loads: Mapping[str, float] | None = None,
) -> TimingResult:
    """Worst setup path of a Nangate45 netlist; fmax = 1000 / critical path (MHz).
    ``net_loads``: extra capacitance on named nets (:func:`_net_load_lines`)."""
    work, lines = _setup(netlist, top, workdir, clock_port, period_ns, data_dir)
    if net_loads:
        lines += _net_load_lines(net_loads, work / "timing_loads.txt")
    report = work / "timing.rpt"
    lines.append(f"report_checks -path_delay max -digits 6 > {tcl_word(report.name)}")
    text, log = _run_sta(lines, work, "timing", timeout_s)
    body = report.read_text() if report.is_file() else ""
    arrival, slack = _ARRIVAL.search(body), _SLACK.search(body)
    start, end = _START.search(body), _END.search(body)
    if arrival is None or slack is None or start is None or end is None:
        raise EdaError(f"no constrained timing path in {report} (design without paths?); "
                       f"log: {log}")
    worst_slack = float(slack.group(1))
    critical = period_ns - worst_slack
    if critical <= 0:
        raise EdaError(f"non-positive critical path {critical:g} ns in {report}")
    return TimingResult(
        critical_path_ns=critical,
        fmax_mhz=1000.0 / critical,
        worst_slack_ns=worst_slack,
        data_arrival_ns=float(arrival.group(1)),
        startpoint=start.group(1),
        endpoint=end.group(1),
        period_ns=period_ns,
        clocked="HWNN_CLOCK port" in text,
        log_path=log,
        report_path=report,
    )


def _parse_power(report: Path, log: Path) -> tuple[float, float, float, float]:
    """(internal, switching, leakage, total) in mW from a ``report_power`` file."""
    body = report.read_text() if report.is_file() else ""
    row = _TOTAL_ROW.search(body)
    if row is None:
        raise EdaError(f"no Total row in power report {report}; log: {log}")
    internal, switching, leakage, total = (float(v) * 1e3 for v in row.groups())
    return internal, switching, leakage, total


def power_vectorless(
    netlist: str | os.PathLike[str],
    top: str,
    workdir: str | os.PathLike[str],
    *,
    period_ns: float,
    input_activity: float = 0.5,
    clock_port: str = "clk",
    timeout_s: float = 300,
    data_dir: str | os.PathLike[str] | None = None,
) -> PowerResult:
    """Power with every data input toggling ``input_activity`` times per clock cycle."""
    work, lines = _setup(netlist, top, workdir, clock_port, period_ns, data_dir)
    report = work / "power_vectorless.rpt"
    lines += [
        f"set_power_activity -input -activity {input_activity:.6g} -duty 0.5",
        f"report_power -digits 8 > {tcl_word(report.name)}",
    ]
    _, log = _run_sta(lines, work, "power_vectorless", timeout_s)
    internal, switching, leakage, total = _parse_power(report, log)
    return PowerResult(total, internal, switching, leakage, "vectorless", period_ns, log,
                       report)


def _per_net_lines(values: Mapping[str, float], data_file: Path, table: str,
                   body: list[str], leftover: str) -> list[str]:
    """Tcl that runs ``body`` once for each design net listed in ``values``, with the net
    in ``$hwnn_net`` and its value in ``$hwnn_value``, then ``leftover`` once for each
    listed name no net has (``$hwnn_name``).

    The (name, value) pairs are written to ``data_file`` as one Tcl list and read with
    ``read`` + ``array set`` into the array ``table``; the design's nets are then walked
    once. Both steps avoid quadratic costs measured on the 616,584-net generic OFC-A
    netlist, where annotation took 78 min: ``sta`` re-checks ``info complete`` on a
    multi-line command after every line it reads (also under ``source``), and
    ``get_nets NAME`` scans every net for bus names.
    """
    data_file.write_text("".join(f"{tcl_word(name)} {float(value):.8g}\n"
                                 for name, value in values.items()))
    return [
        f"set hwnn_fh [open {tcl_word(str(data_file))} r]",
        f"array set {table} [read $hwnn_fh]",
        "close $hwnn_fh",
        "foreach hwnn_net [get_nets -quiet *] {",
        "  set hwnn_name [get_full_name $hwnn_net]",
        f"  if {{![info exists {table}($hwnn_name)]}} {{ continue }}",
        f"  set hwnn_value ${table}($hwnn_name)",
        f"  unset {table}($hwnn_name)",
        *(f"  {line}" for line in body),
        "}",
        f"foreach hwnn_name [array names {table}] {{ {leftover} }}",
    ]


def _annotation_lines(activity: Mapping[str, float], data_file: Path) -> list[str]:
    """Tcl that sets each listed net's activity on its driver and load pins (not the clock).

    Load pins too: OpenSTA 2.0.17 reads an input pin's internal power from that pin's own
    entry, which an annotation of the driver alone leaves at the propagated value.
    """
    for name, value in activity.items():
        if not 0.0 <= float(value) <= 2.0:
            raise EdaError(f"activity of net {name!r} is {value}, expected 0..2 per cycle")
    body = [
        "foreach hwnn_pin [concat [sta::net_driver_pins $hwnn_net]"
        " [get_pins -quiet -of_objects $hwnn_net]] {",
        "  if {[sta::Pin_is_top_level_port $hwnn_pin]",
        "      && [lsearch -exact $hwnn_clk_names [get_full_name $hwnn_pin]] >= 0} {",
        "    continue",
        "  }",
        "  sta::set_power_pin_activity $hwnn_pin $hwnn_value 0.5",
        "}",
        "incr hwnn_annotated",
    ]
    return ["set hwnn_annotated 0",
            *_per_net_lines(activity, data_file, "hwnn_activity", body,
                            'puts "HWNN_UNMATCHED $hwnn_name"'),
            'puts "HWNN_ANNOTATED $hwnn_annotated"']


def _net_load_lines(loads: Mapping[str, float], data_file: Path) -> list[str]:
    """Tcl that adds each listed net's extra capacitance (library units, fF for Nangate45)
    with ``set_load``: the pins a net drives outside this netlist (the other leaves of a
    partitioned design, :mod:`hwnn.eda.leafwise`). A listed net the design lacks is an
    error."""
    return _per_net_lines(loads, data_file, "hwnn_load", ["set_load $hwnn_value $hwnn_net"],
                          'puts "Error: no net $hwnn_name for its extra load"')


def _cell_pattern(group: str | Sequence[str]) -> str:
    """A ``get_cells`` argument for a pattern or a list of plain instance names."""
    if isinstance(group, str):
        return group
    bad = [name for name in group if not re.fullmatch(r"[\w.$]+", name)]
    if bad:
        raise EdaError(f"instance names {bad[:3]} are not plain names; use a pattern")
    return " ".join(group)


def power_from_activity(
    netlist: str | os.PathLike[str],
    top: str,
    workdir: str | os.PathLike[str],
    *,
    period_ns: float,
    activity: Mapping[str, float],
    clock_port: str = "clk",
    init_input_activity: float = 0.5,
    timeout_s: float = 300,
    data_dir: str | os.PathLike[str] | None = None,
    net_loads: Mapping[str, float] | None = None,
    instance_groups: Mapping[str, str | Sequence[str]] | None = None,
) -> PowerResult:
    """Power with per-net activities (toggles per clock cycle), e.g. from gate-level sim.

    Net names are as OpenSTA prints them (``u0.acc[3]``, ``_042_``); see
    :func:`hwnn.eda.activity.gate_level_activity`. Nets OpenSTA does not know are listed in
    ``unmatched_nets``. Every data input is first driven by a register
    (:mod:`hwnn.eda.input_registers`: otherwise OpenSTA 2.0.17 overwrites the annotations of
    all logic reachable from an input with its own propagated densities); both the driver
    and the load pins of each net get its activity; the added registers' power
    (``input_register_mw``) is subtracted from the reported totals. ``repropagated_pins``
    counts the pins OpenSTA still re-evaluated in the final report besides the added
    registers' D pins (0 when every annotation held). ``net_loads``: extra capacitance on
    named nets (:func:`_net_load_lines`; an input's net is the added register's output).
    ``instance_groups``: name -> cell-name pattern (``get_cells``, e.g. ``u_s*.u_o*``) or a
    list of plain instance names (``_081531_``); the power of each group's cells comes back
    in ``groups_mw`` (an empty group is 0).
    """
    if not activity:
        raise EdaError("power_from_activity needs at least one net activity")
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    wrapped, n_regs = register_inputs(Path(netlist).read_text(), top, clock_port)
    wrapped_path = work / "power_netlist.v"
    wrapped_path.write_text(wrapped)
    work, lines = _setup(wrapped_path, top, work, clock_port, period_ns, data_dir)
    report = work / "power_vectors.rpt"
    regs_report = work / "power_input_registers.rpt"
    if net_loads:
        lines += _net_load_lines(net_loads, work / "power_loads.txt")
    lines += [
        f"set_power_activity -input -activity {init_input_activity:.6g} -duty 0.5",
        "report_power -digits 8 > power_init.rpt",
        *_annotation_lines(activity, work / "power_activity.txt"),
        "sta::set_debug power_activity 3",
        f"report_power -digits 8 > {tcl_word(report.name)}",
        "sta::set_debug power_activity 0",
    ]
    if n_regs:
        lines.append(f"report_power -instances [get_cells {{{INPUT_REGISTER_PREFIX}*}}] "
                     f"-digits 8 > {tcl_word(regs_report.name)}")
    group_reports = {name: work / f"power_group_{k}.rpt"
                     for k, name in enumerate(instance_groups or {})}
    for name, path in group_reports.items():
        pattern = _cell_pattern((instance_groups or {})[name])
        lines += [f"set hwnn_cells [get_cells -quiet {{{pattern}}}]",
                  f"if {{[llength $hwnn_cells]}} {{report_power -instances $hwnn_cells "
                  f"-digits 8 > {tcl_word(path.name)}}}"]
    text, log = _run_sta(lines, work, "power_vectors", timeout_s)
    internal, switching, leakage, total = _parse_power(report, log)
    regs = _instance_power_sums(regs_report) if n_regs else (0.0, 0.0, 0.0)
    annotated = re.search(r"^HWNN_ANNOTATED (\d+)", text, re.MULTILINE)
    unmatched = tuple(re.findall(r"^HWNN_UNMATCHED (.*)$", text, re.MULTILINE))
    visits = re.findall(r"^power_activity: visit (\S+)", text, re.MULTILINE)
    repropagated = sum(1 for pin in visits if not pin.startswith(INPUT_REGISTER_PREFIX))
    return PowerResult(
        total - sum(regs), internal - regs[0], switching - regs[1], leakage - regs[2],
        "vectors", period_ns, log, report,
        annotated_nets=int(annotated.group(1)) if annotated else 0,
        unmatched_nets=unmatched, input_register_mw=sum(regs),
        repropagated_pins=repropagated,
        groups_mw={name: (_instance_power_sums(path) if path.is_file() else (0.0, 0.0, 0.0))
                   for name, path in group_reports.items()},
    )


def _instance_power_sums(report: Path) -> tuple[float, float, float]:
    """(internal, switching, leakage) in mW summed over a ``report_power -instances`` file."""
    sums = [0.0, 0.0, 0.0]
    rows = 0
    for line in report.read_text().splitlines() if report.is_file() else []:
        fields = line.split()
        if len(fields) == 5 and re.fullmatch(_NUM, fields[0]):
            rows += 1
            for k in range(3):
                sums[k] += float(fields[k]) * 1e3
    if not rows:
        raise EdaError(f"no instance rows in {report}")
    return sums[0], sums[1], sums[2]

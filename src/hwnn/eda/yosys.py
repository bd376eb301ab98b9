"""Logic synthesis with Yosys 0.23: Nangate45 ASIC netlists and Xilinx 7-series LUT counts.

ASIC flow (:func:`synth_asic`), one generated Yosys script per run, kept next to its log::

    read_liberty -lib L   # cell port directions, so `check` understands the mapped netlist
    read_verilog <files>; hierarchy -check -top TOP; synth -flatten -top TOP
    [retime=True: dffunmap (sync-reset flops -> plain DFF + logic: one clock domain)
                  abc -dff -liberty L -script retime.abc   # strash; retime -M 4; map; topo]
    dfflibmap -liberty L
    abc -liberty L -script asic.abc   # explicit script: Yosys default, -D in &nf, &fraig -C 1000
    opt_clean -purge; hilomap (LOGIC0/1_X1); opt_clean -purge; insbuf (BUF_X1); opt_clean -purge
    check; stat -liberty L (text: chip area) + stat -json (cell counts); write_verilog -noattr

The clean-up after ``abc`` exists because OpenSTA 2.0.17 cannot parse the
``assign {a, b} = ...`` statements Yosys writes for constant or aliased port bits ("syntax
error, unexpected '{'"): tie cells drive constants and buffers separate aliased ports, so
the netlist has no ``assign`` at all. ``stat -json`` in Yosys 0.23 carries no area, hence the
text report for the area. Measured here (tests/test_eda.py designs, no clock target): a
4-input neuron on 4-bit unsigned inputs with constant weights (3, -5, 7, 2) and one register
stage maps to 222.6 um^2 (162 cells, 10 DFF_X1) in about a second; the same neuron with the
weights as input ports to 683.6 um^2. Retiming an 8-input constant-weight neuron followed by
4 register stages cut the OpenSTA critical path from 1.11 ns to 0.41 ns while the area went
from 696 to 1,452 um^2 (48 -> 152 flip-flops); DESIGN.md's earlier measurement on a similar
design: 1.71 -> 0.47 ns, 1,740 -> 3,337 um^2.

FPGA flow (:func:`synth_fpga`): ``synth_xilinx -flatten -top TOP`` (family xc7, LUT6),
about 3-4 s for a small neuron; LUTs, flip-flops, carry chains and DSPs are counted from
``stat -json``. Measured: by default multipliers go to DSP48E1s - a 4-input neuron with
weights as input ports mapped to 4 DSPs and 0 LUTs - so ``use_dsp=False`` (``-nodsp``)
gives the LUT count for LUT-only comparisons (the constant-weight neuron: 25 LUTs + 1 DSP
by default, 59 LUTs with ``-nodsp``). ABC runs inside Yosys in both flows, so the
:func:`run_tool` timeout, which kills the whole process group, bounds it (checked: a
timeout during ``abc`` leaves no ``berkeley-abc`` process behind).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from hwnn.eda.gatesim import module_span
from hwnn.eda.liberty import (
    BUFFER,
    TIE_HI,
    TIE_LO,
    cell_areas,
    liberty_path,
    sequential_cells,
)
from hwnn.eda.stitch import stitch_netlist
from hwnn.eda.tools import require_tool, run_tool
from hwnn.errors import EdaError

_AREA = re.compile(r"Chip area for module\s+'(?P<module>[^']*)':\s*(?P<area>[0-9.eE+-]+)")
_LUT = re.compile(r"^LUT([1-6])$")
_XILINX_FF_PREFIXES = ("FD",)
_XILINX_CARRY = ("CARRY4", "CARRY8")
_XILINX_DSP_PREFIX = "DSP"


@dataclass(frozen=True)
class AsicSynthResult:
    """Nangate45 mapping of one design (areas in um^2 from the liberty)."""

    area_um2: float
    cell_count: int
    cells_by_type: dict[str, int]
    flip_flops: int
    netlist_path: Path
    log_path: Path
    script_path: Path
    abc_script_path: Path
    retimed: bool = False
    #: the ABC retiming command that succeeded (:data:`RETIME_COMMANDS`); None when not
    #: retimed or partitioned (each leaf then tries the commands on its own)
    retime_command: str | None = None
    partitions: int = 0  # leaf modules mapped one by one (0: the whole design at once)
    stitch: dict[str, int] | None = None  # partitioned: hwnn.eda.stitch counts and version
    #: partitioned without a stitch: leaf module -> its mapped netlist (``netlist_path`` is
    #: then the shell, the leaves as black boxes; area and cells are the leaves' sums)
    leaf_netlists: dict[str, str] | None = None


@dataclass(frozen=True)
class FpgaSynthResult:
    """Xilinx 7-series mapping of one design from ``synth_xilinx``."""

    luts: int
    lut_by_size: dict[int, int]
    flip_flops: int
    carry: int
    cells_by_type: dict[str, int]
    log_path: Path
    dsp: int = 0
    script_path: Path | None = field(default=None)
    partitions: int = 0  # leaf modules mapped one by one (0: the whole design at once)
    #: shift-register LUTs (SRL16E/SRLC32E: register chains Yosys packs into LUTs); counted
    #: in ``luts`` too, since each takes one LUT site
    srl: int = 0


def _quote(path: str | os.PathLike[str]) -> str:
    """A path as a double-quoted Yosys script argument."""
    text = os.fspath(path)
    if '"' in text or "\n" in text:
        raise EdaError(f"unsupported character in file path for Yosys: {text!r}")
    return f'"{text}"'


def _read_sources(verilog_files: Sequence[str | os.PathLike[str]], top: str) -> list[str]:
    if not verilog_files:
        raise EdaError("no Verilog files given to synthesise")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
        raise EdaError(f"top module name {top!r} is not a plain Verilog identifier")
    lines = []
    for item in verilog_files:
        path = Path(item).resolve()
        if not path.is_file():
            raise EdaError(f"Verilog file not found: {path}")
        lines.append(f"read_verilog {_quote(path)}")
    lines.append(f"hierarchy -check -top {top}")
    return lines


#: Version of the ASIC mapping recipe; synthesis results record it (``asic_flow``) and sweeps
#: redo ASIC results made by another version. 2: ``&fraig -C 1000``.
ASIC_FLOW_VERSION = 2

#: Conflict limit per node of ABC's SAT sweeping (``&fraig -C``; ABC's default is 10^6).
#: Measured on the hardware-aware NID-A design (93k AND nodes, 40 distinct weight values, so
#: many near-equivalent adder-tree nodes): the default spent > 24 CPU-min in ``&fraig`` and had
#: not finished; with 1,000 the whole script took 35 s.
FRAIG_CONFLICT_LIMIT = 1000


def asic_abc_script(clock_period_ps: float | None = None) -> str:
    """The ABC script used to map combinational logic onto the liberty.

    Yosys' own default for ``abc -liberty`` (0.23) written out, with the delay target given
    to the ``&nf`` mapper when a clock period is known and a conflict limit on the SAT
    sweeping (:data:`FRAIG_CONFLICT_LIMIT`): an equivalence it cannot prove within the limit is
    left unmerged, so the mapped logic stays correct, only possibly less shared.
    """
    delay = f" -D {clock_period_ps:g}" if clock_period_ps else ""
    commands = [
        "strash",
        "&get -n",
        f"&fraig -x -C {FRAIG_CONFLICT_LIMIT}",
        "&put",
        "scorr",
        "dc2",
        "dretime",
        "strash",
        "&get -n",
        "&dch -f",
        f"&nf{delay}",
        "&put",
    ]
    return "\n".join(commands) + "\n"


#: ABC retiming commands for ``abc -dff``, in the order tried: min-delay retiming (mode 4;
#: DESIGN.md), then the same retiming with ABC's old flop naming (``-o``) for the networks
#: on which the first makes Yosys 0.23's ABC abort in its netlist conversion (assertion in
#: ``Abc_ObjAddFanin``: two drivers for one net name; seen on one OFC-B network, where
#: ``-o`` mapped the design to 208,973 um^2 with 9,430 flip-flops).
RETIME_COMMANDS: tuple[str, ...] = ("retime -M 4", "retime -M 4 -o")


def retime_abc_script(clock_period_ps: float | None = None,
                      command: str = RETIME_COMMANDS[0]) -> str:
    """ABC script for ``abc -dff``: retiming (``command``), then mapping."""
    delay = f" -D {clock_period_ps:g}" if clock_period_ps else ""
    return "\n".join(["strash", command, f"map{delay}", "topo"]) + "\n"


def _abc_aborted(err: EdaError) -> bool:
    """Whether a Yosys failure is ABC dying on a signal (an assertion: exit code 134)."""
    return "yosys-abc" in str(err) and "return code 134" in str(err)


def _stat_cells(stat_json: Path, top: str) -> dict[str, int]:
    data = json.loads(stat_json.read_text())
    modules = data.get("modules", {})
    entry = modules.get(f"\\{top}") or modules.get(top) or data.get("design")
    if entry is None:
        raise EdaError(f"no statistics for module {top} in {stat_json}")
    return {str(k): int(v) for k, v in entry.get("num_cells_by_type", {}).items()}


def _check_mapped(cells: dict[str, int], log_path: Path) -> None:
    unmapped = sorted(name for name in cells if name.startswith("$"))
    if unmapped:
        raise EdaError(f"cells left unmapped after synthesis: {unmapped}; log: {log_path}")


def synth_asic(
    verilog_files: Sequence[str | os.PathLike[str]],
    top: str,
    workdir: str | os.PathLike[str],
    *,
    clock_period_ps: float | None = None,
    retime: bool = False,
    timeout_s: float = 600,
    data_dir: str | os.PathLike[str] | None = None,
    partition: bool = False,
    jobs: int = 1,
    progress: PartitionProgress | None = None,
    black_boxes: bool = False,
    stitch: bool = True,
) -> AsicSynthResult:
    """Synthesise ``top`` onto Nangate45; returns area, cell counts and the netlist path.

    ``clock_period_ps`` becomes ABC's delay target (``&nf -D``); ``retime=True`` runs the
    measured register-retiming recipe before flip-flop mapping (module docstring).
    ``partition=True``: one leaf module at a time, ``jobs`` at once (:func:`_asic_by_leaves`);
    with ``stitch=False`` no flat netlist is made (for designs too large for one, analysed
    leaf by leaf with :mod:`hwnn.eda.leafwise`).
    ``black_boxes=True``: the sources instantiate black-box modules (:func:`leaf_stub`); Yosys
    then prints no chip area, so the area is that of the liberty cells only (summed here
    from the liberty's ``area`` attributes) and the black boxes stay in ``cells_by_type``.
    """
    if partition:
        def mapper(files: Sequence[Path], name: str, folder: Path, retime_here: bool,
                   boxes: bool = False) -> AsicSynthResult:
            return synth_asic(files, name, folder, clock_period_ps=clock_period_ps,
                              retime=retime_here, timeout_s=timeout_s, data_dir=data_dir,
                              black_boxes=boxes)

        options = f"asic flow {ASIC_FLOW_VERSION}, clock {clock_period_ps}, retime {retime}"
        return _asic_by_leaves(verilog_files, top, Path(workdir).resolve(), mapper, retime,
                               options, jobs, progress, data_dir, stitch)
    yosys = require_tool("yosys")
    abc = require_tool("yosys-abc")
    lib = liberty_path(data_dir)
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    abc_script = work / "asic.abc"
    abc_script.write_text(asic_abc_script(clock_period_ps))
    netlist = work / "netlist.v"
    stat_txt, stat_json = work / "stat.txt", work / "stat.json"
    lines = [f"read_liberty -lib {_quote(lib)}", *_read_sources(verilog_files, top)]
    lines.append(f"synth -flatten -top {top}")
    tail = [
        f"dfflibmap -liberty {_quote(lib)}",
        f"abc -exe {_quote(abc)} -liberty {_quote(lib)} -script {_quote(abc_script)}",
        "opt_clean -purge",
        f"hilomap -hicell {TIE_HI[0]} {TIE_HI[1]} -locell {TIE_LO[0]} {TIE_LO[1]}",
        "opt_clean -purge",
        f"insbuf -buf {BUFFER[0]} {BUFFER[1]} {BUFFER[2]}",
        "opt_clean -purge",
        "check",
        f"tee -q -o {stat_txt.name} stat -liberty {_quote(lib)}",
        f"tee -q -o {stat_json.name} stat -json",
        f"write_verilog -noattr {netlist.name}",
    ]
    retime_command = None
    if not retime:
        script, log, cells = _run_yosys(yosys, lines + tail, work, "synth_asic", stat_json,
                                        top, timeout_s)
    else:
        retime_script = work / "retime.abc"
        for k, retime_command in enumerate(RETIME_COMMANDS):
            retime_script.write_text(retime_abc_script(clock_period_ps, retime_command))
            # `synth` folds the ReLU/clip muxes into synchronous-reset flops, one reset net
            # per neuron; `abc -dff` then runs once per (clock, reset) domain and cannot move
            # a register across domains. Plain D flip-flops put the whole design in one
            # domain.
            retime_lines = [
                "dffunmap",
                f"abc -exe {_quote(abc)} -dff -liberty {_quote(lib)} "
                f"-script {_quote(retime_script)}",
            ]
            try:
                script, log, cells = _run_yosys(yosys, lines + retime_lines + tail, work,
                                                "synth_asic", stat_json, top, timeout_s)
                break
            except EdaError as err:
                if k + 1 == len(RETIME_COMMANDS) or not _abc_aborted(err):
                    raise
    if black_boxes:
        lib_areas = cell_areas(lib)
        area = sum(n * lib_areas[name] for name, n in cells.items() if name in lib_areas)
    else:
        areas = {m.group("module").lstrip("\\"): float(m.group("area"))
                 for m in _AREA.finditer(stat_txt.read_text())}
        if top not in areas:
            raise EdaError(f"no chip area for {top} in Yosys stat output {stat_txt}; "
                           f"log: {log}")
        area = areas[top]
    flops = sequential_cells(lib)
    return AsicSynthResult(
        area_um2=area,
        cell_count=sum(cells.values()),
        cells_by_type=cells,
        flip_flops=sum(n for name, n in cells.items() if name in flops),
        netlist_path=netlist,
        log_path=log,
        script_path=script,
        abc_script_path=abc_script,
        retimed=retime,
        retime_command=retime_command,
    )


def synth_fpga(
    verilog_files: Sequence[str | os.PathLike[str]],
    top: str,
    workdir: str | os.PathLike[str],
    timeout_s: float = 600,
    *,
    use_dsp: bool = True,
    partition: bool = False,
    jobs: int = 1,
    progress: PartitionProgress | None = None,
) -> FpgaSynthResult:
    """Synthesise ``top`` with ``synth_xilinx -flatten`` (xc7) and count LUTs/FFs/carries.

    By default Yosys maps multipliers (even by some constants) to DSP48E1 blocks, which then
    do not show up as LUTs; ``use_dsp=False`` adds ``-nodsp`` for a pure-LUT count.
    ``partition=True``: one leaf module at a time, ``jobs`` at once (:func:`_fpga_by_leaves`).
    """
    if partition:
        def mapper(src: Path, name: str, folder: Path) -> FpgaSynthResult:
            return synth_fpga([src], name, folder, timeout_s, use_dsp=use_dsp)

        def shell_mapper(files: list[Path], name: str, folder: Path) -> FpgaSynthResult:
            return synth_fpga(files, name, folder, timeout_s, use_dsp=use_dsp)

        return _fpga_by_leaves(verilog_files, Path(workdir).resolve(), mapper,
                               f"synth_xilinx, use_dsp {use_dsp}", jobs, progress, top,
                               shell_mapper)
    yosys = require_tool("yosys")
    require_tool("yosys-abc")
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    stat_json = work / "stat_fpga.json"
    lines = _read_sources(verilog_files, top)
    lines += [
        f"synth_xilinx -flatten -top {top}" + ("" if use_dsp else " -nodsp"),
        f"tee -q -o {stat_json.name} stat -json",
        "write_verilog -noattr netlist_fpga.v",
    ]
    script, log, cells = _run_yosys(yosys, lines, work, "synth_fpga", stat_json, top,
                                    timeout_s)
    return _fpga_result(cells, log, script)


def _run_yosys(yosys: str, lines: list[str], work: Path, stem: str, stat_json: Path, top: str,
               timeout_s: float) -> tuple[Path, Path, dict[str, int]]:
    """Write ``<stem>.ys``, run it (log ``<stem>.log``) and return (script, log, the mapped
    cells of ``top``); refuses a result with cells left unmapped."""
    script = work / f"{stem}.ys"
    script.write_text("\n".join(lines) + "\n")
    log = work / f"{stem}.log"
    run_tool([yosys, "-s", script], cwd=work, log_path=log, timeout_s=timeout_s)
    cells = _stat_cells(stat_json, top)
    _check_mapped(cells, log)
    return script, log, cells


def _fpga_result(cells: dict[str, int], log: Path, script: Path | None,
                 partitions: int = 0) -> FpgaSynthResult:
    """The xc7 counts of a mapped design from its cells by type: LUTs of every size plus
    shift-register LUTs (``srl``), flip-flops, carry chains, DSPs."""
    lut_by_size = dict.fromkeys(range(1, 7), 0)
    for name, count in cells.items():
        lut = _LUT.match(name)
        if lut:
            lut_by_size[int(lut.group(1))] += count
    srl = sum(n for name, n in cells.items() if name.startswith("SRL"))
    return FpgaSynthResult(
        luts=sum(lut_by_size.values()) + srl,
        srl=srl,
        lut_by_size=lut_by_size,
        flip_flops=sum(n for name, n in cells.items() if name.startswith(_XILINX_FF_PREFIXES)),
        carry=sum(cells.get(name, 0) for name in _XILINX_CARRY),
        cells_by_type=cells,
        log_path=log,
        dsp=sum(n for name, n in cells.items() if name.startswith(_XILINX_DSP_PREFIX)),
        script_path=script,
        partitions=partitions,
    )

# --- partitioned synthesis --------------------------------------------------------------

_MODULE = re.compile(r"^module\s+([A-Za-z_][A-Za-z0-9_$]*)\b.*?^endmodule\b[^\n]*\n?",
                     re.MULTILINE | re.DOTALL)
_INSTANCE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_$]*)\s+[A-Za-z_][A-Za-z0-9_$]*\s*\(",
                       re.MULTILINE)

#: Progress callback of the partitioned flows: (leaves done, leaves in all, leaf just done).
PartitionProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Partition:
    """A Verilog design split for module-by-module synthesis: ``leaves`` (modules that
    instantiate no other module of the design, mapped one by one) and ``glue`` (the modules
    that only connect them), each as ``name -> source text``."""

    leaves: dict[str, str]
    glue: dict[str, str]


def partition_modules(verilog_files: Sequence[str | os.PathLike[str]]) -> Partition:
    """Split the modules of ``verilog_files`` into leaves and glue (see :class:`Partition`).
    Expects one ``module ... endmodule`` block per module starting at a line start, as
    :mod:`hwnn.logic.verilog` writes them."""
    modules: dict[str, str] = {}
    for item in verilog_files:
        path = Path(item)
        if not path.is_file():
            raise EdaError(f"Verilog file not found: {path.resolve()}")
        for m in _MODULE.finditer(path.read_text()):
            if m.group(1) in modules:
                raise EdaError(f"module {m.group(1)} defined twice in {list(verilog_files)}")
            modules[m.group(1)] = m.group(0)
    if not modules:
        raise EdaError(f"no Verilog module found in {list(verilog_files)}")
    leaves, glue = {}, {}
    for name, text in modules.items():
        uses = {m.group(1) for m in _INSTANCE.finditer(text)} & modules.keys()
        (glue if uses - {name} else leaves)[name] = text
    return Partition(leaves, glue)


_LEAF_RESULT = "leaf_result.json"


def _leaf_key(text: str, options: str) -> str:
    return hashlib.sha256(f"{options}\n{text}".encode()).hexdigest()


def _load_leaf(folder: Path, key: str, kind: type[Any]) -> Any | None:
    """The result a previous run left in ``folder`` for the same source and options."""
    try:
        doc = json.loads((folder / _LEAF_RESULT).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if doc.get("key") != key:
        return None
    fields = doc["result"]
    for name in ("netlist_path", "log_path", "script_path", "abc_script_path"):
        if fields.get(name) is not None:
            fields[name] = Path(fields[name])
    if "lut_by_size" in fields:
        fields["lut_by_size"] = {int(k): v for k, v in fields["lut_by_size"].items()}
    return kind(**fields)


def _map_leaves(part: Partition, work: Path, jobs: int, progress: PartitionProgress | None,
                synth_one: Callable[[Path, str, Path], Any], kind: type[Any],
                options: str) -> dict[str, Any]:
    """Run ``synth_one(source, leaf, workdir)`` for every leaf (``jobs`` at a time), each in
    ``work/parts/<leaf>/``; returns the results by leaf name. A leaf whose folder holds the
    result of the same source text under the same ``options`` is not mapped again, so an
    interrupted run resumes where it stopped."""
    if jobs < 1:
        raise EdaError(f"jobs must be >= 1, got {jobs}")
    folders, keys, results = {}, {}, {}
    for name, text in part.leaves.items():
        folder = work / "parts" / name
        folder.mkdir(parents=True, exist_ok=True)
        keys[name] = _leaf_key(text, options)
        done = _load_leaf(folder, keys[name], kind)
        if done is not None:
            results[name] = done
            continue
        (folder / _LEAF_RESULT).unlink(missing_ok=True)
        (folder / f"{name}.v").write_text(text)
        folders[name] = folder
    total = len(part.leaves)

    def run_one(name: str) -> Any:
        result = synth_one(folders[name] / f"{name}.v", name, folders[name])
        doc = {"key": keys[name], "result": {k: str(v) if isinstance(v, Path) else v
                                             for k, v in asdict(result).items()}}
        (folders[name] / _LEAF_RESULT).write_text(json.dumps(doc, indent=1) + "\n")
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_one, name): name for name in folders}
        for future in futures:  # submission order; a failure raises here
            name = futures[future]
            results[name] = future.result()
            if progress:
                progress(len(results), total, name)
    return {name: results[name] for name in part.leaves}


def _asic_by_leaves(verilog_files: Sequence[str | os.PathLike[str]], top: str, work: Path,
                    mapper: Callable[..., AsicSynthResult],
                    retime: bool, options: str, jobs: int,
                    progress: PartitionProgress | None,
                    data_dir: str | os.PathLike[str] | None,
                    stitch: bool = True) -> AsicSynthResult:
    """:func:`synth_asic` one leaf module at a time, then the glue, then one flat netlist
    (``mapper(files, top, folder, retime, black_boxes=False)`` is :func:`synth_asic` with
    the caller's clock, timeout and liberty).

    Each leaf (for :mod:`hwnn.logic.verilog` with ``partition=True``: one neuron and its
    register chain, or the head) goes through the full recipe, retiming included, in its own
    Yosys process under ``work/parts/<leaf>/``. The glue modules then pass through the same
    recipe, without retiming, with every leaf read as a black box of its ports only
    (:func:`leaf_stub`): the glue is flattened into a *shell* ``top`` whose cells are the
    leaf instances plus whatever logic the glue had. :func:`hwnn.eda.stitch.stitch_netlist`
    expands the leaves into ``design_netlist.v``, shares identical cells across leaves and
    drops cells no output depends on; area, cells and flip-flops are those of that netlist.

    Why: Yosys techmaps every adder of a design to fine gates before ABC sees any of it; the
    8-bit MNIST MLP (12,500 constant products in its first layer) needed more than 8 GiB
    that way, while one neuron needs well under 1 GiB. Reading the mapped leaves back into
    one Yosys process does not scale either: its Verilog frontend ran out of 8 GiB on the
    42nd of the 107 leaf netlists of that MLP (1.74M cells in all). What it costs: ABC
    cannot restructure logic across neurons (the stitch only shares cells that are
    identical gate for gate) and retiming cannot move registers across a leaf's ports; the
    per-neuron register chains are exactly where the whole-design flow has them, so the
    pipeline is the same.
    """
    part = partition_modules(verilog_files)
    if top not in part.glue and top not in part.leaves:
        raise EdaError(f"top module {top} not found in {list(verilog_files)}")
    mapped = _map_leaves(part, work, jobs, progress,
                         lambda src, name, folder: mapper([src], name, folder, retime),
                         AsicSynthResult, options)
    if top in mapped:
        return replace(mapped[top], retimed=retime, partitions=1)
    stubs, glue = work / "leaf_stubs.v", work / "glue.v"
    stubs.write_text("\n".join(leaf_stub(r.netlist_path.read_text(), name)
                               for name, r in mapped.items()))
    glue.write_text("\n".join(part.glue.values()))
    shell = mapper([stubs, glue], top, work, False, True)
    if not stitch:  # the leaves' sums plus the shell's own cells (e.g. a weight chain)
        cells = {name: count for name, count in shell.cells_by_type.items()
                 if name not in mapped}
        for r in mapped.values():
            for name, count in r.cells_by_type.items():
                cells[name] = cells.get(name, 0) + count
        return replace(shell, area_um2=shell.area_um2 + sum(r.area_um2 for r in mapped.values()),
                       cell_count=sum(cells.values()), cells_by_type=cells,
                       flip_flops=shell.flip_flops + sum(r.flip_flops for r in mapped.values()),
                       retimed=retime, partitions=len(mapped),
                       leaf_netlists={name: str(r.netlist_path) for name, r in mapped.items()})
    flat = stitch_netlist(shell.netlist_path, top,
                          {name: r.netlist_path for name, r in mapped.items()},
                          work / "design_netlist.v", data_dir=data_dir)
    return replace(shell, area_um2=flat.area_um2, cell_count=sum(flat.cells_by_type.values()),
                   cells_by_type=flat.cells_by_type, flip_flops=flat.flip_flops,
                   netlist_path=flat.netlist_path, retimed=retime, partitions=len(mapped),
                   stitch=flat.summary())


_PORT_DECL = re.compile(r"^\s*(input|output|inout)\s+(\[[^\]]*\]\s*)?(\\\S+|\w+)\s*;",
                        re.MULTILINE)


def leaf_stub(netlist_text: str, name: str) -> str:
    """Module ``name`` of a Yosys-written netlist reduced to its port declarations, marked
    ``(* blackbox *)``: Yosys then treats its instances as opaque cells and does not write
    the module back out."""
    try:
        header, end = module_span(netlist_text, name)
    except EdaError as exc:
        raise EdaError(f"module {name} not found in its mapped netlist") from exc
    body = netlist_text[header.end() : end]
    ports = [f"  {kind} {rng or ''}{port};" for kind, rng, port in _PORT_DECL.findall(body)]
    return "\n".join(["(* blackbox *)", f"module {name}({header.group(2).strip()});",
                      *ports, "endmodule", ""])


def _fpga_by_leaves(verilog_files: Sequence[str | os.PathLike[str]], work: Path,
                    mapper: Callable[[Path, str, Path], FpgaSynthResult], options: str,
                    jobs: int, progress: PartitionProgress | None,
                    top: str | None = None,
                    shell_mapper: Callable[[list[Path], str, Path], FpgaSynthResult] | None
                    = None) -> FpgaSynthResult:
    """:func:`synth_fpga` one leaf module at a time (``mapper``); the counts are those of
    the leaves' cells added up, plus, when the glue modules hold logic (registers, muxes:
    :mod:`hwnn.logic.stream`'s line buffers and pools), the cells of the glue mapped once
    with every leaf as a black box (``top`` and ``shell_mapper(files, top, folder)`` are
    then required). Same trade-off as
    :func:`_asic_by_leaves`: no optimisation across leaf ports.
    """
    part = partition_modules(verilog_files)
    logic = [n for n, text in part.glue.items()
             if re.search(r"\b(always|reg)\b|[-+*&|^~<>?]", _port_free_body(text))]
    if logic and (top is None or shell_mapper is None):
        raise EdaError(f"glue module(s) {logic} hold logic: give the top module so that the "
                       "glue is mapped too")
    mapped = _map_leaves(part, work, jobs, progress, mapper, FpgaSynthResult, options)
    cells: dict[str, int] = {}
    results = list(mapped.values())
    if logic:
        assert top is not None and shell_mapper is not None
        shell = work / "shell"
        shell.mkdir(parents=True, exist_ok=True)
        stubs, glue = shell / "leaf_stubs.v", shell / "glue.v"
        stubs.write_text("\n".join(
            leaf_stub((r.log_path.parent / "netlist_fpga.v").read_text(), name)
            for name, r in mapped.items()))
        glue.write_text("\n".join(part.glue.values()))
        shell_result = shell_mapper([stubs, glue], top, shell)
        results.append(replace(shell_result, cells_by_type={
            k: v for k, v in shell_result.cells_by_type.items() if k not in mapped}))
    for r in results:
        for name, count in r.cells_by_type.items():
            cells[name] = cells.get(name, 0) + count
    log = work / "synth_fpga.log"
    log.write_text("".join(f"{name}: {r.luts} LUT, {r.flip_flops} FF, {r.carry} carry, "
                           f"{r.dsp} DSP; log {r.log_path}\n" for name, r in mapped.items()))
    return _fpga_result(cells, log, None, len(mapped))


def _port_free_body(module_text: str) -> str:
    """A module's text without its header, comments, bit selects and ``[a:b]`` ranges, so
    the operators left are the ones that would make logic."""
    body = module_text.split(";", 1)[1] if ";" in module_text else ""
    body = re.sub(r"//[^\n]*", "", body)
    return re.sub(r"\[[^\]]*\]", "", body)

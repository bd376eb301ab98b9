"""The Nangate45 standard-cell library in the forms the tools need.

* :func:`liberty_gz` - the shipped, SHA-256-verified ``nangate45/nangate45_typ.lib.gz``.
* :func:`liberty_path` - an uncompressed copy in the cache. Measured here: neither Yosys 0.23
  (``read_liberty``/``dfflibmap``/``abc -liberty``: "Syntax error in liberty file on line 1")
  nor OpenSTA 2.0.17 (``read_liberty``: "syntax error, unexpected $undefined") reads ``.gz``.
* :func:`cell_models` - Verilog simulation models of the cells, made by
  ``yosys -p "read_liberty L'; write_verilog -noattr cells.v"`` where ``L'`` is the liberty
  without its ``CLKGATE*`` cells (Yosys stops with "Missing function on output IQ of cell
  CLKGATETST_X1" otherwise). The models simulate in Icarus Verilog 11 (checked in tests).
* :func:`sequential_cells` - names of flip-flop cells (cells with an ``ff`` group), used to
  count registers in synthesis reports.

Everything derived is cached under ``hwnn.data.paths.cache_dir()/eda``, keyed by the
liberty's SHA-256, and written atomically (temp file + rename) so parallel runs can share it.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hwnn.atomic import atomic_file
from hwnn.data.manifest import SHA256
from hwnn.data.paths import cache_dir, verified_path
from hwnn.eda.tools import require_tool, run_tool
from hwnn.errors import EdaError

LIBERTY_RELPATH = "nangate45/nangate45_typ.lib.gz"

#: Tie cells (cell, output pin) used to drive constant netlist bits.
TIE_HI = ("LOGIC1_X1", "Z")
TIE_LO = ("LOGIC0_X1", "Z")
#: Buffer (cell, input pin, output pin) used where two ports would otherwise be aliased.
BUFFER = ("BUF_X1", "A", "Z")

_TOKEN = re.compile(r'/\*.*?\*/|"(?:[^"\\]|\\.)*"|[{}]', re.DOTALL)
_CELL_HEAD = re.compile(r'\bcell\s*\(\s*"?([A-Za-z0-9_$.]+)"?\s*\)\s*$')
_FF_GROUP = re.compile(r"\bff\s*\(")


def _key(data_dir: str | os.PathLike[str] | None) -> str:
    """Short cache key of the verified liberty (its manifest SHA-256)."""
    verified_path(LIBERTY_RELPATH, data_dir)
    return SHA256[LIBERTY_RELPATH][:16]


def _eda_cache() -> Path:
    folder = cache_dir() / "eda"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def liberty_gz(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The shipped compressed liberty after its SHA-256 check."""
    return verified_path(LIBERTY_RELPATH, data_dir)


def liberty_path(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Uncompressed copy of the verified liberty in the cache (created on first use)."""
    target = _eda_cache() / f"nangate45_typ.{_key(data_dir)}.lib"
    if not target.is_file():
        source = liberty_gz(data_dir)

        def unpack(tmp: Path) -> None:
            with gzip.open(source, "rb") as src, tmp.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)

        atomic_file(target, unpack)
    return target


def iter_cells(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(name, start, end)`` of every ``cell (NAME) { ... }`` group in liberty text.

    ``text[start:end]`` is the whole group. Comments and strings are skipped when matching
    braces, so a brace in a comment cannot unbalance the scan.
    """
    depth = 0
    current: tuple[str, int] | None = None
    last = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "{":
            if current is None and depth == 1:
                line_start = text.rfind("\n", 0, match.start()) + 1
                head = _CELL_HEAD.search(text, line_start, match.start())
                if head is not None and head.start() >= last:
                    current = (head.group(1), head.start())
            depth += 1
        elif token == "}":
            depth -= 1
            if current is not None and depth == 1:
                yield current[0], current[1], match.end()
                current = None
            if depth < 0:
                raise EdaError("unbalanced braces in liberty text")
        last = match.end()


def strip_cells(text: str, drop: Callable[[str], bool]) -> str:
    """Liberty text without the cell groups whose name satisfies ``drop``."""
    parts: list[str] = []
    pos = 0
    for name, start, end in iter_cells(text):
        if drop(name):
            parts.append(text[pos:start])
            pos = end
    parts.append(text[pos:])
    return "".join(parts)


@functools.lru_cache(maxsize=4)
def _sequential_cells(path: str, _mtime_ns: int) -> frozenset[str]:
    text = Path(path).read_text()
    return frozenset(
        name for name, start, end in iter_cells(text) if _FF_GROUP.search(text, start, end)
    )


def sequential_cells(liberty: str | os.PathLike[str]) -> frozenset[str]:
    """Names of the flip-flop cells (cells with an ``ff`` group) in an uncompressed liberty."""
    path = Path(liberty)
    return _sequential_cells(str(path), path.stat().st_mtime_ns)


_AREA_ATTR = re.compile(r"^\s*area\s*:\s*([0-9.eE+-]+)\s*;", re.MULTILINE)


@functools.lru_cache(maxsize=4)
def _cell_areas(path: str, _mtime_ns: int) -> dict[str, float]:
    text = Path(path).read_text()
    areas = {}
    for name, start, end in iter_cells(text):
        found = _AREA_ATTR.search(text, start, end)
        if found is not None:
            areas[name] = float(found.group(1))
    return areas


def cell_areas(liberty: str | os.PathLike[str]) -> dict[str, float]:
    """``area`` of every cell of an uncompressed liberty (um^2 for Nangate45), by name."""
    path = Path(liberty)
    return dict(_cell_areas(str(path), path.stat().st_mtime_ns))


def cell_models(
    data_dir: str | os.PathLike[str] | None = None, *, timeout_s: float = 300
) -> Path:
    """Verilog models of the liberty cells for gate-level simulation (cached)."""
    target = _eda_cache() / f"nangate45_cells.{_key(data_dir)}.v"
    if target.is_file():
        return target
    yosys = require_tool("yosys")
    source = liberty_path(data_dir)
    work = Path(tempfile.mkdtemp(prefix="cells.", dir=target.parent))
    try:
        stripped = work / "no_clkgate.lib"
        stripped.write_text(
            strip_cells(source.read_text(), lambda name: name.startswith("CLKGATE"))
        )
        out = work / "cells.v"
        run_tool(
            [yosys, "-q", "-p", f'read_liberty "{stripped}"; write_verilog -noattr "{out}"'],
            cwd=work,
            log_path=work / "cells.log",
            timeout_s=timeout_s,
        )
        if "module DFF_X1" not in out.read_text():
            raise EdaError(f"cell models in {out} lack DFF_X1; see {work / 'cells.log'}")
        atomic_file(target, lambda tmp: tmp.write_bytes(out.read_bytes()))
    finally:
        for child in work.iterdir():
            child.unlink()
        work.rmdir()
    return target


_PIN_HEAD = re.compile(r'\bpin\s*\(\s*"?(\w+)"?\s*\)\s*\{')
_DIRECTION = re.compile(r"\bdirection\s*:\s*(\w+)\s*;")
_CAPACITANCE = re.compile(r"\bcapacitance\s*:\s*([0-9.eE+-]+)\s*;")


@functools.lru_cache(maxsize=4)
def _input_capacitances(path: str, _mtime_ns: int) -> dict[str, dict[str, float]]:
    text = Path(path).read_text()
    caps: dict[str, dict[str, float]] = {}
    for name, start, end in iter_cells(text):
        heads = list(_PIN_HEAD.finditer(text, start, end))
        for k, head in enumerate(heads):
            stop = heads[k + 1].start() if k + 1 < len(heads) else end
            direction = _DIRECTION.search(text, head.end(), stop)
            cap = _CAPACITANCE.search(text, head.end(), stop)
            if direction and direction.group(1) == "input" and cap:
                caps.setdefault(name, {})[head.group(1)] = float(cap.group(1))
    return caps


def input_capacitances(liberty: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """``cell -> input pin -> capacitance`` (the pin's ``capacitance`` attribute, in the
    library's ``capacitive_load_unit``: fF for Nangate45) of an uncompressed liberty."""
    path = Path(liberty)
    return {cell: dict(pins) for cell, pins in
            _input_capacitances(str(path), path.stat().st_mtime_ns).items()}


_DEFAULT_WIRE_LOAD = re.compile(r'\bdefault_wire_load\s*:\s*"([^"]+)"\s*;')
_FANOUT_LENGTH = re.compile(r"fanout_length\s*\(\s*(\d+)\s*,\s*([0-9.eE+-]+)\s*\)")


@dataclass(frozen=True)
class WireLoad:
    """A liberty ``wire_load`` table: net length by fanout, capacitance per unit length."""

    name: str
    capacitance: float
    slope: float
    lengths: tuple[tuple[int, float], ...]  # (fanout, length), ascending fanout

    def net_capacitance(self, fanout: int) -> float:
        """Estimated wire capacitance of a net with ``fanout`` load pins: the table's length
        (linear between entries, extended with ``slope`` past the last) times
        ``capacitance``. Matches OpenSTA 2.0.17 (a Nangate45 net with 36 loads: 26.97 fF)."""
        if fanout <= 0:
            return 0.0
        pts = self.lengths
        if fanout >= pts[-1][0]:
            length = pts[-1][1] + (fanout - pts[-1][0]) * self.slope
        elif fanout <= pts[0][0]:
            length = pts[0][1] * fanout / pts[0][0]
        else:
            k = next(i for i in range(1, len(pts)) if pts[i][0] >= fanout)
            (f0, l0), (f1, l1) = pts[k - 1], pts[k]
            length = l0 + (l1 - l0) * (fanout - f0) / (f1 - f0)
        return length * self.capacitance


def default_wire_load(liberty: str | os.PathLike[str]) -> WireLoad:
    """The liberty's ``default_wire_load`` table (OpenSTA applies it to every net that has
    no ``set_load``)."""
    text = Path(liberty).read_text()
    name = _DEFAULT_WIRE_LOAD.search(text)
    if name is None:
        raise EdaError(f"{liberty} has no default_wire_load")
    start = text.find(f'wire_load("{name.group(1)}")')
    end = text.find("}", start)
    if start < 0 or end < 0:
        raise EdaError(f"wire_load {name.group(1)} not found in {liberty}")
    group = text[start:end]
    cap = re.search(r"\bcapacitance\s*:\s*([0-9.eE+-]+)", group)
    slope = re.search(r"\bslope\s*:\s*([0-9.eE+-]+)", group)
    pts = tuple(sorted((int(f), float(v)) for f, v in _FANOUT_LENGTH.findall(group)))
    if cap is None or slope is None or not pts:
        raise EdaError(f"wire_load {name.group(1)} in {liberty} lacks capacitance, slope or "
                       "fanout_length")
    return WireLoad(name.group(1), float(cap.group(1)), float(slope.group(1)), pts)

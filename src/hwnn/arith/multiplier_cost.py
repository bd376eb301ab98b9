"""Measured cost of multiplying an 8-bit input by every signed 8-bit constant (seed 000 Fig. 6).

For each constant ``c`` in [-128, 127] and each input kind (``unsigned``: ``x`` in
[0, 255], what a hidden layer sees after the ReLU; ``signed``: ``x`` in [-128, 127], the
OFC inputs) the module ``y = x * c`` with a 16-bit signed product is synthesised by Yosys:

* **Nangate45 area** (um^2) and cell count: ``synth -top`` with hierarchy kept, then
  ``abc -liberty`` with the explicit script of :func:`hwnn.eda.yosys.asic_abc_script`, each
  constant its own module so ABC simplifies it on its own (exactly what weight embedding
  does to one multiplier, seed 000 §III-A-1); constant output bits cost nothing (no tie
  cells are inserted here).
* **LUT6 count** (and CARRY4 count): ``synth_xilinx -nodsp`` (xc7), hierarchy kept.
* **CSD non-zero digits** (:mod:`hwnn.arith.csd`), the analytic proxy.

All 256 constants go through one Yosys run per (flow, input kind), a few seconds each; the
result is cached in the package as ``data/multiplier_costs.v1.json`` together with the tool
versions and the liberty checksum (rebuild: ``python scripts/multiplier_costs.py``).
:meth:`CostTable.ranking` orders the constants cheapest first, the order hardware-aware
training picks its ``n`` weight values from (seed 000 §III-C-1).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hwnn.arith.csd import nonzero_digits
from hwnn.atomic import atomic_write_bytes
from hwnn.eda.liberty import liberty_gz, liberty_path
from hwnn.eda.tools import require_tool, run_tool
from hwnn.eda.yosys import asic_abc_script
from hwnn.errors import EdaError, HwnnError

TABLE_FORMAT = "hwnn.multiplier_costs.v1"
TABLE_FILE = "multiplier_costs.v1.json"
INPUT_BITS = 8
COEFF_BITS = 8
PRODUCT_BITS = 16
InputKind = Literal["unsigned", "signed"]
Metric = Literal["area", "lut6", "csd"]
INPUT_KINDS: tuple[InputKind, ...] = ("unsigned", "signed")
METRICS: tuple[Metric, ...] = ("area", "lut6", "csd")
_AREA = re.compile(r"Chip area for module\s+'\\?(?P<module>[^']*)':\s*(?P<area>[0-9.eE+-]+)")
_LUT = re.compile(r"^\\?LUT[1-6]$")


def all_constants(bits: int = COEFF_BITS) -> list[int]:
    """Every signed ``bits``-bit constant, ascending."""
    return list(range(-(1 << (bits - 1)), 1 << (bits - 1)))


def module_name(c: int) -> str:
    return f"mul_{'m' if c < 0 else 'p'}{abs(c)}"


def multiplier_verilog(constants: Sequence[int], inputs: InputKind) -> str:
    """One module ``mul_p<c>``/``mul_m<c>`` per constant (``y = x * c``, 16-bit signed
    product) and a top ``mul_all`` that instantiates them all on a shared input."""
    if inputs not in INPUT_KINDS:
        raise ValueError(f"inputs must be one of {INPUT_KINDS}, got {inputs!r}")
    operand = "x" if inputs == "signed" else "$signed({1'b0, x})"
    decl = "input signed" if inputs == "signed" else "input"
    w, p = INPUT_BITS, PRODUCT_BITS
    parts = []
    for c in constants:
        literal = f"-{p}'sd{-c}" if c < 0 else f"{p}'sd{c}"
        parts.append(f"module {module_name(c)} ({decl} [{w - 1}:0] x, "
                     f"output signed [{p - 1}:0] y);\n"
                     f"  assign y = {operand} * {literal};\nendmodule\n")
    ports = p * len(constants)
    top = [f"module mul_all (input [{w - 1}:0] x, output [{ports - 1}:0] y);"]
    for i, c in enumerate(constants):
        top.append(f"  {module_name(c)} u{i} (.x(x), .y(y[{p * i + p - 1}:{p * i}]));")
    top.append("endmodule\n")
    return "".join(parts) + "\n".join(top)


def _module_cells(stat_json: Path) -> dict[str, dict[str, int]]:
    modules = json.loads(stat_json.read_text()).get("modules", {})
    return {name.lstrip("\\"): {str(k).lstrip("\\"): int(v)
                                for k, v in entry.get("num_cells_by_type", {}).items()}
            for name, entry in modules.items()}


def _unmapped(cells: dict[str, dict[str, int]], log: Path) -> None:
    bad = {m: sorted(k for k in c if k.startswith("$")) for m, c in cells.items()}
    bad = {m: k for m, k in bad.items() if k}
    if bad:
        raise EdaError(f"cells left unmapped in {sorted(bad)[:3]}...; log: {log}")


def _synth_asic_all(verilog: Path, work: Path, timeout_s: float,
                    data_dir: str | os.PathLike[str] | None) -> dict[str, tuple[float, int]]:
    yosys, abc = require_tool("yosys"), require_tool("yosys-abc")
    lib = liberty_path(data_dir)
    (work / "asic.abc").write_text(asic_abc_script())
    script = work / "asic.ys"
    script.write_text("\n".join([
        f'read_liberty -lib "{lib}"', f'read_verilog "{verilog}"',
        "hierarchy -check -top mul_all", "synth -top mul_all",
        f'abc -exe "{abc}" -liberty "{lib}" -script asic.abc', "opt_clean -purge",
        f'tee -q -o asic_stat.txt stat -liberty "{lib}"', "tee -q -o asic_stat.json stat -json",
    ]) + "\n")
    log = work / "asic.log"
    run_tool([yosys, "-s", script], cwd=work, log_path=log, timeout_s=timeout_s)
    cells = _module_cells(work / "asic_stat.json")
    _unmapped(cells, log)
    areas = {m.group("module"): float(m.group("area"))
             for m in _AREA.finditer((work / "asic_stat.txt").read_text())}
    # Yosys prints no area line for a module without cells (c = 0, 1, 2, 4, ...).
    return {name: (areas.get(name, 0.0), sum(c.values())) for name, c in cells.items()}


def _synth_fpga_all(verilog: Path, work: Path, timeout_s: float) -> dict[str, tuple[int, int]]:
    yosys = require_tool("yosys")
    require_tool("yosys-abc")
    script = work / "fpga.ys"
    script.write_text("\n".join([
        f'read_verilog "{verilog}"', "synth_xilinx -nodsp -top mul_all",
        "tee -q -o fpga_stat.json stat -json",
    ]) + "\n")
    log = work / "fpga.log"
    run_tool([yosys, "-s", script], cwd=work, log_path=log, timeout_s=timeout_s)
    cells = _module_cells(work / "fpga_stat.json")
    _unmapped(cells, log)
    return {name: (sum(n for k, n in c.items() if _LUT.match(k)), c.get("CARRY4", 0))
            for name, c in cells.items()}


def tool_version(tool: str) -> str:
    """First line of ``tool -V`` (Yosys) for provenance records."""
    out = subprocess.run([require_tool(tool), "-V"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class CostTable:
    """Per-constant multiplier costs; arrays are indexed like :attr:`constants`."""

    constants: np.ndarray  # int64, ascending
    area_um2: dict[str, np.ndarray]  # input kind -> area
    cells: dict[str, np.ndarray]
    lut6: dict[str, np.ndarray]
    carry4: dict[str, np.ndarray]
    csd_nonzero: np.ndarray
    provenance: dict[str, Any]

    def cost(self, metric: Metric = "area", inputs: InputKind = "unsigned") -> np.ndarray:
        """The cost of each constant under ``metric`` for ``inputs``-kind multiplicands."""
        if inputs not in INPUT_KINDS:
            raise HwnnError(f"inputs must be one of {', '.join(INPUT_KINDS)}; got {inputs!r}")
        if metric == "area":
            return self.area_um2[inputs]
        if metric == "lut6":
            return self.lut6[inputs].astype(np.float64)
        if metric == "csd":
            return self.csd_nonzero.astype(np.float64)
        raise HwnnError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")

    def ranking(self, metric: Metric = "area", inputs: InputKind = "unsigned") -> list[int]:
        """All constants, cheapest first (seed 000 §III-C-1). Ties are broken by CSD
        non-zero digits, then by ``|c|``, then positive before negative, so the order is
        total and reproducible."""
        keys = np.lexsort((-self.constants, np.abs(self.constants), self.csd_nonzero,
                           self.cost(metric, inputs)))
        return [int(c) for c in self.constants[keys]]

    def cheapest(self, n: int, metric: Metric = "area", inputs: InputKind = "unsigned"
                 ) -> list[int]:
        """The ``n`` cheapest constants, ascending by value."""
        size = len(self.constants)
        if not 1 <= n <= size:
            raise HwnnError(f"n must be between 1 and {size}; got {n}")
        return sorted(self.ranking(metric, inputs)[:n])

    def total(self, values: np.ndarray, metric: Metric = "area",
              inputs: InputKind = "unsigned") -> float:
        """Summed cost of multiplying by each entry of ``values`` (one multiplier each)."""
        lo = int(self.constants[0])
        flat = np.asarray(values, dtype=np.int64).ravel()
        if flat.size and (flat.min() < lo or flat.max() > int(self.constants[-1])):
            raise HwnnError(f"values outside the table's range [{lo}, {self.constants[-1]}]")
        return float(self.cost(metric, inputs)[flat - lo].sum())

    def to_json(self) -> dict[str, Any]:
        entries = []
        for i, c in enumerate(self.constants.tolist()):
            row: dict[str, Any] = {"c": c, "csd_nonzero": int(self.csd_nonzero[i])}
            for kind in INPUT_KINDS:
                row[kind] = {"area_um2": round(float(self.area_um2[kind][i]), 4),
                             "cells": int(self.cells[kind][i]), "lut6": int(self.lut6[kind][i]),
                             "carry4": int(self.carry4[kind][i])}
            entries.append(row)
        return {"format": TABLE_FORMAT, "input_bits": INPUT_BITS, "coeff_bits": COEFF_BITS,
                "product_bits": PRODUCT_BITS, "provenance": self.provenance, "entries": entries}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "table") -> CostTable:
        if data.get("format") != TABLE_FORMAT:
            raise HwnnError(f"{source}: not a {TABLE_FORMAT} file (format "
                            f"{data.get('format')!r}); rebuild with scripts/multiplier_costs.py")
        entries = sorted(data["entries"], key=lambda e: e["c"])
        consts = np.array([e["c"] for e in entries], dtype=np.int64)

        def column(kind: str, key: str, dtype: type) -> np.ndarray:
            return np.array([e[kind][key] for e in entries], dtype=dtype)

        return cls(constants=consts,
                   area_um2={k: column(k, "area_um2", np.float64) for k in INPUT_KINDS},
                   cells={k: column(k, "cells", np.int64) for k in INPUT_KINDS},
                   lut6={k: column(k, "lut6", np.int64) for k in INPUT_KINDS},
                   carry4={k: column(k, "carry4", np.int64) for k in INPUT_KINDS},
                   csd_nonzero=np.array([e["csd_nonzero"] for e in entries], dtype=np.int64),
                   provenance=dict(data.get("provenance", {})))


def build_cost_table(workdir: str | os.PathLike[str], *, constants: Sequence[int] | None = None,
                     timeout_s: float = 900,
                     data_dir: str | os.PathLike[str] | None = None) -> CostTable:
    """Synthesise ``x * c`` for every constant (default: all signed 8-bit) and input kind.

    Four Yosys runs (ASIC and xc7, unsigned and signed inputs); scripts and logs stay in
    ``workdir/<kind>/``.
    """
    consts = sorted({int(c) for c in (constants if constants is not None else all_constants())})
    lo, hi = -(1 << (COEFF_BITS - 1)), (1 << (COEFF_BITS - 1)) - 1
    if not consts or consts[0] < lo or consts[-1] > hi:
        raise HwnnError(f"constants must be non-empty and inside [{lo}, {hi}]")
    root = Path(workdir).resolve()
    cols: dict[str, dict[str, np.ndarray]] = {k: {} for k in ("area", "cells", "lut6", "carry4")}
    for kind in INPUT_KINDS:
        work = root / kind
        work.mkdir(parents=True, exist_ok=True)
        verilog = work / "multipliers.v"
        verilog.write_text(multiplier_verilog(consts, kind))
        asic = _synth_asic_all(verilog, work, timeout_s, data_dir)
        fpga = _synth_fpga_all(verilog, work, timeout_s)
        names = [module_name(c) for c in consts]
        missing = [n for n in names if n not in asic or n not in fpga]
        if missing:
            raise EdaError(f"Yosys reported no statistics for {missing[:5]}; logs in {work}")
        cols["area"][kind] = np.array([asic[n][0] for n in names])
        cols["cells"][kind] = np.array([asic[n][1] for n in names], dtype=np.int64)
        cols["lut6"][kind] = np.array([fpga[n][0] for n in names], dtype=np.int64)
        cols["carry4"][kind] = np.array([fpga[n][1] for n in names], dtype=np.int64)
    provenance = {"yosys": tool_version("yosys"), "liberty": liberty_gz(data_dir).name,
                  "liberty_sha256": _sha256(liberty_gz(data_dir)),
                  "asic_flow": "synth -top; abc -liberty -script (asic_abc_script()); no ties",
                  "fpga_flow": "synth_xilinx -nodsp (xc7), hierarchy kept",
                  "command": "python scripts/multiplier_costs.py"}
    return CostTable(constants=np.array(consts, dtype=np.int64), area_um2=cols["area"],
                     cells=cols["cells"], lut6=cols["lut6"], carry4=cols["carry4"],
                     csd_nonzero=np.array([nonzero_digits(c) for c in consts], dtype=np.int64),
                     provenance=provenance)


def packaged_table_path() -> Path:
    return Path(str(resources.files("hwnn.arith") / "data" / TABLE_FILE))


def save_cost_table(table: CostTable, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps(table.to_json(), indent=1) + "\n").encode())
    return out


def load_cost_table(path: str | os.PathLike[str] | None = None) -> CostTable:
    """The cached table shipped with hwnn (or the file at ``path``)."""
    src = Path(path) if path is not None else packaged_table_path()
    if not src.is_file():
        raise HwnnError(f"multiplier cost table not found: {src}; build it with "
                        "`python scripts/multiplier_costs.py`")
    return CostTable.from_json(json.loads(src.read_text()), str(src))

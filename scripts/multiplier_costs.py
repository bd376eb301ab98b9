"""Build the multiplier cost table (issue 5 item 1; seed 000 Fig. 6) and plot cost vs constant.

Synthesises ``x * c`` for all 256 signed 8-bit constants, unsigned and signed 8-bit ``x``,
on Nangate45 (area) and xc7 (LUT6), and writes

* ``src/hwnn/arith/data/multiplier_costs.v1.json`` - the table shipped in the package;
* ``results/multiplier_costs/{costs.png,summary.md,config.json}`` - plot, the cheapest
  constants per metric, and the settings.

Usage::

    python scripts/multiplier_costs.py [--workdir /tmp/hwnn_mulcost]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hwnn.arith import build_cost_table, load_cost_table, save_cost_table
from hwnn.arith.multiplier_cost import INPUT_KINDS, CostTable, packaged_table_path
from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "multiplier_costs"
SEED_EXAMPLES = {107: 111, -16: 16}  # seed 000 §III-C: "area units" of two constants


def plot(costs: CostTable, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = costs.constants
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for kind, marker in zip(INPUT_KINDS, ("o", "x"), strict=True):
        axes[0].plot(c, costs.area_um2[kind], marker, ms=3, label=f"{kind} 8-bit x")
        axes[1].plot(c, costs.lut6[kind], marker, ms=3, label=f"{kind} 8-bit x")
    axes[2].bar(c, costs.csd_nonzero, width=0.8, color="gray")
    axes[0].set_ylabel("Nangate45 area (um²)")
    axes[1].set_ylabel("xc7 LUT6")
    axes[2].set_ylabel("CSD non-zero digits")
    axes[2].set_xlabel("constant c")
    for ax in axes[:2]:
        ax.legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_title("Cost of x * c, 16-bit product (Yosys 0.23 + ABC)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(costs: CostTable) -> str:
    lines = ["# Multiplier cost table (seed 000 Fig. 6)", "",
             "Made by `python scripts/multiplier_costs.py`; the table itself is "
             "`src/hwnn/arith/data/multiplier_costs.v1.json`; plot: `costs.png`.", ""]
    prov = costs.provenance
    lines += [f"- Tools: {prov.get('yosys')}; liberty {prov.get('liberty')} "
              f"(sha256 {str(prov.get('liberty_sha256'))[:16]}...).",
              f"- ASIC: {prov.get('asic_flow')}. FPGA: {prov.get('fpga_flow')}.", ""]
    rows = []
    for kind in INPUT_KINDS:
        area, lut = costs.area_um2[kind], costs.lut6[kind]
        rows.append([kind, f"{area.min():.1f}", f"{np.median(area):.1f}", f"{area.max():.1f}",
                     f"{area.sum():,.0f}", str(int(lut.min())), f"{np.median(lut):.0f}",
                     str(int(lut.max())), f"{int(lut.sum()):,}"])
    lines += ["## Spread", "", *table(["x", "area min", "area median", "area max", "area sum",
                                      "LUT6 min", "LUT6 median", "LUT6 max", "LUT6 sum"], rows),
              ""]
    idx = {int(v): i for i, v in enumerate(costs.constants)}
    rows = [[str(c), str(seed), f"{costs.area_um2['unsigned'][idx[c]]:.1f}",
             f"{costs.area_um2['signed'][idx[c]]:.1f}", str(int(costs.lut6['unsigned'][idx[c]])),
             str(int(costs.csd_nonzero[idx[c]]))] for c, seed in SEED_EXAMPLES.items()]
    lines += ["## The seed's two examples", "",
              "Seed 000 gives 'area units' (its own scale) for two constants.", "",
              *table(["c", "seed units", "area unsigned x", "area signed x", "LUT6 unsigned",
                     "CSD digits"], rows), ""]
    rows = []
    for n in (10, 20, 40, 50, 60, 80, 100, 120):
        row = [str(n)]
        for metric, kind in (("area", "unsigned"), ("area", "signed"), ("lut6", "unsigned"),
                             ("csd", "unsigned")):
            values = costs.cheapest(n, metric, kind)  # type: ignore[arg-type]
            row.append(f"{costs.total(np.array(values), 'area', kind):,.0f}")  # type: ignore[arg-type]
        rows.append(row)
    lines += ["## Summed area of the n cheapest constants", "",
              "Area (um²) of one multiplier per constant in the set, ranked by each metric; "
              "the 'lut6' and 'csd' rankings are scored by unsigned-input area.", "",
              *table(["n", "by area (unsigned x)", "by area (signed x)", "by LUT6", "by CSD"],
                    rows), ""]
    for kind in INPUT_KINDS:
        lines += [f"## The 40 cheapest constants by area, {kind} x", "",
                  "`" + ", ".join(str(c) for c in costs.cheapest(40, "area", kind)) + "`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hwnn_mulcost"))
    parser.add_argument("--timeout", type=float, default=1800, help="per Yosys run, s")
    parser.add_argument("--reuse", action="store_true",
                        help="do not synthesise: redraw the plot/summary from the shipped table")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.reuse:
        costs = load_cost_table()
        previous = OUT / "config.json"
        seconds = json.loads(previous.read_text())["build_seconds"] if previous.exists() else 0
    else:
        costs = build_cost_table(args.workdir, timeout_s=args.timeout)
        seconds = time.perf_counter() - t0
        save_cost_table(costs, packaged_table_path())
    OUT.mkdir(parents=True, exist_ok=True)
    plot(costs, OUT / "costs.png")
    atomic_write_bytes(OUT / "summary.md", summary(costs).encode())
    config = {"command": "python scripts/multiplier_costs.py", "workdir": str(args.workdir),
              "timeout_s": args.timeout, "build_seconds": round(seconds, 1),
              "provenance": costs.provenance}
    atomic_write_bytes(OUT / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    print(f"built in {seconds:.0f} s -> {packaged_table_path()} and {OUT}")


if __name__ == "__main__":
    main()

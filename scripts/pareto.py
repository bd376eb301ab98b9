"""Issue 5 item 5: accuracy vs LUT6 and vs Nangate45 area on NID and MNIST, every method side
by side (and on JSC for issue 11, once its sweep has run), from these sweeps:

* ``configs/sweeps/table1.yaml`` - (a) generic 8-bit (design ``base``: weights in registers)
  and (c) embedded + hardware-aware (design ``prop``) for nid_a/b/c and mnist_mlp;
* ``configs/sweeps/pareto.yaml`` - (b) embedded 8-bit without the hardware-aware stage,
  low-bit embedded (2-4-bit weights and activations) and (d) LogicNets-style LUT networks;
* ``configs/sweeps/jsc.yaml`` (read when ``results/jsc/jobs`` exists) - (a) and (c) for
  jsc_a/b/c and (d) for the LogicNets JSC-S/M/L shapes, all on the jets hwnn generated
  (``data/jsc``), so only comparable with each other.

Accuracy = test accuracy of the network that was synthesized (the last training stage).
LUT6 = Yosys ``synth_xilinx`` LUT count (all LUT sizes); area = Yosys + ABC on Nangate45.
For LUT networks the LogicNets analytic estimate is listed beside the synthesized count.
Jobs that have not finished show '–' and are left out of the plot.

Writes ``results/pareto/{pareto.md,pareto.json,pareto.png}``. Usage::

    python scripts/pareto.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import table
from hwnn.report.power import STALE_POWER_NOTE, power_withheld, vector_power_mw
from hwnn.sweep import load_sweep, write_report
from hwnn.sweep.report import dig

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = (ROOT / "configs" / "sweeps" / "table1.yaml", ROOT / "configs" / "sweeps" / "pareto.yaml")
JSC_SWEEP = ROOT / "configs" / "sweeps" / "jsc.yaml"  # optional: read once its jobs exist
OUT = ROOT / "results" / "pareto"
TASKS = ("nid", "mnist", "jsc")
HW_AWARE_JOBS = {"table1": ("nid_a", "nid_b", "nid_c", "mnist_mlp"),
                 "jsc": ("jsc_a", "jsc_b", "jsc_c")}
STAGES = ("hw_aware", "finetune", "qat", "float")  # the last stage a run trained
# LogicNets FPL 2020 Table (NID, Vivado LUTs; official UNSW-NB15 train/test split)
LOGICNETS_PUBLISHED = {"NID-S": (0.894, 110), "NID-M": (0.926, 3058), "NID-L": (0.931, 9087)}
THRESHOLDS = (0.926, 0.894)
FAMILIES = {  # family -> (marker, colour)
    "(a) generic 8-bit": ("s", "tab:red"),
    "(b) embedded 8-bit": ("o", "tab:blue"),
    "(b) embedded low-bit": ("v", "tab:cyan"),
    "(c) embedded + hw-aware": ("D", "tab:green"),
    "(d) LogicNets-style": ("^", "tab:purple"),
}


def _family(sweep: str, job: str, design: str) -> str | None:
    if job in HW_AWARE_JOBS.get(sweep, ()):
        if design == "retimed":
            return None
        return "(a) generic 8-bit" if design == "base" else "(c) embedded + hw-aware"
    if job.startswith("logicnets_"):
        return "(d) LogicNets-style"
    return "(b) embedded 8-bit" if job.endswith("_8bit") else "(b) embedded low-bit"


def points(reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per (job, design) of the NID, MNIST and JSC jobs."""
    out = []
    for sweep, report in reports.items():
        for job in report["jobs"]:
            task = next((t for t in TASKS if t in job["name"]), None)
            if task is None:
                continue
            s = job["summary_test"] or {}
            stage = next((k for k in STAGES if s.get(k) is not None), None)
            for name, d in job["designs"].items():
                family = _family(sweep, job["name"], name)
                if family is None:
                    continue
                sim = d.get("sim")
                out.append({
                    "task": task, "job": job["name"], "sweep": sweep, "design": name,
                    "family": family, "status": job["status"],
                    "accuracy": None if stage is None else s[stage], "stage": stage,
                    "lut6": dig(d, "fpga", "luts"),
                    "analytic_lut6": dig(d, "fpga", "analytic_lut6"),
                    "area_um2": dig(d, "asic", "area_um2"),
                    "fmax_mhz": dig(d, "asic", "fmax_mhz"),
                    "power_mw": vector_power_mw(dig(d, "asic")),
                    "power_withheld": power_withheld(dig(d, "asic")),
                    "sim_passed": None if sim is None else sim["passed"],
                    "gate_mismatches": dig(d, "asic", "gate_level_vs_ir_mismatches"),
                })
    return out


def present_tasks(pts: list[dict[str, Any]]) -> list[str]:
    """The tasks of ``TASKS`` that have at least one point, in ``TASKS`` order."""
    return [t for t in TASKS if any(p["task"] == t for p in pts)]


def pareto_front(pts: list[dict[str, Any]], cost: str) -> list[dict[str, Any]]:
    """Points not dominated by a cheaper-or-equal point of higher-or-equal accuracy."""
    ok = sorted((p for p in pts if p[cost] is not None and p["accuracy"] is not None),
                key=lambda p: (p[cost], -p["accuracy"]))
    front, best = [], -1.0
    for p in ok:
        if p["accuracy"] > best:
            front.append(p)
            best = p["accuracy"]
    return front


def best_at(pts: list[dict[str, Any]], threshold: float) -> dict[str, Any] | None:
    ok = [p for p in pts if p["lut6"] is not None and p["accuracy"] is not None
          and p["accuracy"] >= threshold]
    return min(ok, key=lambda p: p["lut6"]) if ok else None


def _n(v: Any, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def markdown(pts: list[dict[str, Any]]) -> str:
    lines = ["# Accuracy vs hardware cost: generic, embedded, hardware-aware, low-bit, "
             "LogicNets-style", "",
             "Made by `hwnn sweep configs/sweeps/table1.yaml`, `hwnn sweep "
             "configs/sweeps/pareto.yaml` (JSC: `hwnn sweep configs/sweeps/jsc.yaml`), then "
             "`python scripts/pareto.py` (definitions in the "
             "script's docstring). Test accuracy of the synthesized network; LUT6 from Yosys "
             "`synth_xilinx` (xc7), area from Yosys + ABC on Nangate45; power at 500 MHz from "
             "1,000 test vectors. 'analytic' = LogicNets' (Y/3)(2^(X-4) - (-1)^X) per neuron. "
             "'sim' = RTL vs IR reference on 10,000 test vectors (Icarus + Verilator; "
             "LogicNets NID-M/L and MNIST: 2,000, every Verilog form synthesised), 'gate' = "
             "mismatches of the mapped Nangate45 netlist on the power vectors.", ""]
    for task in present_tasks(pts):
        tp = sorted((p for p in pts if p["task"] == task),
                    key=lambda p: (p["lut6"] is None, p["lut6"] or 0))
        front = {id(p) for p in pareto_front(tp, "lut6")}
        lines += [f"## {task.upper()}", ""]
        lines += table(
            ["design", "family", "accuracy", "LUT6", "analytic", "area µm²", "fmax MHz",
             "power mW", "sim", "gate", "LUT6 front"],
            [[f"{p['job']}/{p['design']}", p["family"],
              "–" if p["accuracy"] is None else f"{100 * p['accuracy']:.2f} %",
              _n(p["lut6"], ","), _n(p["analytic_lut6"], ","), _n(p["area_um2"], ",.0f"),
              _n(p["fmax_mhz"], ".1f"), _n(p["power_mw"], ".1f"),
              {True: "0 mismatches", False: "FAIL", None: "–"}[p["sim_passed"]],
              _n(p["gate_mismatches"], "d"), "yes" if id(p) in front else ""] for p in tp])
        lines.append("")
        if task == "nid":
            lines += ["Best LUT6 at the LogicNets accuracy levels (ours on a 60/20/20 split of "
                      "the UNSW-NB15 testing set, where float MLPs reach ~95-96 %; LogicNets "
                      "on the official split, Vivado LUTs):", ""]
            rows = []
            for thr, (name, (acc, luts)) in zip(THRESHOLDS, (
                    ("NID-M", LOGICNETS_PUBLISHED["NID-M"]),
                    ("NID-S", LOGICNETS_PUBLISHED["NID-S"])), strict=True):
                b = best_at(tp, thr)
                rows.append([f">= {100 * thr:.1f} %",
                             "–" if b is None else f"{b['job']}/{b['design']} "
                             f"({100 * b['accuracy']:.2f} %)",
                             "–" if b is None else f"{b['lut6']:,}",
                             f"LogicNets {name}: {100 * acc:.1f} %, {luts:,} LUT"])
            lines += table(["accuracy", "our cheapest design", "LUT6", "published"], rows)
            lines.append("")
        if task == "jsc":
            lines += ["JSC accuracies are on the jets hwnn generated (Pythia 8 + FastJet, "
                      "`data/jsc`), not the hls4ml sample behind published JSC and LogicNets "
                      "numbers, so only the methods in this table compare with each other.", ""]
    if any(p["power_withheld"] for p in pts):
        lines += [STALE_POWER_NOTE, ""]
    return "\n".join(lines) + "\n"


def plot(pts: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = present_tasks(pts)
    fig, axes = plt.subplots(len(tasks), 2, figsize=(12, 4.5 * len(tasks)), squeeze=False)
    for row, task in enumerate(tasks):
        tp = [p for p in pts if p["task"] == task and p["accuracy"] is not None]
        for col, (cost, label) in enumerate((("lut6", "LUT6 (Yosys synth_xilinx)"),
                                             ("area_um2", "Nangate45 area (µm²)"))):
            ax = axes[row][col]
            for family, (marker, colour) in FAMILIES.items():
                fp = [p for p in tp if p["family"] == family and p[cost] is not None]
                if fp:
                    ax.scatter([p[cost] for p in fp], [100 * p["accuracy"] for p in fp],
                               marker=marker, color=colour, label=family, s=45, zorder=3)
                    for p in fp:
                        ax.annotate(p["job"], (p[cost], 100 * p["accuracy"]), fontsize=6,
                                    xytext=(3, 3), textcoords="offset points")
            front = pareto_front(tp, cost)
            if front:
                ax.step([p[cost] for p in front], [100 * p["accuracy"] for p in front],
                        where="post", color="gray", lw=1, ls="--", label="Pareto front")
            if task == "nid" and cost == "lut6":
                for name, (acc, luts) in LOGICNETS_PUBLISHED.items():
                    ax.scatter([luts], [100 * acc], marker="x", color="black", zorder=3)
                    ax.annotate(f"{name} (published)", (luts, 100 * acc), fontsize=6,
                                xytext=(3, -8), textcoords="offset points")
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"{task.upper()}: accuracy vs {label.split(' (')[0]}")
            ax.grid(True, which="both", alpha=0.3)
            if row == 0 and col == 0 and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    reports, used = {}, []
    for sweep in (*SWEEPS, JSC_SWEEP):
        spec, jobs = load_sweep(sweep)
        if sweep == JSC_SWEEP and not Path(spec.out).is_dir():
            continue
        reports[spec.name] = write_report(spec, jobs)
        used.append(sweep)
    pts = points(reports)
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(OUT / "pareto.md", markdown(pts).encode())
    atomic_write_bytes(OUT / "pareto.json", (json.dumps(
        {"points": pts, "logicnets_published": LOGICNETS_PUBLISHED,
         "sweeps": [str(s.relative_to(ROOT)) for s in used]}, indent=2) + "\n").encode())
    plot(pts, OUT / "pareto.png")
    print(f"wrote {OUT / 'pareto.md'} and pareto.png ({len(pts)} designs)")


if __name__ == "__main__":
    main()

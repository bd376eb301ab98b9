"""Issue 9 item 4: seed 001's configurations A and B as measured logic, side by side.

* A (MAC): ``configs/sam/sam_config_a_hw.yaml`` - A's float network, 8-bit QAT, magnitude
  pruning; weights embedded as constants (CSD shift-adds).
* B (SAM): ``hwnn sam-hardware results/sam/sam_config_b`` pruned by activation rate at the
  largest threshold within ``--b-max-loss`` of the unpruned validation accuracy (default
  0.005) or at each ``--b-threshold``; 8-bit integer SAM layer (constant adders + max/min
  comparator trees), then the same 8-bit dense output layer.

Per design: export → RTL simulation of the first ``--vectors`` test signals (torch integer
mode vs IR vs RTL) → Yosys/ABC on Nangate45 (area, fmax, power from ``--power-vectors``
test signals at 500 MHz, gate-level check) and Yosys ``synth_xilinx`` (LUT6), one module
per neuron. Steps already done are skipped, so the script resumes. The area of each layer
is the sum of its neurons' mapped areas (before the stitch shares identical cells).

Writes ``results/sam/hardware.{md,json}``. Usage::

    python scripts/sam_hardware.py                 # everything (hours: synthesis)
    python scripts/sam_hardware.py --report-only   # the table from what exists
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import table
from hwnn.report.power import STALE_POWER_NOTE, power_withheld, vector_power_mw

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "sam"
A_CONFIG = ROOT / "configs" / "sam" / "sam_config_a_hw.yaml"
B_FLOAT = OUT / "sam_config_b"
STYLE = "csd"
#: B's default pruning: the largest activation threshold whose validation accuracy stays
#: within half a point of the unpruned network. Threshold 1 (never-activated parameters
#: only) keeps 264,256 of 1,048,576 parameters; the curve in sam.md reaches the same test
#: accuracy with 23,878.
DEFAULT_B_MAX_LOSS = 0.005


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


@dataclass(frozen=True)
class Design:
    """One row of the table: its run folder and, for B, how the float run is pruned
    (``make_hardware_run`` keyword arguments; None for A, which is trained from its config)."""

    label: str
    run: Path
    b_pruning: dict[str, Any] | None = None
    #: (target, ASIC timing/power flow) to build; "flat" needs the whole stitched netlist
    #: in memory (B: 7.7 GB), which A's ~11M cells exceed, so A is measured leaf by leaf
    flows: tuple[tuple[str, str], ...] = (("asic", "flat"), ("asic", "leafwise"),
                                          ("fpga", "flat"))


def designs(b_thresholds: list[int], b_max_losses: list[float]) -> list[Design]:
    out = [Design("A (MAC, 8-bit, pruned)", OUT / "sam_config_a_hw",
                  flows=(("asic", "leafwise"), ("fpga", "flat")))]
    out += [Design(f"B (SAM, 8-bit, val. loss <= {loss:g})",
                   OUT / f"sam_config_b_int_loss{loss:g}", {"threshold": None, "max_loss": loss})
            for loss in b_max_losses]
    out += [Design(f"B (SAM, 8-bit, activation >= {t})", OUT / f"sam_config_b_int_t{t}",
                   {"threshold": t}) for t in b_thresholds]
    return out


def build(design: Design, vectors: int, power_vectors: int, jobs: int) -> None:
    """Train/derive, export, simulate and synthesise one design (skipping finished steps)."""
    from hwnn.methods.logic_flow import IR_FILE, export, sim_json_path, simulate_run
    from hwnn.methods.sam_hardware import make_hardware_run
    from hwnn.methods.synth_flow import SYNTH_FILE, design_label, synth_key, synth_run

    run, label = design.run, design.label
    if not (run / "model.pt").is_file():
        if design.b_pruning is None:
            subprocess.run([sys.executable, "-m", "hwnn.cli", "--threads", "1", "train",
                            str(A_CONFIG), "--out", str(run), "--no-progress"], check=True)
        else:
            rep = make_hardware_run(B_FLOAT, run, **design.b_pruning)
            print(f"{label}: threshold {rep['threshold']}, kept {rep['kept_parameters']}, "
                  f"integer test accuracy {rep['test_accuracy_integer']:.4f}", flush=True)
    if not (run / IR_FILE).is_file():
        export(run)
    if not sim_json_path(run, STYLE, partition=True).is_file():
        rep = simulate_run(run, vectors, STYLE, simulators=["verilator"], partition=True,
                           timeout_s=7200)
        print(f"{label}: simulation passed={rep['passed']}", flush=True)
    done = (_json(run / SYNTH_FILE) or {}).get("designs", {})
    key = design_label(STYLE, partition=True)
    for target, flow in design.flows:
        if synth_key(key, target, flow == "leafwise") not in done:
            print(f"{label}: synthesising {target} ({flow})", flush=True)
            synth_run(run, target, STYLE, power_vectors=power_vectors, partition=True,
                      jobs=jobs, timeout_s=4 * 3600, leafwise=flow == "leafwise")


def layer_areas(run: Path, neurons: list[int]) -> list[float | None]:
    """Per layer, the summed mapped area of its neurons (leaf netlists of the partition);
    None until every one of the layer's ``neurons`` leaves has been synthesised."""
    parts = run / "synth" / f"{STYLE}_part" / "asic" / "parts"
    areas: list[float | None] = []
    for k, n in enumerate(neurons):
        leaves = sorted(parts.glob(f"*_l{k}_n*/leaf_result.json")) if parts.is_dir() else []
        areas.append(round(sum(json.loads(p.read_text())["result"]["area_um2"]
                               for p in leaves), 1) if len(leaves) == n else None)
    return areas


def row(label: str, run: Path, flow: str) -> dict[str, Any]:
    """One table row: ``run`` with its ASIC numbers from ``flow`` (flat or leafwise)."""
    from hwnn.methods.logic_flow import sim_json_path
    from hwnn.methods.synth_flow import design_label, synth_key

    metrics = _json(run / "metrics.json") or {}
    hw = _json(run / "sam_hardware.json") or {}
    ir = _json(run / "net.ir.json") or {}
    layers = ir.get("layers", [])
    synth = (_json(run / "synth.json") or {}).get("designs", {})
    part = design_label(STYLE, partition=True)
    asic = synth.get(synth_key(part, "asic", flow == "leafwise"), {})
    fpga = synth.get(synth_key(part, "fpga"), {})
    sim = _json(sim_json_path(run, STYLE, partition=True)) or {}
    acc = hw.get("test_accuracy_integer")
    if acc is None:
        acc = (metrics.get("summary_test") or {}).get("finetune")
    hidden = layers[0]["nonzero_weights"] if layers else None
    is_sam = bool(layers) and layers[0]["kind"] == "sam"
    return {
        "design": label, "asic_flow": flow, "run": str(run.relative_to(ROOT)),
        "test_accuracy": acc,
        "hidden_parameters": hidden,
        "hidden_multiplications": None if hidden is None else (0 if is_sam else hidden),
        "hidden_additions": None if hidden is None else (2 * hidden if is_sam else hidden),
        "output_weights": layers[-1]["nonzero_weights"] if layers else None,
        "area_um2": asic.get("area_um2"), "cells": asic.get("cells"),
        "layer_area_um2": layer_areas(run, [la["out_features"] for la in layers]),
        "fmax_mhz": asic.get("fmax_mhz"), "power_mw": vector_power_mw(asic),
        "power_withheld": power_withheld(asic),
        "power_clock_mhz": asic.get("power_clock_mhz"),
        "luts": fpga.get("luts"), "flip_flops": fpga.get("flip_flops"),
        "rtl_mismatches": (None if not sim else
                           sum(s["mismatches"] for s in sim["simulators"].values())),
        "torch_vs_ir_mismatches": sim.get("torch_vs_ir_mismatches"),
        "rtl_vectors": sim.get("vectors"),
        "gate_level_mismatches": asic.get("gate_level_vs_ir_mismatches"),
        "stitch": asic.get("stitch"),
    }


def _flow_gap(rows: list[dict[str, Any]], flat: dict[str, Any]) -> str:
    """A sentence on how far a design's leafwise numbers lie from its flat ones, and the
    cells the stitch shared (which the leafwise flow counts once per neuron)."""
    leaf = next((r for r in rows if r["design"] == flat["design"]
                 and r["asic_flow"] == "leafwise"), None)
    keys = ("area_um2", "fmax_mhz", "power_mw")
    if leaf is None or any(r[k] is None for r in (flat, leaf) for k in keys):
        return ""
    stitch = flat.get("stitch") or {}
    gap = {k: 100.0 * (leaf[k] / flat[k] - 1) for k in keys}
    shared = (f" The stitch shares {stitch['merged_cells']:,} of {stitch['leaf_cells']:,} "
              f"neuron cells ({100.0 * stitch['merged_cells'] / stitch['leaf_cells']:.1f} %), "
              "cells fed identically in several neurons, starting at the inputs. The leafwise "
              "flow keeps one copy per neuron, so it also loads the inputs with more pins "
              "(slower input edges raise the internal power of every cell they reach)."
              if stitch.get("leaf_cells") else "")
    return (f"\n{flat['design']}, leafwise vs flat: area {gap['area_um2']:+.1f} %, fmax "
            f"{gap['fmax_mhz']:+.1f} %, power {gap['power_mw']:+.1f} %.{shared}\n")


def _fmt(v: Any, spec: str = ",") -> str:
    if v is None:
        return "–"
    if isinstance(v, list):
        return " / ".join(_fmt(x, spec) for x in v) if v else "–"
    return format(v, spec)


def write(rows: list[dict[str, Any]]) -> None:
    head = ["design", "ASIC flow", "test acc.", "hidden params", "mul / add (hidden)",
            "output weights",
            "area µm² (layer sums)", "cells", "fmax MHz", "power mW", "LUT6", "FF",
            "RTL / gate mismatches"]
    body = [[r["design"], r["asic_flow"], _fmt(r["test_accuracy"], ".4f"),
             _fmt(r["hidden_parameters"]),
             f"{_fmt(r['hidden_multiplications'])} / {_fmt(r['hidden_additions'])}",
             _fmt(r["output_weights"]),
             f"{_fmt(r['area_um2'], ',.0f')} ({_fmt(r['layer_area_um2'], ',.0f')})",
             _fmt(r["cells"]), _fmt(r["fmax_mhz"], ".1f"), _fmt(r["power_mw"], ".2f"),
             _fmt(r["luts"]), _fmt(r["flip_flops"]),
             f"{_fmt(r['rtl_mismatches'])} / {_fmt(r['gate_level_mismatches'])}"]
            for r in rows]
    text = ("# Seed 001 configurations A and B in logic (issue 9 item 4)\n\n"
            "Made by `python scripts/sam_hardware.py`. Accuracy: integer network on the 10^5 "
            "test signals. Nangate45 (Yosys + ABC, one module per neuron, stitched), fmax from "
            "OpenSTA, power at 500 MHz from 1,000 test signals; LUT6 from Yosys synth_xilinx "
            "(sum over neurons). Layer sums: mapped area of each layer's neurons before the "
            "stitch shares identical cells. Mismatches: RTL (Verilator) and gate-level "
            "netlist against the IR reference. ASIC flow *flat*: timing, power and the "
            "gate-level check on the stitched netlist (identical cells shared across "
            "neurons); *leafwise*: one neuron at a time with the other neurons' loads "
            "(hwnn.eda.leafwise; no sharing), the only flow A's ~11M cells fit in memory "
            "for. B in both flows shows what the leafwise numbers mean.\n\n"
            + "\n".join(table(head, body)) + "\n")
    text += "".join(_flow_gap(rows, r) for r in rows if r["asic_flow"] == "flat")
    if any(r["power_withheld"] for r in rows):
        text += f"\n{STALE_POWER_NOTE}\n"
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(OUT / "hardware.md", text.encode())
    atomic_write_bytes(OUT / "hardware.json", (json.dumps(rows, indent=2) + "\n").encode())
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--b-threshold", type=int, action="append",
                    help="B pruned at these activation-count thresholds (1: only the "
                         "never-activated parameters)")
    ap.add_argument("--b-max-loss", type=float, action="append",
                    help="B pruned at the largest threshold within this validation-accuracy "
                         f"loss (default: {DEFAULT_B_MAX_LOSS} when no --b-threshold is given)")
    ap.add_argument("--vectors", type=int, default=10_000)
    ap.add_argument("--power-vectors", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1, help="Yosys processes at a time")
    ap.add_argument("--only", choices=["A", "B"], help="build one configuration")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    todo = designs(args.b_threshold or [],
                   args.b_max_loss or ([] if args.b_threshold else [DEFAULT_B_MAX_LOSS]))
    if not args.report_only:
        for design in todo:
            if args.only is None or design.label.startswith(args.only):
                build(design, args.vectors, args.power_vectors, args.jobs)
    write([row(d.label, d.run, flow) for d in todo for target, flow in d.flows
           if target == "asic"])


if __name__ == "__main__":
    main()

"""Report of the filter-pruning studies (issue 8; seed 002 ch. 4): Fig. 4.3 (accuracy vs
pruning ratio per ranking metric) and Figs. 4.6/4.7 (operations, BRAM, throughput of
hardware-aware vs hardware-unaware pruning), from every ``results/filter_prune/*/
filter_prune.json`` that ``hwnn filter-prune configs/filter_prune/<study>.yaml`` wrote.

Writes ``results/filter_prune/filter_prune.md`` and ``<study>/ranking.png``,
``<study>/hardware.png``. Usage::

    python scripts/filter_prune.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "filter_prune"
METHOD_LABEL = {"original": "original", "aware": "hardware-aware (Alg. 3)",
                "uniform": "uniform (unaware)", "sensitivity": "sensitivity (unaware)"}


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def rel(path: str) -> str:
    p = Path(path)
    return str(p.relative_to(ROOT)) if p.is_absolute() and p.is_relative_to(ROOT) else path


def ranking_section(name: str, r: dict[str, Any], folder: Path) -> list[str]:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for metric, points in r["curves"].items():
        ax.plot([100 * p["ratio"] for p in points], [100 * p["test"] for p in points],
                marker="o", label=metric)
    ax.set_xlabel("filters pruned (% of the pruned layers)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: filter ranking (seed 002 Fig. 4.3)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "ranking.png", dpi=120)
    plt.close(fig)
    metrics = list(r["curves"])
    n = len(next(iter(r["curves"].values())))
    rows = []
    for k in range(n):
        first = r["curves"][metrics[0]][k]
        row = [f"{100 * first['ratio']:.0f} %", " / ".join(str(f) for f in first["filters"])]
        for m in metrics:
            p = r["curves"][m][k]
            before = p.get("test_before_finetune")
            row.append(pct(p["test"]) + ("" if before is None else f" ({pct(before)})"))
        rows.append(row)
    lines = [f"### Ranking metrics (Fig. 4.3): `{name}/ranking.png`", "",
             f"Weight layers {r['layers']} lose {100 * r['step']:.0f} % of their original "
             "filters per iteration, each iteration fine-tuned from the previous one. Test "
             "accuracy after fine-tuning (before it, in brackets).", ""]
    lines += table(["pruned", "filters", *metrics], rows)
    return [*lines, ""]


def hardware_section(name: str, h: dict[str, Any], folder: Path) -> list[str]:
    s = h["settings"]
    finals = h["finals"]
    base = finals["original"]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    labels = list(finals)
    axes[0].bar(labels, [f["ops"] / 1e6 for f in finals.values()])
    axes[0].set_ylabel("MACs per frame (M)")
    axes[0].set_title("operations (Fig. 4.6)")
    bram0 = base["hardware"]["brams"]
    axes[1].bar(labels, [f["hardware"]["brams"] / bram0 for f in finals.values()])
    axes[1].set_ylabel("BRAM relative to original")
    axes[1].set_title("BRAM (Fig. 4.7)")
    axes[2].bar(labels, [f["hardware"]["fps"] / 1e3 for f in finals.values()])
    axes[2].set_ylabel(f"k frames/s at {s['clock_mhz']:g} MHz")
    axes[2].set_title(f"throughput, {s['lut_budget']:,.0f} LUTs")
    for ax in axes:
        ax.tick_params(axis="x", rotation=25)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(folder / "hardware.png", dpi=120)
    plt.close(fig)
    rows = []
    for key, f in finals.items():
        hw = f["hardware"]
        rows.append([METHOD_LABEL.get(key, key), " / ".join(str(v) for v in f["filters"]),
                     pct(f["val"]), pct(f["test"]), f"{f['ops']:,}",
                     f"{f['ops'] / base['ops']:.2f}", f"{hw['brams']:,}",
                     f"{hw['brams'] / bram0:.2f}", f"{hw['ii_cycles']:,}",
                     f"{hw['fps']:,.0f}", f"{hw['luts']:,.0f}", f"{hw['fps_per_klut']:,.1f}",
                     "–" if hw["fps_per_bram"] is None else f"{hw['fps_per_bram']:,.1f}"])
    lines = [f"### Hardware-aware vs unaware (Figs. 4.6/4.7): `{name}/hardware.png`", "",
             f"Tolerance: validation accuracy at most {100 * s['tolerance']:g} points below the "
             f"original. Each network folded for the fastest pipeline within "
             f"{s['lut_budget']:,.0f} LUTs (`hwnn.cost.dataflow.optimise_folding`, fitted "
             f"LUT model) at {s['clock_mhz']:g} MHz; BRAM = weight memories + eq. 4.7 feature-map "
             "buffers (RAMB18).", ""]
    lines += table(["method", "filters", "val", "test", "MACs/frame", "rel.", "BRAM", "rel.",
                    "II cycles", "frames/s", "LUTs (model)", "fps/kLUT", "fps/BRAM"], rows)
    lines += ["", "Every pruning step tried, each fine-tuned from the step before (hardware-aware: "
              "layer selection §4.5.1, then the rounding of §4.5.2; a step below the tolerance "
              "ends the chain and the last accepted network is the result):", ""]
    rows = []
    for key, method in h["methods"].items():
        steps = [*method["iterations"], *(p for p in method.get("rounding", ())
                                          if "filters" in p)]
        for p in steps:
            rows.append([METHOD_LABEL.get(key, key), p.get("iteration", "round"),
                         p.get("pruned_layer", "all" if key != "aware" else "–"),
                         " / ".join(str(v) for v in p["filters"]), pct(p["val"]),
                         pct(p["test"]), "yes" if p["accepted"] else "no"])
    lines += table(["method", "step", "pruned layer", "filters", "val", "test", "accepted"],
                   rows)
    sens = h["methods"]["sensitivity"]
    lines += ["", "Sensitivity (validation accuracy, one layer pruned alone, no fine-tuning) and "
              "the rate each layer gets:", ""]
    rates = list(next(iter(sens["sensitivity"].values())))
    rows = [[layer, *(pct(v) for v in accs.values()), f"{100 * sens['rates'][layer]:.0f} %"]
            for layer, accs in sens["sensitivity"].items()]
    lines += table(["layer", *(f"-{100 * float(r):.0f} %" for r in rates), "rate"], rows)
    return [*lines, ""]


def main() -> None:
    studies = sorted(OUT.glob("*/filter_prune.json"))
    if not studies:
        raise SystemExit("no study results: run `hwnn filter-prune configs/filter_prune/"
                         "<study>.yaml` first")
    lines = ["# Filter pruning for dataflow accelerators (seed 002 ch. 4)", "",
             "Made by `hwnn filter-prune configs/filter_prune/<study>.yaml` (one per study "
             "below), then `python scripts/filter_prune.py`. AlexNet/ImageNet and "
             "TinyYolo/Pascal VOC are not available here: the studies use the small "
             "Fashion-MNIST/MNIST CNN of `configs/fashion_cnn.yaml` (two 3x3 conv + pool "
             "blocks of 16 and 32 filters, a 64-neuron hidden layer). Each row is one "
             "training run (one seed). The dataflow model is checked against simulation and "
             "synthesis in `results/dataflow/dataflow_check.md`.", ""]
    for path in studies:
        result = json.loads(path.read_text())
        name = path.parent.name
        lines += [f"## {name}", "", f"Base network: `{rel(result['base_run'])}`; study file "
                  f"`configs/filter_prune/{name}.yaml`.", ""]
        if "ranking" in result:
            lines += ranking_section(name, result["ranking"], path.parent)
        if "hardware" in result:
            lines += hardware_section(name, result["hardware"], path.parent)
    text = "\n".join(lines)
    atomic_write_bytes(OUT / "filter_prune.md", text.encode())
    print(text)


if __name__ == "__main__":
    main()

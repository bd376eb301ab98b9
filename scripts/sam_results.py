"""Seed 001 §III-C/D results from trained SAM-study runs: accuracy per epoch (Fig. 3), test
accuracy on the fixed 10^5-signal set, the confusion matrices (Fig. 4), accuracy against the
hidden-layer parameters kept after pruning (Fig. 5: magnitude thresholds for the MAC run,
activation-rate thresholds for the SAM run, counted on the 10^4 validation signals) and
Table I (parameters, multiplications, additions at accuracy 0.95 and 0.90, and at the
unpruned accuracy and 0.05 below it).

Run after ``hwnn train configs/sam/sam_config_{a,b}.yaml --out results/sam/sam_config_{a,b}``:

    python scripts/sam_results.py [--runs results/sam/sam_config_a results/sam/sam_config_b]

Writes ``results/sam/sam.md``, ``sam.json``, ``accuracy.png``, ``pruning.png`` and
``confusion_<run>.png``.
The runs' ``config.yaml`` files are the configs that made them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from hwnn.data import load_dataset
from hwnn.data.base import Dataset
from hwnn.data.sam_task import N_CLASSES, R_VALUES
from hwnn.prune.sam_study import (
    CurvePoint,
    activation_counts,
    activation_curve,
    fewest_kept,
    hidden_weight,
    magnitude_curve,
    predictions,
    table_one_costs,
)
from hwnn.train.build import load_run
from hwnn.train.metrics import model_inputs

ROOT = Path(__file__).resolve().parents[1]
PAPER_ACCURACY = 0.95  # seed 001 §III-C: both configurations, after 1000 epochs
#: Seed 001 §III-D / Table I: hidden-layer parameters kept at accuracy 0.95 and 0.90.
PAPER_KEPT = {"mac": {0.95: 157_000, 0.90: 80_000}, "sam": {0.95: 10_000, 0.90: 5_500}}
KEEP_FRACTIONS = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03,
                  0.02, 0.01]


def confusion(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    return np.bincount(label * N_CLASSES + pred, minlength=N_CLASSES**2).reshape(
        N_CLASSES, N_CLASSES)


def pruning_curve(model: torch.nn.Module, kind: str, ds: Dataset,
                  signals: int) -> list[CurvePoint]:
    """Fig. 5 points of one run on the first ``signals`` test signals (thresholds chosen to
    keep KEEP_FRACTIONS of the weights for MAC; the distinct activation counts for SAM,
    thinned to about 24 points)."""
    x_test = model_inputs(ds, ds.test.x[:signals])
    y_test = torch.from_numpy(ds.test.y[:signals])
    if kind == "sam":
        counts = activation_counts(model, model_inputs(ds, ds.val.x))  # type: ignore[arg-type]
        values = torch.unique(torch.cat([counts[0].flatten(), counts[1].flatten()]))
        picks = values[torch.linspace(0, len(values) - 1, 24).round().long()]
        thresholds = sorted({0, 1, *picks.tolist(), int(values[-1]) + 1})
        return activation_curve(model, counts, thresholds, x_test, y_test)  # type: ignore[arg-type]
    magnitudes = hidden_weight(model).detach().abs().flatten().sort().values
    thresholds = [0.0] + [float(magnitudes[int((1 - f) * (len(magnitudes) - 1))])
                          for f in KEEP_FRACTIONS[1:]]
    return magnitude_curve(model, thresholds, x_test, y_test)


def plot_confusion(counts: np.ndarray, title: str, path: Path) -> None:
    share = counts / counts.sum(axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    labels = [f"{r:.1f}" for r in R_VALUES]
    ax.set_xticks(range(N_CLASSES), labels, rotation=45)
    ax.set_yticks(range(N_CLASSES), labels)
    ax.set_xlabel("predicted r")
    ax.set_ylabel("true r")
    for i in range(N_CLASSES):
        for j in range(N_CLASSES):
            if share[i, j] >= 0.005:
                ax.text(j, i, f"{100 * share[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table_one(curves: dict[str, tuple[str, list[CurvePoint]]],
              summary: dict[str, dict]) -> list[str]:
    """Seed 001 Table I rows: ours at each accuracy target beside the paper's."""
    lines = ["## Table I: hidden-layer cost at a given accuracy", "",
             "Parameters kept (fewest on the pruning curve that still reach the accuracy), "
             "multiplications and additions per inference (MAC: mul = add = N; SAM: mul = 0, "
             "add = 2N). `–`: the curve never reaches that accuracy. Curve points are "
             "evaluated on the first test signals (`--curve-signals`).", "",
             "| run | target | accuracy reached | parameters | mul | add | paper parameters |",
             "|---|---|---|---|---|---|---|"]
    for name, (kind, points) in curves.items():
        base = points[0].accuracy
        summary[name]["table_one"] = {}
        targets = [(0.95, "0.95"), (0.90, "0.90"), (base, f"unpruned ({base:.4f})"),
                   (base - 0.05, f"unpruned - 0.05 ({base - 0.05:.4f})")]
        for target, label in targets:
            best = fewest_kept(points, target)
            paper = PAPER_KEPT[kind].get(target)
            paper_text = f"{paper:,}" if paper else "–"
            if best is None:
                lines.append(f"| {name} | {label} | – | – | – | – | {paper_text} |")
                continue
            cost = table_one_costs(kind, best.kept)
            summary[name]["table_one"][label] = {**cost, "accuracy": best.accuracy}
            lines.append(f"| {name} | {label} | {best.accuracy:.4f} | {cost['parameters']:,} | "
                         f"{cost['multiplications']:,} | {cost['additions']:,} | {paper_text} |")
    return [*lines, ""]


def plot_pruning(curves: dict[str, tuple[str, list[CurvePoint]]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name, (kind, points) in curves.items():
        pts = sorted((p.kept, p.accuracy) for p in points if p.kept > 0)
        ax.plot([k for k, _ in pts], [a for _, a in pts], marker=".",
                label=f"{name} ({'magnitude' if kind == 'mac' else 'activation rate'})")
        for target, kept in PAPER_KEPT[kind].items():
            ax.scatter([kept], [target], marker="x", color="grey")
    ax.set_xscale("log")
    ax.set_xlabel("hidden-layer parameters kept")
    ax.set_ylabel("test accuracy")
    ax.set_title("accuracy vs kept parameters (x: the paper's points)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", nargs="+", type=Path,
                        default=[ROOT / "results/sam/sam_config_a",
                                 ROOT / "results/sam/sam_config_b"])
    parser.add_argument("--out", type=Path, default=ROOT / "results/sam")
    parser.add_argument("--curve-signals", type=int, default=20_000,
                        help="test signals per pruning-curve point (the unpruned accuracy "
                        "and confusion matrix use all 10^5)")
    args = parser.parse_args()
    missing = [str(r) for r in args.runs if not (r / "model.pt").is_file()]
    if missing:
        raise SystemExit(f"no finished run in {missing}: train them first (see the docstring)")
    args.out.mkdir(parents=True, exist_ok=True)
    summary, lines = {}, ["# SAM vs MAC on seed 001's synthetic task", "",
                          "Made by `python scripts/sam_results.py`. Test set: the fixed "
                          "10^5 signals of `hwnn.data.sam_task` (seed 0).", "",
                          "| run | hidden | epochs run | paper's epochs | test accuracy | "
                          "paper |", "|---|---|---|---|---|---|"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    curves: dict[str, tuple[str, list[CurvePoint]]] = {}
    for run in args.runs:
        run_cfg, model, _ = load_run(run)
        cfg = run_cfg.to_yaml_dict()
        ds = load_dataset(run_cfg.data.task, seed=run_cfg.data.seed)
        label = ds.test.y
        pred = predictions(model, model_inputs(ds, ds.test.x)).numpy()
        kind = "sam" if run_cfg.model.kind == "sam" else "mac"
        curves[run.name] = (kind, pruning_curve(model, kind, ds, args.curve_signals))
        counts = confusion(pred, label)
        accuracy = float((pred == label).mean())
        history = json.loads((run / "metrics.json").read_text())["history"]
        epochs = [h["epoch"] for h in history]
        val = [h["val"]["accuracy"] for h in history]
        ax.plot(epochs, val, label=f"{run.name} ({cfg['model'].get('kind', 'mlp')})")
        plot_confusion(counts, f"{run.name}: test accuracy {accuracy:.3f}",
                       args.out / f"confusion_{run.name}.png")
        summary[run.name] = {"run": str(run), "test_accuracy": accuracy,
                             "epochs": len(epochs), "confusion": counts.tolist(),
                             "val_accuracy_by_epoch": val, "config": cfg, "kind": kind,
                             "pruning": [p.to_dict() for p in curves[run.name][1]]}
        lines.append(f"| {run.name} | {cfg['model'].get('kind', 'mlp')}"
                     f" {cfg['model']['hidden']} | {len(epochs)} | 1000 | {accuracy:.4f} | "
                     f"~{PAPER_ACCURACY} |")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (10^4 fixed signals)")
    ax.axhline(PAPER_ACCURACY, color="grey", ls=":", label="paper, after 1000 epochs")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "accuracy.png", dpi=120)
    plt.close(fig)
    lines += ["", "Plots: `accuracy.png` (Fig. 3), `confusion_<run>.png` (Fig. 4; row-normalised, "
              "in %), `pruning.png` (Fig. 5).", ""]
    lines += table_one(curves, summary)
    plot_pruning(curves, args.out / "pruning.png")
    (args.out / "sam.md").write_text("\n".join(lines))
    (args.out / "sam.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Seed 001 §III-C/D results from trained SAM-study runs: accuracy per epoch (Fig. 3), test
accuracy on the fixed 10^5-signal set and the confusion matrix of configuration B (Fig. 4).

Run after ``hwnn train configs/sam/sam_config_{a,b}.yaml --out results/sam/sam_config_{a,b}``:

    python scripts/sam_results.py [--runs results/sam/sam_config_a results/sam/sam_config_b]

Writes ``results/sam/sam.md``, ``sam.json``, ``accuracy.png`` and ``confusion_<run>.png``.
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
from hwnn.data.sam_task import N_CLASSES, R_VALUES
from hwnn.train.build import load_run
from hwnn.train.metrics import model_inputs

ROOT = Path(__file__).resolve().parents[1]
PAPER_ACCURACY = 0.95  # seed 001 §III-C: both configurations, after 1000 epochs


def confusion(pred: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    return np.bincount(label * N_CLASSES + pred, minlength=N_CLASSES**2).reshape(
        N_CLASSES, N_CLASSES)


@torch.no_grad()
def predict(run: Path, batch: int = 4096) -> tuple[np.ndarray, np.ndarray, dict]:
    cfg, model, _ = load_run(run)
    ds = load_dataset(cfg.data.task, seed=cfg.data.seed)
    x = model_inputs(ds, ds.test.x)
    pred = torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return pred.numpy(), ds.test.y, cfg.to_yaml_dict()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", nargs="+", type=Path,
                        default=[ROOT / "results/sam/sam_config_a",
                                 ROOT / "results/sam/sam_config_b"])
    parser.add_argument("--out", type=Path, default=ROOT / "results/sam")
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
    for run in args.runs:
        pred, label, cfg = predict(run)
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
                             "val_accuracy_by_epoch": val, "config": cfg}
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
              "in %).", ""]
    (args.out / "sam.md").write_text("\n".join(lines))
    (args.out / "sam.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Issue 10 items 1-3: ReLU prediction (seed 003) on LeNet-5/MNIST and the small
Fashion-MNIST CNN (CIFAR-10, the seed's other small benchmark, is not available here).

Per config: train the 8-bit CNN into ``results/relupred/<name>/`` (skipped when the run is
finished; ``hwnn train`` resumes a half-done one), then ``hwnn relu-pred`` on it (the N_L
search of seed 003 §IV-B on the validation split, Prop-1/2 and SignConnect-1/2 on the test
split, skipped convolutions per layer) into ``<run>/relu_pred.json``. Then the combined
report: ``results/relupred/{relupred.md, relupred.json, levels.png, skipped.png}``.

Usage::

    python scripts/relupred.py                  # train what is missing, study, report
    python scripts/relupred.py --report-only    # the report from existing relu_pred.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "relupred"
CONFIGS = (ROOT / "configs" / "relupred" / "lenet5_mnist.yaml",
           ROOT / "configs" / "fashion_cnn.yaml")
#: seed 003 Table I (Caffe LeNet on MNIST, top-1 %) and Table II (LeNet on a xcvu9p)
SEED_LENET = {"Baseline": 99.08, "SignConnect-1": 98.97, "SignConnect-2": 99.02,
              "Prop-1": 99.099, "Prop-2": 99.0}
SEED_LENET_LEVELS = {"Prop-1": (2, 3), "Prop-2": (1, 2)}
VARIANT_ORDER = ("SignConnect-1", "SignConnect-2", "Prop-1", "Prop-2")


def hwnn(*args: str) -> None:
    cmd = [sys.executable, "-m", "hwnn.cli", "--threads", "1", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def run_dir(config: Path) -> Path:
    return OUT / yaml.safe_load(config.read_text())["name"]


def build(config: Path, max_loss: float) -> None:
    run = run_dir(config)
    if not (run / "model.pt").is_file():
        hwnn("train", str(config), "--out", str(run), "--no-progress")
    hwnn("relu-pred", str(run), "--max-loss", str(max_loss))


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def layer_rows(name: str, study: dict[str, Any]) -> list[list[str]]:
    """Per conv layer: negative activations, max-pool discards, skips of each variant."""
    rows = []
    base = study["baseline"]["counts"]
    for k, layer in enumerate(study["conv_layers"], start=1):
        i = str(layer["index"])
        c = base[i]
        cells = [name, f"conv{k} {tuple(layer['weight_shape'])}",
                 pct(c["non_positive"] / c["outputs"]), pct(c["pool_discarded"] / c["outputs"])]
        for v in VARIANT_ORDER:
            entry = study["variants"].get(v, {})
            vc = entry.get("counts", {}).get(i)
            if vc is None or int(i) not in entry["layers"]:
                cells.append("–")
            else:
                cells.append(f"{pct(vc['skipped'] / vc['outputs'])} "
                             f"({pct(vc['wrong_skips'] / vc['outputs'])})")
        rows.append(cells)
    return rows


def accuracy_rows(name: str, study: dict[str, Any]) -> list[list[str]]:
    base = study["baseline"]
    rows = [[name, "Baseline", "–", "–", pct(base["val_accuracy"]), pct(base["test_accuracy"]),
             "–", f"{SEED_LENET['Baseline']:.2f} %" if name.startswith("lenet") else ""]]
    for v in VARIANT_ORDER:
        entry = study["variants"].get(v)
        if entry is None:
            continue
        seed = ""
        if name.startswith("lenet"):
            seed = f"{SEED_LENET[v]:.2f} %"
            if v in SEED_LENET_LEVELS:
                seed += " (N_L {}, {} bits)".format(*SEED_LENET_LEVELS[v])
        if "test_accuracy" not in entry:
            rows.append([name, v, "none", "–", "–", "–", "–", seed])
            continue
        outputs = sum(c["outputs"] for c in entry["counts"].values())
        skipped = sum(c["skipped"] for c in entry["counts"].values())
        rows.append([name, v, str(entry.get("n_levels", "–")), str(entry["weight_bits"]),
                     pct(entry["val_accuracy"]), pct(entry["test_accuracy"]),
                     pct(skipped / outputs), seed])
    return rows


def plot_levels(studies: dict[str, dict[str, Any]], path: Path) -> None:
    """Seed 003 Fig. 5: validation top-1 error over N_L for Prop-1 and Prop-2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(studies), figsize=(5 * len(studies), 3.6), squeeze=False)
    for ax, (name, study) in zip(axes[0], studies.items(), strict=True):
        base_err = 100 * (1 - study["baseline"]["val_accuracy"])
        for v in ("Prop-1", "Prop-2"):
            curve = study["variants"].get(v, {}).get("val_curve")
            if not curve:
                continue
            n = sorted(int(k) for k in curve)
            ax.plot(n, [100 * (1 - curve[str(k)]) for k in n], marker="o", label=v)
        ax.axhline(base_err, color="grey", ls="--", label="exact network")
        ax.axhline(base_err + 100 * study["max_loss"], color="grey", ls=":",
                   label=f"+{100 * study['max_loss']:g} point bound")
        ax.set(title=name, xlabel="power-of-two levels N_L", ylabel="validation top-1 error %")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_skipped(studies: dict[str, dict[str, Any]], path: Path) -> None:
    """Seed 003 Figs. 1/2 style: per conv layer, the negative activations (ReLU
    redundancy), the outputs max-pool discards, and what Prop-1/2 skip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(studies), figsize=(5 * len(studies), 3.6), squeeze=False)
    for ax, (name, study) in zip(axes[0], studies.items(), strict=True):
        layers = [str(layer["index"]) for layer in study["conv_layers"]]
        base = study["baseline"]["counts"]
        series = {"negative (ReLU)": [base[i]["non_positive"] / base[i]["outputs"]
                                      for i in layers],
                  "discarded by max-pool": [base[i]["pool_discarded"] / base[i]["outputs"]
                                            for i in layers]}
        for v in ("Prop-1", "Prop-2"):
            counts = study["variants"].get(v, {}).get("counts")
            if counts:
                series[f"skipped, {v}"] = [counts[i]["skipped"] / counts[i]["outputs"]
                                           for i in layers]
        x = np.arange(len(layers))
        width = 0.8 / len(series)
        for k, (label, vals) in enumerate(series.items()):
            ax.bar(x + k * width, [100 * v for v in vals], width, label=label)
        ax.set_xticks(x + 0.4 - width / 2, [f"conv{k + 1}" for k in range(len(layers))])
        ax.set(title=name, ylabel="% of conv outputs (test split)", ylim=(0, 100))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def report(configs: list[Path]) -> None:
    studies = {}
    for config in configs:
        path = run_dir(config) / "relu_pred.json"
        if path.is_file():
            studies[run_dir(config).name] = json.loads(path.read_text())
        else:
            print(f"{path} missing: run without --report-only first", file=sys.stderr)
    if not studies:
        raise SystemExit("nothing to report")
    acc = [r for n, s in studies.items() for r in accuracy_rows(n, s)]
    layers = [r for n, s in studies.items() for r in layer_rows(n, s)]
    sizes = ", ".join(f"{n}: {s['images']['val']:,} validation / {s['images']['test']:,} test "
                      "images" for n, s in studies.items())
    md = [
        "# ReLU prediction (seed 003): accuracy and skipped convolutions",
        "",
        "Made by `python scripts/relupred.py` (configs: "
        + ", ".join(f"`{c.relative_to(ROOT)}`" for c in configs) + "). Accuracies are top-1 "
        "of the 8-bit integer network (torch integer mode, the contract the hardware follows) "
        f"with ReLU prediction in the conv layers; {sizes}. N_L: the smallest number of "
        "power-of-two levels whose validation accuracy stays within "
        f"{100 * next(iter(studies.values()))['max_loss']:g} point of the exact network, searched "
        "from 8 down to 1 (seed 003 §IV-B); bits = ceil(log2(2 N_L + 1)) per approximate "
        "weight (SignConnect: {-1, 0, +1}). Prop-1 / SignConnect-1 predict every conv layer, "
        "Prop-2 / SignConnect-2 all but the first. The seed's numbers are for Caffe's "
        "LeNet (20/50 channels) on MNIST; ours is LeNet-5 (6/16 channels). CIFAR-10, the "
        "seed's other small benchmark, is not available here: the Fashion-MNIST CNN stands "
        "in for it.",
        "",
        "## Accuracy (seed 003 Table I style)",
        "",
        *table(["network", "variant", "N_L", "bits", "val. top-1", "test top-1",
                "conv outputs skipped", "seed 003 (LeNet)"], acc),
        "",
        "## Per conv layer (test split; seed 003 Figs. 1, 2)",
        "",
        "Negative: exact pre-activation <= 0, so the ReLU output is 0 and the convolution was "
        "redundant. Max-pool: outputs the following 2x2 max-pool does not select. Skipped: "
        "predicted negative, the exact convolution is not computed; in brackets the part of "
        "those whose exact output was positive (the prediction's errors, which change the "
        "network's output).",
        "",
        *table(["network", "layer (O, I, k, k)", "negative", "max-pool discards",
                *(f"skipped {v}" for v in VARIANT_ORDER)], layers),
        "",
        "![N_L search](levels.png)",
        "",
        "![skipped convolutions](skipped.png)",
        "",
    ]
    plot_levels(studies, OUT / "levels.png")
    plot_skipped(studies, OUT / "skipped.png")
    atomic_write_bytes(OUT / "relupred.md", "\n".join(md).encode())
    atomic_write_bytes(OUT / "relupred.json", (json.dumps(studies, indent=1) + "\n").encode())
    print(f"wrote {OUT / 'relupred.md'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, action="append",
                    help="training config of a CNN (repeatable; default: LeNet-5/MNIST and "
                    "the Fashion-MNIST CNN)")
    ap.add_argument("--max-loss", type=float, default=0.01)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    configs = [c.resolve() for c in args.config] if args.config else list(CONFIGS)
    if not args.report_only:
        for config in configs:
            build(config, args.max_loss)
    report(configs)


if __name__ == "__main__":
    main()

"""Describe the generated JSC data set (issue 11 item 2/3): class-conditional feature
distributions, the groomed-mass peaks, size, generation time and checksum.

    python scripts/jsc_data.py [--jsc-dir data/jsc] [--out results/jsc]

Reads the raw (unstandardised) features of ``jsc_features.npz`` and ``generation.json``;
writes ``OUT/data.md``, ``OUT/data.json`` and ``OUT/distributions.png`` (one panel per
feature, one histogram per class). The groomed mass peak of a class is the centre of the
fullest 5 GeV bin between 40 and 250 GeV; W, Z and top jets should peak near 80, 91 and
173 GeV, gluon and quark jets should not peak there. The share of jets with groomed mass
below 40 GeV shows how often soft drop (z_cut = 0.1) removed a decay prong of a W, Z or top.

When a trained JSC model exists (``--model``, default the JSC-A job of
``configs/sweeps/jsc.yaml``), its test-set confusion matrix is added: it shows which classes
our generated jets leave hard to separate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hwnn.data.jsc import CLASSES, GENERATION_FILE
from hwnn.data.jsc_features import FEATURES
from hwnn.data.jsc_load import resolve_jsc_dir, verified_features
from hwnn.report.markdown import table, write_result

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_PEAK_GEV = {"w": 80.4, "z": 91.2, "t": 172.7}
LABELS = {"g": "gluon", "q": "light quark", "w": "W", "z": "Z", "t": "top"}


def mass_peak(mass: np.ndarray, lo: float = 40.0, hi: float = 250.0, width: float = 5.0
              ) -> float:
    """Centre of the fullest ``width`` GeV bin of ``mass`` in ``[lo, hi)``."""
    counts, edges = np.histogram(mass, bins=np.arange(lo, hi + width, width))
    k = int(np.argmax(counts))
    return float((edges[k] + edges[k + 1]) / 2)


def plot(x: np.ndarray, y: np.ndarray, path: Path) -> None:
    cols = 4
    rows = (len(FEATURES) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows))
    for k, (name, ax) in enumerate(zip(FEATURES, axes.flat, strict=False)):
        lo, hi = np.percentile(x[:, k], [0.5, 99.5])
        if name == "j_mass_mmdt":
            lo, hi = 0.0, 300.0
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 60)
        for c, cls in enumerate(CLASSES):
            ax.hist(x[y == c, k], bins=bins, histtype="step", density=True,
                    label=LABELS[cls])
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    for ax in list(axes.flat)[len(FEATURES):]:
        ax.axis("off")
    fig.suptitle("JSC features per class (generated with Pythia 8 + FastJet, groomed jets)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion(run_dir: Path) -> tuple[str, np.ndarray]:
    """Test-set confusion matrix (rows: true class, columns: predicted) of the trained model
    in ``run_dir`` (the last stage it trained), and the run's name."""
    from hwnn.data import load_dataset
    from hwnn.train.build import load_run
    from hwnn.train.metrics import predict

    cfg, model, _ = load_run(run_dir)
    dataset = load_dataset("jsc", seed=cfg.data.seed)
    test = dataset.test
    pred = predict(model, dataset, test.x).argmax(axis=1)
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(matrix, (np.asarray(test.y), pred), 1)
    return cfg.name, matrix


def confusion_lines(name: str, matrix: np.ndarray, per_class: dict[str, dict[str, Any]]
                    ) -> list[str]:
    """The confusion matrix as Markdown, with the share of W / Z jets taken for light quarks
    beside the share whose groomed mass fell below 40 GeV."""
    rows = [[LABELS[c]] + [f"{v:,}" for v in matrix[i]] + [f"{matrix[i, i] / matrix[i].sum():.1%}"]
            for i, c in enumerate(CLASSES)]
    acc = matrix.trace() / matrix.sum()
    q = CLASSES.index("q")
    as_quark = [matrix[CLASSES.index(c), q] / matrix[CLASSES.index(c)].sum() for c in "wz"]
    low_mass = [per_class[c]["mass_below_40_gev"] for c in "wz"]
    return ["", f"## Confusion matrix of `{name}` on the test split ({acc:.2%} accuracy)", "",
            *table(["true \\ predicted", *(LABELS[c] for c in CLASSES), "recall"], rows), "",
            f"W / Z jets predicted as light quark: {as_quark[0]:.1%} / {as_quark[1]:.1%}. W / Z "
            f"jets with groomed mass below 40 GeV: {low_mass[0]:.1%} / {low_mass[1]:.1%} (soft "
            "drop removed a decay prong and left a quark-like one-prong jet)."]


def describe(jsc_dir: Path | None, out: Path, model: Path | None = None) -> dict[str, Any]:
    root = resolve_jsc_dir(jsc_dir)
    path = verified_features(root)
    with np.load(path) as f:
        x, y = f["x"], f["y"]
    gen = json.loads((root / GENERATION_FILE).read_text())
    mass = x[:, FEATURES.index("j_mass_mmdt")]
    mult = x[:, FEATURES.index("j_multiplicity")]
    per_class = {cls: {"jets": int((y == c).sum()),
                       "mass_peak_gev": mass_peak(mass[y == c]),
                       "mass_median_gev": float(np.median(mass[y == c])),
                       "mass_below_40_gev": float((mass[y == c] < 40.0).mean()),
                       "multiplicity_median": float(np.median(mult[y == c]))}
                 for c, cls in enumerate(CLASSES)}
    out.mkdir(parents=True, exist_ok=True)
    plot(x, y, out / "distributions.png")
    result = {"source": str(root), "file_bytes": path.stat().st_size,
              "sha256": gen["sha256"], "versions": gen["versions"],
              "settings": gen["settings"], "events": gen["events"],
              "cpu_seconds": gen["cpu_seconds"], "per_class": per_class}
    rows = [[LABELS[c], f"{v['jets']:,}", f"{v['mass_peak_gev']:.1f}",
             f"{EXPECTED_PEAK_GEV[c]:.1f}" if c in EXPECTED_PEAK_GEV else "–",
             f"{v['mass_median_gev']:.1f}", f"{v['mass_below_40_gev']:.1%}",
             f"{v['multiplicity_median']:.0f}"]
            for c, v in per_class.items()]
    versions = ", ".join(f"{k} {v}" for k, v in gen["versions"].items())
    text = "\n".join([
        "# Generated JSC data set", "",
        f"Made by `hwnn data generate-jsc` ({versions}); described by `python "
        f"scripts/jsc_data.py`. Settings: `{json.dumps(gen['settings'])}`.", "",
        f"File: `{path.name}`, {path.stat().st_size / 2**20:.1f} MiB, sha256 "
        f"`{gen['sha256'][path.name]}`. Generation: "
        + ", ".join(f"{p} {gen['events'][p]:,} events in {gen['cpu_seconds'][p] / 3600:.2f} "
                    "CPU h" for p in gen["events"]) + ".", "",
        *table(["class", "jets", "groomed mass peak GeV", "expected", "median mass GeV",
                "groomed mass < 40 GeV", "median multiplicity"], rows), "",
        "![distributions](distributions.png)", "",
        "Accuracies on this data are not comparable with published JSC numbers, which come "
        "from a different generator chain (the hls4ml sample); methods are compared with "
        "each other on the same data.",
    ])
    if model is not None and (model / "model.pt").is_file():
        name, matrix = confusion(model)
        result["confusion"] = {"model": str(model), "classes": list(CLASSES),
                               "matrix": matrix.tolist()}
        text += "\n" + "\n".join(confusion_lines(name, matrix, per_class))
    text += "\n"
    write_result(out, "data", result, text)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsc-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "jsc")
    parser.add_argument("--model", type=Path, default=ROOT / "results" / "jsc" / "jobs" / "jsc_a",
                        help="trained JSC run whose test confusion matrix is added (if present)")
    args = parser.parse_args()
    result = describe(args.jsc_dir, args.out, args.model)
    for cls, v in result["per_class"].items():
        print(f"{cls}: {v['jets']:,} jets, groomed mass peak {v['mass_peak_gev']:.1f} GeV")


if __name__ == "__main__":
    main()

"""AddNet accuracy table (issue 7 item 4; seed 002 Table 6.9 style) from the AddNet sweep.

Reads ``results/addnet/jobs`` (``hwnn sweep configs/sweeps/addnet.yaml``) and, for the CNN's
8-bit row, the TNN sweep's ``cnn_8bit`` job (same config), and writes
``results/addnet/addnet.{md,json}``: test accuracy of float, 8-bit fixed point and AddNet
with 2/3/4-Add hidden layers, plus every layer's chosen coefficient set (size, KL
divergence, select bits vs coefficient bits).

Usage::

    python scripts/addnet.py
"""

from __future__ import annotations

import json
from pathlib import Path

from hwnn.quant.addnet import AddNetQuantizer
from hwnn.report.markdown import table, write_result
from hwnn.train.build import load_run

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "results" / "addnet" / "jobs"
OUT = ROOT / "results" / "addnet"
ROWS = [  # (network, label, job folder)
    ("MNIST MLP 784-64-32-10", "8-bit fixed point", JOBS / "mnist_8bit"),
    ("MNIST MLP 784-64-32-10", "AddNet 2-Add (KL)", JOBS / "mnist_addnet_adders2"),
    ("MNIST MLP 784-64-32-10", "AddNet 3-Add (KL)", JOBS / "mnist_addnet_adders3"),
    ("MNIST MLP 784-64-32-10", "AddNet 4-Add (KL)", JOBS / "mnist_addnet_adders4"),
    ("MNIST MLP 784-64-32-10", "AddNet 2-Add (Table 6.2 sets)", JOBS / "mnist_addnet_table62"),
    ("Fashion-MNIST CNN", "8-bit fixed point", ROOT / "results/tnn/jobs/cnn_8bit"),
    ("Fashion-MNIST CNN", "AddNet 2-Add (KL)", JOBS / "cnn_addnet_adders2"),
    ("Fashion-MNIST CNN", "AddNet 3-Add (KL)", JOBS / "cnn_addnet_adders3"),
    ("Fashion-MNIST CNN", "AddNet 4-Add (KL)", JOBS / "cnn_addnet_adders4"),
]


def job_row(network: str, label: str, folder: Path) -> dict | None:
    metrics = folder / "metrics.json"
    if not (folder / "model.pt").is_file() or not metrics.is_file():
        return None
    summary = json.loads(metrics.read_text())["summary_test"]
    _, model, _ = load_run(folder)
    layers = [m.weight_quant.describe() for m in model.modules()
              if isinstance(getattr(m, "weight_quant", None), AddNetQuantizer)]
    return {"network": network, "weights": label, "job": folder.name,
            "float": summary.get("float"), "final": summary.get("qat"), "layers": layers}


def markdown(rows: list[dict], missing: list[str]) -> str:
    lines = ["# AddNet accuracy (seed 002 Table 6.9 style)", "",
             "Made by `hwnn sweep configs/sweeps/addnet.yaml` then `python scripts/addnet.py`. "
             "Test accuracy after the float stage and after quantized retraining (same "
             "network, seed and budget per row; AddNet first and last layers use 4-Add, "
             "§6.6.3). CIFAR-10/ImageNet (the thesis's benchmarks) are not available here.",
             ""]
    body = [[r["network"], r["weights"], f"{100 * r['float']:.2f} %",
             f"{100 * r['final']:.2f} %",
             f"{100 * (r['final'] - r['float']):+.2f}"] for r in rows]
    lines += table(["network", "weights", "float", "quantized", "change (pts)"], body)
    lines += ["", "## Chosen coefficient sets", "",
              "Per AddNet layer: RCCM, distinct coefficients, KL divergence to the "
              "pre-trained weights (eq. 6.2), select bits stored per weight vs the bits of "
              "the coefficients themselves (§6.6.4).", ""]
    body = []
    for r in rows:
        for k, layer in enumerate(r["layers"]):
            if not layer.get("coefficients"):
                continue
            peak = max(abs(v) for v in layer["coefficients"])
            kl = "–" if layer["divergence"] is None else f"{layer['divergence']:.3f}"
            body.append([r["job"], k, f"{layer['n_add']}-Add", layer["size"], kl,
                         2 * layer["n_add"], peak.bit_length() + 1])
    lines += table(["job", "layer", "RCCM", "coefficients", "KL", "select bits",
                    "coefficient bits"], body)
    if missing:
        lines += ["", f"Not finished: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    rows, missing = [], []
    for network, label, folder in ROWS:
        row = job_row(network, label, folder)
        if row is None:
            missing.append(folder.name)
        else:
            rows.append(row)
    write_result(OUT, "addnet", {"rows": rows, "missing": missing}, markdown(rows, missing))
    print(markdown(rows, missing))


if __name__ == "__main__":
    main()

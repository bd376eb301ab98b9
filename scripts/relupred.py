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
#: the streaming accelerators measured (``hwnn stream``), IR variant -> label
STREAM_VARIANTS = {"net": "Baseline", "net_isolated": "Baseline + isolation",
                   "prop1": "Prop-1", "prop2": "Prop-2", "prop2_isolated": "Prop-2 + isolation"}
#: seed 003 Table II as printed (LeNet, xcvu9p, Vivado, 100 MHz): Baseline, Prop-1, its
#: stated change, Prop-2, its stated change
SEED_TABLE2 = {
    "dynamic power total": ("2.2057 W", "1.9565 W", "10.79 %", "1.9263 W", "12.17 %"),
    "dynamic power CONV": ("1.2749 W", "0.9357 W", "18.91 %", "0.9509 W", "19.00 %"),
    "dynamic power ApproxConv": ("0 W", "0.0943 W", "–", "0.0779 W", "–"),
    "dynamic power other": ("0.9308 W", "0.9265 W", "-0.46 %", "0.8975 W", "2.76 %"),
    "LUT": ("627,269", "685,650", "9.31 %", "680,867", "8.54 %"),
    "FF": ("297,106", "394,420", "32.75 %", "391,079", "31.63 %"),
    "latency": ("9,130 ns", "9,210 ns", "0.88 %", "9,165 ns", "0.38 %"),
    "energy / image": ("2.00E-4 J", "1.80E-4 J", "10.03 %", "1.77E-4 J", "11.83 %"),
}


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


def _number(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:,.3f}" if isinstance(x, float) and x < 100 else f"{x:,.0f}"


def _change(new: float | None, base: float | None) -> str:
    return "–" if new is None or not base else f"{100 * (new / base - 1):+.2f} %"


def hardware_rows(run: Path) -> list[list[str]]:
    """Seed 003 Table II for the run's streaming accelerators (``hwnn stream``): one row per
    quantity with Baseline, Prop-1 (change), Prop-2 (change) and the seed's printed row."""
    synth = _load(run / "stream_synth.json").get("designs", {})
    sim = _load(run / "stream_sim.json").get("designs", {})

    def asic(v: str, key: str, part: str | None = None) -> float | None:
        e = synth.get(f"{v}/asic", {})
        return e.get(key, {}).get(part) if part else e.get(key)

    quantities: list[tuple[str, str, Any]] = [
        ("dynamic power total", "mW", lambda v: asic(v, "dynamic_power_mw")),
        ("dynamic power CONV", "mW", lambda v: asic(v, "dynamic_power_by_unit_mw", "conv")),
        ("dynamic power ApproxConv", "mW",
         lambda v: asic(v, "dynamic_power_by_unit_mw", "approx_conv")),
        ("dynamic power operand registers", "mW (in seed's Other)",
         lambda v: asic(v, "dynamic_power_by_unit_mw", "operand_registers")),
        ("dynamic power line buffers", "mW (in seed's Other)",
         lambda v: asic(v, "dynamic_power_by_unit_mw", "line_buffers")),
        ("dynamic power other", "mW", lambda v: asic(v, "dynamic_power_by_unit_mw", "other")),
        ("leakage power", "mW",
         lambda v: (asic(v, "power_vectors_breakdown_mw") or {}).get("leakage")),
        ("LUT", "xc7 LUT6 incl. SRL", lambda v: synth.get(f"{v}/fpga", {}).get("luts")),
        ("FF", "xc7", lambda v: synth.get(f"{v}/fpga", {}).get("flip_flops")),
        ("area", "Nangate45 µm²", lambda v: asic(v, "area_um2")),
        ("cells", "Nangate45", lambda v: asic(v, "cells")),
        ("FF (ASIC)", "Nangate45", lambda v: asic(v, "flip_flops")),
        ("fmax", "MHz", lambda v: asic(v, "fmax_mhz")),
        ("latency", "ns at 100 MHz",
         lambda v: None if sim.get(v) is None else sim[v]["latency_cycles"] * 10.0),
        ("energy / image", "nJ (dynamic)", lambda v: asic(v, "dynamic_energy_per_image_nj")),
        ("gate-level vs IR", "mismatching pixels",
         lambda v: asic(v, "gate_level_vs_ir_mismatching_pixels")),
        ("RTL vs IR", "mismatching pixels",
         lambda v: None if sim.get(v) is None else sim[v]["mismatching_pixels"]),
        ("torch integer mode vs IR", "mismatching images",
         lambda v: (sim.get(v) or {}).get("torch_vs_ir_mismatching_images")),
    ]
    rows = []
    for name, unit, get in quantities:
        base, *others = (get(v) for v in STREAM_VARIANTS)
        seed = SEED_TABLE2.get(name, ("",) * 5)
        cells = [name, unit, _number(base)]
        for value in others:
            cells += [_number(value), _change(value, base)]
        rows.append([*cells, " / ".join(seed[:2] + seed[3:4]) if seed[0] else "",
                     f"{seed[2]} / {seed[4]}" if seed[0] else ""])
    return rows


def prediction_saving(run: Path) -> list[str]:
    """Sentences on the CONV units' power of Prop-1/2 against the isolated baseline, whose
    CONV units see the same windows except the skipped ones (the prediction's own saving)."""
    synth = _load(run / "stream_synth.json").get("designs", {})
    conv = {v: synth.get(f"{v}/asic", {}).get("dynamic_power_by_unit_mw", {}).get("conv")
            for v in STREAM_VARIANTS}
    if conv["net_isolated"] is None:
        return []
    parts = [f"{STREAM_VARIANTS[v]} {_change(conv[v], conv['net_isolated'])}"
             for v in ("prop1", "prop2_isolated") if conv[v] is not None]
    return ["Power of the CONV units against Baseline + isolation, whose CONV units see the "
            "same windows except the skipped ones (Prop-1 isolates every layer with its "
            "per-channel registers; Prop-2's first layer is isolated only in Prop-2 + "
            f"isolation), i.e. the prediction's own saving: {', '.join(parts)}.", ""]


def hardware_section(run: Path) -> list[str]:
    """The markdown of the streaming-accelerator comparison (empty before ``hwnn stream``)."""
    synth = _load(run / "stream_synth.json").get("designs", {})
    if not synth:
        return []
    power = next((e for e in synth.values() if "dynamic_power_mw" in e), {})
    sim = _load(run / "stream_sim.json").get("designs", {})
    sims = ", ".join(f"{label} {sim[v]['images']:,}" for v, label in STREAM_VARIANTS.items()
                     if v in sim)
    return [
        f"## Streaming accelerator hardware, {run.name} (seed 003 Table II style)",
        "",
        f"Made by `hwnn stream {run.relative_to(ROOT)} --variant V --target asic|fpga` for V in "
        "net (Baseline), prop1, prop2, and with `--operand-isolation` for net and prop2 "
        "(the controls: one window register per unpredicted layer, shared by its CONV "
        "units, that loads complete windows only; the prediction's per-channel registers do "
        "that too, so the CONV saving of Prop-1/2 against Baseline has two parts, the "
        "image-edge positions and the skipped outputs): the streaming accelerator of "
        "`hwnn.logic.stream` "
        "(seed 003 §V: line buffers as registers, one CONV unit per output channel, "
        "ApproxConv + ReLUPred units, 2x2 max-pool) of the two conv layers; its output is "
        "the last pooled feature map, the FC layers are not part of it. Our skip is "
        "operand isolation: a CONV unit whose output is predicted negative keeps its "
        "operand registers, so its logic does not switch "
        "(the seed clock-gates the CONV circuitry). ASIC: Nangate45 typical corner, Yosys + "
        "ABC one unit at a time, OpenSTA fmax; dynamic power at 100 MHz (the seed's clock) "
        "from the net activity of a gate-level simulation of "
        f"{power.get('power_images', '–')} test images "
        f"({power.get('power_vectors_source', '')}: every digit, as in the seed) with "
        "`hwnn.eda.cyclesim`, which counts exactly the toggles Icarus counts on the mapped "
        "netlist, annotated in OpenSTA; CONV = cells of the CONV units, ApproxConv = cells of "
        "the ApproxConv/ReLUPred units, operand registers and line buffers = their "
        "flip-flops, other = the rest (their enable multiplexers, pools, counters and "
        "control). The same simulation compares the netlist's outputs with the IR reference "
        "(gate-level row). FPGA: xc7 via Yosys "
        "`synth_xilinx -nodsp` (the seed: xcvu9p with Vivado 2018.3, BRAM line buffers; we "
        "have no Vivado, so LUT/FF counts are comparable only as changes). Latency: cycles "
        "from an image's first pixel to its last output, times 10 ns; energy/image = dynamic "
        f"power × latency. RTL vs IR: Verilator on the first test images ({sims}), whose "
        "network outputs in the IR reference are compared with the torch integer mode "
        "with the same prediction (last row). Changes are "
        "new / Baseline - 1 (the seed prints its savings as positive numbers). The designs "
        "close timing below 100 MHz (fmax row); power at 100 MHz is the seed's operating "
        "point, and dynamic power scales with the clock, so the changes and the energy per "
        "image (a per-cycle energy times cycles) do not depend on it.",
        "",
        *table(["quantity", "unit", "Baseline",
                *(c for v in list(STREAM_VARIANTS.values())[1:] for c in (v, "change")),
                "seed 003: Baseline / Prop-1 / Prop-2", "seed 003 stated change"],
               hardware_rows(run)),
        "",
        *prediction_saving(run),
    ]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


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
        *hardware_section(OUT / "lenet5_mnist"),
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

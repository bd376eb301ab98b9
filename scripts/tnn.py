"""Sparse TNN results (seed 002 ch. 3) from the ``configs/sweeps/tnn.yaml`` sweep.

For every finished job: test accuracy after each stage, sparsity per layer, and the weight
codecs (:mod:`hwnn.codec`: bits per weight and compression ratio against 2-bit dense
storage, RLE and Huffman, per layer and per network). Then the effective-throughput model
(:mod:`hwnn.cost.throughput`, §3.4.4) with the measured non-zero fraction ``gamma`` of each
TNN: the decoder cost ``C_d`` is the LUT count of the RLE decompressor
(:mod:`hwnn.logic.rle_decoder`) synthesised with Yosys ``synth_xilinx`` at the widest gap
field and index width the networks need. Dense BNNs need no decoder (``C_e = C_op``).

Writes ``results/tnn/{tnn.md, tnn.json, sparsity.png, throughput.png}``. Usage::

    hwnn sweep configs/sweeps/tnn.yaml
    python scripts/tnn.py
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hwnn.atomic import atomic_write_bytes
from hwnn.codec import network_codec_report
from hwnn.cost.throughput import (
    KU115,
    TYPE1_MAC,
    TYPE2_MAC,
    break_even_gamma,
    effective_tops,
    peak_tops,
)
from hwnn.report.markdown import table
from hwnn.report.power import STALE_POWER_NOTE, power_withheld, vector_power_mw
from hwnn.sweep import load_sweep, write_report
from hwnn.sweep.report import collect_job, dig

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "configs" / "sweeps" / "tnn.yaml"
PARETO_SWEEP = ROOT / "configs" / "sweeps" / "pareto.yaml"
#: Hardware rows made by another sweep: same config and seed, so the same network (the IRs
#: were compared byte for byte), synthesised once. pareto job -> row name here.
SHARED_JOBS = {"mnist_8bit": "hw_mnist_8bit"}
OUT = ROOT / "results" / "tnn"
STAGES = ("finetune", "qat", "float")
REUSE = (1, 16, 256)  # R = B for fully connected layers (batch 1, 16, 256)
TYPES = {"type 1 (binary activations, 5 LUT/MAC)": TYPE1_MAC,
         "type 2 (float activations, 2 DSP/MAC)": TYPE2_MAC}


WEIGHTS_FILE = "weights.json"  # per job: gamma, per-layer sparsity, codec sizes


def weight_summary(run_dir: Path, kind: str, summary: dict[str, Any],
                   previous: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Non-zero fraction ``gamma``, per-layer sparsity and (ternary) codec sizes of a job's
    trained weights, kept in ``RUN/weights.json``. Computed from ``model.pt`` when it is
    there; otherwise read from ``weights.json``; otherwise taken once from the previous
    ``results/tnn/tnn.json`` row of the same run (same float and final test accuracy: the
    early TNN jobs were committed without ``model.pt``) and written to ``weights.json``
    with that source. None when none of these exists (retrain the job)."""
    from hwnn.train.build import load_run
    from hwnn.train.weight_stats import layer_weight_codes

    path = run_dir / WEIGHTS_FILE
    if (run_dir / "model.pt").is_file():
        _, model, _ = load_run(run_dir)
        weights = layer_weight_codes(model)  # type: ignore[arg-type]
        nonzero = sum(int((w != 0).sum()) for w in weights.values())
        data = {"source": "model.pt",
                "gamma": nonzero / sum(w.size for w in weights.values()),
                "layer_sparsity": {k: 1 - int((w != 0).sum()) / w.size
                                   for k, w in weights.items()},
                "codec": (network_codec_report(weights)
                          if kind in ("ternary", "syq_ternary") else None)}
    elif path.is_file():
        return json.loads(path.read_text())
    else:
        old = previous.get(run_dir.name)
        final = next((summary[k] for k in STAGES if summary.get(k) is not None), None)
        if not old or old.get("float") != summary.get("float") or old.get("final") != final:
            return None
        data = {"source": "results/tnn/tnn.json before this file existed (the run's model.pt "
                          "was not kept)",
                **{k: old[k] for k in ("gamma", "layer_sparsity", "codec")}}
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
    return data


def job_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    previous = ({r["name"]: r for r in json.loads((OUT / "tnn.json").read_text())["rows"]
                 if r.get("status") == "done"} if (OUT / "tnn.json").is_file() else {})
    rows = []
    for job in report["jobs"]:
        s = job["summary_test"]
        run_dir = ROOT / job["run_dir"]
        if job["status"] != "done" or not s:
            rows.append({"name": job["name"], "status": job["status"]})
            continue
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        kind = cfg.get("model", {}).get("weights", "uniform")
        if cfg.get("train", {}).get("qat") is None:
            kind = "float only"  # e.g. cnn_float: the float stage the SYQ CNN jobs reuse
        stats = weight_summary(run_dir, kind, s, previous)
        if stats is None:
            rows.append({"name": job["name"], "status": "model missing (retrain)"})
            continue
        prop = job["designs"].get("prop") or {}
        rows.append({
            "name": job["name"], "status": "done", "weights": kind,
            "hw": None if not prop else {
                "area_um2": dig(prop, "asic", "area_um2"),
                "fmax_mhz": dig(prop, "asic", "fmax_mhz"),
                "power_mw": vector_power_mw(dig(prop, "asic")),
                "power_withheld": power_withheld(dig(prop, "asic")),
                "gate_mismatches": dig(prop, "asic", "gate_level_vs_ir_mismatches"),
                "lut6": dig(prop, "fpga", "luts"), "sim_passed": dig(prop, "sim", "passed")},
            "task": cfg.get("data", {}).get("task"),
            "eta": cfg.get("model", {}).get("eta") if kind == "ternary" else None,
            "l2": cfg.get("train", {}).get("l2_quant"),
            "granularity": (cfg.get("model", {}).get("syq_granularity", "layer")
                            if kind.startswith("syq") else None),
            "float": s.get("float"),
            "final": next((s[k] for k in STAGES if s.get(k) is not None), None),
            "gamma": stats["gamma"], "layer_sparsity": stats["layer_sparsity"],
            "codec": stats["codec"],
        })
    return rows


def decoder_luts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Synthesize the RLE decoder at the widest gap field / index the TNNs use."""
    from hwnn.eda.yosys import synth_fpga
    from hwnn.logic.rle_decoder import rle_decoder_verilog

    codecs = [r["codec"] for r in rows if r.get("codec")]
    if not codecs:
        return {}
    gap_bits = max(v["rle_gap_bits"] for c in codecs for v in c["layers"].values())
    index_bits = max(math.ceil(math.log2(v["weights"])) + 1
                     for c in codecs for v in c["layers"].values())
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "dec.v"
        src.write_text(rle_decoder_verilog(gap_bits, index_bits))
        fpga = synth_fpga([src], "rle_decoder", tmp, timeout_s=600, use_dsp=False)
    return {"gap_bits": gap_bits, "index_bits": index_bits, "luts": fpga.luts,
            "flip_flops": fpga.flip_flops, "carry4": fpga.carry}


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def markdown(rows: list[dict[str, Any]], dec: dict[str, Any]) -> str:
    done = [r for r in rows if r["status"] == "done"]
    lines = ["# Sparse ternary networks (seed 002 ch. 3)", "",
             "Made by `hwnn sweep configs/sweeps/tnn.yaml` then `python scripts/tnn.py`. "
             "MLP 784-256-256-10 with 8-bit ReLU activations on MNIST and Fashion-MNIST, and "
             "the small Fashion-MNIST CNN of configs/fashion_cnn.yaml (cnn_* jobs) "
             "(the thesis's CIFAR-10 CNNs: data not available here). 'final' = test accuracy "
             "after quantization pruning + retraining (TNN) or QAT (BNN, 8-bit). Sizes: "
             "dense = 2 bits per weight; RLE = (gap field + sign) per entry; Huffman = "
             "codewords + sign bits + code table.", ""]
    body = []
    for r in done:
        c = (r["codec"] or {}).get("total", {})
        body.append([r["name"], r["weights"], "–" if r["eta"] is None else str(r["eta"]),
                     "–" if r["l2"] is None else f"{r['l2']:g}", _pct(r["float"]),
                     _pct(r["final"]), f"{100 * (1 - r['gamma']):.1f} %",
                     f"{c['rle_bits_per_weight']:.3f}" if c else "–",
                     f"{c['huffman_bits_per_weight']:.3f}" if c else "–",
                     f"{c['rle_ratio']:.2f}x / {c['huffman_ratio']:.2f}x" if c else "–"])
    lines += table(["job", "weights", "eta", "lambda", "float", "final", "zeros",
                    "RLE bit/w", "HC bit/w", "ratio RLE / HC"], body)
    pending = [r["name"] for r in rows if r["status"] != "done"]
    if pending:
        lines += ["", f"Not finished: {', '.join(pending)}."]
    hw = [r for r in done if r["hw"]]
    if hw:
        lines += ["", "## MLP variants in logic (784-64-32-10, weights embedded)", "",
                  "Nangate45 (Yosys + ABC, OpenSTA; power at 500 MHz from 1,000 test vectors) "
                  "and xc7 LUT6 (Yosys synth_xilinx). 'sim': RTL vs IR vs torch on 10,000 test "
                  "vectors; 'gate': mapped netlist vs IR on the power vectors.", ""]

        def n(v: Any, spec: str) -> str:
            return "–" if v is None else format(v, spec)

        lines += table(["job", "weights", "accuracy", "zeros", "area µm²", "fmax MHz",
                        "power mW", "LUT6", "sim", "gate"],
                       [[r["name"], r["weights"], _pct(r["final"]),
                         f"{100 * (1 - r['gamma']):.1f} %", n(r["hw"]["area_um2"], ",.0f"),
                         n(r["hw"]["fmax_mhz"], ".1f"), n(r["hw"]["power_mw"], ".1f"),
                         n(r["hw"]["lut6"], ","),
                         {True: "0 mismatches", False: "FAIL", None: "–"}[r["hw"]["sim_passed"]],
                         n(r["hw"]["gate_mismatches"], "d")] for r in hw])
        if any(r["hw"]["power_withheld"] for r in hw):
            lines += ["", STALE_POWER_NOTE]
    syq = [r for r in done if r["granularity"] is not None]
    if syq:
        lines += ["", "## SYQ granularity (seed 002 ch. 5, Table 5.x style)", ""]
        lines += table(["job", "weights", "scales", "float", "SYQ", "zeros"],
                       [[r["name"], r["weights"], r["granularity"], _pct(r["float"]),
                         _pct(r["final"]), f"{100 * (1 - r['gamma']):.1f} %"] for r in syq])
    lines += ["", "## Per-layer sparsity", "",
              "Share of zero weights per weight layer, one table per network shape; columns "
              "are weight layers in network order (module index in brackets)."]
    shapes: dict[tuple[str, ...], list[dict]] = {}
    for r in done:
        key = tuple(sorted(r["layer_sparsity"], key=lambda k: (len(k), k)))
        shapes.setdefault(key, []).append(r)
    for layer_names, rows in shapes.items():
        lines.append("")
        lines += table(["job", *(f"layer {i + 1} [{k}]" for i, k in enumerate(layer_names))],
                       [[r["name"], *(f"{100 * r['layer_sparsity'][k]:.1f} %"
                                      for k in layer_names)] for r in rows])
    if dec:
        lines += ["", "## Effective throughput (§3.4.4) with our gamma", "",
                  f"KU115 at 250 MHz, 70 % of LUTs / all DSPs. Decoder C_d: the RLE "
                  f"decompressor ({dec['gap_bits']}-bit gaps, {dec['index_bits']}-bit index) "
                  f"synthesised with Yosys synth_xilinx = {dec['luts']} LUTs. TOPs = 2 x MAC/s.",
                  ""]
        head = ["job", "gamma", *(f"{t.split(' (')[0]}, R={r}" for t in TYPES for r in REUSE)]
        rows_t = []
        for r in done:
            if r["codec"] is None:
                continue
            rows_t.append([r["name"], f"{r['gamma']:.3f}", *(
                f"{effective_tops(KU115, mac, dec['luts'], r['gamma'], reuse):.1f}"
                for mac in TYPES.values() for reuse in REUSE)])
        rows_t.append(["dense BNN (no decoder)", "1", *(
            f"{peak_tops(KU115, mac):.1f}" for mac in TYPES.values() for _ in REUSE)])
        lines += table(head, rows_t)
        lines += ["", "Break-even gamma (the sparse TNN beats the dense BNN below it):", ""]
        lines += table(["type", *(f"R={r}" for r in REUSE)], [
            [t, *(f"{break_even_gamma(KU115.share(**mac), KU115.share(luts=dec['luts']), r):.3f}"
                  for r in REUSE)] for t, mac in TYPES.items()])
        lines += ["", throughput_conclusion(done, dec)]
    return "\n".join(lines) + "\n"


def throughput_conclusion(done: list[dict[str, Any]], dec: dict[str, Any]) -> str:
    """The thesis's qualitative claim (§3.4.4, Figs. 3.6/3.7) checked with our gammas: one
    paragraph, every number computed from the table above."""
    tnn = [r for r in done if r["codec"] is not None and r["weights"] == "ternary"]
    if not tnn:
        return ""
    gammas = sorted(r["gamma"] for r in tnn)
    decoder = KU115.share(luts=dec["luts"])
    be = {t: {r: break_even_gamma(KU115.share(**mac), decoder, r) for r in REUSE}
          for t, mac in TYPES.items()}
    parts = [f"{t.split(' (')[0]}: " + ", ".join(
        f"{sum(g < be[t][r] for g in gammas)} of {len(gammas)} at R={r} "
        f"(break-even gamma {be[t][r]:.2f})" for r in REUSE) for t in TYPES]
    t1, t2 = list(TYPES)[:2]
    be1 = [be[t1][r] for r in REUSE]
    be2 = be[t2][REUSE[0]]
    return (
        f"**Conclusion.** Our sparse TNNs have gamma from {gammas[0]:.3f} to {gammas[-1]:.3f}. "
        "Sparse TNNs that beat the dense BNN in effective throughput: " + "; ".join(parts)
        + ". This is the thesis's conclusion: a sparse TNN wins when gamma is low enough for "
        "the re-use R to amortise its decoder. With cheap operations (type 1, 5 LUTs per MAC) "
        f"and no re-use the decoder dominates and the break-even gamma is {be1[0]:.2f}, so only "
        f"the sparsest nets win; re-use of {REUSE[1]} raises it to {be1[1]:.2f} and "
        f"{REUSE[-1]} to {be1[-1]:.2f}. With costly operations (type 2, DSP MACs) the decoder "
        f"is small beside a MAC and sparsity pays even at R={REUSE[0]} (break-even "
        f"{be2:.2f}). Past break-even the gain grows as 1/gamma, so the L2 + "
        "quantization-pruning runs (lowest gamma) gain the most.")


def plot(rows: list[dict[str, Any]], dec: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["status"] == "done" and r["weights"] == "ternary"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for task, marker in (("mnist", "o"), ("fashion", "s")):
        pts = [r for r in done if r["task"] == task]
        for l2 in sorted({r["l2"] for r in pts}):
            sel = sorted((r for r in pts if r["l2"] == l2), key=lambda r: r["eta"])
            axes[0].plot([r["eta"] for r in sel], [100 * (1 - r["gamma"]) for r in sel],
                         marker=marker, label=f"{task}, λ={l2:g}")
            axes[1].plot([r["eta"] for r in sel], [100 * r["final"] for r in sel],
                         marker=marker, label=f"{task}, λ={l2:g}")
    axes[0].set(xlabel="threshold η", ylabel="zero weights (%)", title="sparsity vs η, λ")
    axes[1].set(xlabel="threshold η", ylabel="test accuracy (%)", title="accuracy vs η, λ")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "sparsity.png", dpi=120)
    plt.close(fig)
    if not dec:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    gammas = [g / 100 for g in range(2, 101)]
    for ax, (name, mac) in zip(axes, TYPES.items(), strict=True):
        for reuse in REUSE:
            ax.plot(gammas, [effective_tops(KU115, mac, dec["luts"], g, reuse) for g in gammas],
                    label=f"sparse TNN, R={reuse}")
        ax.axhline(peak_tops(KU115, mac), color="black", ls="--", label="dense BNN")
        for r in done:
            ax.axvline(r["gamma"], color="gray", lw=0.5, alpha=0.6)
        ax.set(xlabel="γ (non-zero fraction; grey: our TNNs)", ylabel="effective TOPs",
               title=name, yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "throughput.png", dpi=120)
    plt.close(fig)


def shared_jobs() -> list[dict[str, Any]]:
    """The :data:`SHARED_JOBS` of the Pareto sweep, as report rows under their names here."""
    spec, jobs = load_sweep(PARETO_SWEEP)
    rows = [collect_job(Path(spec.out) / j.name, j) for j in jobs if j.name in SHARED_JOBS]
    return [{**r, "name": SHARED_JOBS[r["name"]]} for r in rows]


def main() -> None:
    spec, jobs = load_sweep(SWEEP)
    report = write_report(spec, jobs)
    rows = job_rows({"jobs": report["jobs"] + shared_jobs()})
    dec = decoder_luts(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(OUT / "tnn.md", markdown(rows, dec).encode())
    atomic_write_bytes(OUT / "tnn.json", (json.dumps(
        {"rows": rows, "decoder": dec, "device": KU115.__dict__}, indent=2) + "\n").encode())
    plot(rows, dec)
    print(f"wrote {OUT / 'tnn.md'}")


if __name__ == "__main__":
    main()

"""Foundation results (issue "Foundation"): the numbers its closing note asks for, measured.

Writes ``results/foundation/`` (or ``--out``):

* ``runs/<name>/`` — one training run per shipped config (``nid_a``, ``mnist_mlp``,
  ``ofc_a``): float → 8-bit QAT → magnitude pruning → fine-tune, selected on validation;
  each run folder holds its ``config.yaml`` and ``metrics.json``.
* ``ofc_length/L<km>/`` — the OFC-A network (float → 8-bit QAT, no pruning) trained at each
  fibre length of the sweep, everything else at the ``OFCConfig`` defaults.
* ``results.json`` — every number below, plus the settings that made them;
  ``results.md`` — the same as tables.

Rerunning resumes unfinished runs and reuses finished ones (delete a run folder to redo it).

Run: ``.venv/bin/python scripts/foundation_results.py [--lengths 4 4.25 4.5 4.75]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from hwnn.config import RunConfig, load_config, parse_config
from hwnn.data import load_dataset, verify_all
from hwnn.data.ofc import OFCConfig
from hwnn.data.paths import resolve_data_dir
from hwnn.train.build import dataset_summary
from hwnn.train.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
MAIN_CONFIGS = ("nid_a", "mnist_mlp", "ofc_a")
DEFAULT_LENGTHS = (3.5, 4.0, 4.25, 4.35, 4.4, 4.5, 4.6, 4.75, 5.0)


def train_run(cfg: RunConfig, out: Path) -> dict[str, Any]:
    """Train (or resume, or reuse) one run and return its metrics."""
    dataset = load_dataset(cfg.data.task, cfg.data.data_dir, cfg.data.seed, cfg.data.ofc)
    t0 = time.perf_counter()
    metrics = Trainer(cfg, dataset, out, progress=False).run()
    print(f"{cfg.name}: done in {time.perf_counter() - t0:.0f}s -> {out}", flush=True)
    return metrics


def length_config(base: RunConfig, length_km: float) -> RunConfig:
    """OFC-A at another fibre length: float + QAT only (pruning is not part of this table)."""
    raw = base.to_yaml_dict()
    raw["name"] = f"ofc_a_L{length_km:g}km"
    raw["data"]["ofc"] = {**raw["data"].get("ofc", {}), "length_km": length_km}
    raw["train"].pop("prune", None)
    return parse_config(raw, f"length sweep {length_km} km")


def stage_scores(metrics: dict[str, Any]) -> dict[str, Any]:
    """Test metric per stage (float / qat / pruned before fine-tune / fine-tuned)."""
    summary = dict(metrics["summary_test"])
    summary["val"] = {k: v["val"][summary["metric"]] for k, v in metrics["stages"].items()}
    summary["sparsity"] = metrics["sparsity"]["total"]
    return summary


def fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.2f} %" if metric == "accuracy" else f"{value:.2e}"


def write_markdown(result: dict[str, Any], path: Path) -> None:
    lines = ["# Foundation results", "",
             f"Made by `{result['command']}` on {result['date']} "
             f"({result['machine']['cpus']} CPUs, torch {result['machine']['torch']}).", "",
             "## Data", "",
             f"`hwnn data verify`: {result['data_verify']['ok']} of "
             f"{result['data_verify']['files']} files verified.", ""]
    nid = result["nid"]
    lines += [f"NID (UNSW-NB15 testing-set CSV, our stratified 60/20/20 split, seed 0): "
              f"encoded width **{nid['input_width']} bits** (encoder fitted on train), sizes "
              f"{nid['sizes']}, class balance normal/attack {nid['class_balance']}.", "",
              "## Trained networks (test split; selected on validation)", "",
              "| run | metric | float | 8-bit QAT | pruned (no fine-tune) | pruned + fine-tuned "
              "| sparsity |", "|---|---|---|---|---|---|---|"]
    for name, s in result["runs"].items():
        m = s["metric"]
        lines.append(f"| {name} | {m} | {fmt(m, s.get('float'))} | {fmt(m, s.get('qat'))} | "
                     f"{fmt(m, s.get('pruned_before_finetune'))} | {fmt(m, s.get('finetune'))} "
                     f"| {s['sparsity']:.0%} |")
    ofc = result["ofc_default"]
    lines += ["", "## OFC at the default channel", "",
              f"{ofc['channel']}; test set {ofc['test_symbols']:,} symbols.", "",
              "| equaliser | test BER |", "|---|---|",
              f"| 21-tap least-squares linear FFE | {fmt('ber', ofc['linear_ffe'])} |",
              f"| float MLP 21-40-25-1 | {fmt('ber', ofc['float_mlp'])} |",
              f"| 8-bit QAT MLP 21-40-25-1 | {fmt('ber', ofc['qat_mlp'])} |", "",
              "## OFC BER vs fibre length (OFC-A network, other settings at defaults)", "",
              "| length (km) | fading null (GHz) | linear FFE | float MLP | 8-bit QAT MLP |",
              "|---|---|---|---|---|"]
    for row in result["ofc_length_sweep"]:
        lines.append(f"| {row['length_km']:g} | {row['fading_null_ghz']:.1f} | "
                     f"{fmt('ber', row['linear_ffe'])} | {fmt('ber', row['float_mlp'])} | "
                     f"{fmt('ber', row['qat_mlp'])} |")
    lines += ["", f"BER 0 means no bit error in {ofc['test_symbols']:,} test symbols "
              f"({2 * ofc['test_symbols']:,} bits).", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "foundation")
    parser.add_argument("--lengths", type=float, nargs="+", default=list(DEFAULT_LENGTHS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    rows = verify_all(resolve_data_dir())
    result: dict[str, Any] = {
        "command": "python scripts/foundation_results.py --lengths "
                   + " ".join(f"{x:g}" for x in args.lengths),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "data_verify": {"files": len(rows), "ok": sum(ok for _, ok, _ in rows),
                        "failed": [p for p, ok, _ in rows if not ok]},
    }
    nid = dataset_summary(load_dataset("nid"))
    result["nid"] = {k: nid[k] for k in ("input_width", "sizes", "class_balance")}

    configs = {name: load_config(ROOT / "configs" / f"{name}.yaml") for name in MAIN_CONFIGS}
    result["configs"] = {name: cfg.to_yaml_dict() for name, cfg in configs.items()}
    metrics = {name: train_run(cfg, out / "runs" / name) for name, cfg in configs.items()}
    result["runs"] = {name: stage_scores(m) for name, m in metrics.items()}

    ofc_info = metrics["ofc_a"]["dataset"]["info"]
    default = configs["ofc_a"].data.ofc or OFCConfig()  # the channel OFC-A trained on
    result["ofc_default"] = {
        "channel": (f"{default.baud_gbd:g} GBd PAM4, {default.length_km:g} km SSMF "
                    f"(D = {default.dispersion_ps_nm_km:g} ps/nm/km at "
                    f"{default.wavelength_nm:g} nm), ER {default.extinction_ratio_db:g} dB, "
                    f"electrical SNR {default.snr_db:g} dB, Tx/Rx Gaussian "
                    f"{default.tx_bandwidth:g}/{default.rx_bandwidth:g} x baud"),
        "test_symbols": default.n_test,
        "linear_ffe": ofc_info["linear_ffe_test_ber"],
        "float_mlp": result["runs"]["ofc_a"]["float"],
        "qat_mlp": result["runs"]["ofc_a"]["qat"],
    }

    sweep = []
    for length in args.lengths:
        cfg = length_config(configs["ofc_a"], length)
        m = train_run(cfg, out / "ofc_length" / f"L{length:g}")
        info = m["dataset"]["info"]
        sweep.append({"length_km": length, "fading_null_ghz": info["fading_null_ghz"],
                      "linear_ffe": info["linear_ffe_test_ber"],
                      "float_mlp": m["summary_test"]["float"],
                      "qat_mlp": m["summary_test"]["qat"], "config": cfg.to_yaml_dict()})
        result["ofc_length_sweep"] = sweep
        (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    result["ofc_length_sweep"] = sweep
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "settings.yaml").write_text(yaml.safe_dump(
        {"lengths_km": args.lengths, "configs": list(MAIN_CONFIGS)}, sort_keys=False))
    write_markdown(result, out / "results.md")
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()

"""Foundation benchmarks: one training epoch of the MNIST MLP (float and 8-bit QAT) and the
OFC data-generation rate. Writes ``benchmarks/results/foundation.json``.

Run: ``.venv/bin/python benchmarks/bench_foundation.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import torch

from hwnn.config import load_config
from hwnn.data import load_dataset
from hwnn.data.ofc import OFCConfig, simulate_split
from hwnn.nn import set_quant_enabled
from hwnn.train.build import build_model
from hwnn.train.metrics import loss_fn, model_inputs

ROOT = Path(__file__).resolve().parents[1]


def time_epochs(repeats: int) -> dict[str, object]:
    cfg = load_config(ROOT / "configs" / "mnist_mlp.yaml")
    ds = load_dataset("mnist")
    x_all = model_inputs(ds, ds.train.x)
    y_all = torch.from_numpy(ds.train.y)
    out: dict[str, object] = {"samples": len(x_all), "batch_size": cfg.train.batch_size,
                              "hidden": cfg.model.hidden}
    for mode in ("float", "qat"):
        torch.manual_seed(0)
        model = build_model(cfg.model, ds)
        set_quant_enabled(model, mode == "qat")
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for rep in range(repeats + 1):
            order = torch.randperm(len(x_all))
            t0 = time.perf_counter()
            model.train()
            for start in range(0, len(order), cfg.train.batch_size):
                idx = order[start : start + cfg.train.batch_size]
                opt.zero_grad()
                loss_fn(ds, model(x_all[idx]), y_all[idx]).backward()
                opt.step()
            if rep:  # the first epoch warms up (and initialises learned scales)
                times.append(time.perf_counter() - t0)
        out[f"{mode}_epoch_s"] = {"median": statistics.median(times), "all": times}
    return out


def ofc_rate(repeats: int, n_symbols: int) -> dict[str, object]:
    """Symbols per second of the link simulation (Tx, fibre, Rx, noise) for one split of
    ``n_symbols`` at the default channel, as ``load_ofc`` runs it (no cache)."""
    cfg = OFCConfig(n_test=n_symbols)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        simulate_split(cfg, "test", phase=0)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"n_symbols": n_symbols, "seconds": {"median": med, "all": times},
            "symbols_per_s": n_symbols / med}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ofc-symbols", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/foundation.json")
    args = parser.parse_args()
    result = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
        "mnist_mlp_epoch": time_epochs(args.repeats),
        "ofc_generation": ofc_rate(args.repeats, args.ofc_symbols),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

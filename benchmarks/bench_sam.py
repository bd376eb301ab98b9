"""SAMLinear (seed 001 eq. 5) speed and memory at the paper's configuration B hidden layer:
512 inputs -> 1024 outputs, batch 256 (§III-C), float32 on CPU. Times forward alone and
forward + backward for several block sizes (``block_elements``: how much of the
``batch x n x m`` sum tensor exists at once; blocks are ``32 samples x c outputs x n``) and
records the process's peak RSS after each. Writes ``benchmarks/results/sam.json``.

Run: ``.venv/bin/python benchmarks/bench_sam.py [--repeats 5] [--threads 1]``
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

from hwnn.nn.sam import BLOCK_ELEMENTS, SAMLinear

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_layer(block_elements: int, batch: int, n: int, m: int, repeats: int
               ) -> dict[str, object]:
    torch.manual_seed(0)
    layer = SAMLinear(n, m, block_elements=block_elements)
    x = torch.randn(batch, n, requires_grad=True)
    forward, both = [], []
    for rep in range(repeats + 1):  # the first round warms up
        t0 = time.perf_counter()
        with torch.no_grad():
            layer(x)
        t1 = time.perf_counter()
        layer.zero_grad()
        layer(x).sum().backward()
        t2 = time.perf_counter()
        if rep:
            forward.append(t1 - t0)
            both.append(t2 - t1)
    return {"block_elements": block_elements,
            "forward_s": {"median": statistics.median(forward), "all": forward},
            "forward_backward_s": {"median": statistics.median(both), "all": both},
            "peak_rss_mib_after": round(peak_rss_mib(), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's, one per core)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/sam.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batch, n, m = 256, 512, 1024
    start_rss = peak_rss_mib()
    rows = [time_layer(b, batch, n, m, args.repeats)
            for b in (128 * 1024, BLOCK_ELEMENTS, 2 * 1024 * 1024, 16 * 1024 * 1024)]
    result = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()},
        "shape": {"batch": batch, "in": n, "out": m, "dtype": "float32"},
        "full_sum_tensor_mib": batch * n * m * 4 / 2**20,
        "peak_rss_mib_before": round(start_rss, 1),
        "default_block_elements": BLOCK_ELEMENTS,
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        print(f"block {r['block_elements']:>9,}: forward {r['forward_s']['median']:.3f} s, "
              f"forward+backward {r['forward_backward_s']['median']:.3f} s, peak RSS "
              f"{r['peak_rss_mib_after']:.0f} MiB")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Logic-spine benchmarks on the trained NID-A / OFC-A / MNIST runs: Verilog generation time,
IR reference throughput (samples/s), zero-delay gate-level simulation rate, and the time to
synthesise NID-A (ASIC: Yosys + ABC + OpenSTA timing and power; FPGA: synth_xilinx).
Writes ``benchmarks/results/logic.json``.

Run: ``.venv/bin/python benchmarks/bench_logic.py [--skip-synth]`` on an otherwise idle
machine (synthesis of NID-A takes minutes per target).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from hwnn.eda.gatesim import simulate_activity
from hwnn.eda.sta import power_from_activity
from hwnn.ir import run
from hwnn.logic.literals import pack_words
from hwnn.logic.verilog import network_verilog
from hwnn.methods.logic_flow import export, load_run_ir, quantized_inputs, top_name
from hwnn.methods.synth_flow import chain_state, synth_design

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "results" / "foundation" / "runs"
NETS = ("nid_a", "ofc_a", "mnist_mlp")


def _copy_run(name: str, tmp: Path) -> Path:
    dst = tmp / name
    dst.mkdir(parents=True)
    for f in ("config.yaml", "metrics.json", "model.pt"):
        shutil.copy2(RUNS / name / f, dst / f)
    export(dst)
    return dst


def _median_time(fn, repeats: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def gatesim_rates(runs: dict[str, Path], nets: dict, n_vectors: int) -> dict[str, object]:
    """Zero-delay simulation speed on the netlists ``scripts/logic_results.py`` left in
    ``results/logic_spine`` (skipped for a net without one), then the time OpenSTA takes to
    read the netlist, annotate every simulated net's activity and report power."""
    rates: dict[str, object] = {}
    for name in ("nid_a", "ofc_a"):
        for design in ("embedded", "generic"):
            netlist = ROOT / f"results/logic_spine/runs/{name}/synth/{design}/asic/netlist.v"
            if not netlist.is_file():
                continue
            net = nets[name]
            x, _, _ = quantized_inputs(runs[name], "test", n_vectors, torch_outputs=False)
            kw = {}
            if design == "generic":
                kw = {"initial_state": chain_state(net), "hold_inputs": {"w_en": 0, "w_in": 0}}
            t0 = time.perf_counter()
            res = simulate_activity(netlist, top_name(net),
                                    in_width=net.input.features * net.input.bits,
                                    vectors=pack_words(x, net.input.bits), **kw)
            dt = time.perf_counter() - t0
            with tempfile.TemporaryDirectory() as work:
                t0 = time.perf_counter()
                pa = power_from_activity(netlist, top_name(net), work, period_ns=2.0,
                                         activity=res.activity, timeout_s=7200)
                dt_power = time.perf_counter() - t0
            rates[f"{name}/{design}"] = {"nets": len(res.toggles), "vectors": len(x),
                                         "seconds": round(dt, 2),
                                         "opensta_power_seconds": round(dt_power, 1),
                                         "annotated_nets": pa.annotated_nets}
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-synth", action="store_true")
    ap.add_argument("--power-vectors", type=int, default=1000)
    args = ap.parse_args()
    out: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python":
                                          platform.python_version()}}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        runs = {n: _copy_run(n, tmp) for n in NETS}
        nets = {n: load_run_ir(r) for n, r in runs.items()}
        verilog: dict[str, object] = {}
        throughput: dict[str, object] = {}
        for name, net in nets.items():
            for style in ("embedded", "generic"):
                med, _ = _median_time(lambda: network_verilog(net, top_name(net), style),  # noqa: B023
                                      args.repeats)
                text = network_verilog(net, top_name(net), style)  # type: ignore[arg-type]
                verilog[f"{name}/{style}"] = {"seconds": round(med, 4), "bytes": len(text)}
            x, _, _ = quantized_inputs(runs[name], "test", None, torch_outputs=False)
            med, _ = _median_time(lambda: run(net, x), args.repeats)  # noqa: B023
            throughput[name] = {"samples": len(x), "seconds": round(med, 4),
                                "samples_per_s": round(len(x) / med)}
        out["verilog_generation"] = verilog
        out["ir_reference_throughput"] = throughput
        out["gatesim"] = gatesim_rates(runs, nets, args.power_vectors)
        if not args.skip_synth:
            name = "nid_a"
            net = nets[name]
            x, _, _ = quantized_inputs(runs[name], "test", args.power_vectors,
                                       torch_outputs=False)
            synth: dict[str, object] = {}
            for target in ("asic", "fpga"):
                t0 = time.perf_counter()
                entry = synth_design(net, tmp / f"synth_{target}", target,  # type: ignore[arg-type]
                                     vectors=x if target == "asic" else None)
                synth[target] = {"seconds": round(time.perf_counter() - t0, 1),
                                 **{k: entry[k] for k in ("area_um2", "cells", "fmax_mhz",
                                                          "luts", "synth_seconds",
                                                          "activity_seconds") if k in entry}}
                if target == "asic":
                    netlist = tmp / "synth_asic" / "netlist.v"
                    words = pack_words(x, net.input.bits)
                    t0 = time.perf_counter()
                    simulate_activity(netlist, top_name(net),
                                      in_width=net.input.features * net.input.bits,
                                      vectors=words)
                    dt = time.perf_counter() - t0
                    synth["gatesim"] = {"cells": entry["cells"], "vectors": len(words),
                                        "seconds": round(dt, 2),
                                        "cell_evaluations_per_s": round(
                                            entry["cells"] * len(words) / dt)}
            out["synthesis_nid_a"] = synth
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    path = ROOT / "benchmarks" / "results" / "logic.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Logic-spine results (issue 4): the foundation networks as measured logic.

For NID-A and OFC-A (and the MNIST MLP for simulation), from the trained runs in
``results/foundation/runs``:

1. export the IR; adder bit-width profiling on the training split for several outlier
   quantiles and both overflow rules (bits saved, test accuracy/BER effect);
2. bit-exact simulation on 10^4 test vectors (Icarus and Verilator): embedded design for
   every net, plus the generic baseline and the profiled design for NID-A and OFC-A;
3. synthesis, embedded vs generic (vs profiled): Nangate45 area, cells, fmax, power at one
   fixed clock (vectorless and from gate-level activity on test vectors), xc7 LUT6/FF/CARRY;
4. a retiming sweep (0..4 extra register stages per layer, ABC retiming) on one net.

Writes ``results/logic_spine/{config.json,results.json,results.md}``; every design's logs stay
under ``results/logic_spine/runs/<net>/synth/`` (not committed: re-run to get them). Usage::

    python scripts/logic_results.py [--jobs 2] [--only nid_a ofc_a] [--skip-sim]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.methods.logic_flow import export, simulate_run
from hwnn.methods.profiling import profile_run
from hwnn.methods.synth_flow import synth_run
from hwnn.report.markdown import score, table

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = ("config.yaml", "metrics.json", "model.pt")
QUANTILES = (None, 1e-4, 1e-3)
OVERFLOWS = ("saturate", "wrap")
HW_PROFILE = {"quantile": None, "overflow": "wrap"}  # the profiled design that is synthesised


def prepare_run(src: Path, dst: Path) -> Path:
    """Copy a trained run (config, metrics, model) so its hardware files live here."""
    dst.mkdir(parents=True, exist_ok=True)
    if src.resolve() != dst.resolve():
        for name in RUN_FILES:
            shutil.copy2(src / name, dst / name)
    export(dst)
    return dst


def profiling_table(run: Path) -> list[dict[str, Any]]:
    """One row per (quantile, overflow); the hardware profile goes last, so the
    ``profiled.ir.json`` left behind is the one that is synthesised."""
    hw = (HW_PROFILE["quantile"], HW_PROFILE["overflow"])
    combos = [(q, o) for q in QUANTILES for o in OVERFLOWS
              if (q, o) != hw and not (q is None and o == "saturate")]
    rows = []
    for q, overflow in [*combos, hw]:  # (none, saturate) = (none, wrap) on the profiled data
        rep = profile_run(run, q, overflow)  # type: ignore[arg-type]
        rows.append({k: rep[k] for k in ("quantile", "overflow", "adder_bits_layer_uniform",
                                          "adder_bits_worst_case", "adder_bits_profiled",
                                          "bits_saved", "layer_acc_bits", "test")})
    rows.append({"hardware_profile": True, "layers": rep["layers"]})
    return rows


def synth_job(args: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    run, kwargs = args
    t0 = time.perf_counter()
    entry = synth_run(Path(run), **kwargs)
    entry["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return run, entry


def fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def write_markdown(results: dict[str, Any], path: Path) -> None:
    cfg = results["config"]
    lines = ["# Logic spine: trained networks as measured logic", "",
             f"Made by `python scripts/logic_results.py` ({results['finished']}); config in "
             "`config.json`. Nangate45 typical corner (Yosys 0.23 + ABC, OpenSTA 2.0.17); "
             f"power at {1000 / cfg['clock_ns']:g} MHz for every design; gate-level activity "
             f"from the first {cfg['power_vectors']} test vectors.", ""]
    syn = results.get("synth", {})
    if syn:
        lines += ["## Embedded vs generic designs (seed 000 §III, Table I 'Base.')", "",
                  "| net | design | area (µm²) | cells | FFs | fmax (MHz) | power vectors (mW) "
                  "| power vectorless (mW) | netlist = IR | LUTs (xc7) | FF (xc7) | CARRY4 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for net, designs in syn.items():
            for label in ("embedded", "generic", "profiled_embedded"):
                a, f = designs.get(f"{label}/asic"), designs.get(f"{label}/fpga")
                if not a and not f:
                    continue
                a, f = a or {}, f or {}
                ok = a.get("gate_level_vs_ir_mismatches")
                lines.append(
                    f"| {net} | {label} | {fmt(a.get('area_um2'))} | {fmt(a.get('cells'), 0)} | "
                    f"{fmt(a.get('flip_flops'), 0)} | {fmt(a.get('fmax_mhz'))} | "
                    f"{fmt(a.get('power_vectors_mw'), 2)} | "
                    f"{fmt(a.get('power_vectorless_mw'), 2)} | "
                    f"{'—' if ok is None else ('yes' if ok == 0 else f'{ok} mismatches')} | "
                    f"{fmt(f.get('luts'), 0)} | {fmt(f.get('flip_flops'), 0)} | "
                    f"{fmt(f.get('carry4'), 0)} |")
        lines.append("")
    sweep = results.get("retiming", [])
    if sweep:
        net = cfg["retime_net"]
        base = results.get("synth", {}).get(net, {}).get("embedded/asic")
        rows = [[("0, not retimed" if not e["retime"] else f"{e['extra_stages']}, retimed"),
                 e["latency_cycles"], fmt(e["fmax_mhz"]), f"{e['flip_flops']:,}",
                 fmt(e["area_um2"]), fmt(e.get("power_vectors_mw"), 2),
                 e.get("gate_level_vs_ir_mismatches", "—")]
                for e in ([base] if base else []) + sweep]
        lines += [f"## Retiming sweep ({net}, seed 000 Fig. 8)", "",
                  "Extra register stages after every layer, then ABC min-delay retiming "
                  "(`abc -dff`, `retime -M 4`) after the flops are unmapped to plain D "
                  f"flip-flops; power at {1000 / cfg['clock_ns']:g} MHz from 200 test "
                  "vectors, which also check the retimed netlist against the IR.", "",
                  *table(["extra stages / layer", "latency (cycles)", "fmax (MHz)",
                          "flip-flops", "area (µm²)", "power (mW)", "netlist vs IR "
                          "mismatches"], rows), ""]
    prof = results.get("profiling", {})
    if prof:
        rows = []
        for net, entries in prof.items():
            for r in entries:
                if r.get("hardware_profile"):
                    continue
                t = r["test"]
                key = "accuracy" if "accuracy" in t["worst_case"] else "ber"
                rows.append([net, r["quantile"] or "none", r["overflow"],
                             r["adder_bits_layer_uniform"], r["adder_bits_worst_case"],
                             r["adder_bits_profiled"], r["bits_saved"],
                             f"{score(key, t['worst_case'][key])} → "
                             f"{score(key, t['profiled'][key])}",
                             f"{t['changed_outputs']} of {t['vectors']:,}"])
        lines += ["## Adder bit-width profiling (seed 000 §III-B)", "",
                  "Sum over neurons of the accumulator width: one width per layer (the "
                  "export), per-neuron worst case, and profiled on the training split.", "",
                  *table(["net", "quantile", "outside range", "layer-uniform bits",
                          "per-neuron worst case", "profiled", "saved vs worst case",
                          "test score worst case → profiled", "test outputs changed"], rows),
                  ""]
    sims = results.get("sim", {})
    if sims:
        lines += ["## Bit-exact simulation (torch integer mode = IR reference = RTL)", "",
                  *table(["net", "design", "vectors", "torch vs IR", "simulator", "mismatches",
                          "seconds"],
                         [[rep["net"], rep["design"], f"{rep['vectors']:,}",
                           rep["torch_vs_ir_mismatches"], sim, r["mismatches"], r["seconds"]]
                          for rep in sims.values() for sim, r in rep["simulators"].items()]),
                  ""]
    atomic_write_bytes(path, "\n".join(lines).encode())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "results/foundation/runs")
    ap.add_argument("--out", type=Path, default=ROOT / "results/logic_spine")
    ap.add_argument("--only", nargs="*", default=["nid_a", "ofc_a", "mnist_mlp"])
    ap.add_argument("--synth-nets", nargs="*", default=["nid_a", "ofc_a"])
    ap.add_argument("--retime-run", type=Path, default=ROOT / "results/logic_spine/runs/demo_nid",
                    help="trained run for the retiming sweep (default: the demo net, trained "
                    "by `hwnn demo`, about a minute per step; NID-A/OFC-A take 4-10 min)")
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--clock-ns", type=float, default=2.0)
    ap.add_argument("--power-vectors", type=int, default=1000)
    ap.add_argument("--sim-vectors", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-sim", action="store_true")
    ap.add_argument("--skip-synth", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    ap.add_argument("--skip-retime", action="store_true")
    args = ap.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config.update(quantiles=list(QUANTILES), overflows=list(OVERFLOWS),
                  hardware_profile=HW_PROFILE)
    atomic_write_bytes(out / "config.json", (json.dumps(config, indent=2) + "\n").encode())
    previous = out / "results.json"
    results: dict[str, Any] = {"profiling": {}, "sim": {}, "synth": {}}
    if previous.is_file():  # keep the parts this invocation skips
        results.update(json.loads(previous.read_text()))
    results["config"] = config
    runs = {n: prepare_run(args.runs / n, out / "runs" / n) for n in args.only}
    for name, run in runs.items():
        if args.skip_profile:
            if not (run / "profiled.ir.json").is_file():
                profile_run(run, HW_PROFILE["quantile"], HW_PROFILE["overflow"])  # type: ignore[arg-type]
            continue
        print(f"[profile] {name}", flush=True)
        results["profiling"][name] = profiling_table(run)
    if not args.skip_sim:
        for name, run in runs.items():
            designs = [("embedded", "net")]
            if name in args.synth_nets:
                designs += [("generic", "net"), ("embedded", "profiled")]
            for style, variant in designs:
                print(f"[sim] {name} {style} {variant}", flush=True)
                rep = simulate_run(run, args.sim_vectors, style, 0, None, None,  # type: ignore[arg-type]
                                   variant)
                key = f"{name}/{variant}_{style}"
                results["sim"][key] = {"net": name, "design": f"{variant}_{style}", **rep}
                if not rep["passed"]:
                    print(f"  FAILED: {rep}", flush=True)
    if not args.skip_synth:
        common = {"clock_ns": args.clock_ns, "power_vectors": args.power_vectors}
        jobs: list[tuple[str, dict[str, Any]]] = []
        for name in args.synth_nets:
            run = str(runs[name])
            for style, variant in (("embedded", "net"), ("generic", "net"),
                                   ("embedded", "profiled")):
                for target in ("asic", "fpga"):
                    jobs.append((run, {"target": target, "style": style, "variant": variant,
                                       **common}))
        retime_run = prepare_run(args.retime_run, out / "runs" / args.retime_run.name)
        for e in range(-1, -1 if args.skip_retime else args.stages + 1):  # -1: not retimed
            jobs.append((str(retime_run), {
                "target": "asic", "extra_stages": max(e, 0), "retime": e >= 0,
                "clock_ns": args.clock_ns, "power_vectors": 200}))  # also checks the netlist
        # longest first; "spawn": a forked worker deadlocks in torch's thread pool once the
        # parent has used torch (the power vectors go through the model's input quantizer)
        jobs.sort(key=lambda j: (j[1]["target"] != "asic", Path(j[0]).name != "nid_a"))
        with ProcessPoolExecutor(max_workers=args.jobs,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(synth_job, j) for j in jobs]
            for fut in as_completed(futures):
                run, entry = fut.result()
                print(f"[synth] {Path(run).name} {entry['design']}/{entry['target']}: "
                      f"{entry['wall_seconds']} s", flush=True)
    # the tables are read back from every run's synth.json (written under a lock by each
    # synthesis), so separate invocations add up
    results["synth"], results["retiming"] = {}, []
    for net in [*args.synth_nets, args.retime_run.name]:
        path = out / "runs" / net / "synth.json"
        if not path.is_file():
            continue
        for key, entry in json.loads(path.read_text())["designs"].items():
            if entry.get("retime"):
                if net == args.retime_run.name:
                    results["retiming"].append(entry)
            else:
                results["synth"].setdefault(net, {})[key] = entry
    results["retiming"].sort(key=lambda x: x["extra_stages"])
    results["config"]["retime_net"] = args.retime_run.name
    results["finished"] = time.strftime("%Y-%m-%d %H:%M")
    atomic_write_bytes(out / "results.json", (json.dumps(results, indent=2) + "\n").encode())
    write_markdown(results, out / "results.md")
    print(f"wrote {out / 'results.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

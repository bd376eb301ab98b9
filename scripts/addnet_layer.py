"""One AddNet layer through the logic spine vs the same layer with generic 8-bit multipliers
(issue 7 item 4; seed 002 §6.6.2 and §6.6.4).

Takes an exported AddNet MLP run and an exported 8-bit run of the same shape (the AddNet
sweep's ``mnist_addnet_adders*`` and ``mnist_8bit`` jobs), builds layer ``--layer`` of each
as a dataflow layer (``hwnn.logic.dataflow_layer``: one PE per neuron, one input per cycle,
RCCM selects or 8-bit weights from a ROM), checks each bit for bit against the IR
reference on MNIST test vectors in Icarus, and synthesises both: xc7 (Yosys
``synth_xilinx -nodsp``: LUTs, carries, flip-flops) and Nangate45 (area; fmax from OpenSTA).
Writes ``results/addnet/layer.{json,md}``.

Usage::

    python scripts/addnet_layer.py [--addnet results/addnet/jobs/mnist_addnet_adders2]
        [--baseline results/addnet/jobs/mnist_8bit] [--layer 1] [--vectors 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.data import load_dataset
from hwnn.eda.rtlsim import simulate
from hwnn.eda.sta import timing
from hwnn.eda.yosys import synth_asic, synth_fpga
from hwnn.ir import reference
from hwnn.ir.io import load_ir
from hwnn.logic.dataflow_layer import dataflow_layer_verilog, dataflow_testbench
from hwnn.quant.addnet import AddNetQuantizer
from hwnn.report.markdown import table, write_result
from hwnn.train.build import load_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "addnet"
CLOCK_NS = 2.0


def layer_rccm(run: Path, k: int):
    """The RCCM of weight layer ``k`` of an AddNet run (from its saved quantizer)."""
    _, model, _ = load_run(run)
    quants = [m.weight_quant for m in model.modules()
              if hasattr(m, "weight_quant") and m.weight_quant is not None]
    q = quants[k]
    if not isinstance(q, AddNetQuantizer) or q.rccm is None:
        raise SystemExit(f"{run}: layer {k} has no AddNet coefficient set")
    return q.rccm, q.describe()


def build(run: Path, k: int, rccm, work: Path, vectors: int) -> dict[str, object]:
    net = load_ir(run / "net.ir.json")
    cfg, _, _ = load_run(run)
    data = load_dataset(cfg.data.task)
    x = reference.quantize_inputs(net, data.test.x[:vectors])
    trace = reference.run(net, x)
    layer = net.layers[k]
    x_in = x if k == 0 else trace.outputs[k - 1]
    work.mkdir(parents=True, exist_ok=True)
    top = "dataflow_layer"
    src = work / "layer.v"
    src.write_text(dataflow_layer_verilog(layer, rccm, name=top))
    sim_dir = work / "sim"
    dataflow_testbench(layer, x_in, trace.outputs[k], sim_dir, name=top)
    sim = simulate([sim_dir / "tb.v", src], sim_dir)
    fpga = synth_fpga([src], top, work / "fpga", timeout_s=3600, use_dsp=False)
    asic = synth_asic([src], top, work / "asic", clock_period_ps=CLOCK_NS * 1000,
                      timeout_s=3600)
    sta = timing(asic.netlist_path, top, work / "sta", period_ns=CLOCK_NS)
    word_bits = rccm.select_bits if rccm is not None else layer.weight_bits
    return {"run": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run),
            "layer": layer.name, "shape": [layer.in_features, layer.out_features],
            "multiplier": rccm.name if rccm is not None else f"generic {layer.weight_bits}-bit",
            "multiplier_adders": len(rccm.nodes) if rccm is not None else None,
            "weight_memory_bits": layer.in_features * layer.out_features * word_bits,
            "sim": {"vectors": sim.vectors, "mismatches": sim.mismatches},
            "luts": fpga.luts, "carry4": fpga.carry, "flip_flops": fpga.flip_flops,
            "area_um2": round(asic.area_um2, 1), "fmax_mhz": round(sta.fmax_mhz, 1),
            "test_accuracy": json.loads((run / "metrics.json").read_text())["summary_test"]}


def markdown(result: dict) -> str:
    a, g = result["addnet"], result["baseline"]
    lines = ["# An AddNet layer in logic vs generic 8-bit multipliers (seed 002 §6.6)", "",
             f"Made by `{result['config']['command']}`. Dataflow layer "
             "(`hwnn.logic.dataflow_layer`): one PE per neuron, one input per cycle, the "
             "weight ROM holds RCCM select words (AddNet) or 8-bit weights (baseline); "
             f"Nangate45 at a {CLOCK_NS:g} ns target, xc7 LUTs from Yosys `synth_xilinx "
             "-nodsp`.", ""]
    rows = []
    for tag, r in (("AddNet", a), ("8-bit", g)):
        acc = r["test_accuracy"]
        rows.append([tag, r["layer"], f"{r['shape'][0]} -> {r['shape'][1]}", r["multiplier"],
                     f"{100 * acc['qat']:.2f} %", f"{r['weight_memory_bits']:,}", r["luts"],
                     r["carry4"], r["flip_flops"], f"{r['area_um2']:,.0f}", r["fmax_mhz"],
                     f"{r['sim']['mismatches']} / {r['sim']['vectors']}"])
    lines += table(["", "layer", "shape", "multiplier", "network test acc.", "ROM bits",
                    "LUT6", "CARRY4", "FF", "area um²", "fmax MHz",
                    "sim mismatches / vectors"], rows)
    single = OUT / "rccm_luts.json"
    if single.is_file():
        by = {(r["design"], r["w_in"]): r for r in json.loads(single.read_text())["rows"]}
        n_add = a["multiplier_adders"]
        rc, gen = by.get((f"{n_add}-Add", 8)), by.get(("generic", 8))
        if rc and gen:
            lines += ["", f"For scale: one multiplier alone at w_in = 8 (rccm_luts.md) is "
                      f"{rc['luts']} LUTs ({n_add}-Add, Table 6.3 circuit) vs {gen['luts']} "
                      "(generic); every PE also holds an accumulator and a requantizer with "
                      "an embedded scale, in both layers."]
    lines += ["", f"AddNet / 8-bit: LUTs {a['luts'] / g['luts']:.2f}x, area "
              f"{a['area_um2'] / g['area_um2']:.2f}x, weight memory "
              f"{a['weight_memory_bits'] / g['weight_memory_bits']:.2f}x.", "",
              f"Chosen coefficient set of the AddNet layer ({result['set']['size']} values, "
              f"KL {result['set']['divergence']}): `{result['set']['coefficients']}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addnet", type=Path,
                        default=ROOT / "results/addnet/jobs/mnist_addnet_adders2")
    parser.add_argument("--baseline", type=Path, default=ROOT / "results/addnet/jobs/mnist_8bit")
    parser.add_argument("--layer", type=int, default=1, help="weight layer index (0 = first)")
    parser.add_argument("--vectors", type=int, default=200, help="MNIST test vectors to check")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hwnn_addnet_layer"))
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite layer.md from layer.json, run nothing")
    args = parser.parse_args()
    if args.report_only:
        result = json.loads((OUT / "layer.json").read_text())
        atomic_write_bytes(OUT / "layer.md", markdown(result).encode())
        print(markdown(result))
        return
    for run in (args.addnet, args.baseline):
        if not (run / "net.ir.json").is_file():
            raise SystemExit(f"{run}/net.ir.json not found: run `hwnn sweep "
                             "configs/sweeps/addnet.yaml` (or `hwnn export RUN`) first")
    t0 = time.perf_counter()
    rccm, info = layer_rccm(args.addnet, args.layer)
    addnet = build(args.addnet, args.layer, rccm, args.workdir / "addnet", args.vectors)
    baseline = build(args.baseline, args.layer, None, args.workdir / "baseline", args.vectors)
    result = {"config": {"command": "python scripts/addnet_layer.py --addnet "
                                    f"{addnet['run']} --baseline {baseline['run']} --layer "
                                    f"{args.layer} --vectors {args.vectors}",
                         "clock_ns": CLOCK_NS, "seconds": round(time.perf_counter() - t0)},
              "addnet": addnet, "baseline": baseline,
              "set": {k: info[k] for k in ("size", "divergence", "coefficients")}}
    if any(r["sim"]["mismatches"] for r in (addnet, baseline)):
        print("warning: simulation mismatches; see the sim folders under", args.workdir)
    write_result(OUT, "layer", json.loads(json.dumps(result, default=_jsonable)),
                 markdown(result))
    print(markdown(result))


def _jsonable(value: object) -> object:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value)}")


if __name__ == "__main__":
    main()

"""Validate the FINN-style dataflow model (issue 8 items 1 and 5; seed 002 ch. 4) by
measurement.

1. Cycles: folded MVUs (``hwnn.logic.mvu``) are simulated in Icarus and the cycles from the
   first input beat to the last output beat are compared with the model's
   ``(MH/PE)(MW/SIMD) * P`` - on a real layer (the binarized MNIST MLP's second layer,
   64 -> 32, fed with the first layer's outputs on MNIST test images; ``P`` = vectors) and on
   a convolution-shaped layer (the Fashion CNN's conv1 lowered to a matrix: MW = 3*3*16,
   MH = 32, ``P = 14 * 14`` pixels). Every output beat is also checked against the IR
   reference.
2. LUTs: MVUs of the conv1-shaped layer with binary weights / 2-bit activations, binary /
   8-bit and 8-bit / 8-bit at several PE x SIMD foldings are synthesised with Yosys
   ``synth_xilinx -nodsp``; :meth:`hwnn.cost.dataflow.LutModel.fit` fits the model's four
   coefficients to them and the table lists estimate vs measurement.

Writes ``results/dataflow/dataflow_check.{json,md}``. Usage::

    python scripts/dataflow_check.py [--report-only]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hwnn.cost.dataflow import Folding, LayerShape, LutModel, cycles
from hwnn.data import load_dataset
from hwnn.eda.rtlsim import simulate
from hwnn.eda.yosys import synth_fpga
from hwnn.ir import reference
from hwnn.ir.io import load_ir
from hwnn.ir.model import DenseLayer
from hwnn.ir.ranges import signed_bits, worst_case_acc_range
from hwnn.logic.mvu import measured_cycles, mvu_testbench, mvu_verilog
from hwnn.report.markdown import table, write_result
from hwnn.train.build import load_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "dataflow"
REAL_RUN = ROOT / "results" / "tnn" / "jobs" / "hw_mnist_bnn"
CONV1 = dict(in_channels=16, out_channels=32, kernel=3, in_size=14, out_size=14)
FOLDS = [(1, 1), (1, 9), (2, 8), (4, 4), (4, 16), (8, 36), (16, 9)]
BITS = [(1, 2), (1, 8), (8, 8)]  # (weight bits, activation bits)


def synthetic_layer(weight_bits: int, act_bits: int, seed: int = 0) -> DenseLayer:
    """The conv1-shaped matrix (32 x 144) with random weights, worst-case accumulator."""
    rng = np.random.default_rng(seed)
    mh, mw = CONV1["out_channels"], CONV1["kernel"] ** 2 * CONV1["in_channels"]
    w = rng.choice([-1, 1], (mh, mw)) if weight_bits == 1 else rng.integers(-127, 128, (mh, mw))
    layer = DenseLayer("conv1", w.astype(np.int64), rng.integers(-100, 100, mh),
                       rng.integers(1 << 9, 1 << 10, mh), rng.integers(8, 14, mh),
                       in_bits=act_bits, in_signed=False, acc_bits=2, out_bits=act_bits,
                       out_signed=False, activation="relu",
                       weight_bits=max(2, weight_bits))
    lo, hi = worst_case_acc_range(layer)
    layer.acc_bits = signed_bits(int(lo.min()), int(hi.max()))
    return layer


def conv1_shape(weight_bits: int, act_bits: int) -> LayerShape:
    return LayerShape("conv1", "conv", weight_bits=weight_bits, act_bits=act_bits, **CONV1)


def cycle_run(name: str, layer: DenseLayer, x: np.ndarray, fold: Folding, model_cycles: int,
              work: Path) -> dict[str, object]:
    folder = work / "cycles" / f"{name}_pe{fold.pe}_simd{fold.simd}"
    folder.mkdir(parents=True, exist_ok=True)
    _, y = reference.layer_forward(layer, x)
    (folder / "mvu.v").write_text(mvu_verilog(layer, fold))
    mvu_testbench(layer, fold, x, y, folder)
    t0 = time.perf_counter()
    sim = simulate([folder / "tb.v", folder / "mvu.v"], folder)
    measured = measured_cycles(Path(sim.log_path).read_text())
    return {"layer": name, "MW": layer.in_features, "MH": layer.out_features,
            "vectors": int(x.shape[0]), "PE": fold.pe, "SIMD": fold.simd,
            "model_cycles": model_cycles, "measured_cycles": measured,
            "mismatches": sim.mismatches, "sim_vectors": sim.vectors,
            "sim_seconds": round(time.perf_counter() - t0, 1)}


def check_cycles(work: Path) -> list[dict[str, object]]:
    rows = []
    net = load_ir(REAL_RUN / "net.ir.json")
    cfg, _, _ = load_run(REAL_RUN)
    data = load_dataset(cfg.data.task)
    trace = reference.run(net, reference.quantize_inputs(net, data.test.x[:50]))
    layer, x = net.layers[1], trace.outputs[0]
    for pe, simd in [(1, 1), (4, 8), (8, 16), (32, 64)]:
        fold = Folding(pe, simd)
        per_vector = (layer.out_features // pe) * (layer.in_features // simd)
        rows.append(cycle_run("hw_mnist_bnn.fc1", layer, x, fold, per_vector * len(x), work))
        print(rows[-1], flush=True)
    conv = synthetic_layer(1, 2)
    pixels = CONV1["out_size"] ** 2
    xs = np.random.default_rng(1).integers(0, 4, (pixels, conv.in_features))
    for pe, simd in [(1, 1), (4, 16), (32, 144)]:
        fold = Folding(pe, simd)
        rows.append(cycle_run("conv1_im2col", conv, xs, fold, cycles(conv1_shape(1, 2), fold),
                              work))
        print(rows[-1], flush=True)
    return rows


def measure_luts(work: Path) -> list[dict[str, object]]:
    rows = []
    for wb, ab in BITS:
        layer = synthetic_layer(wb, ab)
        for pe, simd in FOLDS:
            fold = Folding(pe, simd)
            folder = work / "luts" / f"w{wb}a{ab}_pe{pe}_simd{simd}"
            folder.mkdir(parents=True, exist_ok=True)
            verilog = mvu_verilog(layer, fold)
            cached = folder / "row.json"
            if cached.is_file() and (folder / "mvu.v").read_text() == verilog:
                rows.append(json.loads(cached.read_text()))  # same design synthesised before
                continue
            (folder / "mvu.v").write_text(verilog)
            t0 = time.perf_counter()
            r = synth_fpga([folder / "mvu.v"], "mvu", folder, timeout_s=3600, use_dsp=False)
            mem = {k: v for k, v in r.cells_by_type.items() if k.startswith("RAM")}
            rows.append({"weight_bits": wb, "act_bits": ab, "PE": pe, "SIMD": simd,
                         "luts": r.luts, "carry4": r.carry, "flip_flops": r.flip_flops,
                         "lutram_and_bram_cells": mem,
                         "synth_seconds": round(time.perf_counter() - t0, 1)})
            cached.write_text(json.dumps(rows[-1]))
            print(rows[-1], flush=True)
    return rows


def fit(rows: list[dict[str, object]]) -> tuple[LutModel, list[dict[str, object]]]:
    samples = [(conv1_shape(int(r["weight_bits"]), int(r["act_bits"])),
                Folding(int(r["PE"]), int(r["SIMD"])), float(r["luts"])) for r in rows]
    model = LutModel.fit(samples)
    out = []
    for r, (shape, fold, luts) in zip(rows, samples, strict=True):
        est = model.layer(shape, fold)
        out.append({**r, "estimate": round(est, 1), "error": round((est - luts) / luts, 4)})
    return model, out


def markdown(result: dict) -> str:
    c = result["lut_model"]
    lines = ["# The dataflow model against simulation and synthesis (seed 002 ch. 4)", "",
             f"Made by `{result['command']}`. MVU = `hwnn.logic.mvu` (FINN-style PE x SIMD "
             "folding, weights in a ROM, requantizer per PE); model = `hwnn.cost.dataflow`.", "",
             "## Cycles: model vs Icarus simulation", "",
             "Cycles from the first input beat taken to the last output beat seen; the "
             "model's count is `(MH/PE)(MW/SIMD) * P`.", ""]
    rows = [[r["layer"], f"{r['MW']} x {r['MH']}", r["vectors"], r["PE"], r["SIMD"],
             f"{r['model_cycles']:,}", f"{r['measured_cycles']:,}",
             "yes" if r["model_cycles"] == r["measured_cycles"] else "**no**",
             f"{r['mismatches']} / {r['sim_vectors']}"] for r in result["cycles"]]
    lines += table(["layer", "MW x MH", "P (vectors)", "PE", "SIMD", "model", "simulated",
                    "equal", "output mismatches / vectors"], rows)
    errs = [abs(r["error"]) for r in result["luts"]]
    lines += ["", "## LUTs: fitted model vs Yosys `synth_xilinx -nodsp`", "",
              "conv1-shaped layer (MW = 144, MH = 32, random weights). Fitted coefficients "
              f"(`LutModel` defaults): control {c['control']:.1f}, per accumulator bit x PE "
              f"{c['per_acc_bit']:.2f}, per lane bit x PE x SIMD {c['per_lane_bit']:.2f}, "
              f"per W*A x PE x SIMD {c['per_mult_bit2']:.2f}. Error: mean "
              f"{100 * float(np.mean(errs)):.1f} %, max {100 * max(errs):.1f} %.", ""]
    rows = [[f"{r['weight_bits']}", f"{r['act_bits']}", r["PE"], r["SIMD"], f"{r['luts']:,}",
             f"{r['estimate']:,.0f}", f"{100 * r['error']:+.1f} %", r["carry4"],
             r["flip_flops"], ", ".join(f"{k} {v}" for k, v in
                                        r["lutram_and_bram_cells"].items()) or "-"]
            for r in result["luts"]]
    lines += table(["W", "A", "PE", "SIMD", "LUT6 measured", "LUT6 model", "error", "CARRY4",
                    "FF", "memory cells"], rows)
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hwnn_dataflow_check"))
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the Markdown from the JSON, run nothing")
    args = parser.parse_args()
    if args.report_only:
        result = json.loads((OUT / "dataflow_check.json").read_text())
    else:
        cycle_rows = check_cycles(args.workdir)
        model, lut_rows = fit(measure_luts(args.workdir))
        result = {"command": "python scripts/dataflow_check.py", "cycles": cycle_rows,
                  "luts": lut_rows, "lut_model": model.__dict__}
    write_result(OUT, "dataflow_check", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

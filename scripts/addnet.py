"""AddNet accuracy table (issue 7 item 4; seed 002 Table 6.9 style) from the AddNet sweep.

Reads ``results/addnet/jobs`` (``hwnn sweep configs/sweeps/addnet.yaml``) and, for the CNN's
8-bit row, the TNN sweep's ``cnn_8bit`` job (same config), and writes
``results/addnet/addnet.{md,json}``: test accuracy of float, 8-bit fixed point and AddNet
with 2/3/4-Add hidden layers, every layer's chosen coefficient set (size, KL divergence,
select bits vs coefficient bits), and every distinct chosen RCCM simulated exhaustively
and synthesised (a few minutes).

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


def chosen_rccm_hardware(rows: list[dict], work: Path) -> list[dict]:
    """Every distinct RCCM chosen by the AddNet jobs, at an unsigned 8-bit input: simulated
    exhaustively (every x and select) and synthesised (xc7 LUTs, Nangate45 area)."""
    from hwnn.arith.rccm import Rccm
    from hwnn.eda.rtlsim import simulate
    from hwnn.eda.yosys import synth_asic, synth_fpga
    from hwnn.logic.rccm_verilog import rccm_ports, rccm_testbench, rccm_verilog

    seen: dict[str, dict] = {}
    for r in rows:
        for k, layer in enumerate(r["layers"]):
            if not layer.get("rccm"):
                continue
            key = json.dumps(layer["rccm"]["nodes"], sort_keys=True)
            if key in seen:
                seen[key]["used_by"].append(f"{r['job']}/{k}")
                continue
            rccm = Rccm.from_dict(layer["rccm"])
            top = f"rccm_{len(seen)}"
            folder = work / top
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "rccm.v").write_text(rccm_verilog(rccm, 8, False, name=top))
            vectors = rccm_testbench(rccm, folder / "sim", 8, False, module=top)
            sim = simulate([folder / "sim" / "tb.v", folder / "rccm.v"], folder / "sim")
            fpga = synth_fpga([folder / "rccm.v"], top, folder / "fpga", use_dsp=False)
            asic = synth_asic([folder / "rccm.v"], top, folder / "asic")
            seen[key] = {"n_add": len(rccm.nodes), "coefficients": layer["size"],
                         "y_bits": rccm_ports(rccm, 8, False).y_bits,
                         "sim_vectors": sim.vectors, "expected_vectors": vectors,
                         "sim_mismatches": sim.mismatches, "luts": fpga.luts,
                         "area_um2": round(asic.area_um2, 1),
                         "used_by": [f"{r['job']}/{k}"]}
    return list(seen.values())


def _generic_reference() -> str:
    """The generic 8 x 8 multiplier's cost from ``rccm_luts.json``, if it was made."""
    path = OUT / "rccm_luts.json"
    if not path.is_file():
        return ""
    rows = json.loads(path.read_text())["rows"]
    generic = next((r for r in rows if r["design"] == "generic" and r["w_in"] == 8), None)
    if generic is None:
        return ""
    return (f" For reference, the generic 8 x 8 multiplier (`rccm_luts.md`): "
            f"{generic['luts']} LUTs, {generic['area_um2']:,.0f} um².")


def markdown(rows: list[dict], missing: list[str], hardware: list[dict]) -> str:
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
    if hardware:
        lines += ["", "## The chosen RCCMs in hardware", "",
                  "Every distinct RCCM above, unsigned 8-bit x: exhaustive simulation (every x "
                  "and select word against its coefficient table, Icarus), xc7 LUTs (Yosys "
                  "`synth_xilinx -nodsp`) and Nangate45 area." + _generic_reference(), ""]
        body = [[h["n_add"], h["coefficients"], h["y_bits"],
                 f"{h['sim_mismatches']} / {h['sim_vectors']:,}", h["luts"],
                 f"{h['area_um2']:,.0f}", ", ".join(h["used_by"])] for h in hardware]
        lines += table(["adders", "coefficients", "output bits", "sim mismatches / vectors",
                        "LUT6", "area um²", "used by (job/layer)"], body)
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
    hardware = chosen_rccm_hardware(rows, Path("/tmp/hwnn_addnet_rccms"))
    text = markdown(rows, missing, hardware)
    write_result(OUT, "addnet", {"rows": rows, "missing": missing, "rccms": hardware}, text)
    print(text)


if __name__ == "__main__":
    main()

"""Trained run → IR → Verilog → bit-exact simulation (seed 000 §III; the logic spine).

Files written into a run folder:

* ``net.ir.json`` + ``net.ir.npz`` — :func:`export` (``hwnn export RUN``);
* ``rtl/<style>/net.v`` — :func:`write_verilog` (``hwnn verilog RUN``);
* ``sim/<style>/`` (vectors, testbench, simulator logs) and ``sim.json`` — :func:`simulate_run`
  (``hwnn sim RUN``): the test split's first ``n`` inputs, quantized by the model's input
  quantizer, run through the torch integer mode, the IR reference and the RTL; every
  mismatch counted, the first failing vector and layer reported.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.eda.rtlsim import available_simulators, simulate
from hwnn.errors import HwnnError
from hwnn.ir import IRNetwork, load_ir, run, save_ir
from hwnn.logic.testbench import make_testbench, write_vectors
from hwnn.logic.verilog import Style, latency, network_verilog, verilog_identifier

IR_FILE = "net.ir.json"


def export(run_dir: Path) -> Path:
    """Write ``run_dir/net.ir.json`` (+ npz) from a finished training run."""
    from hwnn.ir.export import export_run

    return save_ir(export_run(run_dir), Path(run_dir) / IR_FILE)


def load_run_ir(run_dir: Path) -> IRNetwork:
    path = Path(run_dir) / IR_FILE
    if not path.is_file():
        raise HwnnError(f"{path} not found: run `hwnn export {run_dir}` first")
    return load_ir(path)


def top_name(net: IRNetwork) -> str:
    return verilog_identifier(f"hwnn_{net.name}")


def write_verilog(run_dir: Path, style: Style = "embedded", extra_stages: int = 0) -> Path:
    net = load_run_ir(run_dir)
    out = Path(run_dir) / "rtl" / (style if not extra_stages else f"{style}_e{extra_stages}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "net.v"
    path.write_text(network_verilog(net, top_name(net), style, extra_stages))
    return path


def quantized_test_inputs(run_dir: Path, n: int, data_dir: str | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test inputs as integer codes (via the model's input quantizer) and the
    torch integer-mode outputs of the last layer."""
    import torch

    from hwnn.data import load_dataset
    from hwnn.train.build import load_run
    from hwnn.train.metrics import model_inputs

    cfg, model, _ = load_run(run_dir)
    ds = load_dataset(cfg.data.task, data_dir or cfg.data.data_dir, cfg.data.seed,
                      cfg.data.ofc)
    x = model_inputs(ds, ds.test.x[:n])
    with torch.no_grad():
        codes = model.quantize_input(x)
        out = model.forward_int(codes)
    return codes.value.numpy(), out.value.numpy()


def simulate_run(run_dir: Path, n_vectors: int = 10_000, style: Style = "embedded",
                 extra_stages: int = 0, simulators: list[str] | None = None,
                 data_dir: str | None = None) -> dict[str, Any]:
    """torch integer mode vs IR reference vs RTL on test vectors; writes ``sim.json``."""
    run_dir = Path(run_dir)
    net = load_run_ir(run_dir)
    codes, torch_out = quantized_test_inputs(run_dir, n_vectors, data_dir)
    trace = run(net, codes)
    diff = np.flatnonzero(np.any(trace.outputs[-1] != torch_out, axis=1))
    report: dict[str, Any] = {
        "run": str(run_dir), "ir": str(run_dir / IR_FILE), "style": style,
        "extra_stages": extra_stages, "latency_cycles": latency(net, extra_stages),
        "vectors": len(codes), "source": "test split, first vectors",
        "torch_vs_ir_mismatches": int(diff.size),
        "torch_vs_ir_first_mismatch": None if not diff.size else int(diff[0]),
        "simulators": {},
    }
    work = run_dir / "sim" / (style if not extra_stages else f"{style}_e{extra_stages}")
    work.mkdir(parents=True, exist_ok=True)
    top = top_name(net)
    (work / "net.v").write_text(network_verilog(net, top, style, extra_stages))
    n = write_vectors(net, trace, work, style)
    (work / "tb.v").write_text(make_testbench(net, top, n, style, extra_stages))
    sims = simulators or available_simulators()
    if not sims:
        raise HwnnError("no Verilog simulator found: install one with "
                        "`sudo apt-get install -y iverilog` (or verilator)")
    for sim in sims:
        t0 = time.perf_counter()
        result = simulate([work / "tb.v", work / "net.v"], work, sim)  # type: ignore[arg-type]
        report["simulators"][sim] = {
            "vectors": result.vectors, "mismatches": result.mismatches,
            "layer_mismatches": result.layer_mismatches,
            "first_failure": result.first_failure(), "log": result.log_path,
            "seconds": round(time.perf_counter() - t0, 2)}
    report["passed"] = report["torch_vs_ir_mismatches"] == 0 and all(
        s["mismatches"] == 0 and not any(s["layer_mismatches"])
        for s in report["simulators"].values())
    (run_dir / "sim.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

"""Trained run → IR → Verilog → bit-exact simulation (seed 000 §III; the logic spine).

Files written into a run folder:

* ``net.ir.json`` + ``net.ir.npz`` — :func:`export` (``hwnn export RUN``);
* ``profiled.ir.json`` (+ npz) and ``profile.json`` — adder bit-width profiling
  (``hwnn profile RUN``, :mod:`hwnn.methods.profiling`);
* ``rtl/<design>/net.v`` — :func:`write_verilog` (``hwnn verilog RUN``), ``<design>`` named
  by :func:`design_name` (``embedded``, ``generic_e2``, ``profiled_embedded`` ...);
* ``sim/<design>/`` (vectors, testbench, simulator logs) and ``sim.json`` (``sim_<design>.json``) —
  :func:`simulate_run` (``hwnn sim RUN``): the test split's first ``n`` inputs, quantized by
  the model's input quantizer, run through the torch integer mode, the IR reference and the
  RTL; every mismatch counted, the first failing vector and layer reported. For the exported
  IR all three must agree; a profiled IR may differ from torch where it clips outliers (that
  count is reported), and must still agree with the RTL bit for bit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.eda.rtlsim import available_simulators, simulate
from hwnn.errors import HwnnError
from hwnn.ir import IRNetwork, Trace, ir_fingerprint, load_ir, run, save_ir
from hwnn.ir.lut import LutNetwork, run_lut
from hwnn.logic.lut_verilog import lut_network_verilog
from hwnn.logic.testbench import make_testbench, write_vectors
from hwnn.logic.verilog import Style, latency, network_verilog, verilog_identifier

IR_FILE = "net.ir.json"
#: IR files a run folder may hold: the export, the profiled one (``hwnn profile``) and the
#: CNN with ReLU prediction (``hwnn relu-pred``, seed 003 Prop-1/2 and SignConnect-1/2)
VARIANTS: tuple[str, ...] = ("net", "profiled", "prop1", "prop2", "signconnect1",
                             "signconnect2")


def export(run_dir: Path) -> Path:
    """Write ``run_dir/net.ir.json`` (+ npz) from a finished training run."""
    from hwnn.ir.export import export_run

    return save_ir(export_run(run_dir), Path(run_dir) / IR_FILE)


AnyNetwork = IRNetwork | LutNetwork


def reference_run(net: AnyNetwork, codes: np.ndarray) -> Trace:
    """The exact reference of either network kind (:func:`hwnn.ir.run` or
    :func:`hwnn.ir.lut.run_lut`)."""
    return run_lut(net, codes) if isinstance(net, LutNetwork) else run(net, codes)


def design_verilog(net: AnyNetwork, top: str, style: Style = "embedded",
                   extra_stages: int = 0, partition: bool = False) -> str:
    """Verilog of one design: :func:`~hwnn.logic.verilog.network_verilog` for dense IRs,
    :func:`~hwnn.logic.lut_verilog.lut_network_verilog` (mux form) for LUT networks, whose
    tables are always constants (embedded) with one register stage per layer.
    ``partition``: one module per neuron (see :func:`~hwnn.logic.verilog.network_verilog`)."""
    if isinstance(net, LutNetwork):
        if style != "embedded" or extra_stages:
            raise HwnnError("a LUT network has one design: its truth tables as logic "
                            "(style embedded, no extra stages; --partition is allowed); drop "
                            "--generic/--csd/--extra-stages")
        return lut_network_verilog(net, top, partition=partition)
    try:
        return network_verilog(net, top, style, extra_stages, partition)
    except ValueError as exc:
        raise HwnnError(str(exc)) from exc


def ir_path(run_dir: Path, variant: str = "net") -> Path:
    if variant not in VARIANTS:
        raise HwnnError(f"unknown IR variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return Path(run_dir) / f"{variant}.ir.json"


def load_run_ir(run_dir: Path, variant: str = "net") -> AnyNetwork:
    path = ir_path(run_dir, variant)
    if not path.is_file():
        how = {"net": "hwnn export", "profiled": "hwnn profile"}.get(variant, "hwnn relu-pred")
        raise HwnnError(f"{path} not found: run `{how} {run_dir}` first")
    return load_ir(path)


def design_name(style: Style = "embedded", extra_stages: int = 0, variant: str = "net",
                partition: bool = False) -> str:
    """Folder name of one hardware design of a run, e.g. ``embedded``, ``generic_e2``,
    ``profiled_embedded``, ``csd_e1_part`` (one module per neuron)."""
    name = style if not extra_stages else f"{style}_e{extra_stages}"
    name += "_part" if partition else ""
    return name if variant == "net" else f"{variant}_{name}"


def top_name(net: AnyNetwork) -> str:
    return verilog_identifier(f"hwnn_{net.name}")


def write_verilog(run_dir: Path, style: Style = "embedded", extra_stages: int = 0,
                  variant: str = "net", partition: bool = False) -> Path:
    net = load_run_ir(run_dir, variant)
    text = design_verilog(net, top_name(net), style, extra_stages, partition)
    out = Path(run_dir) / "rtl" / design_name(style, extra_stages, variant, partition)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "net.v"
    path.write_text(text)
    return path


def quantized_inputs(run_dir: Path, split: str = "test", n: int | None = None,
                     data_dir: str | None = None, torch_outputs: bool = True
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The first ``n`` inputs of a split as integer codes (via the model's input quantizer),
    their targets, and (optionally) the torch integer-mode outputs of the last layer."""
    import torch

    from hwnn.data import load_dataset
    from hwnn.train.build import load_run
    from hwnn.train.metrics import model_inputs

    cfg, model, _ = load_run(run_dir)
    ds = load_dataset(cfg.data.task, data_dir or cfg.data.data_dir, cfg.data.seed,
                      cfg.data.ofc)
    part = {"train": ds.train, "val": ds.val, "test": ds.test}[split]
    stop = len(part.x) if n is None else n
    codes, outs = [], []
    with torch.no_grad():
        for start in range(0, stop, 65536):
            x = model_inputs(ds, part.x[start : min(stop, start + 65536)])
            c = model.quantize_input(x)
            codes.append(c.value.numpy())
            if torch_outputs:
                outs.append(model.forward_int(c).value.numpy())
    return (np.concatenate(codes), np.asarray(part.y[:stop]),
            np.concatenate(outs) if torch_outputs else None)


def sim_json_path(run_dir: Path, style: Style = "embedded", extra_stages: int = 0,
                  variant: str = "net", partition: bool = False) -> Path:
    """Where :func:`simulate_run` writes its report: ``sim.json`` for the default design
    (embedded, exported IR), ``sim_<design>.json`` for the others."""
    design = design_name(style, extra_stages, variant, partition)
    return Path(run_dir) / ("sim.json" if design == "embedded" else f"sim_{design}.json")


def simulate_run(run_dir: Path, n_vectors: int = 10_000, style: Style = "embedded",
                 extra_stages: int = 0, simulators: list[str] | None = None,
                 data_dir: str | None = None, variant: str = "net",
                 timeout_s: float = 1800, partition: bool = False) -> dict[str, Any]:
    """torch integer mode vs IR reference vs RTL on test vectors; writes ``sim.json`` for
    the default design (embedded, exported IR), ``sim_<design>.json`` for the others.
    ``timeout_s`` bounds each simulator call (compile and run)."""
    run_dir = Path(run_dir)
    net = load_run_ir(run_dir, variant)
    top = top_name(net)
    verilog = design_verilog(net, top, style, extra_stages, partition)
    codes, _, torch_out = quantized_inputs(run_dir, "test", n_vectors, data_dir)
    trace = reference_run(net, codes)
    diff = np.flatnonzero(np.any(trace.outputs[-1] != torch_out, axis=1))
    report: dict[str, Any] = {
        "run": str(run_dir), "ir": str(ir_path(run_dir, variant)), "variant": variant,
        "ir_fingerprint": ir_fingerprint(net),
        "style": style, "partition": partition,
        "extra_stages": extra_stages, "latency_cycles": latency(net, extra_stages),
        "vectors": len(codes), "source": "test split, first vectors",
        "torch_vs_ir_mismatches": int(diff.size),
        "torch_vs_ir_first_mismatch": None if not diff.size else int(diff[0]),
        "torch_vs_ir_required_equal": variant == "net",
        "simulators": {},
    }
    work = run_dir / "sim" / design_name(style, extra_stages, variant, partition)
    work.mkdir(parents=True, exist_ok=True)
    (work / "net.v").write_text(verilog)
    n = write_vectors(net, trace, work, style)
    (work / "tb.v").write_text(make_testbench(net, top, n, style, extra_stages))
    sims = simulators or available_simulators()
    if not sims:
        raise HwnnError("no Verilog simulator found: install one with "
                        "`sudo apt-get install -y iverilog` (or verilator)")
    for sim in sims:
        t0 = time.perf_counter()
        result = simulate([work / "tb.v", work / "net.v"], work, sim,  # type: ignore[arg-type]
                          timeout_s=timeout_s)
        report["simulators"][sim] = {
            "vectors": result.vectors, "mismatches": result.mismatches,
            "layer_mismatches": result.layer_mismatches,
            "first_failure": result.first_failure(), "log": result.log_path,
            "seconds": round(time.perf_counter() - t0, 2)}
    torch_ok = report["torch_vs_ir_mismatches"] == 0 or variant != "net"
    report["passed"] = torch_ok and all(
        s["mismatches"] == 0 and not any(s["layer_mismatches"])
        for s in report["simulators"].values())
    out = sim_json_path(run_dir, style, extra_stages, variant, partition)
    atomic_write_bytes(out, (json.dumps(report, indent=2) + "\n").encode())
    report["path"] = str(out)
    return report

"""The streaming CNN accelerator of a run, measured (issue 10 item 4, seed 003 §V-VI):
``hwnn stream RUN --variant net|prop1|prop2 ...``.

* RTL check: :func:`hwnn.logic.stream.stream_verilog` of the run's IR variant (``net`` =
  baseline, ``prop1``/``prop2``/``signconnect*`` from ``hwnn relu-pred``) simulated on
  test images (Verilator or Icarus) against the IR reference, whose outputs on the same
  images are checked against the torch integer mode with the same prediction →
  ``RUN/stream_sim.json``.
* ASIC (Nangate45): Yosys + ABC one CONV/ApproxConv unit at a time, stitched
  (:func:`hwnn.eda.yosys.synth_asic` ``partition``), area, OpenSTA fmax, and power at one
  fixed clock (default 100 MHz, seed 003's) from the per-net activity of a zero-delay
  simulation of the mapped netlist streaming real test images that cover every digit
  (:mod:`hwnn.eda.cyclesim`, the netlist compiled to C, every flip-flop starting at 0; it
  counts what Icarus counts, which takes ~13 h here; the numpy simulator of
  :mod:`hwnn.eda.gatesim` does not take the state loops of line buffers and counters); the
  same simulation checks the netlist's outputs against the IR. Power is
  split like seed 003 Table II: CONV units, ApproxConv units, the rest (line buffers,
  operand registers, pools, counters); the operand registers' and line buffers' flip-flops
  are reported as groups of their own too. Latency = cycles from an image's first pixel to its
  last output; dynamic energy per image = dynamic power × latency (Table II).
* FPGA (xc7, Yosys ``synth_xilinx -nodsp``, one unit at a time plus the glue with the
  units as black boxes): LUT6 and flip-flops.

``--operand-isolation`` builds the control design: the same variant with a shared operand
register in its unpredicted layers (key ``<variant>_isolated``), so that the saving of the
prediction itself can be told apart from that of holding the CONV units still at the image
edges. ``RUN/stream_synth.json`` keeps one entry per ``<key>/<target>``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.eda import power_from_activity, synth_asic, synth_fpga, timing
from hwnn.eda.cyclesim import simulate_compiled
from hwnn.eda.gatesim import library, parse_netlist
from hwnn.eda.rtlsim import Simulator, simulate_cycles
from hwnn.eda.yosys import ASIC_FLOW_VERSION, PartitionProgress
from hwnn.errors import HwnnError
from hwnn.ir import IRNetwork, ir_fingerprint
from hwnn.ir.reference import run as run_reference
from hwnn.logic.stream import (
    StreamPorts,
    conv_prefix,
    expected_stream,
    mismatching_pixels,
    stream_outputs,
    stream_ports,
    stream_verilog,
    stream_words,
)
from hwnn.methods.logic_flow import load_run_ir, quantized_inputs, top_name
from hwnn.methods.relu_pred import torch_integer_outputs
from hwnn.methods.synth_flow import vector_power_fields

#: seed 003 §VI-B synthesised and measured its designs at 100 MHz
STREAM_CLOCK_NS = 10.0
#: How the power flow's net activity is simulated (recorded in synth.json).
ACTIVITY_SIMULATOR = ("hwnn.eda.cyclesim (compiled zero-delay two-phase cycle simulation of "
                      "the Nangate45 netlist), every flip-flop starting at 0")
SIM_FILE = "stream_sim.json"
SYNTH_FILE = "stream_synth.json"
Target = Literal["asic", "fpga"]


def _net(run_dir: Path, variant: str) -> IRNetwork:
    net = load_run_ir(run_dir, variant)
    if not isinstance(net, IRNetwork):
        raise HwnnError(f"{run_dir}: {variant} is a LUT network, not a CNN")
    conv_prefix(net)  # raises with the reason when there is nothing to stream
    return net


def design_key(net: IRNetwork, variant: str, operand_isolation: bool) -> str:
    """The name of a design in the JSON files and under ``RUN/stream/``: the IR variant,
    with ``_isolated`` when its unpredicted layers get the shared operand register."""
    if not operand_isolation:
        return variant
    if all(la.approx is not None for la in conv_prefix(net)):
        raise HwnnError(f"{variant} predicts every conv layer, whose operand registers "
                        "already isolate; --operand-isolation adds nothing")
    return f"{variant}_isolated"


def images_per_digit(run_dir: Path, per_digit: int, data_dir: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_digit`` test images of every class, in test-set order (seed 003
    §VI-B: "MNIST samples covering all digits"): integer codes and labels."""
    codes, labels, _ = quantized_inputs(run_dir, "test", None, data_dir, torch_outputs=False)
    picked = first_per_class(labels, per_digit)
    return codes[picked], labels[picked]


def first_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` samples of every class, ascending."""
    labels = np.asarray(labels)
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:k]
                                   for c in np.unique(labels)]))


#: flip-flop groups of the stream design, by the register their Q net belongs to
REGISTER_GROUPS = {"operand_registers": re.compile(r"u_s\d+\.opnd\d*\[\d+\]"),
                   "line_buffers": re.compile(r"u_s\d+\.lb\[\d+\]")}


def register_groups(netlist: Path, top: str) -> dict[str, list[str]]:
    """Flip-flop instances of the mapped stream netlist per :data:`REGISTER_GROUPS` entry:
    the operand registers of the CONV units (``opnd<o>`` per channel with prediction,
    ``opnd`` shared with ``operand_isolation``) and the line buffers (``lb``), whose power
    the Table II split then shows apart from "other"."""
    lib = library()
    nl = parse_netlist(Path(netlist).read_text(), top)
    groups: dict[str, list[str]] = {name: [] for name in REGISTER_GROUPS}
    for inst in nl.instances:
        model = lib.get(inst.cell)
        if model is None or model.state is None:
            continue
        q = inst.pins.get("Q", "")
        for name, pattern in REGISTER_GROUPS.items():
            if pattern.fullmatch(q):
                groups[name].append(inst.name.lstrip("\\"))
    return groups


def latency_cycles(ports: StreamPorts, y_words: list[int | None], words: list[int]) -> int:
    """Cycles from the first pixel of the first image to its last output pixel."""
    valid_in = 1 << ports.pixel_width
    first = next(i for i, w in enumerate(words) if w & valid_in)
    per_image = ports.out_size[0] * ports.out_size[1]
    valid_out = 1 << (ports.out_channels * ports.out_bits)
    seen = 0
    for i, y in enumerate(y_words):
        if y is not None and y & valid_out:
            seen += 1
            if seen == per_image:
                return i - first + 1
    raise HwnnError("the stream produced fewer outputs than one image")


def _update(path: Path, key: str, entry: dict[str, Any]) -> None:
    doc = json.loads(path.read_text()) if path.is_file() else {"designs": {}}
    doc["designs"][key] = entry
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode())


def stream_sim(run_dir: Path, variant: str = "net", images: int = 100,
               simulator: Simulator = "verilator", data_dir: str | None = None,
               operand_isolation: bool = False) -> dict[str, Any]:
    """RTL simulation of the first ``images`` test images against the IR reference."""
    net = _net(run_dir, variant)
    key = design_key(net, variant, operand_isolation)
    ports = stream_ports(net)
    work = Path(run_dir) / "stream" / key / "rtl_sim"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "net.v"
    src.write_text(stream_verilog(net, top_name(net), operand_isolation=operand_isolation))
    codes, _, _ = quantized_inputs(run_dir, "test", images, data_dir, torch_outputs=False)
    words = stream_words(ports, codes)
    t0 = time.perf_counter()
    y = simulate_cycles([src], top_name(net), words, ports.x_width, ports.y_width, work,
                        simulator)
    got, want = stream_outputs(ports, y), expected_stream(net, codes)
    mismatches = mismatching_pixels(got, want)
    torch_out = torch_integer_outputs(run_dir, variant, codes)
    torch_vs_ir = int((torch_out != run_reference(net, codes).outputs[-1]).any(axis=1).sum())
    entry = {"variant": variant, "operand_isolation": operand_isolation,
             "torch_vs_ir_mismatching_images": torch_vs_ir,
             "simulator": simulator, "images": len(codes),
             "output_pixels": len(want), "received_pixels": len(got),
             "mismatching_pixels": mismatches, "passed": mismatches == 0 and torch_vs_ir == 0,
             "cycles": len(words), "latency_cycles": latency_cycles(ports, y, words),
             "ir_fingerprint": ir_fingerprint(net),
             "seconds": round(time.perf_counter() - t0, 1), "verilog": str(src)}
    _update(Path(run_dir) / SIM_FILE, key, entry)
    return entry


def stream_synth(run_dir: Path, variant: str = "net", target: Target = "asic",
                 per_digit: int = 2, clock_ns: float = STREAM_CLOCK_NS, jobs: int = 1,
                 timeout_s: float = 7200, data_dir: str | None = None,
                 progress: PartitionProgress | None = None, power: bool = True,
                 operand_isolation: bool = False) -> dict[str, Any]:
    """Synthesise the accelerator of one IR variant; ASIC: area, fmax and (``power``) the
    power from ``per_digit`` test images of every digit at ``clock_ns`` with the gate-level
    check."""
    if target not in ("asic", "fpga"):
        raise HwnnError(f"unknown target {target!r}; choose asic or fpga")
    net = _net(run_dir, variant)
    key = design_key(net, variant, operand_isolation)
    ports = stream_ports(net)
    top = top_name(net)
    work = Path(run_dir) / "stream" / key / target
    work.mkdir(parents=True, exist_ok=True)
    src = work / "net.v"
    src.write_text(stream_verilog(net, top, operand_isolation=operand_isolation))
    entry: dict[str, Any] = {"variant": variant, "operand_isolation": operand_isolation,
                             "target": target, "verilog": str(src),
                             "ir_fingerprint": ir_fingerprint(net),
                             "conv_layers": len(conv_prefix(net)),
                             "nonzero_weights": sum(la.nonzero_weights()
                                                    for la in conv_prefix(net))}
    t0 = time.perf_counter()
    if target == "fpga":
        fpga = synth_fpga([src], top, work, timeout_s, use_dsp=False, partition=True,
                          jobs=jobs, progress=progress)
        entry.update({"luts": fpga.luts, "lut_by_size": fpga.lut_by_size, "srl": fpga.srl,
                      "flip_flops": fpga.flip_flops, "carry4": fpga.carry, "dsp": fpga.dsp,
                      "partitions": fpga.partitions, "logs": {"yosys": str(fpga.log_path)}})
    else:
        entry.update(_asic(run_dir, net, ports, src, work, per_digit, clock_ns, jobs,
                           timeout_s, data_dir, progress, power))
    entry["seconds"] = round(time.perf_counter() - t0, 1)
    _update(Path(run_dir) / SYNTH_FILE, f"{key}/{target}", entry)
    return entry


def _asic(run_dir: Path, net: IRNetwork, ports: StreamPorts, src: Path, work: Path,
          per_digit: int, clock_ns: float, jobs: int, timeout_s: float,
          data_dir: str | None, progress: PartitionProgress | None, power: bool
          ) -> dict[str, Any]:
    top = top_name(net)
    syn = synth_asic([src], top, work, clock_period_ps=clock_ns * 1000, timeout_s=timeout_s,
                     partition=True, jobs=jobs, progress=progress)
    tim = timing(syn.netlist_path, top, work, period_ns=clock_ns, timeout_s=timeout_s)
    entry: dict[str, Any] = {
        "asic_flow": ASIC_FLOW_VERSION, "area_um2": round(syn.area_um2, 3),
        "cells": syn.cell_count, "flip_flops": syn.flip_flops,
        "cells_by_type": syn.cells_by_type, "partitions": syn.partitions,
        **({"stitch": syn.stitch} if syn.stitch else {}),
        "critical_path_ns": round(tim.critical_path_ns, 4), "fmax_mhz": round(tim.fmax_mhz, 2),
        "critical_path": [tim.startpoint, tim.endpoint],
        "logs": {"yosys": str(syn.log_path), "timing": str(tim.log_path)},
    }
    if not power:
        return entry
    codes, labels = images_per_digit(run_dir, per_digit, data_dir)
    words = stream_words(ports, codes)
    t1 = time.perf_counter()
    act = simulate_compiled(syn.netlist_path, top, work / "activity", in_width=ports.x_width,
                            vectors=words, timeout_s=timeout_s)
    got, want = stream_outputs(ports, list(act.outputs)), expected_stream(net, codes)
    groups: dict[str, str | list[str]] = {"conv": "u_s*.u_o*", "approx_conv": "u_s*.u_a*",
                                          **register_groups(syn.netlist_path, top)}
    pa = power_from_activity(syn.netlist_path, top, work, period_ns=clock_ns,
                             activity=act.activity, timeout_s=timeout_s,
                             instance_groups=groups)
    lat = latency_cycles(ports, list(act.outputs), words)
    dynamic = pa.internal_mw + pa.switching_mw
    parts = {name: round(sum(v[:2]), 5) for name, v in pa.groups_mw.items()}
    parts["other"] = round(dynamic - sum(parts.values()), 5)
    entry["logs"]["power"] = str(pa.log_path)
    return entry | {
        "power_clock_mhz": round(1000.0 / clock_ns, 3),
        "power_images": len(codes), "power_images_digits": sorted(set(labels.tolist())),
        **vector_power_fields(pa, len(words), ACTIVITY_SIMULATOR,
                              f"test split, first {per_digit} images of every digit"),
        "dynamic_power_mw": round(dynamic, 5), "dynamic_power_by_unit_mw": parts,
        "latency_cycles": lat, "latency_ns": round(lat * clock_ns, 3),
        "dynamic_energy_per_image_nj": round(dynamic * lat * clock_ns * 1e-3, 5),
        "gate_level_vs_ir_mismatching_pixels": mismatching_pixels(got, want),
        "gate_level_output_pixels": len(want),
        "activity_seconds": round(time.perf_counter() - t1, 1),
    }


__all__ = [
    "SIM_FILE",
    "STREAM_CLOCK_NS",
    "SYNTH_FILE",
    "first_per_class",
    "images_per_digit",
    "latency_cycles",
    "stream_sim",
    "stream_synth",
]

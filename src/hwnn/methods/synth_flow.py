"""Synthesis of a run's designs: ``hwnn synth RUN --target asic|fpga`` → ``RUN/synth.json``.

One *design* = (IR variant, weight style, extra register stages, retiming), named by
:func:`design_label`. Its work folder ``RUN/synth/<label>/<target>/`` keeps the Verilog, the
Yosys/OpenSTA/Icarus scripts and logs next to the numbers.

* ``asic`` (Nangate45, :mod:`hwnn.eda`): Yosys + ABC mapping (ABC delay target = the power
  clock), area (um^2) and cell counts; OpenSTA critical path → fmax; power at one fixed
  clock (``clock_ns``, the same for every design so they compare): vectorless (every data
  input toggling with ``input_activity`` per cycle) and from per-net activities of a
  zero-delay simulation of the mapped netlist on the first ``power_vectors`` test inputs
  (:mod:`hwnn.eda.gatesim`, annotated into OpenSTA by the DESIGN.md recipe). The same
  simulation checks the netlist's outputs against the IR reference.
* ``fpga`` (Yosys ``synth_xilinx``, xc7): LUT6-equivalent count (all LUT sizes), flip-flops,
  CARRY4 and DSP48 cells. ``use_dsp=False`` (default) maps multipliers to LUTs, which is the
  comparison seed 000 and LogicNets make.
* ``partition=True`` (label suffix ``_part``): the Verilog has one module per neuron and both
  targets map the neurons one by one (:func:`hwnn.eda.yosys.synth_asic` ``partition``), for
  networks too large for one Yosys process; STA, power and the gate-level check still run on
  the whole flattened netlist.

``synth.json`` holds one entry per ``<label>/<target>``; re-running a design replaces its
entry and keeps the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.cost.lut import network_lut_cost
from hwnn.eda import (
    POWER_METHOD_VERSION,
    power_from_activity,
    power_vectorless,
    synth_asic,
    synth_fpga,
    timing,
)
from hwnn.eda.gatesim import simulate_activity
from hwnn.eda.leafwise import LeafwiseResult, leafwise_analysis
from hwnn.eda.sta import PowerResult
from hwnn.eda.yosys import ASIC_FLOW_VERSION, PartitionProgress
from hwnn.errors import HwnnError
from hwnn.ir import IRNetwork, ir_fingerprint
from hwnn.ir.lut import LutNetwork
from hwnn.logic.literals import pack_words
from hwnn.logic.testbench import output_words
from hwnn.logic.verilog import (
    Style,
    generic_chain_stream,
    generic_params,
    latency,
)
from hwnn.methods.logic_flow import (
    AnyNetwork,
    design_name,
    design_verilog,
    load_run_ir,
    quantized_inputs,
    reference_run,
    top_name,
)

Target = Literal["asic", "fpga"]
SYNTH_FILE = "synth.json"
DEFAULT_CLOCK_NS = 2.0


def design_label(style: Style = "embedded", extra_stages: int = 0, variant: str = "net",
                 retime: bool = False, partition: bool = False) -> str:
    return design_name(style, extra_stages, variant, partition) + ("_retimed" if retime else "")


def synth_key(label: str, target: str, leafwise: bool = False) -> str:
    """Key of a design's entry in ``synth.json``: ``<label>/<target>``, or
    ``<label>_leafwise/asic`` for the leaf-by-leaf flow (:func:`_asic_leafwise`)."""
    return f"{label}_leafwise/{target}" if leafwise else f"{label}/{target}"


def _update_synth_json(run_dir: Path, key: str, entry: dict[str, Any]) -> Path:
    """Replace one entry of ``synth.json`` (an exclusive lock serialises parallel syntheses
    of the same run)."""
    path = run_dir / SYNTH_FILE
    with open(run_dir / ".synth.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc: dict[str, Any] = {}
        if path.is_file():
            try:
                doc = json.loads(path.read_text())
            except json.JSONDecodeError:
                doc = {}
        doc.setdefault("designs", {})[key] = entry
        atomic_write_bytes(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return path


def chain_state(net: IRNetwork) -> list[tuple[tuple[str, ...], int]]:
    """Generic baseline: every weight-chain bit after loading, with the names its register
    output may carry in a flattened netlist (Yosys keeps one alias per net): ``wchain[p]``,
    ``u_l<k>.w[i]`` (``i = p - offset_k``) and, for bias bits, ``u_l<k>.n<j>_b[b]`` (the
    bias wire of :func:`hwnn.logic.verilog.layer_module`)."""
    stream = generic_chain_stream(net)
    total = len(stream)
    aliases: list[list[str]] = [[f"wchain[{p}]"] for p in range(total)]
    offset = 0
    for k, layer in enumerate(net.layers):
        gp = generic_params(layer)
        i = 0
        for j in range(layer.out_features):
            i += int(np.count_nonzero(layer.weight[j])) * gp.weight_bits
            for b in range(gp.bias_bits):
                aliases[offset + i + b].append(f"u_l{k}.n{j}_b[{b}]")
            i += gp.bias_bits + gp.mult_bits
        for i in range(gp.total):
            aliases[offset + i].append(f"u_l{k}.w[{i}]")
        offset += gp.total
    return [(tuple(aliases[total - 1 - c]), int(bit)) for c, bit in enumerate(stream)]


def _weight_chain_state(net: AnyNetwork, style: Style) -> dict[str, Any]:
    """Gate-level simulation arguments for a design's weight chain: the generic baseline's
    chain preloaded with the weights (:func:`chain_state`) and held by ``w_en = 0``; other
    styles have no chain."""
    if style != "generic":
        return {"initial_state": None, "hold_inputs": None}
    assert isinstance(net, IRNetwork)
    return {"initial_state": chain_state(net), "hold_inputs": {"w_en": 0, "w_in": 0}}


def netlist_mismatches(net: AnyNetwork, vectors: np.ndarray, outputs: list[int | None],
                       lat: int) -> int:
    """Cycles where the gate-level netlist's ``y`` differs from the IR reference (undefined
    outputs count as mismatches once the pipeline is full): the synthesized netlist and the
    preloaded weight state are checked, not only the RTL."""
    expected = output_words(net, reference_run(net, vectors))
    got = outputs[lat - 1 :]
    return sum(g != e for g, e in zip(got, expected, strict=False))


def vector_power_fields(power: PowerResult | LeafwiseResult, vectors: int, simulator: str,
                        source: str = "test split, first vectors") -> dict[str, Any]:
    """The ``synth.json`` fields of a power measurement from test vectors (method 2)."""
    unmatched = power.unmatched_nets
    return {
        "power_vectors_mw": round(power.total_mw, 5),
        "power_vectors_breakdown_mw": {"internal": round(power.internal_mw, 5),
                                       "switching": round(power.switching_mw, 5),
                                       "leakage": round(power.leakage_mw, 5)},
        "power_vectors": vectors, "power_vectors_source": source,
        "activity_simulator": simulator, "annotated_nets": power.annotated_nets,
        "unmatched_nets": unmatched if isinstance(unmatched, int) else len(unmatched),
        "power_vectors_method": POWER_METHOD_VERSION,
        "power_vectors_input_registers_mw": round(power.input_register_mw, 5),
        "power_vectors_repropagated_pins": power.repropagated_pins,
    }


def _asic(net: AnyNetwork, src: Path, work: Path, style: Style, extra_stages: int,
          retime: bool, clock_ns: float, input_activity: float, vectors: np.ndarray | None,
          timeout_s: float, partition: bool, jobs: int,
          progress: PartitionProgress | None) -> dict[str, Any]:
    top = top_name(net)
    t0 = time.perf_counter()
    syn = synth_asic([src], top, work, clock_period_ps=clock_ns * 1000, retime=retime,
                     timeout_s=timeout_s, partition=partition, jobs=jobs, progress=progress)
    t_syn = time.perf_counter() - t0
    tim = timing(syn.netlist_path, top, work, period_ns=clock_ns, timeout_s=timeout_s)
    pv = power_vectorless(syn.netlist_path, top, work, period_ns=clock_ns,
                          input_activity=input_activity, timeout_s=timeout_s)
    entry: dict[str, Any] = {
        "asic_flow": ASIC_FLOW_VERSION,
        "area_um2": round(syn.area_um2, 3), "cells": syn.cell_count,
        "flip_flops": syn.flip_flops, "cells_by_type": syn.cells_by_type,
        "partitions": syn.partitions,
        **({"stitch": syn.stitch} if syn.stitch else {}),
        **({"retime_command": syn.retime_command} if syn.retime_command else {}),
        "critical_path_ns": round(tim.critical_path_ns, 4),
        "fmax_mhz": round(tim.fmax_mhz, 2), "critical_path": [tim.startpoint, tim.endpoint],
        "power_clock_mhz": round(1000.0 / clock_ns, 3),
        "power_vectorless_mw": round(pv.total_mw, 5),
        "power_vectorless_input_activity": input_activity,
        "power_vectorless_breakdown_mw": {"internal": round(pv.internal_mw, 5),
                                          "switching": round(pv.switching_mw, 5),
                                          "leakage": round(pv.leakage_mw, 5)},
        "synth_seconds": round(t_syn, 1),
        "logs": {"yosys": str(syn.log_path), "timing": str(tim.log_path),
                 "power_vectorless": str(pv.log_path)},
    }
    if vectors is not None and len(vectors):
        words = pack_words(vectors, net.input.bits)
        t1 = time.perf_counter()
        act = simulate_activity(
            syn.netlist_path, top, in_width=net.input.features * net.input.bits,
            vectors=words, **_weight_chain_state(net, style))
        pa = power_from_activity(syn.netlist_path, top, work, period_ns=clock_ns,
                                 activity=act.activity, timeout_s=timeout_s)
        lat = latency(net, extra_stages)
        entry.update({
            **vector_power_fields(pa, len(words), "hwnn.eda.gatesim (zero-delay, numpy)"),
            "preloaded_state_bits": act.preloaded_bits,
            "unplaced_state_bits": act.unplaced_state_bits,
            "gate_level_vs_ir_mismatches": netlist_mismatches(net, vectors, act.outputs, lat),
            "activity_seconds": round(time.perf_counter() - t1, 1),
        })
        entry["logs"].update(power_vectors=str(pa.log_path))
    return entry


def _asic_leafwise(net: AnyNetwork, src: Path, work: Path, style: Style, extra_stages: int,
                   clock_ns: float, vectors: np.ndarray | None, timeout_s: float, jobs: int,
                   progress: PartitionProgress | None) -> dict[str, Any]:
    """Partitioned ASIC design analysed leaf by leaf (:mod:`hwnn.eda.leafwise`), for
    designs whose flat netlist does not fit in memory: area and cells are the live leaves'
    sums (no sharing of identical cells across leaves), fmax the slowest leaf, power the sum of
    the leaves' vector power (method 2), the gate-level check from the leaves' outputs. The
    generic baseline's weight chain (glue) is preloaded with the weights and held
    (``w_en = 0``) and counted as one more part; each neuron sees its weight slice as a
    constant input."""
    if vectors is None or not len(vectors):
        raise HwnnError("the leaf-by-leaf flow measures power from test vectors: give "
                        "power_vectors > 0")
    top = top_name(net)
    t0 = time.perf_counter()
    syn = synth_asic([src], top, work, clock_period_ps=clock_ns * 1000, timeout_s=timeout_s,
                     partition=True, jobs=jobs, progress=progress, stitch=False)
    t_syn = time.perf_counter() - t0
    assert syn.leaf_netlists is not None
    words = pack_words(vectors, net.input.bits)
    t1 = time.perf_counter()
    res = leafwise_analysis(syn.netlist_path, top, syn.leaf_netlists, work / "leafwise",
                            period_ns=clock_ns, vectors=words, timeout_s=timeout_s,
                            progress=progress, jobs=jobs, **_weight_chain_state(net, style))
    preload = ({"preloaded_state_bits": res.glue["preloaded_bits"],
                "unplaced_state_bits": res.glue["unplaced_state_bits"]}
               if res.glue is not None else {})
    return {**preload,
        "asic_flow": ASIC_FLOW_VERSION, "timing_power_flow": "leafwise",
        "leafwise": res.summary(),
        "area_um2": res.area_um2, "cells": sum(res.cells_by_type.values()),
        "flip_flops": res.flip_flops, "cells_by_type": res.cells_by_type,
        "partitions": syn.partitions,
        "critical_path_ns": round(res.critical_path_ns, 4), "fmax_mhz": round(res.fmax_mhz, 2),
        "critical_path": list(res.critical_path),
        "power_clock_mhz": round(1000.0 / clock_ns, 3),
        **vector_power_fields(res, len(words),
                               "hwnn.eda.gatesim (zero-delay, numpy), leaf by leaf"),
        "gate_level_vs_ir_mismatches": netlist_mismatches(
            net, vectors, list(res.outputs), latency(net, extra_stages)),
        "synth_seconds": round(t_syn, 1),
        "activity_seconds": round(time.perf_counter() - t1, 1),
        "logs": {"yosys": str(syn.log_path), "leaves": str(res.table_path)},
    }


@contextlib.contextmanager
def _design_lock(work: Path) -> Iterator[None]:
    """One synthesis per design folder at a time: a sweep and a manual ``hwnn synth`` of the
    same design would otherwise overwrite each other's scripts, netlists and leaf results."""
    with open(work / ".synth.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HwnnError(f"another synthesis of this design is running in {work}: wait for "
                            "it to finish or stop it first") from None
        yield


def synth_design(net: AnyNetwork, work: Path, target: Target = "asic",
                 style: Style = "embedded", extra_stages: int = 0, retime: bool = False,
                 clock_ns: float = DEFAULT_CLOCK_NS, input_activity: float = 0.5,
                 vectors: np.ndarray | None = None, use_dsp: bool = False,
                 timeout_s: float = 3600, partition: bool = False, jobs: int = 1,
                 progress: PartitionProgress | None = None,
                 leafwise: bool = False) -> dict[str, Any]:
    """Write the Verilog of ``net`` into ``work`` and synthesise it; returns the entry.
    ``partition``: one module per neuron, mapped one by one, ``jobs`` Yosys processes at a
    time, ``progress(done, total, module)`` after each. ``leafwise`` (ASIC, partitioned):
    timing, power and the gate-level check leaf by leaf instead of on one flat netlist
    (:func:`_asic_leafwise`), the leaves of one layer ``jobs`` at a time."""
    if target not in ("asic", "fpga"):
        raise HwnnError(f"unknown target {target!r}; choose asic or fpga")
    if clock_ns <= 0:
        raise HwnnError(f"clock period must be positive, got {clock_ns} ns")
    if retime and target != "asic":
        raise HwnnError("retiming is implemented for the asic target only")
    if leafwise and not (partition and target == "asic" and not retime):
        raise HwnnError("the leaf-by-leaf flow is for partitioned ASIC designs without "
                        "retiming: add --partition, --target asic, drop --retime")
    if leafwise and isinstance(net, LutNetwork):
        raise HwnnError("the leaf-by-leaf flow times registered leaves, and a LUT network's "
                        "partitioned neurons are logic only (one register per layer, "
                        "hwnn.logic.lut_verilog): drop --leafwise")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    with _design_lock(work):
        src = work / "net.v"
        src.write_text(design_verilog(net, top_name(net), style, extra_stages, partition))
        entry: dict[str, Any] = {
            "style": style, "extra_stages": extra_stages, "retime": retime, "target": target,
            "partition": partition,
            "latency_cycles": latency(net, extra_stages), "verilog": str(src),
        }
        if isinstance(net, LutNetwork):  # LogicNets' analytic estimate beside the synthesized count
            entry["analytic_lut6"] = round(network_lut_cost(
                (la.address_bits, la.out_bits)
                for la in net.layers for _ in range(la.out_features)))
        else:
            entry["nonzero_weights"] = sum(la.nonzero_weights() for la in net.layers)
        t0 = time.perf_counter()
        if target == "asic" and leafwise:
            entry.update(_asic_leafwise(net, src, work, style, extra_stages, clock_ns,
                                        vectors, timeout_s, jobs, progress))
        elif target == "asic":
            entry.update(_asic(net, src, work, style, extra_stages, retime, clock_ns,
                               input_activity, vectors, timeout_s, partition, jobs, progress))
        else:
            fpga = synth_fpga([src], top_name(net), work, timeout_s, use_dsp=use_dsp,
                              partition=partition, jobs=jobs, progress=progress)
            entry.update({"luts": fpga.luts, "lut_by_size": fpga.lut_by_size, "srl": fpga.srl,
                          "flip_flops": fpga.flip_flops, "carry4": fpga.carry, "dsp": fpga.dsp,
                          "use_dsp": use_dsp, "partitions": fpga.partitions,
                          "logs": {"yosys": str(fpga.log_path)}})
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        return entry


def synth_run(run_dir: Path, target: Target = "asic", style: Style = "embedded",
              extra_stages: int = 0, variant: str = "net", retime: bool = False,
              clock_ns: float = DEFAULT_CLOCK_NS, input_activity: float = 0.5,
              power_vectors: int = 1000, use_dsp: bool = False, timeout_s: float = 3600,
              data_dir: str | None = None, partition: bool = False, jobs: int = 1,
              progress: PartitionProgress | None = None,
              leafwise: bool = False) -> dict[str, Any]:
    """Synthesise one design of a run and record it in ``RUN/synth.json``; ASIC power from
    the first ``power_vectors`` test inputs. ``leafwise`` results are recorded under
    ``<label>_leafwise/asic`` (same work folder and mapped leaves as ``<label>/asic``)."""
    if target not in ("asic", "fpga"):
        raise HwnnError(f"unknown target {target!r}; choose asic or fpga")
    run_dir = Path(run_dir)
    net = load_run_ir(run_dir, variant)
    label = design_label(style, extra_stages, variant, retime, partition)
    vectors = None
    if target == "asic" and power_vectors > 0:
        vectors, _, _ = quantized_inputs(run_dir, "test", power_vectors, data_dir,
                                         torch_outputs=False)
    entry = {"run": str(run_dir), "ir_variant": variant, "design": label,
             "ir_fingerprint": ir_fingerprint(net),
             **synth_design(net, run_dir / "synth" / label / target, target, style,
                            extra_stages, retime, clock_ns, input_activity, vectors, use_dsp,
                            timeout_s, partition, jobs, progress, leafwise)}
    entry["path"] = str(_update_synth_json(run_dir, synth_key(label, target, leafwise), entry))
    return entry

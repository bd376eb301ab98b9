"""``report.md`` of one run: accuracy per training stage, the IR, adder profiling, synthesis
(ASIC and FPGA) and the bit-exact simulation — read from the JSON files in the run folder
(``metrics.json``, ``profile.json``, ``synth.json``, ``sim.json``); sections whose file is
missing are left out. Numbers are copied, never recomputed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import score, table
from hwnn.report.power import STALE_POWER_NOTE, power_withheld, vector_power_mw

STAGES = {"float": "float", "qat": "8-bit QAT", "pruned_before_finetune": "pruned (no fine-tune)",
          "finetune": "pruned + fine-tuned"}


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _training(metrics: dict[str, Any]) -> list[str]:
    summary = metrics["summary_test"]
    lines = ["## Training (test split)", "", *table(
        ["stage", summary["metric"]],
        [[label, score(summary["metric"], summary[key])] for key, label in STAGES.items()
         if key in summary])]
    sparsity = metrics.get("sparsity", {}).get("total")
    if sparsity is not None:
        lines += ["", f"Weight sparsity after pruning: {100 * sparsity:.1f} %."]
    return [*lines, ""]


def _profile(prof: dict[str, Any]) -> list[str]:
    t = prof["test"]
    key = "accuracy" if "accuracy" in t["worst_case"] else "ber"
    q = prof["quantile"]
    lines = ["## Adder bit-width profiling (seed 000 §III-B)", "",
             f"{prof['train_samples']:,} training inputs, outlier quantile "
             f"{q if q else 'none'}, values outside the range {prof['overflow']}.", "",
             *table(["layer", "layer acc bits", "per-neuron worst case", "profiled",
                     "adder bits saved"],
                    [[la["layer"], la["layer_acc_bits"], "{}..{}".format(*la["worst_case_bits"]),
                      "{}..{}".format(*la["profiled_bits"]), la["bits_saved"]]
                     for la in prof["layers"]])]
    lines += ["", f"Test {key}: {score(key, t['worst_case'][key])} at worst-case widths, "
              f"{score(key, t['profiled'][key])} profiled ({t['changed_outputs']} of "
              f"{t['vectors']:,} outputs changed).", ""]
    return lines


def _synth(synth: dict[str, Any]) -> list[str]:
    lines = ["## Synthesis", ""]
    asic = {k: v for k, v in synth["designs"].items() if v["target"] == "asic"}
    fpga = {k: v for k, v in synth["designs"].items() if v["target"] == "fpga"}
    if asic:
        lines += ["ASIC: Yosys + ABC onto Nangate45 (typical), OpenSTA timing and power.", "",
                  "| design | area (µm²) | cells | FFs | fmax (MHz) | power clock (MHz) | "
                  "power, test vectors (mW) | power, vectorless (mW) | netlist vs IR |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for key, e in sorted(asic.items()):
            pv = vector_power_mw(e)
            mism = e.get("gate_level_vs_ir_mismatches")
            lines.append(
                f"| {key.split('/')[0]} | {e['area_um2']:,.1f} | {e['cells']:,} | "
                f"{e['flip_flops']:,} | {e['fmax_mhz']:.1f} | {e['power_clock_mhz']:g} | "
                f"{'—' if pv is None else f'{pv:.3f}'} | {e['power_vectorless_mw']:.3f} | "
                f"{'—' if mism is None else f'{mism} mismatches'} |")
        lines.append("")
        if any(power_withheld(e) for e in asic.values()):
            lines += [STALE_POWER_NOTE, ""]
    if fpga:
        lines += ["FPGA: Yosys `synth_xilinx` (xc7).", "",
                  "| design | LUTs | LUT6 | FFs | CARRY4 | DSP |", "|---|---|---|---|---|---|"]
        for key, e in sorted(fpga.items()):
            lines.append(f"| {key.split('/')[0]} | {e['luts']:,} | "
                         f"{e['lut_by_size'].get('6', e['lut_by_size'].get(6, 0)):,} | "
                         f"{e['flip_flops']:,} | {e['carry4']:,} | {e['dsp']} |")
        lines.append("")
    return lines


def _sim(sim: dict[str, Any]) -> list[str]:
    lines = ["## Bit-exact simulation", "",
             f"{sim['vectors']:,} test vectors, design `{sim['style']}`, latency "
             f"{sim['latency_cycles']} cycles. torch integer mode vs IR reference: "
             f"{sim['torch_vs_ir_mismatches']} mismatches.", "",
             "| simulator | mismatches | seconds |", "|---|---|---|"]
    for name, r in sim["simulators"].items():
        lines.append(f"| {name} | {r['mismatches']} | {r['seconds']} |")
    lines += ["", "**passed**" if sim["passed"] else "**FAILED**", ""]
    return lines


def run_report(run_dir: Path) -> str:
    """Markdown report of the run folder."""
    run_dir = Path(run_dir)
    metrics = _load(run_dir / "metrics.json")
    name = metrics["name"] if metrics else run_dir.name
    lines = [f"# hwnn report: {name}", "", f"Run folder: `{run_dir}`.", ""]
    if metrics:
        lines += _training(metrics)
    ir = _load(run_dir / "net.ir.json")
    if ir:
        lines += ["## Integer network (IR)", "", "| layer | shape | non-zero weights | acc bits |"
                  " output | activation |", "|---|---|---|---|---|---|"]
        for la in ir["layers"]:
            sign = "int" if la["out_signed"] else "uint"
            lines.append(f"| {la['name']} | {la['in_features']} → {la['out_features']} | "
                         f"{la['nonzero_weights']:,} | {la['acc_bits']} | "
                         f"{sign}{la['out_bits']} | {la['activation']} |")
        lines += ["", f"Head: {ir['head']['kind']}.", ""]
    for fname, section in (("profile.json", _profile), ("synth.json", _synth),
                           ("sim.json", _sim)):
        doc = _load(run_dir / fname)
        if doc:
            lines += section(doc)
    return "\n".join(lines)


def write_run_report(run_dir: Path) -> Path:
    path = Path(run_dir) / "report.md"
    atomic_write_bytes(path, run_report(run_dir).encode())
    return path

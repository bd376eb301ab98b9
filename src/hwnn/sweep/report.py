"""The combined report of a sweep: one row per job and design, read back from the job
folders (``metrics.json``, ``synth.json``, ``sim*.json``, ``job.json``), so it can be
rebuilt at any time without re-running anything. Written next to the job folders as
``<out>/../<name>.json`` and ``.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.report.markdown import score, table
from hwnn.report.power import STALE_POWER_NOTE, power_withheld, vector_power_mw
from hwnn.sweep.job import JOB_FILE, sim_file, synth_entry_key
from hwnn.sweep.spec import DesignSpec, Job, SweepSpec

SYNTH_FIELDS = ("area_um2", "cells", "flip_flops", "fmax_mhz", "critical_path_ns",
                "power_clock_mhz", "power_vectors_mw", "power_vectors", "power_vectors_method",
                "power_vectorless_mw",
                "gate_level_vs_ir_mismatches", "luts", "carry4", "latency_cycles",
                "nonzero_weights", "analytic_lut6", "seconds", "timing_power_flow",
                "partitions")


LEAFWISE_NOTE = ("‡ timing, power and the gate-level check leaf by leaf "
                 "(hwnn.eda.leafwise): area is the sum of the leaves (no cell sharing across "
                 "neurons), fmax the slowest leaf's.")


def dig(d: dict[str, Any] | None, *keys: str) -> Any:
    """``d[k1][k2]...``, or None as soon as a level is missing (reading job reports)."""
    for k in keys:
        if d is None:
            return None
        d = d.get(k)
    return d


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _sim_summary(run_dir: Path, design: DesignSpec) -> dict[str, Any] | None:
    """Passed, vectors and mismatches per simulator of every Verilog form ``design`` is
    synthesised from (a partitioned form's simulators are suffixed ``/part`` when the design
    has both forms); None while one of them has not been simulated."""
    forms = design.rtl_forms()
    docs: list[tuple[dict[str, Any], bool]] = []
    for part in forms:
        doc = _read(sim_file(run_dir, design, part))
        if doc is None:
            return None
        docs.append((doc, part))
    suffix = len(forms) > 1
    return {"passed": all(doc.get("passed") for doc, _ in docs),
            "vectors": min(doc.get("vectors", 0) for doc, _ in docs),
            "mismatches": {k + ("/part" if part and suffix else ""): v["mismatches"]
                           for doc, part in docs for k, v in doc.get("simulators", {}).items()}}


def collect_job(run_dir: Path, job: Job) -> dict[str, Any]:
    """Everything the tables need about one job (missing pieces are None)."""
    status = _read(run_dir / JOB_FILE) or {"status": "not run"}
    metrics = _read(run_dir / "metrics.json") or {}
    synth = (_read(run_dir / "synth.json") or {}).get("designs", {})
    from hwnn.methods.synth_flow import design_label

    designs: dict[str, Any] = {}
    for d in job.designs:
        label = design_label(d.style, d.extra_stages, d.variant, d.retime, d.partition is True)
        if len(d.rtl_forms()) > 1:
            label += f" ({', '.join(t for t in d.targets if d.partitioned(t))} partitioned)"
        entry: dict[str, Any] = {"label": label, "style": d.style, "extra_stages": d.extra_stages,
                                 "retime": d.retime, "variant": d.variant,
                                 "sim": _sim_summary(run_dir, d) if d.sim else None}
        for target in d.targets:
            got = synth.get(synth_entry_key(d, target))
            entry[target] = None if got is None else {k: got[k] for k in SYNTH_FIELDS if k in got}
        designs[d.name] = entry
    hw = metrics.get("hw_aware")
    return {"name": job.name, "status": status.get("status"), "error": status.get("error"),
            "seconds": status.get("seconds"), "run_dir": str(run_dir),
            "summary_test": metrics.get("summary_test"),
            "sparsity": (metrics.get("sparsity") or {}).get("total"),
            "hw_aware": None if hw is None else {k: hw[k] for k in
                                                 ("n", "values", "recovered", "trials")},
            "designs": designs}


def _fmt(value: Any, spec: str = ",.0f") -> str:
    return "–" if value is None else format(value, spec)


def markdown(spec: SweepSpec, rows: list[dict[str, Any]]) -> str:
    lines = [f"# Sweep {spec.name}", "",
             f"Jobs in `{spec.out}`; rebuilt from the job folders by `hwnn sweep FILE "
             "--report-only`.", ""]
    head = ["job", "status", "metric", "float", "pruned", "final", "n", "design", "area um²",
            "fmax MHz", "power mW", "LUT6", "sim"]
    body = []
    for r in rows:
        s = r["summary_test"] or {}
        metric = s.get("metric", "accuracy")
        final = s.get("hw_aware", s.get("finetune", s.get("qat")))
        hw = r["hw_aware"] or {}
        designs = r["designs"] or {"–": {}}
        for dname, d in designs.items():
            asic, fpga, sim = d.get("asic") or {}, d.get("fpga") or {}, d.get("sim") or {}
            body.append([
                r["name"], r["status"], metric,
                *(score(metric, s[k]) if k in s else "–" for k in ("float", "finetune")),
                score(metric, final) if final is not None else "–", _fmt(hw.get("n"), "d"),
                dname + (" ‡" if asic.get("timing_power_flow") == "leafwise" else ""),
                _fmt(asic.get("area_um2")), _fmt(asic.get("fmax_mhz"), ".1f"),
                _fmt(vector_power_mw(asic), ".1f"), _fmt(fpga.get("luts"), ",d"),
                "–" if not sim else ("pass" if sim.get("passed") else "FAIL")])
    lines += table(head, body)
    if any(power_withheld(d.get("asic")) for r in rows for d in (r["designs"] or {}).values()):
        lines += ["", STALE_POWER_NOTE]
    if any(dig(d, "asic", "timing_power_flow") == "leafwise"
           for r in rows for d in (r["designs"] or {}).values()):
        lines += ["", LEAFWISE_NOTE]
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        lines += ["", "## Failed jobs", ""]
        lines += [f"- {r['name']}: {r['error']} (log: {r['run_dir']}/job.log)" for r in failed]
    return "\n".join(lines) + "\n"


def write_report(spec: SweepSpec, jobs: list[Job]) -> dict[str, Any]:
    """Write ``<out>/../<name>_sweep.{json,md}`` (the ``_sweep`` suffix keeps it apart from
    the results a script makes from the same jobs, e.g. ``results/tnn/tnn.md``)."""
    out = Path(spec.out)
    rows = [collect_job(out / j.name, j) for j in jobs]
    report = {"sweep": spec.name, "out": spec.out, "jobs": rows}
    base = out.parent / f"{spec.name}_sweep"
    atomic_write_bytes(base.with_suffix(".json"), (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(base.with_suffix(".md"), markdown(spec, rows).encode())
    report["paths"] = [str(base.with_suffix(".json")), str(base.with_suffix(".md"))]
    return report

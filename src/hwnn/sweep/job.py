"""One sweep job, run start to finish in one process: train → export → simulate → synthesise.

Every step is resumable, so a re-run of the sweep only does what is missing: training
resumes from its checkpoint (or is a no-op when done, also when only the committed
``model.pt``/``metrics.json`` are left), a simulation is skipped when its ``sim*.json`` passed
with the requested number of vectors on the same IR (:func:`hwnn.ir.ir_fingerprint`), a
synthesis when ``synth.json`` already holds the design/target made from the same IR with the
same clock, power vectors and power method. Output
of the library (training epochs, tool progress) goes to ``RUN/job.log``; the outcome of each step
to ``RUN/job.json``.

Two sweep processes may name the same job (e.g. two ``hwnn sweep --only`` runs over one
sweep file): a job holds an exclusive lock on ``RUN/.job.lock`` while it runs, so the second
process skips it instead of writing into the same folder, and a job found done when its
worker starts (finished by another process after this sweep was submitted) is not re-run.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hwnn.atomic import atomic_write_bytes
from hwnn.eda.stitch import CURRENT_STITCH_VERSIONS
from hwnn.eda.yosys import ASIC_FLOW_VERSION
from hwnn.report.power import power_is_current
from hwnn.sweep.spec import DesignSpec, Job

JOB_FILE = "job.json"
JOB_LOG = "job.log"
JOB_LOCK = ".job.lock"


def sim_file(run_dir: Path, design: DesignSpec, partition: bool) -> Path:
    """The ``sim*.json`` of ``design``'s Verilog in one form (see
    :meth:`DesignSpec.rtl_forms`)."""
    from hwnn.methods.logic_flow import sim_json_path

    return sim_json_path(run_dir, design.style, design.extra_stages, design.variant, partition)


def fingerprints(run_dir: Path) -> Callable[[str], str | None]:
    """``variant -> ``:func:`hwnn.ir.ir_fingerprint` of the run's exported IR (None when it
    has not been exported or does not load), each IR loaded and hashed once. Make it after
    the export step: it does not see later exports."""
    from hwnn.errors import HwnnError
    from hwnn.ir import IRError, ir_fingerprint
    from hwnn.methods.logic_flow import load_run_ir

    @functools.cache
    def fingerprint(variant: str) -> str | None:
        try:
            return ir_fingerprint(load_run_ir(run_dir, variant))
        except (HwnnError, IRError):
            return None

    return fingerprint


def _sim_done(path: Path, vectors: int, fingerprint: str | None) -> bool:
    """A simulation is done when it passed with ``vectors`` vectors on the IR it is asked
    for (a retrained or re-profiled network has another fingerprint and is simulated again)."""
    if not path.is_file() or fingerprint is None:
        return False
    doc = json.loads(path.read_text())
    return (bool(doc.get("passed")) and doc.get("vectors") == vectors
            and doc.get("ir_fingerprint") == fingerprint)


def _synth_done(run_dir: Path, key: str, job: Job, target: str, fingerprint: str | None
                ) -> bool:
    path = run_dir / "synth.json"
    if not path.is_file() or fingerprint is None:
        return False
    entry = json.loads(path.read_text()).get("designs", {}).get(key)
    if entry is None or entry.get("ir_fingerprint") != fingerprint:
        return False
    if target == "fpga":
        return True
    if (entry.get("partitions", 0) > 1
            and entry.get("stitch", {}).get("version") not in CURRENT_STITCH_VERSIONS):
        return False
    return (entry.get("asic_flow") == ASIC_FLOW_VERSION
            and entry.get("power_clock_mhz") == round(1000.0 / job.clock_ns, 3)
            and entry.get("power_vectors", 0) == job.power_vectors
            and (job.power_vectors == 0 or power_is_current(entry)))


def synth_entry_key(design: DesignSpec, target: str) -> str:
    """The ``synth.json`` key of one design and target (``<label>_leafwise/asic`` for a
    leaf-by-leaf ASIC analysis, :func:`hwnn.methods.synth_flow.synth_key`)."""
    from hwnn.methods.synth_flow import design_label, synth_key

    label = design_label(design.style, design.extra_stages, design.variant, design.retime,
                         design.partitioned(target))
    return synth_key(label, target, design.leafwise and target == "asic")


def _synth_targets(job: Job) -> Iterator[tuple[DesignSpec, str, str]]:
    """(design, target, ``synth.json`` key) for every synthesis ``job`` asks for."""
    for design in job.designs:
        for target in design.targets:
            yield design, target, synth_entry_key(design, target)


def _sim_designs(job: Job, run_dir: Path) -> Iterator[tuple[DesignSpec, bool, Path]]:
    """(design, partitioned, ``sim*.json`` path) for every simulation ``job`` asks for, each
    file once."""
    seen: set[Path] = set()
    for design in job.designs:
        if not design.sim:
            continue
        for partition in design.rtl_forms():
            path = sim_file(run_dir, design, partition)
            if path not in seen:
                seen.add(path)
                yield design, partition, path


def results_current(run_dir: Path, job: Job) -> bool:
    """Whether every simulation and synthesis result ``job`` asks for exists, was made from
    the run's current IR and (ASIC) by the current flow; a finished job that fails this is
    run again and redoes only what is missing."""
    fingerprint = fingerprints(run_dir)
    if "sim" in job.steps and not all(
            _sim_done(path, job.sim_vectors, fingerprint(d.variant))
            for d, _, path in _sim_designs(job, run_dir)):
        return False
    return "synth" not in job.steps or all(
        _synth_done(run_dir, key, job, target, fingerprint(design.variant))
        for design, target, key in _synth_targets(job))


def job_is_done(run_dir: Path, job: Job) -> bool:
    """``job.json`` says done for this exact job definition and every result is current."""
    path = run_dir / JOB_FILE
    if not path.is_file():
        return False
    status = json.loads(path.read_text())
    return (status.get("status") == "done" and status.get("job") == job.model_dump(mode="json")
            and results_current(run_dir, job))


def _write_status(run_dir: Path, status: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / JOB_FILE, (json.dumps(status, indent=2) + "\n").encode())


def _read_status(run_dir: Path) -> dict[str, Any] | None:
    """The job's ``job.json`` (None when missing or unreadable)."""
    path = run_dir / JOB_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def record_crash(run_dir: Path, name: str, err: BaseException) -> dict[str, Any]:
    """Mark a job whose worker died (e.g. killed by Ray's out-of-memory monitor, so
    :func:`run_job` could not write its own status) as failed in its ``job.json``; the
    steps it had finished stay recorded. Returns the status."""
    status = _read_status(run_dir) or {"name": name, "steps": {}}
    status.pop("current", None)
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    status.update(status="failed", error=f"{type(err).__name__}: {first} (the job's worker "
                  "died; rerun the sweep to resume it)")
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_status(run_dir, status)
    return status


def record_stop(run_dir: Path) -> None:
    """Mark a job that a stopped sweep (Ctrl-C, SIGTERM) cancelled while it ran as
    ``stopped`` instead of leaving ``running`` in its ``job.json``; the steps it finished
    stay recorded and the next run of the sweep resumes it. Other states are left as they
    are."""
    status = _read_status(run_dir)
    if status is None or status.get("status") != "running":
        return
    status.pop("current", None)
    status.update(status="stopped", error="the sweep was stopped while this job ran; run the "
                  "same sweep again to resume it")
    _write_status(run_dir, status)


def _steps(job: Job, run_dir: Path, status: dict[str, Any], console: Any) -> None:
    from hwnn.data import load_dataset
    from hwnn.methods.logic_flow import export, simulate_run
    from hwnn.methods.synth_flow import synth_run
    from hwnn.train.loop import Trainer

    def step(name: str) -> contextlib.AbstractContextManager[None]:
        @contextlib.contextmanager
        def timed() -> Any:
            t0 = time.perf_counter()
            status["current"] = name
            _write_status(run_dir, status)
            yield
            status["steps"][name] = {"seconds": round(time.perf_counter() - t0, 1)}
            _write_status(run_dir, status)
        return timed()

    if "train" in job.steps:
        with step("train"):
            cfg = job.run_config()
            ds = load_dataset(cfg.data.task, cfg.data.data_dir, cfg.data.seed, cfg.data.ofc)
            Trainer(cfg, ds, run_dir, console=console, progress=False).run()
    if "export" in job.steps:
        with step("export"):
            export(run_dir)
    fingerprint = fingerprints(run_dir)
    if "sim" in job.steps:
        for design, partition, path in _sim_designs(job, run_dir):
            if _sim_done(path, job.sim_vectors, fingerprint(design.variant)):
                console.print(f"sim {path.name}: done earlier on this IR, skipped")
                continue
            with step(f"sim:{design.name}"):
                report = simulate_run(run_dir, job.sim_vectors, design.style,
                                      design.extra_stages, data_dir=job.data_dir,
                                      variant=design.variant, timeout_s=job.timeout_s,
                                      partition=partition, simulators=design.simulators)
            if not report["passed"]:
                raise RuntimeError(f"simulation of {design.name} failed: see {report['path']}")
    if "synth" in job.steps:
        for design, target, key in _synth_targets(job):
            if _synth_done(run_dir, key, job, target, fingerprint(design.variant)):
                console.print(f"synth {key}: done earlier on this IR, skipped")
                continue
            with step(f"synth:{design.name}:{target}"):
                synth_run(run_dir, target, design.style, design.extra_stages,
                          design.variant, design.retime, job.clock_ns,
                          power_vectors=job.power_vectors, timeout_s=job.timeout_s,
                          data_dir=job.data_dir, partition=design.partitioned(target),
                          leafwise=design.leafwise and target == "asic")


def run_job(job_data: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """Run every step of one job (a plain-dict :class:`Job`, so it crosses process and
    machine boundaries as JSON); returns and writes the job status. Never raises: a
    failure is recorded with its traceback so the rest of the sweep goes on."""
    job = Job.model_validate(job_data)
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / JOB_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return {"name": job.name, "status": "skipped", "seconds": 0.0,
                    "error": f"another process is running this job now (lock {out / JOB_LOCK}); "
                             "its results land in the same folder, re-run the sweep after it "
                             "ends to include them in the report"}
        if job_is_done(out, job):
            return json.loads((out / JOB_FILE).read_text()) | {"seconds": 0.0}
        return _run_locked(job, out)


def _run_locked(job: Job, out: Path) -> dict[str, Any]:
    """:func:`run_job` once the job's lock is held and the job is not done."""
    import torch
    from rich.console import Console

    torch.set_num_threads(1)  # one core per job; Ray runs as many jobs as cores
    # a resumed job keeps the times of the steps it finished before: those it skips as done
    # earlier still describe the results on disk; those it runs again are overwritten
    earlier = dict((_read_status(out) or {}).get("steps", {}))
    status: dict[str, Any] = {"name": job.name, "status": "running", "steps": earlier,
                              "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "job": job.model_dump(mode="json")}
    t0 = time.perf_counter()
    with (out / JOB_LOG).open("a") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        console = Console(file=log, width=120, force_terminal=False)
        console.print(f"=== job {job.name} started {status['started']}")
        try:
            _steps(job, out, status, console)
            status["status"] = "done"
        except Exception as err:  # recorded for the sweep report, not swallowed silently
            status.update(status="failed", error=f"{type(err).__name__}: {err}")
            console.print(traceback.format_exc())
        status.pop("current", None)
        status["seconds"] = round(time.perf_counter() - t0, 1)
        console.print(f"=== job {job.name} {status['status']} after {status['seconds']} s")
    _write_status(out, status)
    return status

"""Run a sweep's jobs as Ray tasks and collect one combined report.

Ray runs locally by default (``ray.init(num_cpus=jobs)``: one job per core, the machines
here have 2) or joins an existing cluster with ``address`` (``ray start --head`` on one
machine, then ``hwnn sweep FILE --address HOST:6379``); every worker must see the same
repository and data paths. Jobs whose ``job.json`` says ``done`` for the same job
definition are skipped (resume), so a sweep interrupted at any point is finished by running
the same command again.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwnn.errors import HwnnError
from hwnn.sweep.job import job_is_done, record_crash, record_stop, run_job
from hwnn.sweep.report import write_report
from hwnn.sweep.spec import Job, SweepSpec


def _ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a dependency; guard for odd installs
        raise HwnnError("Ray is not installed: `pip install 'ray>=2.9'` (bash scripts/install.sh "
                        "installs it)") from None
    return ray


def _cancel(ray: Any, refs: list[Any], grace_s: float = 30.0) -> None:
    """Stop running jobs (they resume on the next run): first as KeyboardInterrupt inside
    the job, so that a running tool's process group is killed too
    (:func:`hwnn.eda.tools.run_tool`), then by killing workers that did not stop."""
    for ref in refs:
        ray.cancel(ref, force=False)
    _, left = ray.wait(refs, num_returns=len(refs), timeout=grace_s)
    for ref in left:
        ray.cancel(ref, force=True)


def _stop_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM stop the sweep like Ctrl-C (KeyboardInterrupt); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def run_sweep(spec: SweepSpec, jobs: list[Job], *, address: str | None = None,
              parallel: int | None = None, only: list[str] | None = None,
              on_update: Callable[[str, dict[str, Any] | None, int, int], None] | None = None,
              ) -> dict[str, Any]:
    """Run the unfinished jobs (all, or those named in ``only``); returns the report.

    ``on_update(job, status, finished, total)`` is called once per finished job (status
    None for a job skipped as done) so a caller can draw progress.
    """
    out = Path(spec.out)
    selected = [j for j in jobs if only is None or j.name in only]
    if only is not None:
        unknown = sorted(set(only) - {j.name for j in jobs})
        if unknown:
            raise HwnnError(f"no such job(s): {unknown}; the sweep has "
                            f"{[j.name for j in jobs]}")
    todo = [j for j in selected if not job_is_done(out / j.name, j)]
    total, finished = len(selected), len(selected) - len(todo)
    for job in selected:
        if job not in todo and on_update is not None:
            on_update(job.name, None, finished, total)
    if todo:
        ray = _ray()
        started_here = not ray.is_initialized()
        if started_here:
            cores = parallel or os.cpu_count() or 1
            kwargs: dict[str, Any] = ({"address": address} if address else
                                      {"num_cpus": cores, "include_dashboard": False})
            ray.init(log_to_driver=False, configure_logging=False, **kwargs)
        pending: dict[Any, str] = {}
        restore = _stop_on_sigterm()
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(run_job)
            pending = {remote.remote(j.model_dump(mode="json"), str((out / j.name).resolve())):
                       j.name for j in todo}
            while pending:
                # a timeout, so that Ctrl-C / SIGTERM are handled while jobs run
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                if not ready:
                    continue
                name = pending.pop(ready[0])
                try:
                    status = ray.get(ready[0])
                except ray.exceptions.RayError as err:  # worker killed (out of memory ...)
                    status = record_crash(out / name, name, err)
                finished += 1
                if on_update is not None:
                    on_update(name, status, finished, total)
        except KeyboardInterrupt:
            _cancel(ray, list(pending))
            for name in pending.values():
                record_stop(out / name)
            raise
        finally:
            restore()
            if started_here:
                ray.shutdown()
    return write_report(spec, jobs)

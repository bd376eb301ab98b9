"""Sweeps: many train → export → simulate → synthesise jobs from one YAML, run on Ray."""

from hwnn.sweep.report import write_report
from hwnn.sweep.runner import run_sweep
from hwnn.sweep.spec import DesignSpec, Job, SweepSpec, load_sweep, restrict_steps

__all__ = ["DesignSpec", "Job", "SweepSpec", "load_sweep", "restrict_steps", "run_sweep",
           "write_report"]

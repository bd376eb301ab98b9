"""Sweep files: many train → export → simulate → synthesise jobs described in one YAML.

A sweep names a folder for its runs, defaults shared by every job, and a list of jobs. A
job is a run config (``config:``, a path relative to the sweep file) with dotted-key
overrides (``set:``) and an optional ``grid:`` whose cartesian product multiplies it::

    name: table1
    out: results/table1/runs            # one run folder per job (relative to the repo)
    defaults:
      set: {train.hw_aware: {epochs: 30, tolerance: 0.005}}
      sim_vectors: 10000
      designs:
        - {name: base, style: generic, targets: [asic, fpga]}
        - {name: prop, style: embedded, extra_stages: 1, retime: true, targets: [asic]}
    jobs:
      - {name: nid_a, config: ../nid_a.yaml}
      - name: nid_low
        config: ../nid_a.yaml
        grid: {model.weight_bits: [2, 3, 4]}

Every field is validated; an unknown key or a bad value fails before any job starts, with
the job's name in the message.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from hwnn.config import RunConfig, parse_config, read_yaml
from hwnn.errors import ConfigError

Step = Literal["train", "export", "sim", "synth"]
ALL_STEPS: tuple[Step, ...] = ("train", "export", "sim", "synth")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DesignSpec(_Strict):
    """One hardware design of a job's network (see ``hwnn synth``)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    style: Literal["embedded", "generic", "csd"] = "embedded"
    extra_stages: int = Field(0, ge=0, le=8)
    retime: bool = False
    variant: Literal["net", "profiled"] = "net"
    targets: list[Literal["asic", "fpga"]] = Field(default_factory=lambda: ["asic", "fpga"])
    sim: bool = Field(True, description="simulate the RTL against the IR reference")
    simulators: list[Literal["icarus", "verilator"]] | None = Field(
        None, min_length=1, description="RTL simulators to use (default: every one installed); "
        "e.g. [verilator] for partitioned generic designs, which Icarus runs 35-57x slower "
        "than whole ones")
    partition: bool | list[Literal["asic", "fpga"]] = Field(
        False, description="one module per neuron, synthesised one by one (for networks too "
        "large for one Yosys run); true for every target, or a list of the targets to "
        "partition (e.g. [fpga]: the ASIC netlist whole, the xc7 count neuron by neuron)")
    leafwise: bool = Field(False, description="asic: timing, power and the gate-level check "
                           "leaf by leaf (hwnn synth --leafwise) instead of on the stitched "
                           "netlist; needs partition and no retime")

    @model_validator(mode="after")
    def _retime_asic_only(self) -> DesignSpec:
        if self.retime and self.targets != ["asic"]:
            raise ValueError(f"design {self.name}: retime is implemented for targets: [asic]")
        if isinstance(self.partition, list) and not set(self.partition) <= set(self.targets):
            raise ValueError(f"design {self.name}: partition lists targets the design does "
                             f"not have: {sorted(set(self.partition) - set(self.targets))}")
        if self.leafwise and not (self.partitioned("asic") and not self.retime
                                  and "asic" in self.targets):
            raise ValueError(f"design {self.name}: leafwise needs partition: true (or "
                             "[asic, ...]), an asic target and no retime")
        return self

    def partitioned(self, target: str) -> bool:
        """Whether ``target`` is synthesised from the one-module-per-neuron Verilog."""
        return self.partition is True or (isinstance(self.partition, list)
                                          and target in self.partition)

    def rtl_forms(self) -> list[bool]:
        """The Verilog forms (partitioned or not) some target is synthesised from, each once:
        every one is simulated."""
        return sorted({self.partitioned(t) for t in self.targets})


class JobDefaults(_Strict):
    set: dict[str, Any] = Field(default_factory=dict, description="dotted-key overrides")
    steps: list[Step] = Field(default_factory=lambda: list(ALL_STEPS))
    designs: list[DesignSpec] = Field(default_factory=list)
    sim_vectors: PositiveInt = 10_000
    power_vectors: int = Field(1000, ge=0)
    clock_ns: float = Field(2.0, gt=0, description="clock for power (and ABC's target)")
    timeout_s: float = Field(4 * 3600, gt=0, description="per EDA tool call")


class JobSpec(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    config: str = Field(description="run config YAML, relative to the sweep file")
    set: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    steps: list[Step] | None = None
    designs: list[DesignSpec] | None = None
    sim_vectors: PositiveInt | None = Field(None, description="this job's RTL simulation "
                                            "vectors (default: the sweep's)")


class SweepSpec(_Strict):
    name: str = Field(min_length=1)
    out: str = Field(description="folder of the job runs, relative to the current directory")
    data_dir: str | None = None
    defaults: JobDefaults = Field(default_factory=JobDefaults)
    jobs: list[JobSpec] = Field(min_length=1)


class Job(BaseModel):
    """A fully resolved job: its run config as a plain dict plus what to do with it."""

    name: str
    config: dict[str, Any]
    steps: list[Step]
    designs: list[DesignSpec]
    sim_vectors: int
    power_vectors: int
    clock_ns: float
    timeout_s: float
    data_dir: str | None = None

    def run_config(self) -> RunConfig:
        return parse_config(self.config, f"job {self.name}")


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """``tree["a"]["b"] = value`` for ``key = "a.b"`` (missing levels are created)."""
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"bad override key {key!r}")
    node = tree
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"override {key!r}: {part!r} is not a mapping")
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def _resolve_init_from(cfg: dict[str, Any], out: Path) -> None:
    """A relative ``train.init_from`` names a folder under the sweep's ``out`` (a job name
    is a sibling job); it becomes absolute so workers in any directory find it."""
    train = cfg.get("train")
    source = train.get("init_from") if isinstance(train, dict) else None
    if isinstance(source, str) and not Path(source).is_absolute():
        train["init_from"] = str((out / source).resolve())


def _grid_suffix(key: str, value: Any) -> str:
    text = "-".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return f"{key.split('.')[-1]}{text}".replace(" ", "")


def expand(spec: SweepSpec, base_dir: Path) -> list[Job]:
    """Resolve every job (grid expanded, overrides applied, configs validated)."""
    jobs: list[Job] = []
    d = spec.defaults
    for js in spec.jobs:
        base = read_yaml((base_dir / js.config).resolve(), f"job {js.name}: config file")
        keys = list(js.grid)
        for combo in itertools.product(*(js.grid[k] for k in keys)) if keys else [()]:
            name = "_".join([js.name, *(_grid_suffix(k, v) for k, v in zip(keys, combo,
                                                                           strict=True))])
            cfg = copy.deepcopy(base)
            for key, value in [*d.set.items(), *js.set.items(), *zip(keys, combo, strict=True)]:
                set_dotted(cfg, key, value)
            cfg["name"] = name
            _resolve_init_from(cfg, Path(spec.out))
            if spec.data_dir is not None:
                cfg.setdefault("data", {})["data_dir"] = spec.data_dir
            job = Job(name=name, config=cfg, steps=js.steps or d.steps,
                      designs=js.designs if js.designs is not None else d.designs,
                      sim_vectors=js.sim_vectors or d.sim_vectors,
                      power_vectors=d.power_vectors,
                      clock_ns=d.clock_ns, timeout_s=d.timeout_s, data_dir=spec.data_dir)
            job.run_config()  # validate now, not inside a worker
            jobs.append(job)
    names = [j.name for j in jobs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"duplicate job names: {dupes}")
    return jobs


def load_sweep(path: str | Path) -> tuple[SweepSpec, list[Job]]:
    path = Path(path)
    data = read_yaml(path, "sweep file")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError(f"{path}: " + "; ".join(parts)) from None
    return spec, expand(spec, path.parent)


def restrict_steps(jobs: list[Job], steps: list[str]) -> list[Job]:
    """``jobs`` doing only the steps in ``steps`` (each job keeps its own order; a job left
    with no step does nothing). The steps left out are not recorded as done, so running
    the sweep again without a restriction resumes them; e.g. ``train`` and ``export`` alone
    train every model while the machine is free, and the EDA steps follow later."""
    unknown = sorted(set(steps) - set(ALL_STEPS))
    if unknown:
        raise ConfigError(f"unknown step(s) {unknown}; the steps are {list(ALL_STEPS)}")
    return [j.model_copy(update={"steps": [s for s in j.steps if s in steps]}) for j in jobs]

"""Iterative filter pruning studies (seed 002 §4.5.4-4.5.5, Fig. 4.3): from a trained network,
remove a fixed share of each pruned layer's filters per iteration with a ranking metric,
rebuild the smaller network from the kept weights and fine-tune it (the thesis: "a quarter
of the initial training epochs"), iteration after iteration.

Every iteration is an ordinary run folder (``train.init_weights`` names the pruned weights it
starts from), so it can be exported, simulated and synthesised like any other run. The study
resumes: finished iterations are skipped. A study file::

    name: fashion_bnn
    config: ../fashion_cnn.yaml          # the network (relative to this file)
    set: {model.weights: binary}         # dotted overrides, as in sweeps
    base_run: ../../results/tnn/jobs/cnn_bnn   # optional: a finished run of exactly this
                                         # config (relative to this file); else trained here
    out: results/filter_prune/fashion_bnn      # relative to the current directory
    finetune: {epochs: 3, lr: 2.5e-4, lr_step: 2, lr_gamma: 0.5, patience: 3}
    ranking: {metrics: [msqe, l1, random], step: 0.1, iterations: 5}
    hardware: {clock_mhz: 100, lut_budget: 20000, tolerance: 0.01}

The ``hardware`` part runs Algorithm 3 on the dataflow model (:mod:`hwnn.cost.dataflow`) and
two hardware-unaware baselines at the same accuracy tolerance (§4.7.2.1), every pruning
step ranked by MSQE and fine-tuned:

* ``aware`` - steps 1-3: the network is folded for the fastest pipeline within the LUT
  budget (the thesis starts from ``Reuse = 1`` and raises the re-use until the design fits;
  :func:`~hwnn.cost.dataflow.optimise_folding` does both at once) and the layer using the
  most LUTs for its PEs (or the most BRAMs when a BRAM budget is exceeded) loses ``step`` of
  its original filters, while the validation accuracy stays within ``tolerance`` of the
  original; step 4: filter counts are lowered where that folds better
  (:func:`~hwnn.prune.layer_selection.round_filters`) and fine-tuned; step 5: if that misses
  the tolerance, the same is tried from the previous accepted model;
* ``uniform`` - every layer loses ``step`` of its filters per iteration (the ranking study's
  MSQE chain when the steps agree);
* ``sensitivity`` - each layer pruned alone without fine-tuning gives its sensitivity; a
  layer's rate is the largest whose drop stays within ``sensitivity_drop``, reached in
  ``step`` increments.

Each final network is then folded for the same budget: operations, BRAM, II, frames/s.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator
from rich.console import Console

from hwnn.config import (
    RunConfig,
    StageConfig,
    format_validation_error,
    parse_config,
    read_yaml,
)
from hwnn.cost.model_shapes import model_shapes
from hwnn.data.base import Dataset, InputQuant
from hwnn.errors import ConfigError
from hwnn.prune.filters import (
    Metric,
    filter_counts,
    filter_widths,
    pruned_config,
    select_filters,
    shrink,
)
from hwnn.sweep.spec import set_dotted
from hwnn.train.io import atomic_write_json

RESULTS = "filter_prune.json"
INIT_WEIGHTS = "init_weights.pt"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RankingStudy(_Strict):
    """Accuracy vs pruning ratio per ranking metric (Fig. 4.3)."""

    metrics: list[Metric] = Field(default_factory=lambda: ["msqe", "l1", "random"],
                                  min_length=1)
    step: float = Field(0.1, gt=0, lt=1, description="share of each pruned layer's original "
                        "filters removed per iteration (thesis: ~10 %)")
    iterations: PositiveInt = 5
    layers: list[int] | None = Field(None, description="weight layers to prune (default: "
                                     "every layer but the output layer)")
    seed: int = Field(0, description="seed of the random ranking")


class HardwareStudy(_Strict):
    """Hardware-aware pruning (Algorithm 3) against hardware-unaware pruning at the same
    accuracy tolerance, on the dataflow model (Figs. 4.6/4.7)."""

    clock_mhz: float = Field(100.0, gt=0)
    lut_budget: float = Field(gt=0, description="LUTs the accelerator may use (model)")
    bram_budget: int | None = Field(None, ge=0, description="RAMB18s; when exceeded, the "
                                    "layer with the most BRAMs is pruned first")
    tolerance: float = Field(0.01, ge=0, description="eta of Algorithm 3: largest drop of "
                             "validation accuracy from the base network (absolute)")
    step: float = Field(0.1, gt=0, lt=1, description="share of a layer's original filters "
                        "removed per iteration")
    max_iterations: PositiveInt = 10
    round_max_drop: float = Field(0.1, ge=0, lt=1, description="model fine-tuning: share of "
                                  "a layer's original filters it may lose to fold better")
    sensitivity_rates: list[float] = Field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5])
    sensitivity_drop: float = Field(0.05, ge=0, description="largest validation drop (no "
                                    "fine-tuning) a layer's pruning rate may cause")


class FilterPruneStudy(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    config: str
    set: dict[str, Any] = Field(default_factory=dict)
    base_run: str | None = None
    out: str
    finetune: StageConfig
    ranking: RankingStudy | None = None
    hardware: HardwareStudy | None = None

    @model_validator(mode="after")
    def _something_to_do(self) -> FilterPruneStudy:
        if self.ranking is None and self.hardware is None:
            raise ValueError("nothing to do: give a ranking and/or a hardware study")
        return self


def load_study(path: str | Path) -> tuple[FilterPruneStudy, RunConfig, Path]:
    """The study, its base run config (overrides applied) and the study file's folder."""
    path = Path(path)
    try:
        study = FilterPruneStudy.model_validate(read_yaml(path, "filter-pruning study"))
    except ValidationError as err:
        raise ConfigError(format_validation_error(str(path), err)) from None
    cfg = copy.deepcopy(read_yaml(path.parent / study.config, "run config"))
    for key, value in study.set.items():
        set_dotted(cfg, key, value)
    run_cfg = parse_config(cfg, f"{path}: config")
    if run_cfg.model.kind not in ("cnn", "mlp"):
        raise ConfigError(f"{path}: filter pruning needs a cnn or mlp model")
    return study, run_cfg, path.parent


def _finished(run_dir: Path) -> bool:
    return (run_dir / "model.pt").is_file() and (run_dir / "metrics.json").is_file()


def _train(cfg: RunConfig, run_dir: Path, console: Console, dataset: Dataset | None) -> None:
    """Train ``cfg`` in ``run_dir`` on ``dataset`` (None: the config's data)."""
    from hwnn.data import load_dataset
    from hwnn.train.loop import Trainer

    ds = dataset or load_dataset(cfg.data.task, cfg.data.data_dir, cfg.data.seed, cfg.data.ofc)
    Trainer(cfg, ds, run_dir, console=console, progress=False).run()


def base_run_dir(study: FilterPruneStudy, base_cfg: RunConfig, study_dir: Path, out: Path,
                 console: Console, dataset: Dataset | None = None) -> Path:
    """The trained network every pruning chain starts from: ``base_run`` (checked to be a
    finished run of the same config), or trained under ``out/base``."""
    if study.base_run is not None:
        run = (study_dir / study.base_run).resolve()
        if not _finished(run):
            raise ConfigError(f"base_run {run} is not a finished run (no model.pt); train it "
                              "first or remove base_run")
        # parsed, so fields added to the config schema since that run take their defaults
        theirs = parse_config(read_yaml(run / "config.yaml", "base run config"),
                              str(run / "config.yaml")).to_yaml_dict()
        mine = base_cfg.to_yaml_dict()
        diff = sorted(k for k in ("data", "model", "train")
                      if {**theirs.get(k, {}), "data_dir": None} != {**mine.get(k, {}),
                                                                    "data_dir": None})
        if diff:
            raise ConfigError(f"base_run {run} was trained with a different {', '.join(diff)} "
                              "than the study's config; fix config/set or remove base_run")
        return run
    run = out / "base"
    if not _finished(run):
        console.print(f"training the base network in {run}")
        _train(base_cfg, run, console, dataset)
    return run


def prune_step(prev_run: Path, targets: dict[int, int], metric: Metric, seed: int,
               finetune: StageConfig, run_dir: Path, console: Console,
               dataset: Dataset | None = None) -> dict[str, Any]:
    """Prune ``prev_run``'s network down to ``targets[i]`` filters in weight layer ``i`` with
    ``metric``, save the smaller network's weights and fine-tune it in ``run_dir``."""
    from hwnn.train.build import build_from_shape, load_run
    from hwnn.train.weights_file import save_weights_file

    cfg, model, ds = load_run(prev_run)
    current = filter_counts(model)
    remove = {i: current[i] - n for i, n in targets.items()}
    if any(r < 0 for r in remove.values()):
        raise ValueError(f"{prev_run} has fewer filters than the targets {targets}")
    keep = select_filters(model, remove, metric, seed)
    model_cfg = pruned_config(cfg.model, keep)
    small = build_from_shape(model_cfg, ds["input_width"], ds["num_outputs"],
                             InputQuant(**ds["input_quant"]))
    shrink(model, small, keep)
    base = cfg.to_yaml_dict()
    run_cfg = parse_config({**base, "name": run_dir.name,
                            "model": model_cfg.model_dump(mode="json", by_alias=True,
                                                          exclude_none=True),
                            "train": {**{k: v for k, v in base["train"].items()
                                         if k not in ("prune", "hw_aware", "init_from", "qat")},
                                      "qat": finetune.model_dump(mode="json"),
                                      "init_weights": str(run_dir / INIT_WEIGHTS)}},
                           f"{run_dir}: pruned config")
    if not (run_dir / INIT_WEIGHTS).is_file():
        run_dir.mkdir(parents=True, exist_ok=True)
        save_weights_file(run_dir / INIT_WEIGHTS, small, run_cfg.to_yaml_dict()["model"],
                          {"from": str(prev_run), "metric": metric,
                           "kept": {str(i): k for i, k in keep.items()}})
    _train(run_cfg, run_dir, console, dataset)
    return {"run": str(run_dir), "filters": filter_widths(model_cfg), "kept": keep}


def run_summary(run_dir: Path) -> dict[str, Any]:
    """Accuracy (before and after fine-tuning), filters and dataflow operations of a run."""
    from hwnn.train.build import load_run

    cfg, model, _ = load_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = metrics["summary_test"]
    stages = metrics["stages"]
    last = "qat" if "qat" in stages else "float"
    shapes = model_shapes(model)
    return {"run": str(run_dir), "filters": filter_widths(cfg.model),
            "test": summary.get("qat", summary.get("float")),
            "val": stages[last]["val"][summary["metric"]],
            "test_before_finetune": summary.get("init"),
            "ops": sum(s.ops() for s in shapes), "weights": sum(s.weights() for s in shapes)}


def ranking_study(study: FilterPruneStudy, base: Path, out: Path, console: Console,
                  dataset: Dataset | None = None) -> dict[str, Any]:
    """Fig. 4.3: for every metric, ``iterations`` pruning steps of ``step`` each."""
    from hwnn.train.build import load_run

    assert study.ranking is not None
    r = study.ranking
    _, base_model, _ = load_run(base)
    layers = filter_counts(base_model)
    chosen = r.layers if r.layers is not None else sorted(layers)
    bad = sorted(set(chosen) - set(layers))
    if bad:
        raise ConfigError(f"ranking.layers {bad} cannot be pruned; prunable weight layers: "
                          f"{sorted(layers)}")
    base_summary = run_summary(base)
    curves: dict[str, list[dict[str, Any]]] = {}
    for metric in r.metrics:
        prev, points = base, [{**base_summary, "iteration": 0, "ratio": 0.0}]
        for it in range(1, r.iterations + 1):
            targets = {i: max(1, layers[i] - round(it * r.step * layers[i])) for i in chosen}
            run_dir = out / "ranking" / metric / f"iter{it}"
            if not _finished(run_dir):
                console.print(f"[bold]{metric}[/] iteration {it}: filters {targets}")
                prune_step(prev, targets, metric, r.seed + it, study.finetune, run_dir, console,
                           dataset)
            removed = sum(layers[i] - targets[i] for i in chosen)
            points.append({**run_summary(run_dir), "iteration": it,
                           "ratio": removed / sum(layers[i] for i in chosen)})
            prev = run_dir
        curves[metric] = points
    return {"layers": chosen, "step": r.step, "curves": curves}


def _accepted(summary: dict[str, Any], base_val: float, tolerance: float) -> bool:
    return base_val - float(summary["val"]) <= tolerance + 1e-12


def _network(run: Path) -> tuple[dict[int, int], list[Any]]:
    """Filters per prunable layer and the dataflow shapes of a run (one model load)."""
    from hwnn.train.build import load_run

    model = load_run(run)[1]
    return filter_counts(model), model_shapes(model)


def hardware_cost(run: Path, hw: HardwareStudy) -> dict[str, Any]:
    """The run's network folded for the fastest pipeline within the LUT budget."""
    from hwnn.cost.dataflow import optimise_folding

    cost = optimise_folding(_network(run)[1], hw.clock_mhz * 1e6, lut_budget=hw.lut_budget,
                            lut_model=_lut_model())
    d = cost.as_dict()
    d["fps_per_klut"] = cost.fps / (cost.luts / 1000)
    d["fps_per_bram"] = cost.fps / cost.brams if cost.brams else None
    return d


def _lut_model() -> Any:
    from hwnn.cost.dataflow import LutModel

    return LutModel()


def _chain_point(run: Path, base_val: float, hw: HardwareStudy, **extra: Any) -> dict[str, Any]:
    point = {**run_summary(run), **extra}
    point["accepted"] = _accepted(point, base_val, hw.tolerance)
    return point


def aware_chain(study: FilterPruneStudy, base: Path, out: Path, console: Console,
                dataset: Dataset | None) -> dict[str, Any]:
    """Algorithm 3: prune the resource-heaviest layer by ``step`` while the validation
    accuracy stays within the tolerance, then round the filter counts to a better folding
    (going back to earlier models when the rounded one misses the tolerance)."""
    from hwnn.cost.dataflow import optimise_folding
    from hwnn.prune.layer_selection import heaviest_layer, round_filters

    hw = study.hardware
    assert hw is not None
    clock = hw.clock_mhz * 1e6
    original = _network(base)[0]
    base_val = float(run_summary(base)["val"])
    folder = out / "hardware" / "aware"
    accepted, points, prev = [base], [], base
    for it in range(1, hw.max_iterations + 1):
        filters, shapes = _network(prev)
        cost = optimise_folding(shapes, clock, lut_budget=hw.lut_budget,
                                lut_model=_lut_model())
        candidates = [i for i in filters if filters[i] > 1]
        if not candidates:
            break
        layer = heaviest_layer(cost, candidates, hw.bram_budget)
        targets = {**filters, layer: max(1, filters[layer] - max(1, round(hw.step *
                                                                            original[layer])))}
        run = folder / f"iter{it}"
        if not _finished(run):
            console.print(f"[bold]hardware-aware[/] iteration {it}: prune layer {layer} "
                          f"({filters[layer]} -> {targets[layer]} filters)")
            prune_step(prev, targets, "msqe", it, study.finetune, run, console, dataset)
        point = _chain_point(run, base_val, hw, iteration=it, pruned_layer=layer)
        points.append(point)
        if not point["accepted"]:
            break
        accepted.append(run)
        prev = run
    final, rounding = base, []
    for cand in reversed(accepted):
        filters, shapes = _network(cand)
        pruned = [i for i in filters if filters[i] < original[i]]
        max_drop = {i: round(hw.round_max_drop * original[i]) for i in pruned}
        counts, _ = round_filters(shapes, pruned, clock, hw.lut_budget, max_drop,
                                  _lut_model())
        if all(counts[i] == filters[i] for i in pruned):
            final = cand
            rounding.append({"from": str(cand), "changed": False})
            break
        run = folder / f"round_{cand.name}"
        if not _finished(run):
            console.print(f"[bold]hardware-aware[/] rounding {cand.name}: {counts}")
            prune_step(cand, {**filters, **counts}, "msqe", 0, study.finetune, run, console,
                       dataset)
        point = _chain_point(run, base_val, hw, rounded_from=str(cand))
        rounding.append(point)
        if point["accepted"]:
            final = run
            break
    return {"iterations": points, "rounding": rounding, "final": str(final)}


def _tolerance_chain(name: str, base: Path, folder: Path, hw: HardwareStudy,
                     targets_at: Callable[[int], dict[int, int]], seed_at: Callable[[int], int],
                     study: FilterPruneStudy, console: Console, dataset: Dataset | None
                     ) -> dict[str, Any]:
    """Iteration ``t`` prunes to ``targets_at(t)`` filters (MSQE) from the previous accepted
    network and fine-tunes, while validation stays within the tolerance; stops when the
    targets no longer change. Returns the iterations and the last accepted network."""
    base_val = float(run_summary(base)["val"])
    final, points, prev = base, [], base
    for it in range(1, hw.max_iterations + 1):
        targets = targets_at(it)
        if targets == _network(prev)[0]:
            break
        run = folder / f"iter{it}"
        if not _finished(run):
            console.print(f"[bold]{name}[/] iteration {it}: filters {targets}")
            prune_step(prev, targets, "msqe", seed_at(it), study.finetune, run, console,
                       dataset)
        point = _chain_point(run, base_val, hw, iteration=it)
        points.append(point)
        if not point["accepted"]:
            break
        final = prev = run
    return {"iterations": points, "final": str(final)}


def uniform_chain(study: FilterPruneStudy, base: Path, out: Path, console: Console,
                  dataset: Dataset | None) -> dict[str, Any]:
    """Hardware-unaware, naive: every prunable layer loses ``step`` of its filters per
    iteration (MSQE ranking) while validation stays within the tolerance. Shares the
    ranking study's MSQE chain when its step is the same."""
    hw = study.hardware
    assert hw is not None
    original = _network(base)[0]
    r = study.ranking
    shared = r is not None and r.step == hw.step and r.layers in (None, sorted(original))
    folder = out / "ranking" / "msqe" if shared else out / "hardware" / "uniform"
    chain = _tolerance_chain(
        "uniform", base, folder, hw,
        lambda it: {i: max(1, n - round(it * hw.step * n)) for i, n in original.items()},
        lambda it: (r.seed if r else 0) + it, study, console, dataset)
    return {**chain, "folder": str(folder)}


def layer_sensitivity(base: Path, hw: HardwareStudy, dataset: Dataset | None
                      ) -> dict[int, dict[str, float]]:
    """Validation accuracy after pruning one layer alone by each rate (MSQE, no
    fine-tuning): the per-layer sensitivity of traditional pruning (§4.7.2.1)."""
    from hwnn.data import load_dataset
    from hwnn.train.build import build_from_shape, load_run
    from hwnn.train.metrics import evaluate

    cfg, model, ds_info = load_run(base)
    ds = dataset or load_dataset(cfg.data.task, cfg.data.data_dir, cfg.data.seed, cfg.data.ofc)
    original = filter_counts(model)
    out: dict[int, dict[str, float]] = {}
    for i, n in original.items():
        out[i] = {}
        for rate in hw.sensitivity_rates:
            keep_n = max(1, n - round(rate * n))
            keep = select_filters(model, {i: n - keep_n}, "msqe")
            small = build_from_shape(pruned_config(cfg.model, keep), ds_info["input_width"],
                                     ds_info["num_outputs"], InputQuant(**ds_info["input_quant"]))
            shrink(model, small, keep)
            small.eval()
            out[i][f"{rate:g}"] = evaluate(small, ds, ds.val)["accuracy"]
    return out


def sensitivity_chain(study: FilterPruneStudy, base: Path, out: Path, console: Console,
                      dataset: Dataset | None) -> dict[str, Any]:
    """Hardware-unaware, sensitivity-based: each layer's rate is the largest whose drop
    without fine-tuning stays within ``sensitivity_drop``; iteration ``t`` prunes every layer
    to ``min(rate, t * step)`` and fine-tunes, while validation stays within the tolerance."""
    hw = study.hardware
    assert hw is not None
    original = _network(base)[0]
    base_val = float(run_summary(base)["val"])
    sens = layer_sensitivity(base, hw, dataset)
    rates = {i: max([0.0] + [float(r) for r, acc in sens[i].items()
                             if base_val - acc <= hw.sensitivity_drop]) for i in original}
    chain = _tolerance_chain(
        "sensitivity", base, out / "hardware" / "sensitivity", hw,
        lambda it: {i: max(1, n - round(min(rates[i], it * hw.step) * n))
                    for i, n in original.items()},
        lambda it: it, study, console, dataset)
    return {"sensitivity": {str(i): v for i, v in sens.items()},
            "rates": {str(i): r for i, r in rates.items()}, **chain}


def hardware_study(study: FilterPruneStudy, base: Path, out: Path, console: Console,
                   dataset: Dataset | None = None) -> dict[str, Any]:
    """Algorithm 3 vs uniform and sensitivity pruning; each final network with its
    accuracy, operations and the fastest folding within the LUT budget."""
    hw = study.hardware
    assert hw is not None
    try:
        original_cost = hardware_cost(base, hw)
    except ValueError as err:
        raise ConfigError(f"hardware.lut_budget: {err}") from None
    methods = {"aware": aware_chain(study, base, out, console, dataset),
               "uniform": uniform_chain(study, base, out, console, dataset),
               "sensitivity": sensitivity_chain(study, base, out, console, dataset)}
    finals = {"original": {**run_summary(base), "hardware": original_cost}}
    for name, chain in methods.items():
        run = Path(chain["final"])
        finals[name] = {**run_summary(run), "hardware": hardware_cost(run, hw)}
    return {"settings": hw.model_dump(mode="json"), "lut_model": _lut_model().__dict__,
            "methods": methods, "finals": finals}


PARTS = ("ranking", "hardware")


def run_study(path: str | Path, console: Console | None = None,
              dataset: Dataset | None = None, parts: Sequence[str] | None = None
              ) -> dict[str, Any]:
    """Run (or resume) the study's parts (``parts``: a subset of :data:`PARTS`, default all
    the study gives); ``out/filter_prune.json`` keeps the other parts' earlier results, so
    the parts can run in separate processes. ``dataset`` replaces the config's data
    (tests)."""
    console = console or Console()
    study, base_cfg, study_dir = load_study(path)
    wanted = [p for p in PARTS if getattr(study, p) is not None]
    if parts is not None:
        unknown = sorted(set(parts) - set(PARTS))
        missing = sorted(set(parts) - set(wanted) - set(unknown))
        if unknown or missing:
            raise ConfigError(f"parts {unknown or missing} are not in the study "
                              f"(it gives {wanted})")
        wanted = [p for p in wanted if p in parts]
    out = Path(study.out)
    out.mkdir(parents=True, exist_ok=True)
    base = base_run_dir(study, base_cfg, study_dir, out, console, dataset)
    computed: dict[str, Any] = {}
    if "ranking" in wanted:
        computed["ranking"] = ranking_study(study, base, out, console, dataset)
    if "hardware" in wanted:
        computed["hardware"] = hardware_study(study, base, out, console, dataset)
    earlier = json.loads((out / RESULTS).read_text()) if (out / RESULTS).is_file() else {}
    result = {**{k: v for k, v in earlier.items() if k in PARTS and getattr(study, k)},
              "study": study.model_dump(mode="json"), "base_run": str(base), **computed}
    atomic_write_json(out / RESULTS, result)
    return result

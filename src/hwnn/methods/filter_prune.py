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
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator
from rich.console import Console

from hwnn.config import RunConfig, StageConfig, parse_config, read_yaml
from hwnn.cost.model_shapes import model_shapes
from hwnn.data.base import Dataset, InputQuant
from hwnn.errors import ConfigError
from hwnn.prune.filters import Metric, prunable_layers, pruned_config, select_filters, shrink
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


class FilterPruneStudy(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    config: str
    set: dict[str, Any] = Field(default_factory=dict)
    base_run: str | None = None
    out: str
    finetune: StageConfig
    ranking: RankingStudy | None = None

    @model_validator(mode="after")
    def _something_to_do(self) -> FilterPruneStudy:
        if self.ranking is None:
            raise ValueError("nothing to do: give a ranking study")
        return self


def load_study(path: str | Path) -> tuple[FilterPruneStudy, RunConfig, Path]:
    """The study, its base run config (overrides applied) and the study file's folder."""
    path = Path(path)
    try:
        study = FilterPruneStudy.model_validate(read_yaml(path, "filter-pruning study"))
    except ValidationError as err:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError(f"{path}: " + "; ".join(parts)) from None
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
        theirs = read_yaml(run / "config.yaml", "base run config")
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


def _filters(model_cfg: Any) -> list[int]:
    n_conv = len(model_cfg.channels or []) if model_cfg.kind == "cnn" else 0
    return [*(model_cfg.channels or [])[:n_conv], *model_cfg.hidden]


def prune_step(prev_run: Path, targets: dict[int, int], metric: Metric, seed: int,
               finetune: StageConfig, run_dir: Path, console: Console,
               dataset: Dataset | None = None) -> dict[str, Any]:
    """Prune ``prev_run``'s network down to ``targets[i]`` filters in weight layer ``i`` with
    ``metric``, save the smaller network's weights and fine-tune it in ``run_dir``."""
    from hwnn.train.build import build_from_shape, load_run
    from hwnn.train.weights_file import save_weights_file

    cfg, model, ds = load_run(prev_run)
    current = {p.index: p.filters for p in prunable_layers(model)}
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
    return {"run": str(run_dir), "filters": _filters(model_cfg), "kept": keep}


def run_summary(run_dir: Path) -> dict[str, Any]:
    """Accuracy (before and after fine-tuning), filters and dataflow operations of a run."""
    import json

    from hwnn.train.build import load_run

    cfg, model, _ = load_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = metrics["summary_test"]
    stages = metrics["stages"]
    last = "qat" if "qat" in stages else "float"
    shapes = model_shapes(model)
    return {"run": str(run_dir), "filters": _filters(cfg.model),
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
    layers = {p.index: p.filters for p in prunable_layers(base_model)}
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


def run_study(path: str | Path, console: Console | None = None,
              dataset: Dataset | None = None) -> dict[str, Any]:
    """Run (or resume) every part of a study; writes ``out/filter_prune.json``.
    ``dataset`` replaces the config's data (tests)."""
    console = console or Console()
    study, base_cfg, study_dir = load_study(path)
    out = Path(study.out)
    out.mkdir(parents=True, exist_ok=True)
    base = base_run_dir(study, base_cfg, study_dir, out, console, dataset)
    result: dict[str, Any] = {"study": study.model_dump(mode="json"), "base_run": str(base)}
    if study.ranking is not None:
        result["ranking"] = ranking_study(study, base, out, console, dataset)
    atomic_write_json(out / RESULTS, result)
    return result

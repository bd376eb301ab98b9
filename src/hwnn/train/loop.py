"""One training loop for every task (seed 000 §III-A and §IV).

Flow: ``float`` (quantizers off) → ``qat`` (8-bit weights/activations, from the float
weights) → ``finetune`` (magnitude pruning applied at its start, then QAT fine-tuning) →
optionally ``hwaware_n<n>`` stages (seed 000 §III-C: weights restricted to the ``n``
cheapest-multiplier constants, each retrained from the model the static stages produced,
``n`` chosen by :mod:`hwnn.train.hw_aware`; the selected one becomes the run's model);
each stage keeps the epoch with the best **validation** score (accuracy, or BER for OFC;
loss breaks ties) and stops early after ``patience`` epochs without improvement. The test
split is evaluated once per stage on the selected weights and never used for selection.

Adam with a step-decay learning rate (seed 000 §IV: from 1e-3, batch 1024). A checkpoint
is written atomically after every epoch; rerunning the same config on the same run folder
resumes where it stopped and gives the same numbers as an uninterrupted run (per-epoch
seeded shuffles, optimizer/scheduler/RNG state restored).
"""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hwnn.arith import CostTable, load_cost_table
from hwnn.config import PruneConfig, RunConfig, StageConfig, TrainConfig, parse_config
from hwnn.data.base import Dataset
from hwnn.errors import ConfigError
from hwnn.nn.model import load_weights, set_quant_enabled, set_weight_codebook
from hwnn.prune import magnitude_prune, quantization_prune, sparsity_report
from hwnn.quant.ternary import clip_real_weights, quantized_l2, uniformize_real_weights
from hwnn.train import hw_aware
from hwnn.train.build import Model, build_model, dataset_summary
from hwnn.train.float_reuse import (
    apply_float_weights,
    load_float_snapshot,
    save_float_snapshot,
)
from hwnn.train.io import atomic_torch_save, atomic_write_json, atomic_write_text
from hwnn.train.metrics import (
    evaluate,
    headline,
    loss_fn,
    metric_name,
    model_inputs,
    selection_key,
)
from hwnn.train.weight_stats import weight_cost_stats
from hwnn.train.weights_file import load_weights_file

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
METRICS = "metrics.json"
RUN_FORMAT = "hwnn.run.v1"
# Shuffle stream of the calibration batch: fixed, so it does not depend on the stage list.
CALIBRATION_STREAM = 1000


@dataclass(frozen=True)
class Stage:
    name: str
    cfg: StageConfig
    quant: bool
    prune: PruneConfig | None = None
    codebook_n: int | None = None  # hardware-aware stage: the n cheapest constants
    purpose: str = ""  # hardware-aware stage: "select" or "curve"


def plan_stages(cfg: TrainConfig) -> list[Stage]:
    stages = [Stage("float", cfg.float_stage, quant=False)]
    if cfg.qat is not None:
        stages.append(Stage("qat", cfg.qat, quant=True))
    if cfg.prune is not None:
        stages.append(Stage("finetune", cfg.prune, quant=cfg.qat is not None, prune=cfg.prune))
    return stages


def _normalized(cfg: Any) -> Any:
    """A stored run config as the current schema writes it (fields added to the schema since
    the run started appear with their defaults), so that resuming an older run compares
    like with like; a config that no longer parses is returned unchanged."""
    try:
        return parse_config(cfg).to_yaml_dict()
    except ConfigError:
        return cfg


def _epoch_seed(seed: int, stage_idx: int, epoch: int) -> list[int]:
    return [seed, stage_idx, epoch]


class Trainer:
    def __init__(
        self,
        cfg: RunConfig,
        dataset: Dataset,
        run_dir: Path,
        console: Console | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg, self.dataset, self.run_dir = cfg, dataset, Path(run_dir)
        self.console = console or Console()
        self.show_progress = progress
        self.stages = plan_stages(cfg.train)
        self.cfg_dict = cfg.to_yaml_dict()
        torch.manual_seed(cfg.train.seed)
        self.model: Model = build_model(cfg.model, dataset)
        self.x_train = model_inputs(dataset, dataset.train.x)
        y = dataset.train.y
        self.y_train = torch.from_numpy(y.astype(np.int64 if dataset.kind == "classification"
                                                  else np.float32))

    # ------------------------------------------------------------ state
    def _fresh_state(self) -> dict[str, Any]:
        return {"format": RUN_FORMAT, "config": self.cfg_dict, "stage_idx": 0, "epoch": 0,
                "stage_started": False, "stopped": False, "done": False, "results": {},
                "history": [], "best": None, "elapsed_s": 0.0}

    def _load_state(self) -> dict[str, Any]:
        path = self.run_dir / CHECKPOINT
        if not path.exists():
            return self._finished_state() or self._fresh_state()
        state = torch.load(path, weights_only=False)
        if _normalized(state.get("config")) != self.cfg_dict:
            raise ConfigError(
                f"{self.run_dir} holds a run with a different config; pass a new --out folder "
                "(or delete the old one) to start a new run"
            )
        return state

    def _finished_state(self) -> dict[str, Any] | None:
        """A finished run whose checkpoint is gone (``model.pt`` and ``metrics.json`` are
        committed, ``checkpoint.pt`` is not): complete when ``model.pt`` holds this config,
        so a fresh checkout does not retrain it (retraining is not bit-reproducible across
        machines and would change the hardware the committed results describe)."""
        model_path, metrics_path = self.run_dir / MODEL, self.run_dir / METRICS
        if not (model_path.is_file() and metrics_path.is_file()):
            return None
        metrics = json.loads(metrics_path.read_text())
        if metrics.get("status") != "done":
            return None
        stored = torch.load(model_path, weights_only=False, map_location="cpu")
        if _normalized(stored.get("config")) != self.cfg_dict:
            raise ConfigError(
                f"{self.run_dir} holds a finished run with a different config; pass a new "
                "--out folder (or delete the old one) to start a new run"
            )
        return {**self._fresh_state(), "done": True, "metrics": metrics}

    def _save(self, state: dict[str, Any], optimizer: Any, scheduler: Any) -> None:
        state["model"] = self.model.state_dict()
        state["optimizer"] = optimizer.state_dict() if optimizer else None
        state["scheduler"] = scheduler.state_dict() if scheduler else None
        atomic_torch_save(self.run_dir / CHECKPOINT, state)

    # ------------------------------------------------------------ batches
    def _batches(self, stage_idx: int, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng(_epoch_seed(self.cfg.train.seed, stage_idx, epoch))
        bs = self.cfg.train.batch_size
        if self.dataset.train_sampler is not None:
            steps = self.cfg.train.steps_per_epoch or max(1, len(self.dataset.train) // bs)
            for _ in range(steps):
                x, y = self.dataset.train_sampler(bs, rng)
                yield model_inputs(self.dataset, x), torch.from_numpy(y)
            return
        order = torch.from_numpy(rng.permutation(len(self.x_train)))
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            yield self.x_train[idx], self.y_train[idx]

    def _n_batches(self) -> int:
        bs = self.cfg.train.batch_size
        if self.dataset.train_sampler is not None:
            return self.cfg.train.steps_per_epoch or max(1, len(self.dataset.train) // bs)
        return -(-len(self.x_train) // bs)

    def _evaluate(self, split: str) -> dict[str, float]:
        return evaluate(self.model, self.dataset, getattr(self.dataset, split),
                        self.cfg.train.eval_batch_size)

    @torch.no_grad()
    def _calibrate(self) -> None:
        """Initialise learned activation scales from one training batch."""
        self.model.train()
        x, _ = next(self._batches(stage_idx=CALIBRATION_STREAM, epoch=0))
        self.model(x)

    # ------------------------------------------------------------ main
    def run(self) -> dict[str, Any]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        if state["done"]:
            self.console.print(f"[green]{self.run_dir} is complete[/]; nothing to do")
            return state["metrics"]
        for n, purpose in (state.get("hw") or {}).get("stages", []):
            self.stages.append(self._hw_stage(n, purpose))
        if state["stage_idx"] or state["epoch"] or state["stage_started"]:
            load_weights(self.model, state["model"])
            where = (self.stages[state["stage_idx"]].name if state["stage_idx"] < len(self.stages)
                     else "the hardware-aware schedule")
            self.console.print(f"resuming {self.run_dir} at {where}, epoch {state['epoch']}")
        atomic_write_text(self.run_dir / "config.yaml",
                          yaml.safe_dump(self.cfg_dict, sort_keys=False))
        fresh = not (state["stage_idx"] or state["epoch"] or state["stage_started"])
        if fresh and self.cfg.train.init_from is not None:
            self._import_float_stage(state)
        if fresh and self.cfg.train.init_weights is not None:
            self._import_weights(state)
        while True:
            stage_idx = state["stage_idx"]
            if stage_idx >= len(self.stages) and not self._plan_hw_stage(state):
                break
            self._run_stage(stage_idx, self.stages[stage_idx], state)
        if state.get("hw") is not None:
            load_weights(self.model, state["hw"]["selected_model"])
        return self._finish(state)

    def _import_float_stage(self, state: dict[str, Any]) -> None:
        """``train.init_from``: take the float stage of another run (float_reuse)."""
        source = self.cfg.train.init_from
        assert source is not None
        snap = load_float_snapshot(source, self.cfg_dict)
        apply_float_weights(self.model, snap["weights"])
        state["results"]["float"] = {**snap["result"], "from": str(source)}
        state["history"] += snap["history"]
        state.update(stage_idx=1, epoch=0, stage_started=False, best=None)
        self._save(state, None, None)
        save_float_snapshot(self.run_dir, self.cfg_dict, self.model, snap["result"],
                            snap["history"])
        self.console.print(f"[bold]\\[float][/] taken from {source}: val "
                           f"{headline(self.dataset, snap['result']['val'])}, test "
                           f"{headline(self.dataset, snap['result']['test'])}")

    def _import_weights(self, state: dict[str, Any]) -> None:
        """``train.init_weights``: continue from a saved network; no float stage, and the
        qat stage fine-tunes it (weights_file)."""
        source = self.cfg.train.init_weights
        assert source is not None
        blob = load_weights_file(source, self.cfg_dict["model"])
        load_weights(self.model, blob["state_dict"])
        set_quant_enabled(self.model, True)
        self.model.eval()
        state["results"]["init"] = {"val": self._evaluate("val"), "test": self._evaluate("test"),
                                    "from": str(source), "source": blob.get("source", {})}
        state.update(stage_idx=1, epoch=0, stage_started=False, best=None)
        self._save(state, None, None)
        self.console.print(f"[bold]\\[init][/] weights from {source}: val "
                           f"{headline(self.dataset, state['results']['init']['val'])}")

    # ------------------------------------------------------------ hardware-aware stages
    @functools.cached_property
    def _cost_table(self) -> CostTable:
        return load_cost_table()

    def _hw_values(self, n: int) -> list[int]:
        hw = self.cfg.train.hw_aware
        assert hw is not None
        return self._cost_table.cheapest(n, hw.rank_by, hw.inputs)

    def _weight_stats(self) -> dict[str, Any]:
        hw = self.cfg.train.hw_aware
        assert hw is not None
        return weight_cost_stats(self.model, self._cost_table, hw.inputs)

    def _hw_stage(self, n: int, purpose: str) -> Stage:
        assert self.cfg.train.hw_aware is not None
        return Stage(hw_aware.stage_name(n), self.cfg.train.hw_aware, quant=True, codebook_n=n,
                     purpose=purpose)

    def _plan_hw_stage(self, state: dict[str, Any]) -> bool:
        """Append the next hardware-aware stage (seed 000 §III-C-1); False when done."""
        cfg = self.cfg.train.hw_aware
        if cfg is None:
            return False
        if state.get("hw") is None:
            last = self.stages[-1].name
            metric = metric_name(self.dataset)
            state["hw"] = hw_aware.new_schedule(metric, state["results"][last]["val"][metric])
            state["hw"].update(stages=[], base=copy.deepcopy(self.model.state_dict()),
                               reference_stage=last, selected_model=None,
                               reference_weights=self._weight_stats())
        step = hw_aware.next_size(state["hw"], cfg)
        if step is None:
            return False
        n, purpose = step
        state["hw"]["stages"].append([n, purpose])
        self.stages.append(self._hw_stage(n, purpose))
        return True

    def _start_hw_stage(self, stage: Stage, state: dict[str, Any]) -> None:
        """Reset to the unrestricted model, then restrict the weights to the n cheapest."""
        assert stage.codebook_n is not None
        load_weights(self.model, state["hw"]["base"])
        set_weight_codebook(self.model, self._hw_values(stage.codebook_n))
        set_quant_enabled(self.model, True)
        self.console.print(f"\\[{stage.name}] weights restricted to the {stage.codebook_n} "
                           f"cheapest constants ({stage.purpose}): val "
                           f"{headline(self.dataset, self._evaluate('val'))}")

    def _finish_hw_stage(self, stage: Stage, state: dict[str, Any], result: dict[str, Any]
                         ) -> None:
        cfg, hw = self.cfg.train.hw_aware, state["hw"]
        assert cfg is not None and stage.codebook_n is not None
        metric = hw["metric"]
        ok = hw_aware.record_trial(hw, cfg, stage.codebook_n, self._hw_values(stage.codebook_n),
                                   result["val"][metric], result["test"][metric], stage.purpose,
                                   self._weight_stats())
        if stage.purpose == "select" and hw["selected"] == stage.codebook_n:
            hw["selected_model"] = copy.deepcopy(self.model.state_dict())
        verdict = "within" if ok else "outside"
        limit = hw_aware.tolerance_limit(metric, hw["reference_val"], cfg.tolerance)
        self.console.print(f"\\[{stage.name}] val {metric} {result['val'][metric]:.6g} is {verdict}"
                           f" the limit {limit:.6g} ({hw['reference_stage']} "
                           f"{hw['reference_val']:.6g}, tolerance {cfg.tolerance:g})")

    def _run_stage(self, stage_idx: int, stage: Stage, state: dict[str, Any]) -> None:
        if stage.codebook_n is not None and not state["stage_started"]:
            self._start_hw_stage(stage, state)
        set_quant_enabled(self.model, stage.quant)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=stage.cfg.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, stage.cfg.lr_step,
                                                    stage.cfg.lr_gamma)
        if not state["stage_started"]:
            if stage.name == "qat" and self.cfg.train.init_weights is None:
                uniformize_real_weights(self.model)  # ternary/binary layers only
            if stage.quant:
                self._calibrate()
            if stage.prune is not None:
                if stage.prune.method == "quantization":
                    quantization_prune(self.model, stage.prune.sigma)
                    how = f"quantization pruning, sigma = {stage.prune.sigma or 'eta'}"
                else:
                    assert stage.prune.sparsity is not None
                    try:
                        magnitude_prune(self.model, stage.prune.sparsity, stage.prune.scope,
                                        stage.prune.layers)
                    except ValueError as err:
                        raise ConfigError(f"train.prune: {err}") from None
                    how = f"magnitude, {stage.prune.scope}" + (
                        f", layers {stage.prune.layers}" if stage.prune.layers else "")
                report = sparsity_report(self.model)
                state["results"]["pruned"] = {"val": self._evaluate("val"),
                                              "test": self._evaluate("test"),
                                              "sparsity": report}
                self.console.print(f"\\[{stage.name}] pruned to sparsity "
                                   f"{report['total']:.1%} ({how}): val "
                                   f"{headline(self.dataset, state['results']['pruned']['val'])}")
            state.update(epoch=0, stage_started=True, stopped=False, best=None, bad_epochs=0,
                         stage_time=0.0)
            self._save(state, optimizer, scheduler)
        else:
            if state["optimizer"] is not None:
                optimizer.load_state_dict(state["optimizer"])
                scheduler.load_state_dict(state["scheduler"])
        epochs = stage.cfg.epochs
        with self._progress() as progress:
            while state["epoch"] < epochs and not state["stopped"]:
                self._run_epoch(stage_idx, stage, state, optimizer, scheduler, progress)
        if state["best"] is not None:
            self.model.load_state_dict(state["best"]["model"])
        result = {"val": self._evaluate("val"), "test": self._evaluate("test"),
                  "epochs_run": state["epoch"],
                  "best_epoch": None if state["best"] is None else state["best"]["epoch"],
                  "early_stopped": state["stopped"], "time_s": round(state["stage_time"], 2)}
        state["results"][stage.name] = result
        if stage.name == "float":
            save_float_snapshot(self.run_dir, self.cfg_dict, self.model, result,
                                state["history"])
        self.console.print(f"[bold]\\[{stage.name}][/] selected epoch {result['best_epoch']}: "
                           f"val {headline(self.dataset, result['val'])}, "
                           f"test {headline(self.dataset, result['test'])}")
        if stage.codebook_n is not None:
            self._finish_hw_stage(stage, state, result)
        state.update(stage_idx=stage_idx + 1, epoch=0, stage_started=False, best=None)
        self._save(state, None, None)
        atomic_write_json(self.run_dir / METRICS, self._metrics(state, status="running"))

    def _run_epoch(self, stage_idx: int, stage: Stage, state: dict[str, Any],
                   optimizer: Any, scheduler: Any, progress: Progress | None) -> None:
        epoch = state["epoch"]
        torch.manual_seed(hash((self.cfg.train.seed, stage_idx, epoch)) & 0x7FFFFFFF)
        t0 = time.perf_counter()
        self.model.train()
        task = None
        if progress is not None:
            task = progress.add_task(f"{stage.name} {epoch + 1}/{stage.cfg.epochs}",
                                     total=self._n_batches())
        total, count = 0.0, 0
        l2_quant = self.cfg.train.l2_quant
        for x, y in self._batches(stage_idx, epoch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(self.dataset, self.model(x), y)
            if stage.quant and l2_quant:
                loss = loss + l2_quant * quantized_l2(self.model)  # seed 002 eq. 3.3
            loss.backward()
            optimizer.step()
            if stage.quant:
                clip_real_weights(self.model)  # ternary/binary layers: w_r in [-1, 1]
            total, count = total + loss.item() * len(x), count + len(x)
            if progress is not None and task is not None:
                progress.advance(task)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        val = self._evaluate("val")
        key = selection_key(self.dataset, val)
        improved = state["best"] is None or key < tuple(state["best"]["key"])
        if improved:
            state["best"] = {"key": list(key), "epoch": epoch + 1,
                             "model": copy.deepcopy(self.model.state_dict())}
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
        patience = stage.cfg.patience
        state["stopped"] = patience is not None and state["bad_epochs"] >= patience
        seconds = time.perf_counter() - t0
        state["stage_time"] += seconds
        state["history"].append({"stage": stage.name, "epoch": epoch + 1, "lr": lr,
                                 "train_loss": total / max(count, 1), "val": val,
                                 "seconds": round(seconds, 3)})
        state["epoch"] = epoch + 1
        if progress is not None and task is not None:
            progress.remove_task(task)
        self.console.print(f"\\[{stage.name}] epoch {epoch + 1:>3}/{stage.cfg.epochs}  "
                           f"loss {total / max(count, 1):.4f}  val "
                           f"{headline(self.dataset, val)}  lr {lr:.2e}"
                           f"{'  *' if improved else ''}  {seconds:.1f}s")
        self._save(state, optimizer, scheduler)

    def _progress(self) -> Any:
        if not self.show_progress:
            from contextlib import nullcontext

            return nullcontext(None)
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self.console, transient=True)

    # ------------------------------------------------------------ results
    def _metrics(self, state: dict[str, Any], status: str) -> dict[str, Any]:
        metric = metric_name(self.dataset)
        results = state["results"]
        summary = {"metric": metric}
        for stage in ("init", "float", "qat", "finetune"):
            if stage in results:
                summary[stage] = results[stage]["test"][metric]
        if "pruned" in results:
            summary["pruned_before_finetune"] = results["pruned"]["test"][metric]
        out_hw = self._hw_metrics(state)
        if out_hw is not None and out_hw["n"] is not None:
            summary["hw_aware"] = hw_aware.trial_of(state["hw"], out_hw["n"])["test"]
            summary["hw_aware_n"] = out_hw["n"]
        return {"format": RUN_FORMAT, "name": self.cfg.name, "status": status,
                "dataset": dataset_summary(self.dataset),
                "summary_test": summary, "stages": results,
                "sparsity": sparsity_report(self.model),
                **({} if out_hw is None else {"hw_aware": out_hw}),
                "history": state["history"]}

    def _hw_metrics(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """The schedule without model snapshots: chosen n, its value set, every trial."""
        hw, cfg = state.get("hw"), self.cfg.train.hw_aware
        if hw is None or cfg is None:
            return None
        n = hw["selected"]
        return {"n": n, "values": None if n is None else hw_aware.trial_of(hw, n)["values"],
                "recovered": hw["recovered"], "metric": hw["metric"],
                "reference_stage": hw["reference_stage"], "reference_val": hw["reference_val"],
                "reference_weights": hw.get("reference_weights"),
                "tolerance": cfg.tolerance, "rank_by": cfg.rank_by, "inputs": cfg.inputs,
                "trials": hw["trials"]}

    def _finish(self, state: dict[str, Any]) -> dict[str, Any]:
        metrics = self._metrics(state, status="done")
        atomic_torch_save(self.run_dir / MODEL, {
            "format": RUN_FORMAT, "config": self.cfg_dict,
            "quant_enabled": self.stages[-1].quant,
            "state_dict": self.model.state_dict(), "dataset": dataset_summary(self.dataset)})
        atomic_write_json(self.run_dir / METRICS, metrics)
        state.update(done=True, metrics=metrics)
        self._save(state, None, None)
        return metrics

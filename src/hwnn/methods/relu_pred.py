"""The ReLU-prediction study of seed 003 §IV-B and §VI-A on a trained 8-bit CNN run.

* Prop-1 / Prop-2: ApproxConv with power-of-two weights on all conv layers / all but the
  first. N_L (one value for all predicted layers, as in seed 003 Table I) is searched from 8
  down to 1 on the validation split; the smallest N_L whose accuracy loss against the
  exact network stays under ``max_loss`` is kept (:func:`search_levels`). Every N_L is
  evaluated, giving the seed's Fig. 5 curve.
* SignConnect-1 / -2 (seed 003 ref. [17]): the same with sign(w) as the approximation.

Accuracies are those of the integer network (torch integer mode, the hardware contract),
top-1 on the validation and test splits. Per conv layer the counts of
:class:`hwnn.nn.relu_pred.LayerCounts` give seed 003 Fig. 1 (negative activations), Fig. 2
(max-pool redundancy) and the fraction of convolutions each variant skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnn.data.base import Dataset
from hwnn.errors import HwnnError
from hwnn.nn.model import QuantSequential
from hwnn.nn.relu_pred import (
    ConvPredictor,
    LayerCounts,
    Method,
    conv_input_scales,
    conv_layers,
    forward_int_predicted,
    iter_batches,
    make_predictors,
)

#: seed 003 §IV-B: N_L starts at 8 and is decremented to 1
LEVELS = tuple(range(8, 0, -1))
#: seed 003 §IV-B: "the lowest N_L whose accuracy loss is under 1 %"
MAX_LOSS = 0.01
#: where ``hwnn relu-pred`` writes the study in the run folder
RESULT_FILE = "relu_pred.json"

Progress = Callable[[str], None]


def search_levels(val_accuracy: Callable[[int], float], baseline: float,
                  max_loss: float = MAX_LOSS, levels: Iterable[int] = LEVELS
                  ) -> tuple[int | None, dict[int, float]]:
    """Seed 003 §IV-B steps 1-5: evaluate ``val_accuracy(N_L)`` for every N_L in ``levels``
    and return the smallest N_L whose loss ``baseline - accuracy`` is under ``max_loss``
    (None if there is none), with the whole curve. The curve need not be monotone: a
    larger N_L that fails does not stop the search."""
    curve = {int(n): float(val_accuracy(int(n))) for n in levels}
    passing = [n for n, acc in curve.items() if baseline - acc < max_loss]
    return (min(passing) if passing else None), curve


@dataclass(frozen=True)
class Variant:
    """One row of seed 003 Table I."""

    name: str
    method: Method
    #: predicted conv layers: "all" (-1) or "all but the first" (-2)
    skip_first: bool


VARIANTS = (Variant("SignConnect-1", "sign", False), Variant("SignConnect-2", "sign", True),
            Variant("Prop-1", "pow2", False), Variant("Prop-2", "pow2", True))


class SplitEvaluator:
    """Integer-mode accuracy of one model on fixed integer input codes, with predictors."""

    def __init__(self, model: QuantSequential, codes: torch.Tensor, labels: np.ndarray,
                 scale: torch.Tensor, batch: int = 2000) -> None:
        self.model, self.codes, self.labels = model, codes, np.asarray(labels)
        self.scale, self.batch = scale, batch

    def run(self, predictors: dict[int, ConvPredictor]) -> tuple[float, dict[int, LayerCounts]]:
        from hwnn.nn.int_tensor import IntTensor

        correct = 0
        totals: dict[int, LayerCounts] = {}
        start = 0
        for chunk in iter_batches(self.codes, self.batch):
            out = forward_int_predicted(self.model, IntTensor(chunk, self.scale), predictors)
            pred = out.output.value.argmax(dim=1).numpy()
            correct += int((pred == self.labels[start:start + len(chunk)]).sum())
            start += len(chunk)
            for i, c in out.counts.items():
                totals.setdefault(i, LayerCounts()).add(c)
        return correct / len(self.labels), totals


def _counts_json(counts: dict[int, LayerCounts]) -> dict[str, dict[str, int]]:
    return {str(i): asdict(c) for i, c in counts.items()}


def _predictor_json(predictors: dict[int, ConvPredictor]) -> dict[str, Any]:
    return {str(i): {"unit": p.unit, "weight_bits": p.weight_bits,
                     "top_exponent": None if p.levels is None else p.levels.top_exponent,
                     "nonzero_codes": int((p.approx != 0).sum()),
                     "codes": int(p.approx.numel())}
            for i, p in predictors.items()}


def relu_prediction_study(run_dir: Path, max_loss: float = MAX_LOSS,
                          levels: Iterable[int] = LEVELS, batch: int = 2000,
                          data_dir: str | None = None, n: int | None = None,
                          progress: Progress | None = None, dataset: Dataset | None = None
                          ) -> dict[str, Any]:
    """Baseline, SignConnect-1/2 and Prop-1/2 on the run's validation and test splits
    (the first ``n`` images of each when given; ``dataset`` instead of the run's task, e.g.
    in tests); returns a JSON-able dict."""
    from hwnn.data import load_dataset
    from hwnn.train.build import load_run
    from hwnn.train.metrics import model_inputs

    say = progress or (lambda _msg: None)
    cfg, model, _ = load_run(run_dir)
    if not isinstance(model, QuantSequential) or not conv_layers(model):
        raise HwnnError(f"{run_dir}: ReLU prediction needs a CNN run (model.kind: cnn)")
    ds = dataset or load_dataset(cfg.data.task, data_dir or cfg.data.data_dir, cfg.data.seed,
                                 cfg.data.ofc)
    if ds.kind != "classification":
        raise HwnnError(f"{run_dir}: ReLU prediction reports top-1 accuracy; "
                        f"{cfg.data.task} is not a classification task")
    convs = conv_layers(model)
    try:
        scales = conv_input_scales(model)
    except (RuntimeError, ValueError) as err:
        raise HwnnError(f"{run_dir}: {err}") from None
    splits: dict[str, SplitEvaluator] = {}
    for name, part in (("val", ds.val), ("test", ds.test)):
        stop = len(part.x) if n is None else min(n, len(part.x))
        q = model.quantize_input(model_inputs(ds, part.x[:stop]))
        splits[name] = SplitEvaluator(model, q.value, part.y[:stop], q.scale, batch)

    say("baseline")
    base = {s: ev.run({}) for s, ev in splits.items()}
    result: dict[str, Any] = {
        "run": str(run_dir), "config": cfg.name, "task": cfg.data.task, "max_loss": max_loss,
        "images": {s: len(ev.labels) for s, ev in splits.items()},
        "conv_layers": [{"index": i, "weight_shape": list(model[i].weight.shape),
                         "input_scale": scales[i]} for i in convs],
        "baseline": {"val_accuracy": base["val"][0], "test_accuracy": base["test"][0],
                     "counts": _counts_json(base["test"][1])},
        "variants": {},
    }
    for variant in VARIANTS:
        layers = convs[1:] if variant.skip_first else convs
        if not layers:
            continue
        entry: dict[str, Any] = {"method": variant.method, "layers": layers}
        if variant.method == "pow2":
            def val_acc(n_levels: int, layers: list[int] = layers, name: str = variant.name
                        ) -> float:
                say(f"{name}: N_L = {n_levels} on the validation split")
                return splits["val"].run(make_predictors(model, layers, "pow2", n_levels))[0]

            chosen, curve = search_levels(val_acc, base["val"][0], max_loss, levels)
            entry["val_curve"] = {str(k): v for k, v in curve.items()}
            entry["n_levels"] = chosen
            if chosen is None:
                entry["note"] = (f"no N_L in {sorted(curve)} keeps the validation loss under "
                                 f"{max_loss:.2%}")
                result["variants"][variant.name] = entry
                continue
            predictors = make_predictors(model, layers, "pow2", chosen)
        else:
            predictors = make_predictors(model, layers, "sign")
        say(f"{variant.name}: test split")
        val_acc_final = splits["val"].run(predictors)[0]
        test_acc, counts = splits["test"].run(predictors)
        entry.update({"val_accuracy": val_acc_final, "test_accuracy": test_acc,
                      "weight_bits": max(p.weight_bits for p in predictors.values()),
                      "predictors": _predictor_json(predictors),
                      "counts": _counts_json(counts)})
        result["variants"][variant.name] = entry
    return result


def ir_variant(name: str) -> str:
    """IR variant (file stem in the run folder) of a study variant: "Prop-1" -> "prop1"."""
    return name.lower().replace("-", "")


def torch_integer_outputs(run_dir: Path, variant: str, codes: np.ndarray) -> np.ndarray:
    """The torch integer-mode outputs (last layer) of the run's model on input ``codes``,
    with the ReLU prediction of IR variant ``variant`` (``net``: none; else the study
    variant of ``<run>/relu_pred.json`` whose :func:`ir_variant` it is) - what the IR
    reference of ``<run>/<variant>.ir.json`` must reproduce bit for bit."""
    import json

    from hwnn.nn.int_tensor import IntTensor
    from hwnn.train.build import load_run

    _, model, _ = load_run(run_dir)
    assert isinstance(model, QuantSequential)
    predictors = {}
    if variant != "net":
        study = json.loads((Path(run_dir) / RESULT_FILE).read_text())
        entry = next((e for name, e in study["variants"].items()
                      if ir_variant(name) == variant), None)
        if entry is None:
            raise HwnnError(f"{run_dir}/{RESULT_FILE} has no variant {variant!r}")
        predictors = make_predictors(model, entry["layers"], entry["method"],
                                     entry.get("n_levels"))
    scale = model.quantize_input(torch.zeros(1, codes.shape[1])).scale
    with torch.no_grad():
        outs = [forward_int_predicted(model, IntTensor(chunk, scale), predictors)
                .output.value.numpy()
                for chunk in iter_batches(torch.as_tensor(codes, dtype=torch.int64), 1000)]
    return np.concatenate(outs)


def export_predicted(run_dir: Path, study: dict[str, Any]) -> dict[str, Path]:
    """Write the run's IR with the ReLU prediction of each study variant that found an N_L
    (``<run>/prop1.ir.json``, ``prop2``, ``signconnect1``, ``signconnect2``; the exact
    network is ``net.ir.json``). Each IR's reference computes what the study measured."""
    from hwnn.ir import save_ir
    from hwnn.ir.export import export_model
    from hwnn.train.build import load_run

    cfg, model, _ = load_run(run_dir)
    assert isinstance(model, QuantSequential)
    meta = {"source_run": str(Path(run_dir).resolve()), "config": cfg.to_yaml_dict(),
            "exported_by": "hwnn.methods.relu_pred.export_predicted"}
    paths = {}
    for name, entry in study["variants"].items():
        if "test_accuracy" not in entry:
            continue
        predictors = make_predictors(model, entry["layers"], entry["method"],
                                     entry.get("n_levels"))
        net = export_model(model, cfg.name, "argmax", dict(meta, relu_prediction=name),
                           predictors=predictors)
        paths[name] = save_ir(net, Path(run_dir) / f"{ir_variant(name)}.ir.json")
    return paths


__all__ = [
    "LEVELS",
    "MAX_LOSS",
    "RESULT_FILE",
    "VARIANTS",
    "SplitEvaluator",
    "Variant",
    "export_predicted",
    "ir_variant",
    "relu_prediction_study",
    "search_levels",
    "torch_integer_outputs",
]

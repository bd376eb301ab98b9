"""Scores on a split: accuracy for classification, bit error rate for OFC (PAM4 slicer).

Model selection uses a *key* to minimise: ``(-accuracy, loss)`` or ``(BER, loss)``; the
loss breaks ties (e.g. BER 0 on a validation split).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnn.data.base import Dataset, Split


def model_inputs(dataset: Dataset, x: np.ndarray) -> torch.Tensor:
    """Float inputs the model sees: ``codes * scale`` for fixed-scale datasets."""
    arr = np.ascontiguousarray(x)
    if not arr.flags.writeable:  # e.g. a memory-mapped or cached array: torch wants its own
        arr = arr.copy()
    t = torch.from_numpy(arr).float()
    scale = dataset.input_quant.scale
    return t * scale if scale is not None else t


def loss_fn(dataset: Dataset, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if dataset.kind == "classification":
        return F.cross_entropy(out, y)
    return F.mse_loss(out.reshape(-1), y.reshape(-1))


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, x: np.ndarray, batch: int = 8192) -> np.ndarray:
    """Raw model outputs (eval mode) for numpy inputs, in batches."""
    model.eval()
    outs = [model(model_inputs(dataset, x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, dataset.num_outputs), np.float32)


def score(dataset: Dataset, out: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Metric dict for outputs ``out`` against targets ``y``."""
    out_t, y_t = torch.from_numpy(out), torch.from_numpy(y)
    loss = float(loss_fn(dataset, out_t, y_t.long() if dataset.kind == "classification" else y_t))
    if dataset.kind == "classification":
        acc = float((out.argmax(axis=1) == y).mean())
        return {"accuracy": acc, "loss": loss, "n": len(y)}
    from hwnn.data.ofc import ber, slicer

    return {"ber": float(ber(slicer(out.reshape(-1)), y)), "loss": loss, "n": len(y)}


def evaluate(
    model: nn.Module, dataset: Dataset, split: Split, batch: int = 8192
) -> dict[str, float]:
    return score(dataset, predict(model, dataset, split.x, batch), split.y)


def metric_name(dataset: Dataset) -> str:
    """The headline test metric: ``accuracy`` for classification, ``ber`` for OFC."""
    return "accuracy" if dataset.kind == "classification" else "ber"


def selection_key(dataset: Dataset, metrics: dict[str, float]) -> tuple[float, float]:
    """Smaller is better."""
    if dataset.kind == "classification":
        return (-metrics["accuracy"], metrics["loss"])
    return (metrics["ber"], metrics["loss"])


def headline(dataset: Dataset, metrics: dict[str, float]) -> str:
    if dataset.kind == "classification":
        return f"acc {100 * metrics['accuracy']:.2f}%"
    return f"BER {metrics['ber']:.3e}"

"""Pruning curves of seed 001 §III-D: accuracy against the parameters kept in the hidden
layer, for the MAC network (configuration A, magnitude thresholds) and the SAM network
(configuration B, activation-rate thresholds), and the Table I costs read off them.

* A: every hidden-layer weight with ``|w| < t`` is set to 0, for a list of thresholds ``t``.
* B: each ``W+_ij`` / ``W-_ij`` is counted every time it wins its max / min over a data set
  (:meth:`hwnn.nn.sam.SAMLinear.activation_counts`); parameters activated fewer than ``t``
  times are removed.
* Table I (seed 001): with ``N`` parameters kept, ``mul_A = add_A = N_A`` and
  ``mul_B = 0, add_B = 2 N_B`` per inference.

Each point evaluates the pruned network on the given test signals; the network is restored
afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from hwnn.nn.model import WEIGHT_LAYERS
from hwnn.nn.sam import SAMLinear, SAMNet


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    kept: int  # hidden-layer parameters still used (weights; SAM: W+ and W- entries)
    accuracy: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@torch.no_grad()
def predictions(model: torch.nn.Module, x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Arg-max class of every row of ``x``, ``batch`` rows at a time."""
    model.eval()
    return torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch: int = 4096) -> float:
    return int((predictions(model, x, batch) == y).sum()) / len(x)


def hidden_sam(model: SAMNet) -> SAMLinear:
    if not isinstance(model, SAMNet) or len(model.sam) != 1:
        raise ValueError("activation-rate pruning expects a SAMNet with one SAM hidden layer "
                         "(seed 001 configuration B)")
    return model.sam[0]


@torch.no_grad()
def activation_counts(model: SAMNet, x: torch.Tensor, batch: int = 4096
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """§III-D activation counts of the hidden SAM layer over the rows of ``x``."""
    layer = hidden_sam(model)
    plus = torch.zeros(layer.weight_plus.shape, dtype=torch.long)
    minus = torch.zeros_like(plus)
    for i in range(0, len(x), batch):
        p, m = layer.activation_counts(x[i : i + batch])
        plus += p
        minus += m
    return plus, minus


@torch.no_grad()
def activation_curve(model: SAMNet, counts: tuple[torch.Tensor, torch.Tensor],
                     thresholds: Sequence[int], x: torch.Tensor, y: torch.Tensor
                     ) -> list[CurvePoint]:
    """Accuracy with every parameter activated fewer than ``t`` times removed, per ``t``."""
    layer = hidden_sam(model)
    saved = layer.keep_plus.clone(), layer.keep_minus.clone()
    points = []
    try:
        for t in thresholds:
            layer.keep_plus.copy_(saved[0])
            layer.keep_minus.copy_(saved[1])
            kept = layer.prune_by_activation(counts[0], counts[1], int(t))
            kept -= 0 if layer.bias is None else layer.out_features
            points.append(CurvePoint(float(t), kept, accuracy(model, x, y)))
    finally:
        layer.keep_plus.copy_(saved[0])
        layer.keep_minus.copy_(saved[1])
    return points


def hidden_weight(model: torch.nn.Module) -> torch.nn.Parameter:
    layers = [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]
    if len(layers) < 2:
        raise ValueError("magnitude pruning of the hidden layer expects a network with a "
                         "hidden weight layer (seed 001 configuration A)")
    return layers[0].weight


@torch.no_grad()
def magnitude_curve(model: torch.nn.Module, thresholds: Sequence[float], x: torch.Tensor,
                    y: torch.Tensor) -> list[CurvePoint]:
    """Accuracy with the hidden-layer weights ``|w| < t`` set to 0, per ``t``."""
    weight = hidden_weight(model)
    saved = weight.detach().clone()
    points = []
    try:
        for t in thresholds:
            weight.copy_(torch.where(saved.abs() < t, torch.zeros_like(saved), saved))
            points.append(CurvePoint(float(t), int((weight != 0).sum()),
                                     accuracy(model, x, y)))
    finally:
        weight.copy_(saved)
    return points


def fewest_kept(points: Sequence[CurvePoint], target: float) -> CurvePoint | None:
    """The point with the fewest parameters whose accuracy is at least ``target``."""
    ok = [p for p in points if p.accuracy >= target]
    return min(ok, key=lambda p: p.kept) if ok else None


def table_one_costs(kind: str, kept: int) -> dict[str, int]:
    """Seed 001 Table I per inference: MAC ``mul = add = N``; SAM ``mul = 0, add = 2 N``."""
    if kind == "mac":
        return {"parameters": kept, "multiplications": kept, "additions": kept}
    if kind == "sam":
        return {"parameters": kept, "multiplications": 0, "additions": 2 * kept}
    raise ValueError(f"kind must be 'mac' or 'sam', got {kind!r}")

"""The dataset contract shared by every task: arrays for train/val/test plus how the
inputs are quantized and how predictions are scored.

``kind``:
- ``"classification"``: ``y`` holds int64 class indices; metric = accuracy.
- ``"pam4"``: ``y`` holds float32 PAM4 levels in {-3, -1, 1, 3} (one output); metric = BER
  after the slicer in :mod:`hwnn.data.ofc`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

TaskKind = Literal["classification", "pam4"]


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class InputQuant:
    """How the raw inputs map to integers: ``x = scale * x_int`` exactly (scale a power of
    two), ``x_int`` in ``[0, 2^bits-1]`` (unsigned) or ``[-2^(bits-1), 2^(bits-1)-1]``.
    ``scale=None`` means the model learns/calibrates a power-of-two scale."""

    bits: int
    signed: bool
    scale: float | None


@dataclass
class Dataset:
    name: str
    kind: TaskKind
    train: Split
    val: Split
    test: Split
    num_outputs: int
    input_quant: InputQuant
    info: dict[str, Any] = field(default_factory=dict)
    # Optional on-the-fly training data (SAM task): (n, rng) -> (x, y).
    train_sampler: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = (
        None
    )

    @property
    def input_width(self) -> int:
        return int(np.prod(self.train.x.shape[1:]))

    def class_balance(self) -> dict[str, list[int]]:
        """Per split, the count of each class (classification only)."""
        if self.kind != "classification":
            return {}
        return {
            name: np.bincount(split.y.astype(np.int64), minlength=self.num_outputs).tolist()
            for name, split in (("train", self.train), ("val", self.val), ("test", self.test))
        }

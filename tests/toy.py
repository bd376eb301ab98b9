"""A small synthetic classification dataset and config for training-loop tests."""

from __future__ import annotations

import numpy as np

from hwnn.config import parse_config
from hwnn.data.base import Dataset, InputQuant, Split


def toy_dataset(n: int = 6000, width: int = 24, seed: int = 0) -> Dataset:
    """Two noisy Gaussian blobs per class (3 classes), float inputs with a learned scale."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, size=(3, width))
    y = rng.integers(0, 3, size=n)
    x = (centers[y] + rng.normal(0, 1.6, size=(n, width))).astype(np.float32)
    a, b = int(0.6 * n), int(0.8 * n)
    return Dataset("toy", "classification", Split(x[:a], y[:a]), Split(x[a:b], y[a:b]),
                   Split(x[b:], y[b:]), num_outputs=3,
                   input_quant=InputQuant(bits=8, signed=True, scale=None))


def toy_config(epochs: int = 4, batch_size: int = 64):
    stage = {"epochs": epochs, "lr": 3e-3, "lr_step": 2, "patience": 3}
    return parse_config({
        "name": "toy",
        "data": {"task": "mnist"},  # not loaded: the tests pass the toy dataset directly
        "model": {"hidden": [16, 8]},
        "train": {"seed": 3, "batch_size": batch_size, "float": stage, "qat": stage,
                  "prune": {**stage, "sparsity": 0.5}},
    })

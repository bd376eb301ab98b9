"""Small synthetic inputs for tests: a classification dataset and config for training-loop
tests, and random integer networks (IRs) with extreme weights for the hardware backends."""

from __future__ import annotations

import numpy as np

from hwnn.config import parse_config
from hwnn.data.base import Dataset, InputQuant, Split
from hwnn.ir.model import DenseLayer, Head, IRInput, IRNetwork
from hwnn.ir.ranges import signed_bits, worst_case_acc_range


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


def toy_config(epochs: int = 4, batch_size: int = 64, hw_aware: dict | None = None):
    """Float → QAT → prune 50 % (→ hardware-aware stages with ``hw_aware`` settings)."""
    stage = {"epochs": epochs, "lr": 3e-3, "lr_step": 2, "patience": 3}
    train = {"seed": 3, "batch_size": batch_size, "float": stage, "qat": stage,
             "prune": {**stage, "sparsity": 0.5}}
    if hw_aware is not None:
        train["hw_aware"] = {**stage, **hw_aware}
    return parse_config({
        "name": "toy",
        "data": {"task": "mnist"},  # not loaded: the tests pass the toy dataset directly
        "model": {"hidden": [16, 8]},
        "train": train,
    })


def random_ir(seed: int, fan_in: int, hidden: int, outs: int) -> IRNetwork:
    """Two dense layers on uint4 inputs: 30 % zero weights, -128 and 127 present, worst-case
    accumulator widths, ReLU then identity, argmax head."""
    rng = np.random.default_rng(seed)

    def dense(name: str, n_in: int, n_out: int, in_bits: int, relu: bool) -> DenseLayer:
        w = rng.integers(-128, 128, size=(n_out, n_in))
        w[rng.random(w.shape) < 0.3] = 0
        w[0, 0] = -128  # extreme weights
        if n_in > 1:
            w[0, 1] = 127
        layer = DenseLayer(name, w.astype(np.int64), rng.integers(-50, 50, n_out),
                           rng.integers(1, 1 << 12, n_out), rng.integers(8, 16, n_out),
                           in_bits=in_bits, in_signed=False, acc_bits=2, out_bits=8,
                           out_signed=not relu, activation="relu" if relu else "identity")
        lo, hi = worst_case_acc_range(layer)
        layer.acc_bits = signed_bits(int(lo.min()), int(hi.max()))
        return layer

    layers = [dense("fc0", fan_in, hidden, 4, True), dense("fc1", hidden, outs, 8, False)]
    return IRNetwork("prof", IRInput(fan_in, 4, False), layers, Head("argmax")).validate()

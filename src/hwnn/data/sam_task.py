"""The synthetic classification task of seed 001 §III-A.

A signal of ``n`` samples is drawn from a zero-mean multivariate Gaussian with covariance
``X_ij = r^|i-j|`` (seed 001 eq. 6); the class is the index of ``r`` among 10 values evenly
spaced in [-0.9, 0.9]. Training data is generated on the fly; the test set is a fixed seeded
set of 10^5 signals (seed 001 §III-C, Fig. 4).

Sampling uses the AR(1) recursion that has exactly this covariance (unit stationary
variance): ``s_0 ~ N(0,1)``, ``s_t = r s_{t-1} + sqrt(1-r^2) e_t`` — O(n) per signal instead
of a Cholesky factor of an n×n matrix, run as one IIR filter per class (scipy lfilter).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from hwnn.data.base import Dataset, InputQuant, Split

N_CLASSES = 10
R_VALUES = np.linspace(-0.9, 0.9, N_CLASSES)


def sample_signals(
    n_signals: int, rng: np.random.Generator, n: int = 512, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, y)``: float32 signals (n_signals, n) and int64 class labels."""
    if labels is None:
        labels = rng.integers(0, N_CLASSES, size=n_signals)
    noise = rng.standard_normal((n_signals, n))
    x = np.empty((n_signals, n), dtype=np.float32)
    for cls in np.unique(labels):  # one IIR filter per class, vectorised over its signals
        rows = labels == cls
        r = float(R_VALUES[cls])
        gain = np.sqrt(1.0 - r * r)
        drive = noise[rows]
        drive[:, 0] /= gain  # so that s_0 = e_0 has unit variance
        x[rows] = lfilter([gain], [1.0, -r], drive, axis=1)
    return x, labels.astype(np.int64)


def load_sam(
    n: int = 512, n_test: int = 100_000, n_val: int = 10_000, seed: int = 0
) -> Dataset:
    """Fixed val/test sets plus ``train_sampler`` for on-the-fly training batches."""
    test_rng = np.random.default_rng([seed, 1])
    val_rng = np.random.default_rng([seed, 2])
    x_test, y_test = sample_signals(n_test, test_rng, n)
    x_val, y_val = sample_signals(n_val, val_rng, n)
    # A small fixed "train" split exists for calibration and info; training draws fresh data.
    x_tr, y_tr = sample_signals(4096, np.random.default_rng([seed, 3]), n)

    def sampler(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return sample_signals(count, rng, n)

    return Dataset(
        name="sam",
        kind="classification",
        train=Split(x_tr, y_tr),
        val=Split(x_val, y_val),
        test=Split(x_test, y_test),
        num_outputs=N_CLASSES,
        input_quant=InputQuant(bits=8, signed=True, scale=None),
        info={"n": n, "r_values": R_VALUES.round(3).tolist(), "n_test": n_test, "seed": seed},
        train_sampler=sampler,
    )

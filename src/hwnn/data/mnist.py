"""MNIST and Fashion-MNIST from the shipped IDX files (60k train / 10k test).

A fixed validation split is carved from the training set: the last ``n_val`` images of a
seeded permutation (default 10,000, seed 0), so train/val never overlap and never change
between runs. Inputs are stored as uint8 pixel codes ``x_int`` with ``x = x_int * 2^-8``
(unsigned 8-bit, scale a power of two, so the first layer sees exact integers).
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from hwnn.data.base import Dataset, InputQuant, Split
from hwnn.data.paths import verified_path
from hwnn.errors import DataError

_FOLDERS = {"mnist": "mnist", "fashion": "fashion-mnist"}
PIXEL_SCALE = 2.0**-8


def read_idx(path: os.PathLike[str]) -> np.ndarray:
    """Parse a gzipped IDX file (big-endian header: magic 0x0000 08 ndim, then dims)."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def load_mnist(
    variant: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    n_val: int = 10_000,
    seed: int = 0,
) -> Dataset:
    """Load ``variant`` in {"mnist", "fashion"}; images flattened to 784 uint8 codes."""
    if variant not in _FOLDERS:
        raise DataError(f"unknown image dataset {variant!r}; choose one of {sorted(_FOLDERS)}")
    folder = _FOLDERS[variant]

    def read(stem: str) -> np.ndarray:
        return read_idx(verified_path(f"{folder}/{stem}-ubyte.gz", data_dir))

    x_all = read("train-images-idx3").reshape(-1, 28 * 28)
    y_all = read("train-labels-idx1").astype(np.int64)
    x_test = read("t10k-images-idx3").reshape(-1, 28 * 28)
    y_test = read("t10k-labels-idx1").astype(np.int64)
    if not 0 < n_val < len(x_all):
        raise DataError(f"n_val must be in (0, {len(x_all)}), got {n_val}")
    order = np.random.default_rng(seed).permutation(len(x_all))
    train_idx, val_idx = np.sort(order[:-n_val]), np.sort(order[-n_val:])
    return Dataset(
        name=variant,
        kind="classification",
        train=Split(x_all[train_idx], y_all[train_idx]),
        val=Split(x_all[val_idx], y_all[val_idx]),
        test=Split(x_test, y_test),
        num_outputs=10,
        input_quant=InputQuant(bits=8, signed=False, scale=PIXEL_SCALE),
        info={"image_shape": [28, 28], "val_split": {"n_val": n_val, "seed": seed}},
    )

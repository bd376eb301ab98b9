"""Load the shipped JSC features (made once by :mod:`hwnn.data.jsc`; no Pythia needed).

Folder resolution: an explicit ``jsc_dir``, else ``$HWNN_JSC_DIR``, else ``data/jsc`` in the
repository. The folder holds ``jsc_features.npz``, ``generation.json`` (how it was made) and
``SHA256SUMS``; the features file is checked against both ``SHA256SUMS`` and the value
recorded in ``generation.json`` before use.

Dataset: 16 features (:data:`hwnn.data.jsc_features.FEATURES`), 5 classes
(:data:`hwnn.data.jsc.CLASSES`), stratified train/val/test = 60/20/20 % with a seeded
permutation per class (:func:`hwnn.data.nid.stratified_split`), each feature standardised
with the train split's mean and standard deviation (as the hls4ml/LogicNets JSC loaders do).
Inputs are signed 8-bit codes with a learned power-of-two scale, like OFC.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.data.base import Dataset, InputQuant, Split
from hwnn.data.nid import stratified_split
from hwnn.data.paths import pick_folder, sha256_of
from hwnn.errors import DataError

ENV_JSC_DIR = "HWNN_JSC_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[3]


def resolve_jsc_dir(jsc_dir: str | os.PathLike[str] | None = None) -> Path:
    """The JSC data folder (module docstring), or a :class:`DataError` saying how to get one."""
    from hwnn.data.jsc import FEATURES_FILE

    root, origin = pick_folder(jsc_dir, "the jsc_dir argument", ENV_JSC_DIR,
                               _REPO_ROOT / "data" / "jsc", "the repository's data/jsc")
    if not (root / FEATURES_FILE).is_file():
        raise DataError(
            f"JSC data not found: {root / FEATURES_FILE} (from {origin}). The repository ships "
            f"it in data/jsc; set ${ENV_JSC_DIR} to another folder, or make one with "
            "`hwnn data generate-jsc OUT` (needs Pythia: scripts/build_pythia_wheel.sh)."
        )
    return root.resolve()


def verified_features(root: Path) -> Path:
    """``root/jsc_features.npz`` after checking its SHA-256 against ``SHA256SUMS`` and
    ``generation.json``."""
    from hwnn.data.jsc import CHECKSUM_FILE, FEATURES_FILE, GENERATION_FILE

    path = root / FEATURES_FILE
    expected: set[str] = set()
    sums = root / CHECKSUM_FILE
    if sums.is_file():
        for line in sums.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == FEATURES_FILE:
                expected.add(parts[0])
    gen = root / GENERATION_FILE
    if gen.is_file():
        recorded = json.loads(gen.read_text()).get("sha256", {}).get(FEATURES_FILE)
        if recorded:
            expected.add(recorded)
    if not expected:
        raise DataError(f"{root} has no checksum for {FEATURES_FILE} ({CHECKSUM_FILE} or "
                        f"{GENERATION_FILE}); regenerate or restore the folder")
    actual = sha256_of(path)
    if expected != {actual}:
        raise DataError(f"corrupt or mismatched JSC data: {path} has sha256 {actual}, "
                        f"expected {sorted(expected)}; restore the folder from the repository")
    return path


def load_jsc(jsc_dir: str | os.PathLike[str] | None = None, seed: int = 0) -> Dataset:
    """The JSC :class:`Dataset` (module docstring)."""
    from hwnn.data.jsc import CLASSES, GENERATION_FILE
    from hwnn.data.jsc_features import FEATURES

    root = resolve_jsc_dir(jsc_dir)
    with np.load(verified_features(root)) as f:
        x, y = f["x"].astype(np.float32), f["y"].astype(np.int64)
        names = [str(n) for n in f["features"]]
    if names != list(FEATURES) or x.shape[1] != len(FEATURES):
        raise DataError(f"{root}: the feature columns {names} are not {list(FEATURES)}")
    if y.min() < 0 or y.max() >= len(CLASSES):
        raise DataError(f"{root}: labels outside 0..{len(CLASSES) - 1}")
    train_idx, val_idx, test_idx = stratified_split(y, seed=seed)
    mean = x[train_idx].mean(axis=0)
    std = x[train_idx].std(axis=0)
    std = np.where(std > 0, std, 1.0).astype(np.float32)

    def split(idx: np.ndarray) -> Split:
        return Split(((x[idx] - mean) / std).astype(np.float32), y[idx])

    generation: dict[str, Any] = json.loads((root / GENERATION_FILE).read_text()) \
        if (root / GENERATION_FILE).is_file() else {}
    info = {"source": str(root), "classes": " ".join(CLASSES),
            "generator": " ".join(f"{k} {v}" for k, v in generation.get("versions", {}).items()
                                  if k in ("pythia8mc", "fastjet")),
            "split_seed": seed}
    return Dataset(name="jsc", kind="classification", train=split(train_idx),
                   val=split(val_idx), test=split(test_idx), num_outputs=len(CLASSES),
                   input_quant=InputQuant(bits=8, signed=True, scale=None), info=info)

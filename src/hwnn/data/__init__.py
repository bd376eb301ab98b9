"""Datasets from the shipped data folder (never downloaded) and simulated tasks.

``load_dataset(name, ...)`` is the one entry point: ``mnist``, ``fashion`` (IDX files),
``nid`` (UNSW-NB15 testing-set CSV, bit-encoded), ``ofc`` (simulated IM/DD PAM4 link),
``sam`` (seed 001's synthetic r^|i-j| task), ``jsc`` (jet substructure features generated
once with Pythia 8 + FastJet and shipped in ``data/jsc``; :mod:`hwnn.data.jsc_load`).
"""

from __future__ import annotations

import os
from typing import Any

from hwnn.data.base import Dataset, InputQuant, Split
from hwnn.data.paths import resolve_data_dir, verified_path, verify_all
from hwnn.errors import DataError

DATASETS = ("mnist", "fashion", "nid", "ofc", "sam", "jsc")


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    ofc: Any = None,
) -> Dataset:
    """Load a dataset by name; ``ofc`` is an :class:`hwnn.data.ofc.OFCConfig` (or None)."""
    if name in ("mnist", "fashion"):
        from hwnn.data.mnist import load_mnist

        return load_mnist(name, data_dir, seed=seed)
    if name == "nid":
        from hwnn.data.nid import load_nid

        return load_nid(data_dir, seed=seed)
    if name == "ofc":
        from hwnn.data.ofc import load_ofc

        return load_ofc(ofc)
    if name == "sam":
        from hwnn.data.sam_task import load_sam

        return load_sam(seed=seed)
    if name == "jsc":
        from hwnn.data.jsc_load import load_jsc

        return load_jsc(seed=seed)
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


__all__ = [
    "DATASETS",
    "Dataset",
    "InputQuant",
    "Split",
    "load_dataset",
    "resolve_data_dir",
    "verified_path",
    "verify_all",
]

"""Derived-array caches (``.npz`` in :func:`hwnn.data.paths.cache_dir`): atomic writes and
tolerant reads, keyed by a string stored inside the file.

A cache is an optimisation: a failed write only warns, and an unreadable, stale or
mismatched file reads as a miss (the caller rebuilds and overwrites it).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.atomic import atomic_write_stream


def write_cache(path: Path, key: str, arrays: dict[str, np.ndarray], info: dict[str, Any],
                label: str) -> None:
    """Atomically write ``arrays`` plus ``key`` and JSON ``info`` to ``path``."""
    payload = {"key": np.array(key), "info": np.array(json.dumps(info)), **arrays}
    try:
        atomic_write_stream(path, lambda handle: np.savez(handle, **payload))
    except OSError as err:
        warnings.warn(f"could not write the {label} cache {path}: {err}", stacklevel=3)


def read_cache(path: Path, key: str, names: list[str]
               ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """``(arrays, info)`` if ``path`` holds ``key`` and every array in ``names``, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as blob:
            if str(blob["key"]) != key:
                return None
            info = json.loads(str(blob["info"]))
            arrays = {name: blob[name] for name in names}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    return arrays, info

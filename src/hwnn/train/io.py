"""Atomic file writes: a crash leaves either the old file or the new one, never half of it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    _atomic(path, lambda h: h.write((json.dumps(data, indent=2, sort_keys=False) + "\n").encode()))


def atomic_write_text(path: Path, text: str) -> None:
    _atomic(path, lambda h: h.write(text.encode()))


def atomic_torch_save(path: Path, obj: Any) -> None:
    _atomic(path, lambda h: torch.save(obj, h))

"""Atomic writes of run files (JSON, text, torch checkpoints) on :mod:`hwnn.atomic`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from hwnn.atomic import atomic_write_bytes, atomic_write_stream


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_torch_save(path: Path, obj: Any) -> None:
    atomic_write_stream(path, lambda handle: torch.save(obj, handle))

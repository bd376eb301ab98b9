"""Atomic file writes (torch-free, for every package): a crash leaves either the old file or
the new one, never half of it. The data goes to a temporary file in the same folder, which is
then renamed over the target."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_file(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    """Create ``path`` by calling ``writer(tmp)`` on a temporary path, then renaming it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def atomic_write_stream(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]
                        ) -> Path:
    """``write(handle)`` into a binary file, flushed and fsynced before the rename."""

    def writer(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_file(path, writer)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write_stream(path, lambda handle: handle.write(data))

"""Where the shipped data lives, and checksum-verified access to it.

Resolution order for the data root: an explicit ``data_dir`` argument (the CLI's
``--data-dir``), else the ``HWNN_DATA_DIR`` environment variable, else ``../shared/data``
next to the repository this package was imported from. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hwnn.data.manifest import SHA256
from hwnn.errors import DataError

ENV_DATA_DIR = "HWNN_DATA_DIR"
ENV_CACHE_DIR = "HWNN_CACHE_DIR"

_REPO_ROOT = Path(__file__).resolve().parents[3]
_verified: dict[tuple[str, int, int], str] = {}


def repo_default_data_dir() -> Path:
    """``<repo>/../shared/data`` for a source checkout (may not exist for a pip install)."""
    return _REPO_ROOT.parent / "shared" / "data"


def pick_folder(explicit: str | os.PathLike[str] | None, explicit_origin: str, env: str,
                default: Path, default_origin: str) -> tuple[Path, str]:
    """``(folder, where it came from)``: ``explicit`` if given, else ``$env`` if set, else
    ``default``; the origin is for error messages."""
    if explicit is not None:
        return Path(explicit), explicit_origin
    if os.environ.get(env):
        return Path(os.environ[env]), f"${env}"
    return default, default_origin


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root, or raise :class:`DataError` saying how to set it."""
    root, origin = pick_folder(data_dir, "--data-dir", ENV_DATA_DIR, repo_default_data_dir(),
                               "the default next to the repository")
    if not root.is_dir():
        raise DataError(
            f"data folder not found: {root} (from {origin}). Point hwnn at the shipped data "
            f"folder with --data-dir PATH or `export {ENV_DATA_DIR}=PATH` (the folder that "
            "holds SHA256SUMS, mnist/, unsw-nb15/, ...)."
        )
    return root.resolve()


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verified_path(relpath: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Absolute path of a shipped file after checking its SHA-256 against the manifest.

    The check is memoised per (path, size, mtime) within a process.
    """
    if relpath not in SHA256:
        raise DataError(f"{relpath} is not a known shipped data file")
    root = resolve_data_dir(data_dir)
    path = root / relpath
    if not path.is_file():
        raise DataError(
            f"missing data file: {path}. Restore it from the shipped data folder "
            f"(expected sha256 {SHA256[relpath]})."
        )
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        actual = sha256_of(path)
        if actual != SHA256[relpath]:
            raise DataError(
                f"corrupt data file: {path}: sha256 {actual} != expected {SHA256[relpath]}. "
                "Restore the original file from the shipped data folder."
            )
        _verified[key] = actual
    return path


def verify_all(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, bool, str]]:
    """Check every manifest entry; returns (relpath, ok, message) rows, never raises on a file."""
    rows: list[tuple[str, bool, str]] = []
    for relpath in sorted(SHA256):
        try:
            verified_path(relpath, data_dir)
            rows.append((relpath, True, "ok"))
        except DataError as err:
            rows.append((relpath, False, str(err)))
    return rows


def cache_dir() -> Path:
    """Folder for derived arrays (e.g. the encoded NID npz): ``$HWNN_CACHE_DIR`` or
    ``~/.cache/hwnn``. Created on demand."""
    env = os.environ.get(ENV_CACHE_DIR)
    root = Path(env) if env else Path.home() / ".cache" / "hwnn"
    root.mkdir(parents=True, exist_ok=True)
    return root

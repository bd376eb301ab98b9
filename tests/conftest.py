"""Shared fixtures: the shipped data root, skipped with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwnn.data.paths import ENV_DATA_DIR, repo_default_data_dir

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = Path(os.environ.get(ENV_DATA_DIR) or repo_default_data_dir())
    if not (root / "SHA256SUMS").is_file():
        pytest.skip(f"shipped data folder not found at {root}; set {ENV_DATA_DIR}")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Tests never write into the user's cache; one cache per test session."""
    cache = tmp_path_factory.getbasetemp() / "hwnn-cache"
    monkeypatch.setenv("HWNN_CACHE_DIR", str(cache))

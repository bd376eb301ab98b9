"""Data root resolution, checksum verification, MNIST/Fashion loaders, the SAM task."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwnn.data import load_dataset
from hwnn.data.manifest import SHA256
from hwnn.data.mnist import read_idx
from hwnn.data.paths import ENV_DATA_DIR, resolve_data_dir, verified_path, verify_all
from hwnn.data.sam_task import R_VALUES, sample_signals
from hwnn.errors import DataError


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path))
    assert resolve_data_dir() == tmp_path.resolve()
    assert resolve_data_dir(data_dir) == data_dir.resolve()  # --data-dir wins


def test_missing_root_says_how_to_set_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "nope"))
    with pytest.raises(DataError, match="HWNN_DATA_DIR") as err:
        resolve_data_dir()
    assert "--data-dir" in str(err.value)


def test_verify_all_passes_on_shipped_data(data_dir: Path):
    rows = verify_all(data_dir)
    assert len(rows) == len(SHA256)
    assert all(ok for _, ok, _ in rows), [r for r in rows if not r[1]]


def _copy_data(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lib.gz"))
    for path in dst.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dst


def test_corrupt_and_missing_files_are_named(data_dir: Path, tmp_path: Path):
    root = _copy_data(data_dir, tmp_path / "data")
    target = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"corrupt data file: .*t10k-labels-idx1-ubyte\.gz"):
        verified_path("mnist/t10k-labels-idx1-ubyte.gz", root)
    (root / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    rows = {rel: (ok, msg) for rel, ok, msg in verify_all(root)}
    assert rows["mnist/t10k-labels-idx1-ubyte.gz"][0] is False
    assert "missing data file" in rows["mnist/train-labels-idx1-ubyte.gz"][1]
    assert rows["fashion-mnist/t10k-labels-idx1-ubyte.gz"][0] is True


def test_read_idx_rejects_garbage(tmp_path: Path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"\x01\x02\x03\x04hello")
    with pytest.raises(DataError, match="not an unsigned-byte IDX"):
        read_idx(bad)


@pytest.mark.parametrize("name", ["mnist", "fashion"])
def test_image_datasets(name: str, data_dir: Path):
    ds = load_dataset(name, data_dir)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (50_000, 10_000, 10_000)
    assert ds.train.x.dtype == np.uint8 and ds.input_width == 784
    assert ds.input_quant.scale == 2.0**-8
    balance = ds.class_balance()
    assert all(min(counts) > 700 for counts in balance.values())
    again = load_dataset(name, data_dir)
    assert np.array_equal(ds.val.y, again.val.y)  # fixed split
    # train and val are disjoint: no identical image index overlap by construction; check a
    # content fingerprint of a few val images is absent from train
    train_keys = {row.tobytes() for row in ds.train.x[:20000]}
    assert sum(row.tobytes() in train_keys for row in ds.val.x[:200]) <= 2


def test_sam_signals_have_the_right_covariance():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 2000)
    x, y = sample_signals(len(labels), rng, n=64, labels=labels)
    assert x.shape == (20000, 64) and x.dtype == np.float32
    for cls in (0, 4, 9):
        s = x[y == cls].astype(np.float64)
        for lag in (0, 1, 2):
            emp = np.mean(s[:, lag:] * s[:, : s.shape[1] - lag])
            # strongly correlated samples: ~13k effective samples, std of the estimate ~0.012
            assert emp == pytest.approx(R_VALUES[cls] ** lag, abs=0.05)


def test_sam_dataset_fixed_test_and_stream():
    ds = load_dataset("sam")
    assert len(ds.test) == 100_000 and ds.input_width == 512
    assert np.bincount(ds.test.y, minlength=10).min() > 9_000
    assert ds.train_sampler is not None
    xa, ya = ds.train_sampler(8, np.random.default_rng(5))
    xb, yb = ds.train_sampler(8, np.random.default_rng(5))
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb)

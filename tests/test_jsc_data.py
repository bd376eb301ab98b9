"""JSC generator bookkeeping (seeds, matching, chunk assembly) and the loader, without Pythia:
the chunks here are written by hand in the generator's format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hwnn.data.jsc import (
    CLASSES,
    PROCESSES,
    JSCSettings,
    assemble,
    chunk_path,
    chunk_seed,
    match_class,
)
from hwnn.data.jsc_features import FEATURES
from hwnn.data.jsc_load import load_jsc
from hwnn.errors import DataError


def p4(pt: float, y: float, phi: float, m: float = 0.0) -> np.ndarray:
    mt = math.hypot(pt, m)
    return np.array([pt * math.cos(phi), pt * math.sin(phi), mt * math.sinh(y), mt * math.cosh(y)])


def test_chunk_seeds_are_distinct_and_in_pythia_range() -> None:
    seeds = {chunk_seed(JSCSettings(seed=s), p, k)
             for s in (0, 1, 999) for p in PROCESSES for k in (0, 1, 99_999)}
    assert len(seeds) == 3 * len(PROCESSES) * 3
    assert min(seeds) >= 1 and max(seeds) < 900_000_000
    with pytest.raises(DataError, match="chunk index"):
        chunk_seed(JSCSettings(), "qcd", 100_000)


def test_settings_are_checked() -> None:
    with pytest.raises(DataError, match="seed"):
        JSCSettings(seed=1000)
    with pytest.raises(DataError, match="pthat"):
        JSCSettings(pthat_min_gev=1100.0, pthat_max_gev=1000.0)
    assert JSCSettings(jets_per_class=1001, chunk_jets=500).chunks() == 3


def test_match_class_takes_the_nearest_parent_within_dr() -> None:
    jet = p4(1000.0, 0.1, 0.2, m=80.0)
    w = (24, p4(1000.0, 0.15, 0.25, m=80.4))
    gluon = (21, p4(1000.0, -0.1, 0.2 + math.pi))
    assert match_class(jet, [gluon, w], 0.8) == "w"
    assert match_class(jet, [gluon, (-2, p4(900.0, 0.2, 0.1))], 0.8) == "q"
    assert match_class(jet, [gluon, (5, p4(900.0, 0.2, 0.1))], 0.8) is None  # b quark
    assert match_class(jet, [(6, p4(900.0, 1.2, 0.2))], 0.8) is None  # ΔR = 1.1
    assert match_class(jet, [], 0.8) is None
    # φ wraps around: 3.1 and -3.1 are 0.08 apart
    assert match_class(p4(500.0, 0.0, 3.1), [(23, p4(500.0, 0.0, -3.1))], 0.8) == "z"


def write_fake_chunks(root: Path, settings: JSCSettings, rng: np.random.Generator) -> None:
    """Chunks in the generator's format; class c's features are centred on c."""
    for k in range(settings.chunks()):
        for process, (_, classes) in PROCESSES.items():
            stats = {"process": process, "index": k, "seed": chunk_seed(settings, process, k),
                     "events": 10, "failed_events": 0, "unmatched_events": 1, "seconds": 0.5}
            arrays = {"stats": np.array(json.dumps(stats))}
            for c in classes:
                centre = CLASSES.index(c)
                arrays[f"x_{c}"] = (centre + rng.normal(0, 0.3, (settings.chunk_jets,
                                                                  len(FEATURES)))
                                    ).astype(np.float32)
                arrays[f"jet_{c}"] = np.ones((settings.chunk_jets, 3), np.float32)
            path = chunk_path(root, process, k)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, **arrays)


def test_assemble_and_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = JSCSettings(jets_per_class=25, chunk_jets=10)
    write_fake_chunks(tmp_path, settings, np.random.default_rng(0))
    record = assemble(tmp_path, settings)
    assert record["jets"] == dict.fromkeys(CLASSES, 25)
    assert record["events"]["qcd"] == 30 and len(record["chunks"]) == 3 * len(PROCESSES)
    with np.load(tmp_path / "jsc_features.npz") as f:
        assert f["x"].shape == (125, 16) and f["x"].dtype == np.float32
        np.testing.assert_array_equal(np.bincount(f["y"]), [25] * 5)
    sums = (tmp_path / "SHA256SUMS").read_text().split()
    assert sums == [record["sha256"]["jsc_features.npz"], "jsc_features.npz"]

    monkeypatch.setenv("HWNN_JSC_DIR", str(tmp_path))
    ds = load_jsc()
    assert ds.num_outputs == 5 and ds.input_width == 16
    assert len(ds.train) + len(ds.val) + len(ds.test) == 125
    np.testing.assert_array_equal(np.bincount(ds.train.y, minlength=5), [15] * 5)
    np.testing.assert_allclose(ds.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.train.x.std(axis=0), 1.0, atol=1e-4)
    # the features separate the classes as written: class means increase with the label
    means = [ds.test.x[ds.test.y == c].mean() for c in range(5)]
    assert means == sorted(means)


def test_loader_refuses_a_damaged_file(tmp_path: Path) -> None:
    settings = JSCSettings(jets_per_class=10, chunk_jets=10)
    write_fake_chunks(tmp_path, settings, np.random.default_rng(1))
    assemble(tmp_path, settings)
    data = bytearray((tmp_path / "jsc_features.npz").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "jsc_features.npz").write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt or mismatched"):
        load_jsc(tmp_path)


def test_loader_says_how_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="generate-jsc"):
        load_jsc(tmp_path / "nowhere")


def test_generator_makes_reproducible_matched_jets(tmp_path: Path) -> None:
    """A tiny real run (Pythia + FastJet, when installed): every class filled, and a chunk
    made again from its seed holds the same jets."""
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from hwnn.data.jsc import generate_chunk, generate_jsc

    settings = JSCSettings(jets_per_class=3, chunk_jets=3)
    record = generate_jsc(tmp_path / "a", settings)
    assert record["jets"] == dict.fromkeys(CLASSES, 3)
    with np.load(tmp_path / "a" / "jsc_features.npz") as f:
        x, y = f["x"], f["y"]
    assert x.shape == (15, 16) and np.isfinite(x).all()
    mass = x[:, FEATURES.index("j_mass_mmdt")]
    # groomed top jets mostly keep the top mass, light-quark jets are groomed to low mass
    assert np.median(mass[y == CLASSES.index("t")]) > np.median(mass[y == CLASSES.index("q")])
    again = generate_chunk(settings, "tt", 0, tmp_path / "b")
    assert again["seed"] == chunk_seed(settings, "tt", 0)
    with np.load(chunk_path(tmp_path / "a", "tt", 0)) as f1, \
            np.load(chunk_path(tmp_path / "b", "tt", 0)) as f2:
        np.testing.assert_array_equal(f1["x_t"], f2["x_t"])


def test_data_info_jsc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hwnn.cli import app

    settings = JSCSettings(jets_per_class=10, chunk_jets=10)
    write_fake_chunks(tmp_path, settings, np.random.default_rng(2))
    assemble(tmp_path, settings)
    monkeypatch.setenv("HWNN_JSC_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["data", "info", "jsc", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["input_width"] == 16 and summary["num_outputs"] == 5
    assert summary["sizes"] == {"train": 30, "val": 10, "test": 10}

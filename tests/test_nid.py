"""NID (UNSW-NB15) encoder, stratified split, CSV parsing, cache, and the shipped file."""

from __future__ import annotations

import csv
import io
import lzma
from pathlib import Path

import numpy as np
import pytest

from hwnn.data import nid
from hwnn.data.nid import NIDEncoder, cache_key, load_nid, stratified_split, take
from hwnn.errors import DataError


def tiny_table() -> dict[str, np.ndarray]:
    return {
        "id": np.array([1.0, 2.0, 3.0, 4.0]),
        "dur": np.array([0.0, 0.5, 1.25, 2.0]),  # m = 0.5 -> 0, 1, 2.5 -> 3 (half up), 4
        "proto": np.array(["udp", "tcp", "udp", "arp"]),  # arp 0, tcp 1, udp 2, unseen 3
        "sbytes": np.array([24.0, 48.0, 60.0, 0.0]),  # m = 24 (> 1: scaled down) -> 1, 2, 3, 0
        "flag": np.array([0.0, 0.0, 0.0, 0.0]),  # no positive value -> max 0, 1 bit
        "attack_cat": np.array(["Normal", "DoS", "DoS", "Normal"]),
        "label": np.array([0, 1, 1, 0]),
    }


# dur: 3 bits (max 4), proto: 2 bits (max = reserved code 3), sbytes: 2 bits (max 3), flag: 1
TINY_BITS = np.array(
    [
        [0, 0, 0, 1, 0, 0, 1, 0],
        [0, 0, 1, 0, 1, 1, 0, 0],
        [0, 1, 1, 1, 0, 1, 1, 0],
        [1, 0, 0, 0, 0, 0, 0, 0],
    ],
    dtype=np.uint8,
)


def test_encoder_hand_computed_bits() -> None:
    enc = NIDEncoder().fit(tiny_table())
    assert [f.name for f in enc.features] == ["dur", "proto", "sbytes", "flag"]
    assert [f.bits for f in enc.features] == [3, 2, 2, 1]
    assert [f.offset for f in enc.features] == [0, 3, 5, 7]
    assert enc.width == 8
    dur, proto, sbytes, flag = enc.features
    assert dur.min_positive == 0.5 and dur.scale == 2.0 and dur.max_code == 4
    assert proto.categories == ("arp", "tcp", "udp") and proto.max_code == 3
    assert sbytes.min_positive == 24.0 and sbytes.max_code == 3
    assert flag.min_positive is None and flag.max_code == 0
    x, stats = enc.transform_with_stats(tiny_table())
    assert x.dtype == np.uint8 and x.shape == (4, 8)
    np.testing.assert_array_equal(x, TINY_BITS)
    assert stats.total_saturated == stats.total_unseen == stats.total_negative == 0


def test_bits_decode_to_codes_msb_first() -> None:
    enc = NIDEncoder().fit(tiny_table())
    x = enc.transform(tiny_table())
    codes, _ = enc.codes(tiny_table())
    for j, spec in enumerate(enc.features):
        weights = 2 ** np.arange(spec.bits - 1, -1, -1)
        np.testing.assert_array_equal(x[:, spec.offset : spec.offset + spec.bits] @ weights,
                                      codes[:, j])


def test_saturation_and_negative_clamp() -> None:
    enc = NIDEncoder().fit(tiny_table())
    new = tiny_table()
    new["dur"] = np.array([10.0, -3.0, 2.2, 0.74])  # 20 -> 4 (sat), -3 -> 0, 4.4 -> 4, 1.48 -> 1
    new["sbytes"] = np.array([1e9, 35.0, 36.0, 11.0])  # sat 3, 1.46 -> 1, 1.5 -> 2, 0.46 -> 0
    codes, stats = enc.codes(new)
    np.testing.assert_array_equal(codes[:, 0], [4, 0, 4, 1])
    np.testing.assert_array_equal(codes[:, 2], [3, 1, 2, 0])
    assert stats.saturated == {"dur": 1, "sbytes": 1, "flag": 0}
    assert stats.negative["dur"] == 1
    assert enc.transform(new).shape == (4, enc.width)  # width never grows


def test_unseen_category_reserved_or_saturated() -> None:
    new = tiny_table()
    new["proto"] = np.array(["icmp", "tcp", "zzz", "arp"])
    reserve = NIDEncoder(unseen="reserve").fit(tiny_table())
    codes, stats = reserve.codes(new)
    np.testing.assert_array_equal(codes[:, 1], [3, 1, 3, 0])
    assert stats.unseen == {"proto": 2}
    saturate = NIDEncoder(unseen="saturate").fit(tiny_table())
    assert saturate.features[1].max_code == 2 and saturate.features[1].bits == 2
    codes, _ = saturate.codes(new)
    np.testing.assert_array_equal(codes[:, 1], [2, 1, 2, 0])
    with pytest.raises(ValueError, match="unseen"):
        NIDEncoder(unseen="drop")  # type: ignore[arg-type]


def test_encoder_round_trips_through_dict() -> None:
    enc = NIDEncoder().fit(tiny_table())
    again = NIDEncoder.from_dict(enc.to_dict())
    np.testing.assert_array_equal(again.transform(tiny_table()), TINY_BITS)


def test_encoder_rejects_bad_input() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        NIDEncoder().transform(tiny_table())
    bad = tiny_table()
    bad["dur"] = np.array([0.0, np.nan, 1.0, 2.0])
    with pytest.raises(DataError, match="dur"):
        NIDEncoder().fit(bad)
    enc = NIDEncoder().fit(tiny_table())
    missing = tiny_table()
    del missing["sbytes"]
    with pytest.raises(DataError, match="sbytes"):
        enc.transform(missing)


def test_stratified_split_proportions() -> None:
    y = np.random.default_rng(5).permutation(np.repeat([0, 1], [1000, 3000]))
    train, val, test = stratified_split(y, seed=3)
    assert np.bincount(y[train]).tolist() == [600, 1800]
    assert np.bincount(y[val]).tolist() == [200, 600]
    assert np.bincount(y[test]).tolist() == [200, 600]
    allidx = np.concatenate([train, val, test])
    assert len(np.unique(allidx)) == len(y) == len(allidx)
    again = stratified_split(y, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(train, stratified_split(y, seed=4)[0])
    # odd class sizes: rounding per class, nothing lost
    y2 = np.repeat([0, 1], [7, 13])
    sizes = [len(p) for p in stratified_split(y2, seed=0)]
    assert sum(sizes) == 20 and sizes == [4 + 8, 1 + 3, 2 + 2]


# -- a tiny synthetic CSV in the shipped format (BOM, xz) ---------------------------------
HEADER = ["id", "dur", "proto", "service", "state", "sbytes", "attack_cat", "label"]


def write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with lzma.open(path, "wt", encoding="utf-8-sig") as handle:
        handle.write(text.getvalue())
    return path


def synthetic_rows(n: int = 200, outlier_row: int | None = None) -> list[list[object]]:
    rng = np.random.default_rng(0)
    rows: list[list[object]] = []
    for i in range(n):
        label = int(i % 4 != 0)
        dur = float(rng.choice([0.0, 0.5, 1.0, 1.5]))
        sbytes = 10**7 if i == outlier_row else int(rng.choice([0, 24, 48, 96]))
        rows.append([i + 1, dur, ["tcp", "udp"][i % 2], "-", ["FIN", "INT", "CON"][i % 3],
                     sbytes, "Normal" if label == 0 else "DoS", label])
    return rows


def test_read_csv_strips_bom_and_types(tmp_path: Path) -> None:
    table = nid.read_unsw_csv(write_csv(tmp_path / "t.csv.xz", synthetic_rows(8)))
    assert list(table) == HEADER  # first name is "id", not "\ufeffid"
    assert table["dur"].dtype == np.float64 and table["label"].dtype == np.int64
    assert table["proto"].dtype.kind == "U"


@pytest.mark.parametrize(
    ("rows", "header", "match"),
    [
        ([[1, "x", "tcp", "-", "FIN", 3, "Normal", 0]], HEADER, "column 'dur'"),
        ([[1, 0.1, "tcp", "-", "FIN", 3, "Normal", 2]], HEADER, "expected 0/1"),
        ([[1, 0.1, "tcp", "-", "FIN", 3, "Normal"]], HEADER, "fields"),
        ([[1, 0.1, "tcp", 3, "Normal", 0]], ["id", "dur", "proto", "sbytes", "attack_cat",
                                            "label"], "header lacks"),
    ],
)
def test_read_csv_bad_input_names_file(tmp_path: Path, rows: list[list[object]],
                                       header: list[str], match: str) -> None:
    path = write_csv(tmp_path / "bad.csv.xz", rows, header)
    with pytest.raises(DataError, match=match) as info:
        nid.read_unsw_csv(path)
    assert str(path) in str(info.value) and "Restore" in str(info.value)


def test_read_csv_not_xz(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv.xz"
    path.write_text("id,label\n1,0\n")
    with pytest.raises(DataError, match="cannot read"):
        nid.read_unsw_csv(path)


def test_loader_fits_on_train_only(tmp_path: Path) -> None:
    y = np.array([row[-1] for row in synthetic_rows()])
    _, val_idx, _ = stratified_split(y, seed=0)
    outlier = int(val_idx[0])
    clean = nid._build(write_csv(tmp_path / "a.csv.xz", synthetic_rows()), "x", NIDEncoder(), 0)
    dirty_path = write_csv(tmp_path / "b.csv.xz", synthetic_rows(outlier_row=outlier))
    dirty = nid._build(dirty_path, "x", NIDEncoder(), 0)
    clean_info, dirty_info = clean[1], dirty[1]
    assert dirty_info["encoded_width"] == clean_info["encoded_width"]
    # sbytes in {0, 24, 48, 96}: codes up to 96 / 24 = 4 -> 3 bits, the outlier changes nothing
    assert dirty_info["feature_bits"]["sbytes"] == clean_info["feature_bits"]["sbytes"] == 3
    assert dirty_info["saturated_by_feature"]["val"] == {"sbytes": 1}
    assert clean_info["saturated_val"] == 0
    # fitting on all rows (what we must not do) would widen sbytes
    wide = NIDEncoder().fit(nid.read_unsw_csv(dirty_path))
    assert wide.width > dirty_info["encoded_width"]
    assert dirty_info["split_sizes"] == {"train": 120, "val": 40, "test": 40}
    assert dirty_info["class_balance"]["train"] == [30, 90]


def test_take_selects_rows() -> None:
    sub = take(tiny_table(), np.array([3, 0]))
    np.testing.assert_array_equal(sub["dur"], [2.0, 0.0])
    np.testing.assert_array_equal(sub["proto"], ["arp", "udp"])


# -- cache ---------------------------------------------------------------------------------
def test_cache_key_depends_on_everything() -> None:
    settings = NIDEncoder().settings()
    base = cache_key("a" * 64, settings, 0)
    assert base == cache_key("a" * 64, dict(settings), 0)
    assert base != cache_key("a" * 64, settings, 1)
    assert base != cache_key("b" * 64, settings, 0)
    assert base != cache_key("a" * 64, NIDEncoder(unseen="saturate").settings(), 0)


@pytest.fixture
def fake_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point load_nid at a synthetic CSV and an empty cache folder under tmp_path."""
    source = write_csv(tmp_path / "fake.csv.xz", synthetic_rows())
    monkeypatch.setattr(nid, "verified_path", lambda relpath, data_dir=None: source)
    monkeypatch.setattr(nid, "SHA256", {nid.SOURCE: "f" * 64})
    monkeypatch.setenv("HWNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_hit_skips_csv_and_is_identical(fake_source: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_nid(seed=0)
    files = sorted(p.name for p in fake_source.iterdir())
    assert len(files) == 1 and files[0].endswith(".npz")  # no leftover temp file

    def no_parse(path: object) -> None:
        raise AssertionError("cache hit must not parse the CSV")

    monkeypatch.setattr(nid, "read_unsw_csv", no_parse)
    second = load_nid(seed=0)
    for name in ("train", "val", "test"):
        a, b = getattr(first, name), getattr(second, name)
        assert b.x.dtype == np.uint8 and b.y.dtype == np.int64
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
    assert second.info == first.info
    with pytest.raises(AssertionError, match="must not parse"):
        load_nid(seed=1)  # another seed is another key: a miss
    with pytest.raises(AssertionError, match="must not parse"):
        load_nid(seed=0, use_cache=False)


def test_corrupt_cache_is_rebuilt(fake_source: Path) -> None:
    first = load_nid(seed=0)
    (cached,) = fake_source.iterdir()
    cached.write_bytes(b"not a zip file")
    again = load_nid(seed=0)
    np.testing.assert_array_equal(first.train.x, again.train.x)
    assert cached.stat().st_size > 100


# -- the shipped file ----------------------------------------------------------------------
def test_real_unsw_nb15(data_dir: Path) -> None:
    ds = load_nid(data_dir, seed=0)
    info = ds.info
    width = info["encoded_width"]
    assert ds.kind == "classification" and ds.num_outputs == 2
    assert ds.input_quant.bits == 1 and ds.input_quant.scale == 1.0
    assert ds.input_width == width == sum(info["feature_bits"].values())
    assert width == 521  # seed 0; the README quotes ~527 for a fit on the whole file
    assert len(info["feature_bits"]) == 42
    assert len(ds.train) + len(ds.val) + len(ds.test) == 82_332
    assert info["split_sizes"] == {"train": 49_399, "val": 16_466, "test": 16_467}
    assert ds.class_balance() == {"train": [22_200, 27_199], "val": [7_400, 9_066],
                                  "test": [7_400, 9_067]}
    for split in (ds.train, ds.val, ds.test):
        assert split.x.dtype == np.uint8 and split.x.shape[1] == width
        assert split.x.max() <= 1 and split.y.dtype == np.int64
    assert info["negative_values"] == 0
    assert info["source_sha256"] == nid.SHA256[nid.SOURCE]
    assert "not comparable" in info["note"]
    again = load_nid(data_dir, seed=0)  # cache hit
    np.testing.assert_array_equal(again.test.x, ds.test.x)
    # the encoder stored in info re-encodes the raw rows bit for bit
    table = nid.read_unsw_csv(nid.verified_path(nid.SOURCE, data_dir))
    _, _, test_idx = stratified_split(table["label"], seed=0)
    encoder = nid.encoder_from_info(info)
    np.testing.assert_array_equal(encoder.transform(take(table, test_idx)), ds.test.x)

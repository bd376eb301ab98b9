"""Network intrusion detection (NID) on UNSW-NB15, bit-encoded the LogicNets/FINN way.

Source: the shipped official *testing set* ``unsw-nb15/UNSW_NB15_testing-set.csv.xz``
(82,332 rows, 45 columns, UTF-8 BOM in the header), checked against its SHA-256. The official
training split is not shipped, so (see ``shared/data/README.md``) this file is split into
train/val/test = 60/20/20 %, stratified by ``label``, with a fixed seed (default 0). Results on
this split are **not** comparable with papers that train on the official training split
(simple float models reach ~95-96 % here, papers report 90-93 %).

Encoding (data README; the 593-bit input of seed 000 §IV, networks NID-A 593→20,
NID-B 593→20→20, NID-C 593→25→25), fitted on the **train rows only**:

1. Drop ``id`` and ``attack_cat``; ``label`` (0 normal, 1 attack) is the target. Seed 000
   words it the other way round ("bad (0) or normal (1)"); we keep the dataset's own column.
2. ``proto``, ``service``, ``state`` are label-encoded: code ``i`` is the ``i``-th category of
   the train rows in sorted (code-point) order. A category never seen in train gets the
   reserved code ``K`` (``K`` = number of train categories), so the fitted max is ``K`` and a
   feature needs ``ceil(log2(K+1))`` bits. With ``unseen="saturate"`` it gets ``K-1`` (the
   last train category) instead and the max is ``K-1``, the README's literal rule.
3. Every other column ``v``: clamp negatives to 0 (the shipped file has none), divide by
   ``m``, its smallest positive train value (i.e. scale by ``1/m``, also when ``m > 1``, which
   shrinks e.g. ``sbytes`` by 24 - this is the rule that gives the README's ~527 bits on the
   whole file; the FINN reference script only scales when ``m < 1``, which would give 575),
   round half up (``floor(v/m + 0.5)``, like the Matlab-style rounding of the FINN
   reference), giving a non-negative integer code. A column with no positive train value
   keeps ``m = 1``. Positive val/test values below ``m/2`` therefore encode as 0.
4. ``max`` is the largest train code (after rounding), ``bits = max(1, ceil(log2(max+1)))``
   (capped at :data:`MAX_BITS`). Codes above ``max`` (val/test, or new traffic) saturate to
   ``max``; these are counted and reported. Seed 0 gives 521 bits (fit on all 82,332 rows
   would give 527; the papers' 593 come from training + testing files).
5. Each code is written in binary, **MSB first**, and the features are concatenated in CSV
   column order: ``x[:, offset : offset+bits]`` holds one feature.

The encoded input is a uint8 0/1 array, ``InputQuant(bits=1, signed=False, scale=1.0)``.
Encoded arrays are cached as an ``.npz`` in :func:`hwnn.data.paths.cache_dir` under a key
built from the source SHA-256, the encoder settings, the split and :data:`CACHE_VERSION`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import lzma
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hwnn.data.base import Dataset, InputQuant, Split
from hwnn.data.manifest import SHA256
from hwnn.data.npz_cache import read_cache, write_cache
from hwnn.data.paths import cache_dir, verified_path
from hwnn.errors import DataError

SOURCE = "unsw-nb15/UNSW_NB15_testing-set.csv.xz"
CATEGORICAL: tuple[str, ...] = ("proto", "service", "state")
DROPPED: tuple[str, ...] = ("id", "attack_cat")
LABEL = "label"
SPLIT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)
MAX_BITS = 53  # codes stay exact in float64; the shipped data needs at most 32
CACHE_VERSION = "nid-1"
NOTE = (
    "random stratified 60/20/20 split of the official UNSW-NB15 *testing* set (the official "
    "training split is not shipped): accuracies are not comparable with papers trained on the "
    "official training split"
)

Table = Mapping[str, np.ndarray]
UnseenPolicy = Literal["reserve", "saturate"]


@dataclass(frozen=True)
class FeatureSpec:
    """One encoded feature: ``code = min(floor(max(v, 0) / min_positive + 0.5), max_code)``
    (numeric) or its category index (categorical), written MSB first into
    ``x[:, offset : offset + bits]``."""

    name: str
    kind: Literal["numeric", "categorical"]
    min_positive: float | None
    max_code: int
    bits: int
    offset: int
    categories: tuple[str, ...] = ()

    @property
    def scale(self) -> float:
        """The multiplier ``1 / min_positive`` (1.0 for categorical or all-zero columns)."""
        if self.kind == "categorical" or self.min_positive is None:
            return 1.0
        return 1.0 / self.min_positive

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "min_positive": self.min_positive,
            "scale": self.scale,
            "max": self.max_code,
            "bits": self.bits,
            "offset": self.offset,
        }
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        return out


@dataclass
class EncodeStats:
    """Per feature, how many values were saturated to the fitted max, were unseen
    categories, or were negative (and clamped to 0)."""

    saturated: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    negative: dict[str, int] = field(default_factory=dict)

    @property
    def total_saturated(self) -> int:
        return sum(self.saturated.values())

    @property
    def total_unseen(self) -> int:
        return sum(self.unseen.values())

    @property
    def total_negative(self) -> int:
        return sum(self.negative.values())


def _quantize(values: np.ndarray, min_positive: float | None) -> np.ndarray:
    """Clamp at 0, divide by ``min_positive``, round half up; float64 integer codes."""
    v = np.maximum(values, 0.0)
    if min_positive is not None:
        v = v / min_positive
    return np.minimum(np.floor(v + 0.5), float(2**MAX_BITS - 1))


class NIDEncoder:
    """The LogicNets/FINN UNSW-NB15 bit encoder (see the module docstring for the rule).

    ``fit`` takes a column table (name -> 1-D array: float for numeric columns, str for the
    categorical ones) holding the *train* rows; ``transform`` maps any table with the same
    columns to a ``(N, width)`` uint8 array of bits.
    """

    def __init__(
        self,
        categorical: Sequence[str] = CATEGORICAL,
        exclude: Sequence[str] = (*DROPPED, LABEL),
        unseen: UnseenPolicy = "reserve",
    ) -> None:
        if unseen not in ("reserve", "saturate"):
            raise ValueError(f"unseen must be 'reserve' or 'saturate', got {unseen!r}")
        self.categorical = tuple(categorical)
        self.exclude = tuple(exclude)
        self.unseen: UnseenPolicy = unseen
        self.features: list[FeatureSpec] = []

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, table: Table) -> NIDEncoder:
        names = [name for name in table if name not in self.exclude]
        n_rows = {len(np.asarray(table[name])) for name in names}
        if not names or len(n_rows) != 1 or 0 in n_rows:
            raise DataError("cannot fit the NID encoder: need a non-empty table of equal columns")
        features: list[FeatureSpec] = []
        offset = 0
        for name in names:
            column = np.asarray(table[name])
            if name in self.categorical:
                cats = np.unique(column.astype(str))
                k = len(cats)
                max_code = k if self.unseen == "reserve" else k - 1
                spec = FeatureSpec(name, "categorical", None, max_code,
                                   max(1, max_code.bit_length()), offset,
                                   tuple(str(c) for c in cats))
            else:
                values = self._numeric(name, column)
                positive = values[values > 0]
                min_positive = float(positive.min()) if positive.size else None
                max_code = int(_quantize(values, min_positive).max())
                bits = min(MAX_BITS, max(1, max_code.bit_length()))
                spec = FeatureSpec(name, "numeric", min_positive, max_code, bits, offset)
            features.append(spec)
            offset += spec.bits
        self.features = features
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.features)

    @property
    def width(self) -> int:
        """Total number of encoded bits (sum of per-feature bits)."""
        self._check_fitted()
        return sum(spec.bits for spec in self.features)

    # -- encoding --------------------------------------------------------------------------
    def codes(self, table: Table) -> tuple[np.ndarray, EncodeStats]:
        """Integer code per feature, ``(N, n_features)`` int64, and the clamping statistics."""
        self._check_fitted()
        stats = EncodeStats()
        columns = []
        for spec in self.features:
            if spec.name not in table:
                raise DataError(f"NID table has no column {spec.name!r} (needed by the encoder)")
            column = np.asarray(table[spec.name])
            if spec.kind == "categorical":
                cats = np.asarray(spec.categories)
                values = column.astype(str)
                pos = np.searchsorted(cats, values)
                found = cats[np.minimum(pos, len(cats) - 1)] == values
                code = np.where(found, pos, spec.max_code).astype(np.int64)
                stats.unseen[spec.name] = int((~found).sum())
            else:
                values = self._numeric(spec.name, column)
                quantized = _quantize(values, spec.min_positive)
                over = quantized > spec.max_code
                code = np.where(over, spec.max_code, quantized).astype(np.int64)
                stats.saturated[spec.name] = int(over.sum())
                stats.negative[spec.name] = int((values < 0).sum())
            columns.append(code)
        return np.stack(columns, axis=1), stats

    def transform_with_stats(self, table: Table) -> tuple[np.ndarray, EncodeStats]:
        codes, stats = self.codes(table)
        out = np.empty((len(codes), self.width), dtype=np.uint8)
        for j, spec in enumerate(self.features):
            shifts = np.arange(spec.bits - 1, -1, -1, dtype=np.uint64)  # MSB first
            column = codes[:, j].astype(np.uint64)[:, None]
            out[:, spec.offset : spec.offset + spec.bits] = (column >> shifts) & np.uint64(1)
        return out, stats

    def transform(self, table: Table) -> np.ndarray:
        """``(N, width)`` uint8 bits, features in fit order, MSB first within a feature."""
        return self.transform_with_stats(table)[0]

    # -- description -----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Everything besides the data that determines the encoding (part of the cache key)."""
        return {
            "categorical": list(self.categorical),
            "exclude": list(self.exclude),
            "unseen": self.unseen,
            "rounding": "half_up",
            "scale": "divide_by_min_positive",
            "bit_order": "msb_first",
            "max_bits": MAX_BITS,
        }

    def bits_table(self) -> list[dict[str, Any]]:
        """Per feature: name, kind, min_positive, scale, max, bits, offset (+ categories)."""
        self._check_fitted()
        return [spec.as_dict() for spec in self.features]

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings(), "features": self.bits_table()}

    @classmethod
    def from_dict(cls, blob: Mapping[str, Any]) -> NIDEncoder:
        settings = blob["settings"]
        encoder = cls(settings["categorical"], settings["exclude"], settings["unseen"])
        encoder.features = [
            FeatureSpec(f["name"], f["kind"], f["min_positive"], int(f["max"]), int(f["bits"]),
                        int(f["offset"]), tuple(f.get("categories", ())))
            for f in blob["features"]
        ]
        return encoder

    def _check_fitted(self) -> None:
        if not self.features:
            raise RuntimeError("NIDEncoder is not fitted: call fit(train_table) first")

    @staticmethod
    def _numeric(name: str, column: np.ndarray) -> np.ndarray:
        try:
            values = column.astype(np.float64)
        except ValueError as err:
            raise DataError(f"NID column {name!r} is not numeric: {err}") from None
        if not np.isfinite(values).all():
            raise DataError(f"NID column {name!r} holds NaN or infinite values")
        return values


def encoder_from_info(info: Mapping[str, Any]) -> NIDEncoder:
    """Rebuild the fitted encoder of a loaded NID dataset from its ``info`` (e.g. to encode
    new traffic or to generate test vectors the same way)."""
    return NIDEncoder.from_dict({"settings": info["encoder"], "features": info["features"]})


# -- split ---------------------------------------------------------------------------------
def stratified_split(
    y: np.ndarray,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (sorted) of train/val/test. Per class (in sorted order) a seeded
    permutation is cut into ``round(f_train*n)``, ``round(f_val*n)`` and the rest."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1: {fractions}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_train = round(fractions[0] * len(idx))
        n_val = min(round(fractions[1] * len(idx)), len(idx) - n_train)
        for part, chunk in zip(parts, np.split(idx, [n_train, n_train + n_val]), strict=True):
            part.append(chunk)
    train, val, test = (np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64)
                        for p in parts)
    return train, val, test


def take(table: Table, idx: np.ndarray) -> dict[str, np.ndarray]:
    """The rows ``idx`` of every column."""
    return {name: np.asarray(column)[idx] for name, column in table.items()}


# -- CSV -----------------------------------------------------------------------------------
def read_unsw_csv(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Parse the (xz-compressed) UNSW-NB15 CSV into columns: categorical and ``attack_cat``
    as str arrays, ``label`` int64, everything else float64."""
    restore = "Restore the original file from the shipped data folder."
    try:
        with lzma.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = list(reader)
    except (lzma.LZMAError, EOFError, UnicodeDecodeError, csv.Error, OSError) as err:
        raise DataError(f"cannot read {path}: {err}. {restore}") from None
    if not header:
        raise DataError(f"{path} is empty. {restore}")
    header = [h.strip() for h in header]
    needed = {*CATEGORICAL, *DROPPED, LABEL}
    if not needed.issubset(header):
        raise DataError(f"{path}: header lacks {sorted(needed - set(header))}. {restore}")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise DataError(f"{path}: line {bad + 2} has {len(rows[bad])} fields, expected "
                        f"{len(header)}. {restore}")
    if not rows:
        raise DataError(f"{path} holds no data rows. {restore}")
    table: dict[str, np.ndarray] = {}
    for name, raw in zip(header, zip(*rows, strict=True), strict=True):
        try:
            if name in CATEGORICAL or name == "attack_cat":
                table[name] = np.array(raw, dtype=str)
            elif name == LABEL:
                table[name] = np.array(raw, dtype=np.int64)
            else:
                table[name] = np.array(raw, dtype=np.float64)
        except ValueError as err:
            raise DataError(f"{path}: column {name!r}: {err}. {restore}") from None
    labels = np.unique(table[LABEL])
    if not set(labels.tolist()) <= {0, 1}:
        raise DataError(f"{path}: column 'label' holds {labels.tolist()}, expected 0/1. {restore}")
    return table


# -- cache ---------------------------------------------------------------------------------
def cache_key(source_sha256: str, settings: Mapping[str, Any], seed: int,
              fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> str:
    blob = json.dumps({"source_sha256": source_sha256, "encoder": dict(settings), "seed": seed,
                       "fractions": list(fractions), "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_path(key: str) -> Path:
    return cache_dir() / f"nid-{key[:24]}.npz"


_SPLITS = ("train", "val", "test")


def _write_cache(path: Path, key: str, splits: Mapping[str, Split], info: Mapping[str, Any]
                 ) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name in _SPLITS:
        arrays[f"x_{name}"] = np.packbits(splits[name].x, axis=1)
        arrays[f"y_{name}"] = splits[name].y
    write_cache(path, key, arrays, dict(info), "nid")


def _read_cache(path: Path, key: str) -> tuple[dict[str, Split], dict[str, Any]] | None:
    names = [f"{kind}_{name}" for name in _SPLITS for kind in ("x", "y")]
    cached = read_cache(path, key, names)
    if cached is None:
        return None
    arrays, info = cached
    try:
        width = int(info["encoded_width"])
        splits = {name: Split(np.unpackbits(arrays[f"x_{name}"], axis=1, count=width),
                              arrays[f"y_{name}"].astype(np.int64)) for name in _SPLITS}
    except (KeyError, ValueError):
        return None  # stale layout: rebuild and overwrite
    return splits, info


# -- loader --------------------------------------------------------------------------------
def load_nid(
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    use_cache: bool = True,
) -> Dataset:
    """UNSW-NB15 (testing-set CSV) as a bit-encoded binary classification task.

    ``x``: uint8 0/1 of shape ``(N, info["encoded_width"])``; ``y``: int64, 0 normal,
    1 attack. With ``use_cache`` the encoded arrays are read from / written to
    :func:`~hwnn.data.paths.cache_dir` (a hit does not parse the CSV).
    """
    path = verified_path(SOURCE, data_dir)
    sha = SHA256[SOURCE]
    encoder = NIDEncoder()
    key = cache_key(sha, encoder.settings(), seed)
    target = cache_path(key)
    cached = _read_cache(target, key) if use_cache else None
    if cached is not None:
        splits, info = cached
    else:
        splits, info = _build(path, sha, encoder, seed)
        if use_cache:
            _write_cache(target, key, splits, info)
    return Dataset(
        name="nid",
        kind="classification",
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        num_outputs=2,
        input_quant=InputQuant(bits=1, signed=False, scale=1.0),
        info=info,
    )


def _build(path: Path, sha: str, encoder: NIDEncoder, seed: int
           ) -> tuple[dict[str, Split], dict[str, Any]]:
    table = read_unsw_csv(path)
    y = table[LABEL]
    indices = dict(zip(_SPLITS, stratified_split(y, SPLIT_FRACTIONS, seed), strict=True))
    encoder.fit(take(table, indices["train"]))
    splits: dict[str, Split] = {}
    stats: dict[str, EncodeStats] = {}
    for name, idx in indices.items():
        x, stats[name] = encoder.transform_with_stats(take(table, idx))
        splits[name] = Split(x, y[idx])
    negative = sum(int((col < 0).sum()) for name, col in table.items()
                   if col.dtype.kind == "f")
    info: dict[str, Any] = {
        "encoded_width": encoder.width,
        "encoding": "LogicNets/FINN UNSW-NB15 bit encoding fitted on train: label-encoded "
                    "proto/service/state (unseen -> reserved code), other columns / smallest "
                    "positive train value, round half up, ceil(log2(max+1)) bits, saturate "
                    "above the train max; MSB first, CSV column order",
        "feature_bits": {spec.name: spec.bits for spec in encoder.features},
        "features": encoder.bits_table(),
        "encoder": encoder.settings(),
        "labels": "0 normal, 1 attack",
        "split": "stratified by label, train/val/test 60/20/20",
        "split_seed": seed,
        "split_sizes": {name: len(split) for name, split in splits.items()},
        "class_balance": {name: np.bincount(split.y, minlength=2).tolist()
                          for name, split in splits.items()},
        "source": SOURCE,
        "source_sha256": sha,
        "source_rows": len(y),
        "negative_values": negative,
        "saturated_val": stats["val"].total_saturated,
        "saturated_test": stats["test"].total_saturated,
        "saturated_by_feature": {name: {k: v for k, v in stats[name].saturated.items() if v}
                                 for name in ("val", "test")},
        "unseen_categories_val": stats["val"].total_unseen,
        "unseen_categories_test": stats["test"].total_unseen,
        "note": NOTE,
        "cache_version": CACHE_VERSION,
    }
    return splits, info

"""Distribution matching: the RCCM coefficient set that best fits a layer's weights
(seed 002 §6.5.1, eq. 6.2).

* ``P``: histogram of the pre-trained weights over ``bins`` equal bins on ``[-M, M]`` with
  ``M = max |w|`` ("the range of the pre-trained model", §6.5.2; Fig. 6.5 uses 31 bins).
* ``R``: histogram of a coefficient set scaled by ``lambda = M / max |C|`` so that its
  largest coefficient lands on ``M`` (§6.5.2), each distinct coefficient counted once.
* Score: ``D_KL(P || R) = sum_i P(i) log(P(i) / R(i))`` (eq. 6.2), with ``R`` smoothed by
  ``EPS`` per bin so that a set with no coefficient where weights are gets a large finite
  score instead of infinity.
* Choice (§6.5.1): among the sets that contain zero, the ``top`` (5) with the smallest
  divergence; of those the one with the most coefficients (ties: smaller divergence).

The sets are streamed block by block from the enumeration of :mod:`hwnn.arith.rccm`, so
even 4-Add (about 11.8 M candidate sets in the default space) runs in bounded memory.
:func:`match_rccm_cached` keeps results in the cache folder keyed by the histogram ``P``, so
jobs that start from the same pre-trained weights (a sweep) match each layer once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from hwnn.arith.rccm import (
    _SENTINEL,
    Enumeration,
    Rccm,
    SetStage,
    ShiftSpace,
    final_node_inputs,
    node_output_blocks,
    set_hashes,
)
from hwnn.atomic import atomic_write_bytes

BINS = 31
EPS = 1e-6
TOP = 5


def weight_histogram(weights: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, float]:
    """(``P``, ``M``): normalised histogram of ``weights`` on ``[-M, M]``, ``M = max|w|``."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size == 0:
        raise ValueError("distribution matching needs at least one weight")
    m = float(np.abs(w).max())
    if m == 0:
        raise ValueError("all weights are zero: nothing to match")
    hist = np.bincount(_bin_index(w / m, bins), minlength=bins).astype(np.float64)
    return hist / hist.sum(), m


def _bin_index(unit: np.ndarray, bins: int) -> np.ndarray:
    """Bin of values already scaled to ``[-1, 1]``."""
    return np.clip(np.floor((unit + 1.0) / 2.0 * bins), 0, bins - 1).astype(np.int64)


def set_divergences(canon: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """KL(P || R) of every canonical set row (sentinel-padded), its size and whether it
    holds zero."""
    valid = canon != _SENTINEL
    mags = np.where(valid, np.abs(canon), 0)
    peak = mags.max(axis=1).astype(np.float64)
    peak[peak == 0] = 1.0
    bins = len(p)
    unit = np.where(valid, canon, 0) / peak[:, None]
    idx = _bin_index(unit, bins) + bins * np.arange(len(canon))[:, None]
    counts = np.bincount(idx[valid], minlength=bins * len(canon)).reshape(len(canon), bins)
    sizes = valid.sum(axis=1)
    r = (counts / sizes[:, None] + EPS) / (1 + bins * EPS)
    nz = p > 0
    kl = (p[nz] * np.log(p[nz] / r[:, nz])).sum(axis=1)
    has_zero = ((canon == 0) & valid).any(axis=1)
    return kl, sizes, has_zero


@dataclass(frozen=True)
class MatchedSet:
    """The chosen coefficient set, the RCCM that realises it and its scale ``lambda``."""

    rccm: Rccm
    coefficients: np.ndarray
    divergence: float
    scale: float
    candidates: list[tuple[float, int]]  # (divergence, size) of the top sets considered


def match_rccm(weights: np.ndarray, n_add: int, space: ShiftSpace | None = None,
               top: int = TOP, bins: int = BINS,
               progress: Callable[[str, int, int], None] | None = None) -> MatchedSet:
    """Pick the ``n_add``-adder RCCM coefficient set for ``weights`` (module docstring)."""
    space = space or ShiftSpace()
    p, m = weight_histogram(weights, bins)
    topology, sa, sb, stages = final_node_inputs(n_add, space, progress)
    configs = space.configs(topology)
    keep = max(4 * top, 64)
    best_kl = np.empty(0)
    best_size = np.empty(0, dtype=np.int64)
    best_hash: list[bytes] = []
    best_origin = np.empty((0, 3), dtype=np.int64)
    total = len(configs) * len(sa) * len(sb)
    done = 0
    for canon, origin in node_output_blocks(topology, configs, sa, sb, block_rows=50_000):
        kl, sizes, has_zero = set_divergences(canon, p)
        ok = np.flatnonzero(has_zero)
        pick = ok[np.argsort(kl[ok], kind="stable")[:keep]]
        hashes = [h.tobytes() for h in set_hashes(canon[pick])]
        best_kl = np.concatenate([best_kl, kl[pick]])
        best_size = np.concatenate([best_size, sizes[pick]])
        best_hash += hashes
        best_origin = np.concatenate([best_origin, origin[pick]])
        order = np.argsort(best_kl, kind="stable")
        seen: set[bytes] = set()
        kept = []
        for i in order:
            if best_hash[i] not in seen:
                seen.add(best_hash[i])
                kept.append(i)
            if len(kept) == keep:
                break
        best_kl, best_size = best_kl[kept], best_size[kept]
        best_hash = [best_hash[i] for i in kept]
        best_origin = best_origin[kept]
        done += len(canon)
        if progress is not None:
            progress("matching", done, total)
    if len(best_kl) == 0:
        raise ValueError(f"no {n_add}-Add coefficient set in {space} contains zero")
    shortlist = list(range(min(top, len(best_kl))))
    winner = max(shortlist, key=lambda i: (best_size[i], -best_kl[i]))
    last = SetStage(values=np.zeros((1, 0), dtype=np.int64), origin=best_origin[[winner]],
                    parents=(sa, sb), topology=topology, configs=configs)
    rccm = Enumeration(n_add=n_add, space=space, stages=[*stages, last]).circuit(0)
    coefficients = rccm.coefficient_set()
    return MatchedSet(rccm=rccm, coefficients=coefficients, divergence=float(best_kl[winner]),
                      scale=m / float(np.abs(coefficients).max()),
                      candidates=[(float(best_kl[i]), int(best_size[i])) for i in shortlist])


MATCH_CACHE_VERSION = 1


def match_rccm_cached(weights: np.ndarray, n_add: int, space: ShiftSpace | None = None,
                      top: int = TOP, bins: int = BINS) -> MatchedSet:
    """:func:`match_rccm` with the answer cached on disk (``$HWNN_CACHE_DIR/rccm_match``).

    The choice depends on the weights only through ``P`` (and ``M`` for the scale), so the
    key is the bytes of ``P`` with the enumeration settings."""
    from hwnn.data.paths import cache_dir

    space = space or ShiftSpace()
    p, m = weight_histogram(weights, bins)
    key = hashlib.sha256(json.dumps({"v": MATCH_CACHE_VERSION, "n_add": n_add,
                                     "space": asdict(space), "top": top, "bins": bins,
                                     "p": p.tolist()}).encode()).hexdigest()[:24]
    path = cache_dir() / "rccm_match" / f"{key}.json"
    if path.is_file():
        data = json.loads(path.read_text())
        rccm = Rccm.from_dict(data["rccm"])
        coefficients = rccm.coefficient_set()
        return MatchedSet(rccm=rccm, coefficients=coefficients,
                          divergence=data["divergence"],
                          scale=m / float(np.abs(coefficients).max()),
                          candidates=[tuple(c) for c in data["candidates"]])  # type: ignore[misc]
    match = match_rccm(weights, n_add, space, top, bins)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps({"rccm": match.rccm.to_dict(),
                                         "divergence": match.divergence,
                                         "candidates": match.candidates}).encode())
    return match

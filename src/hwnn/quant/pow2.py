"""Power-of-two weight levels for ReLU prediction (seed 003 §IV-B), and the sign-only
approximation it is compared with (SignConnect, seed 003 ref. [17]).

Seed 003 §IV-B maps one layer's weights to

    {0, ±2^e, ±2^(e-1), …, ±2^(e-N_L+1)}

where ``W99 = percentile_99(|w|)`` (the saturation point that removes outliers) and ``2^e`` is
the power of two closest to it (the paper writes the top level as 1/2^m, m = -e). Each weight
goes to the nearest level, so weights beyond W99 saturate at ±2^e. An approximate weight is
kept as an integer *code* ``a`` with ``ŵ = a · unit``, ``unit = 2^(e-N_L+1)`` (the smallest
level): ``a ∈ {0, ±1, ±2, ±4, …, ±2^(N_L-1)}``, so ``x · ŵ`` is a shift of ``x``. In hardware
the code is stored as one of the ``2·N_L + 1`` values, ``ceil(log2(2·N_L + 1))`` bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Seed 003 §IV-B step 2: weights are saturated at the 99th percentile of their magnitude.
W99_PERCENTILE = 99.0


def nearest_power_of_two_exponent(value: float) -> int:
    """The exponent e of the power of two nearest to ``value`` > 0 (linear distance; a value
    exactly between 2^k and 2^(k+1), i.e. 1.5·2^k, goes up)."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"need a positive finite value, got {value}")
    _, k = math.frexp(value)  # value = f·2^k, f in [0.5, 1): 2^(k-1) <= value < 2^k
    low = k - 1
    return low + 1 if value - 2.0**low >= 2.0 ** (low + 1) - value else low


def w99(weights: np.ndarray, percentile: float = W99_PERCENTILE) -> float:
    """Seed 003 §IV-B step 2: the saturation point, the ``percentile``-th percentile of |w|."""
    mags = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    if mags.size == 0:
        raise ValueError("no weights")
    return float(np.percentile(mags, percentile))


@dataclass(frozen=True)
class Pow2Levels:
    """One layer's ApproxConv levels ``{0, ±2^top_exponent, …, ±2^(top_exponent-n_levels+1)}``."""

    top_exponent: int
    n_levels: int

    def __post_init__(self) -> None:
        if self.n_levels < 1:
            raise ValueError(f"n_levels must be >= 1, got {self.n_levels}")

    @property
    def unit(self) -> float:
        """The smallest non-zero level, 2^(e - N_L + 1): the real value of code 1."""
        return 2.0 ** (self.top_exponent - self.n_levels + 1)

    @property
    def codes(self) -> np.ndarray:
        """The non-negative codes 0, 1, 2, 4, …, 2^(N_L-1), ascending."""
        return np.concatenate([[0], 2 ** np.arange(self.n_levels)]).astype(np.int64)

    @property
    def bits(self) -> int:
        """Bits per packed weight: ceil(log2(2·N_L + 1)) (seed 003 §IV-B)."""
        return math.ceil(math.log2(2 * self.n_levels + 1))

    def values(self) -> np.ndarray:
        """All 2·N_L + 1 levels as reals, ascending."""
        pos = self.codes[1:] * self.unit
        return np.concatenate([-pos[::-1], [0.0], pos])

    def encode(self, weights: np.ndarray) -> np.ndarray:
        """Integer codes of the nearest level of each weight (ties go to the smaller
        magnitude); ``decode`` gives the approximate weights."""
        w = np.asarray(weights, dtype=np.float64)
        mags = np.abs(w) / self.unit
        codes = self.codes.astype(np.float64)
        # nearest in |w|: the last code whose midpoint to the next one is not exceeded
        midpoints = (codes[:-1] + codes[1:]) / 2
        index = np.searchsorted(midpoints, mags, side="left")
        return (np.sign(w).astype(np.int64) * self.codes[index]).astype(np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * self.unit


def pow2_levels(weights: np.ndarray, n_levels: int,
                percentile: float = W99_PERCENTILE) -> Pow2Levels:
    """Seed 003 §IV-B steps 2-3: levels below the power of two nearest to W99."""
    return Pow2Levels(nearest_power_of_two_exponent(w99(weights, percentile)), n_levels)


def packed_bits(n_levels: int) -> int:
    """ceil(log2(2·N_L + 1)): seed 003 Table I's bit width for N_L levels."""
    return Pow2Levels(0, n_levels).bits


def sign_codes(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """SignConnect (seed 003 ref. [17]): the codes sign(w) ∈ {-1, 0, +1} and the unit
    mean(|w|) that makes ``sign(w) · unit`` the least-squares fit to w among ±α (α·sign(w)
    minimises ||w - α·sign(w)||² at α = mean|w|). The unit only matters relative to the bias."""
    w = np.asarray(weights, dtype=np.float64)
    unit = float(np.mean(np.abs(w))) if w.size else 0.0
    if unit <= 0:
        raise ValueError("all weights are zero: no sign approximation")
    return np.sign(w).astype(np.int64), unit


__all__ = ["W99_PERCENTILE", "Pow2Levels", "nearest_power_of_two_exponent", "packed_bits",
           "pow2_levels", "sign_codes", "w99"]

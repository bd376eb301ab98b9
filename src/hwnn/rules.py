"""Rounding, requantization and saturation rules — written once, followed everywhere.

Every path that turns a wide integer (an accumulator) into a narrow one — the torch layers
in fake-quant and integer mode, the IR reference and the generated RTL — uses exactly:

* **rounding**: round half up, ``round(v) = floor(v + 1/2)`` (ties go towards +inf),
  evaluated exactly as ``f + [v - f >= 1/2]`` with ``f = floor(v)`` (``v - f`` is exact in
  binary floating point, whereas ``v + 1/2`` can round up: in float32
  ``0.49999997 + 0.5 == 1.0``);
* **requantization** ("embedded scale", seed 000 §III-B): the real ratio between the
  accumulator's scale and the output's scale is an exact dyadic number ``M / 2^S`` with an
  integer multiplier ``M >= 1`` and shift ``S >= 0``; the output is
  ``(acc * M + 2^(S-1)) >> S`` (arithmetic shift, i.e. floor), or ``acc * M`` when ``S = 0``;
* **saturation**: the result is clipped to the output range
  ``[-2^(b-1), 2^(b-1)-1]`` (signed) or ``[0, 2^b-1]`` (unsigned); ReLU is the unsigned
  clip's lower bound, applied after rounding.

Pure Python/numpy so that backends (ir, logic, eda) can import it without torch.
"""

from __future__ import annotations

import math

import numpy as np


def int_range(bits: int, signed: bool, narrow: bool = False) -> tuple[int, int]:
    """Inclusive integer range of a ``bits``-wide code; ``narrow`` drops ``-2^(b-1)``."""
    if bits < 1:
        raise ValueError(f"bit width must be >= 1, got {bits}")
    if signed:
        if bits < 2:
            raise ValueError("a signed code needs at least 2 bits")
        high = 2 ** (bits - 1) - 1
        return (-high if narrow else -high - 1), high
    return 0, 2**bits - 1


def dyadic(ratio: float) -> tuple[int, int]:
    """Exact ``(M, S)`` with ``ratio == M / 2**S``, ``M`` odd (or ``S == 0``).

    Every finite positive binary float is dyadic; ``float.as_integer_ratio`` gives it exactly.
    """
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"requantization ratio must be finite and > 0, got {ratio}")
    num, den = float(ratio).as_integer_ratio()
    shift = den.bit_length() - 1
    if den != 1 << shift:  # cannot happen for binary floats; guards against misuse
        raise ValueError(f"{ratio} is not dyadic")
    return num, shift


def requantize(
    acc: np.ndarray, multiplier: int | np.ndarray, shift: int | np.ndarray
) -> np.ndarray:
    """``(acc * M + 2^(S-1)) >> S`` on int64 arrays (round half up, ``S = 0``: ``acc * M``).

    ``multiplier`` and ``shift`` may be arrays broadcasting against ``acc`` (per channel).
    The caller saturates. Raises if ``acc * M`` could overflow int64.
    """
    acc = np.asarray(acc, dtype=np.int64)
    mult = np.asarray(multiplier, dtype=np.int64)
    sh = np.asarray(shift, dtype=np.int64)
    if np.any(sh < 0) or np.any(sh > 62) or np.any(mult < 1):
        raise ValueError("requantization needs M >= 1 and 0 <= S <= 62")
    if acc.size and int(np.abs(acc).max()).bit_length() + int(mult.max()).bit_length() > 62:
        raise OverflowError("acc * M does not fit in int64")
    rounding = np.where(sh > 0, np.left_shift(np.int64(1), np.maximum(sh - 1, 0)), 0)
    return (acc * mult + rounding) >> sh


def round_half_up(values: np.ndarray | float) -> np.ndarray:
    """``floor(v + 1/2)`` computed without the rounding error of ``v + 1/2`` (see above)."""
    v = np.asarray(values)
    low = np.floor(v)
    return low + (v - low >= 0.5)


def saturate(values: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    low, high = int_range(bits, signed)
    return np.clip(values, low, high)


def snap_mantissa(scale: float, mantissa_bits: int) -> float:
    """Round a positive float to ``mantissa_bits`` significant bits (nearest, half up)."""
    mant, exp = math.frexp(scale)
    return math.ldexp(float(round_half_up(mant * 2**mantissa_bits)), exp - mantissa_bits)

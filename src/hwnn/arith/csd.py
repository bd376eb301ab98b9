"""Canonical signed digit (CSD) recoding: the analytic proxy for constant-multiplier cost.

Every integer ``c`` has exactly one representation ``c = sum_i d_i 2^i`` with digits
``d_i in {-1, 0, +1}`` and no two adjacent non-zero digits (Reitwiesner 1960); it has the
fewest non-zero digits of all signed-digit forms. A shift-add multiplier by ``c`` needs
``nonzero_digits(c) - 1`` adders/subtractors, so the count ranks constants the way a
synthesised multiplier's area roughly does (seed 000 §III-C, Fig. 6).
"""

from __future__ import annotations


def csd_digits(c: int) -> list[int]:
    """Digits ``d_0, d_1, ...`` (least significant first) of the CSD form of ``c``.

    Recoding rule: while ``c != 0``, an odd ``c`` emits ``d = 2 - (c mod 4)`` (``+1`` when
    ``c = 1 mod 4``, ``-1`` when ``c = 3 mod 4``) and continues with ``(c - d) / 2``; an
    even ``c`` emits 0. ``csd_digits(0) == []``.
    """
    digits: list[int] = []
    c = int(c)
    while c != 0:
        if c & 1:
            d = 2 - (c & 3)
            c -= d
        else:
            d = 0
        digits.append(d)
        c >>= 1
    return digits


def nonzero_digits(c: int) -> int:
    """Number of non-zero CSD digits of ``c`` (0 for ``c = 0``, 1 for ``±2^k``)."""
    return sum(1 for d in csd_digits(c) if d)


def adders(c: int) -> int:
    """Adders/subtractors of the shift-add multiplier by ``c``: ``max(nonzero - 1, 0)``
    (a negative power of two still needs a negation, counted by synthesis, not here)."""
    return max(nonzero_digits(c) - 1, 0)

"""Verilog literals and bit packing shared by the RTL generators and testbenches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def signed_literal(value: int, width: int) -> str:
    """``width'sh…``: two's complement hex literal of ``value`` (must fit ``width`` bits)."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit a signed {width}-bit literal")
    return f"{width}'sh{value & ((1 << width) - 1):x}"


def unsigned_literal(value: int, width: int) -> str:
    if not 0 <= value < (1 << width):
        raise ValueError(f"{value} does not fit an unsigned {width}-bit literal")
    return f"{width}'h{value:x}"


def pack_words(rows: np.ndarray, bits: int) -> list[int]:
    """Pack each row of integers (two's complement, ``bits`` each) into one integer, element
    ``i`` at bits ``[i*bits, (i+1)*bits)`` — the layout of every ``x``/``y`` bus."""
    arr = np.asarray(rows, dtype=np.int64)
    if arr.ndim == 1:
        arr = arr[:, None]
    mask = (1 << bits) - 1
    words = []
    for row in arr.tolist():
        word = 0
        for i, v in enumerate(row):
            word |= (int(v) & mask) << (i * bits)
        words.append(word)
    return words


def hex_lines(words: Sequence[int], width: int) -> str:
    """One zero-padded hex word per line (for ``$readmemh``)."""
    digits = max(1, -(-width // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)

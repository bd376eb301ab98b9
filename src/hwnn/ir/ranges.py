"""Value ranges and bit widths: worst case by interval arithmetic, and profiled on data
(adder bit-width profiling, seed 000 §III-B and Fig. 4).

Worst case of neuron ``j`` over all inputs in ``[x_lo, x_hi]``:
``acc_lo = b_j + sum_i min(w_ji x_lo, w_ji x_hi)``, ``acc_hi = b_j + sum_i max(...)``.
"""

from __future__ import annotations

import numpy as np

from hwnn.ir.model import DenseLayer, IRError
from hwnn.rules import int_range


def signed_bits(lo: int, hi: int) -> int:
    """Smallest two's complement width holding every integer in ``[lo, hi]`` (>= 2)."""
    bits = 2
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def unsigned_bits(hi: int) -> int:
    """Smallest unsigned width holding ``[0, hi]`` (>= 1)."""
    return max(1, int(hi).bit_length())


def range_bits(lo: int, hi: int) -> tuple[int, bool]:
    """``(bits, signed)`` of the narrowest integer type holding ``[lo, hi]``."""
    if lo >= 0:
        return unsigned_bits(hi), False
    return signed_bits(lo, hi), True


def input_range_of(layer: DenseLayer) -> tuple[int, int]:
    return int_range(layer.in_bits, layer.in_signed)


def worst_case_acc_range(layer: DenseLayer) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron exact worst-case ``(acc_lo, acc_hi)`` (int64 arrays, object-safe sums)."""
    x_lo, x_hi = input_range_of(layer)
    w = layer.weight.astype(object)
    a, b = w * x_lo, w * x_hi
    lo = np.minimum(a, b).sum(axis=1) + layer.bias.astype(object)
    hi = np.maximum(a, b).sum(axis=1) + layer.bias.astype(object)
    if max(abs(int(v)) for v in (*lo, *hi)).bit_length() > 62:
        raise IRError(f"layer {layer.name}: worst-case accumulator does not fit int64")
    return lo.astype(np.int64), hi.astype(np.int64)


def worst_case_acc_bits(layer: DenseLayer) -> int:
    """Accumulator width that can never overflow: covers every neuron's worst case."""
    lo, hi = worst_case_acc_range(layer)
    return signed_bits(int(lo.min()), int(hi.max()))


def product_range(weight: int, x_lo: int, x_hi: int) -> tuple[int, int]:
    a, b = weight * x_lo, weight * x_hi
    return min(a, b), max(a, b)

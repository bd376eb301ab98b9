"""Run-length encoding of sparse ternary weights (seed 002 §3.2.4).

The thesis stores "only the index differences between each nonzero and also a sign bit which
defines the type of operation". A layer's weights are flattened in row-major order (for a
dense layer: output neuron by output neuron, so ``(out, in)`` → ``out * in`` positions) and
every non-zero weight becomes one entry ``(gap, sign)``:

* ``gap`` = number of zeros skipped since the previous non-zero (the first gap counts from
  the start), stored in ``gap_bits`` bits;
* ``sign`` = 1 bit, 0 for +1 and 1 for -1 (add or subtract: "the type of operation").

The thesis does not say what happens when a gap does not fit in the field. We use the
escape entry of Han et al.'s Deep Compression (the thesis's ref. [42]): the largest code
``M = 2^gap_bits - 1`` means "skip ``M`` zeros, no weight here" (its sign bit is written as
0 and ignored), so a gap ``g >= M`` becomes ``g // M`` escapes followed by an entry with gap
``g mod M``. Zeros after the last non-zero need no entries (the decoder knows the length).
``gap_bits`` is chosen per layer as the width that minimises the total size
(:func:`best_gap_bits`), or fixed by the caller.

Sizes are payload bits (entries only); the shape and ``gap_bits`` are a few header bits per
layer and are reported separately by :mod:`hwnn.codec.report`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_GAP_BITS = 24


def check_ternary(weights: np.ndarray) -> np.ndarray:
    """The weights as a flat int8 array; raises if any value is not in {-1, 0, +1}."""
    w = np.asarray(weights)
    flat = w.reshape(-1)
    if flat.size and not np.isin(flat, (-1, 0, 1)).all():
        bad = flat[~np.isin(flat, (-1, 0, 1))][:5].tolist()
        raise ValueError(f"ternary weights must be -1, 0 or +1; found {bad}")
    return flat.astype(np.int8)


def gaps_and_signs(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-run length before each non-zero (int64) and its sign bit (1 = negative)."""
    flat = check_ternary(weights)
    idx = np.flatnonzero(flat)
    gaps = np.diff(idx, prepend=-1) - 1
    return gaps.astype(np.int64), (flat[idx] < 0).astype(np.uint8)


@dataclass(frozen=True)
class RLEStream:
    """An encoded layer: ``gaps`` (with escapes expanded) and ``signs``, one per entry."""

    gap_bits: int
    gaps: np.ndarray  # int64, each < 2^gap_bits
    signs: np.ndarray  # uint8 0/1
    length: int  # number of weights (positions) encoded
    shape: tuple[int, ...]

    @property
    def entries(self) -> int:
        return len(self.gaps)

    @property
    def bits(self) -> int:
        """Payload size: ``entries * (gap_bits + 1)``."""
        return self.entries * (self.gap_bits + 1)


def rle_entries(gaps: np.ndarray, gap_bits: int) -> int:
    """Number of entries for these gaps at this field width (escapes included)."""
    escape = (1 << gap_bits) - 1
    return int(len(gaps) + (gaps // escape).sum()) if len(gaps) else 0


def best_gap_bits(gaps: np.ndarray, max_bits: int = MAX_GAP_BITS) -> int:
    """Field width minimising ``entries * (gap_bits + 1)`` (ties: the narrower)."""
    sizes = [(rle_entries(gaps, b) * (b + 1), b) for b in range(1, max_bits + 1)]
    return min(sizes)[1]


def rle_encode(weights: np.ndarray, gap_bits: int | None = None) -> RLEStream:
    """Encode a ternary tensor (any shape, row-major order)."""
    w = np.asarray(weights)
    gaps, signs = gaps_and_signs(w)
    bits = best_gap_bits(gaps) if gap_bits is None else gap_bits
    if not 1 <= bits <= MAX_GAP_BITS:
        raise ValueError(f"gap_bits must be in [1, {MAX_GAP_BITS}], got {bits}")
    escape = (1 << bits) - 1
    n_escapes = gaps // escape
    total = len(gaps) + int(n_escapes.sum())
    out_gaps = np.full(total, escape, dtype=np.int64)
    out_signs = np.zeros(total, dtype=np.uint8)
    real = np.cumsum(n_escapes + 1) - 1  # position of each real entry after its escapes
    out_gaps[real] = gaps % escape
    out_signs[real] = signs
    return RLEStream(bits, out_gaps, out_signs, int(w.size), tuple(w.shape))


def rle_decode(stream: RLEStream) -> np.ndarray:
    """Exact inverse of :func:`rle_encode` (int8 array of the original shape)."""
    escape = (1 << stream.gap_bits) - 1
    is_escape = stream.gaps == escape
    # every entry advances by its gap; a real entry also occupies one position
    advance = stream.gaps + (~is_escape)
    end = np.cumsum(advance)
    pos = end[~is_escape] - 1
    out = np.zeros(stream.length, dtype=np.int8)
    if len(pos) and (pos.max() >= stream.length):
        raise ValueError("RLE stream runs past the layer's length (corrupt stream)")
    out[pos] = np.where(stream.signs[~is_escape] == 1, -1, 1)
    return out.reshape(stream.shape)


def pack_rle(stream: RLEStream) -> bytes:
    """The stream as bytes: entries of ``gap_bits`` gap bits then the sign bit, MSB first."""
    bits = np.zeros((stream.entries, stream.gap_bits + 1), dtype=np.uint8)
    for b in range(stream.gap_bits):
        bits[:, b] = (stream.gaps >> (stream.gap_bits - 1 - b)) & 1
    bits[:, -1] = stream.signs
    return np.packbits(bits.reshape(-1)).tobytes()


def unpack_rle(data: bytes, gap_bits: int, entries: int, length: int,
               shape: tuple[int, ...]) -> RLEStream:
    """Inverse of :func:`pack_rle`."""
    width = gap_bits + 1
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: entries * width]
    if len(bits) < entries * width:
        raise ValueError(f"need {entries * width} bits, got {len(bits)}")
    bits = bits.reshape(entries, width).astype(np.int64)
    gaps = bits[:, :gap_bits] @ (1 << np.arange(gap_bits - 1, -1, -1, dtype=np.int64))
    return RLEStream(gap_bits, gaps, bits[:, -1].astype(np.uint8), length, shape)

"""Huffman coding of the index differences of sparse ternary weights (seed 002 §3.2.4).

"We use Huffman Coding (HC) on the index differences to assign variable length codewords
whereby the most frequently occurring indexes are represented with shorter length codes."
Every non-zero weight is its zero-run length ``gap`` (as in :mod:`hwnn.codec.rle`, without
escapes: the alphabet is the set of gaps that occur in the layer) coded with a per-layer
Huffman code, followed by its sign bit (0 = +1, 1 = -1).

The code is canonical (Schwartz & Kallick): only each symbol's code length needs storing;
codes are assigned in order of (length, symbol). The table cost we report is
``symbols * (symbol_bits + LENGTH_FIELD_BITS)`` with ``symbol_bits`` the width of the
largest gap - a plain listing; real decoders may store it more compactly.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from hwnn.codec.rle import gaps_and_signs

LENGTH_FIELD_BITS = 5  # code lengths up to 31 bits


def code_lengths(symbols: np.ndarray, counts: np.ndarray) -> dict[int, int]:
    """Huffman code length of each symbol (one symbol alone gets length 1)."""
    if len(symbols) == 0:
        return {}
    if len(symbols) == 1:
        return {int(symbols[0]): 1}
    tie = itertools.count()
    heap = [(int(c), next(tie), [int(s)]) for s, c in zip(symbols, counts, strict=True)]
    heapq.heapify(heap)
    lengths = dict.fromkeys((int(s) for s in symbols), 0)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, next(tie), s1 + s2))
    return lengths


def canonical_codes(lengths: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Symbol -> (code, length), canonical order (length, symbol)."""
    codes: dict[int, tuple[int, int]] = {}
    code, prev = 0, 0
    for sym, length in sorted(lengths.items(), key=lambda kv: (kv[1], kv[0])):
        code <<= length - prev
        codes[sym] = (code, length)
        code += 1
        prev = length
    return codes


@dataclass(frozen=True)
class HuffmanStream:
    lengths: dict[int, int]  # gap symbol -> code length
    bits: np.ndarray  # uint8 0/1: codeword then sign bit, per non-zero
    nonzeros: int
    length: int
    shape: tuple[int, ...]

    @property
    def payload_bits(self) -> int:
        return len(self.bits)

    @property
    def table_bits(self) -> int:
        if not self.lengths:
            return 0
        symbol_bits = max(1, int(max(self.lengths)).bit_length())
        return len(self.lengths) * (symbol_bits + LENGTH_FIELD_BITS)


def huffman_encode(weights: np.ndarray) -> HuffmanStream:
    """Encode a ternary tensor (row-major order)."""
    w = np.asarray(weights)
    gaps, signs = gaps_and_signs(w)
    symbols, counts = np.unique(gaps, return_counts=True)
    lengths = code_lengths(symbols, counts)
    codes = canonical_codes(lengths)
    if codes and max(n for _, n in codes.values()) >= 1 << LENGTH_FIELD_BITS:
        raise ValueError("a Huffman code is longer than the length field allows")
    # vectorised bit emission: each non-zero writes its codeword (MSB first) and its sign
    code_of = np.array([codes[int(g)][0] for g in symbols], dtype=np.int64)
    len_of = np.array([codes[int(g)][1] for g in symbols], dtype=np.int64)
    which = np.searchsorted(symbols, gaps)
    code, width = code_of[which], len_of[which] + 1  # + sign bit
    total = int(width.sum())
    bits = np.zeros(total, dtype=np.uint8)
    start = np.concatenate([[0], np.cumsum(width)[:-1]]).astype(np.int64)
    for b in range(int(width.max()) if len(width) else 0):
        has = width - 1 > b  # codeword bit b (from the MSB) exists
        shift = width[has] - 2 - b
        bits[start[has] + b] = (code[has] >> shift) & 1
    if len(width):
        bits[start + width - 1] = signs
    return HuffmanStream(lengths, bits, len(gaps), int(w.size), tuple(w.shape))


def huffman_decode(stream: HuffmanStream) -> np.ndarray:
    """Exact inverse of :func:`huffman_encode` (int8 array of the original shape)."""
    decode = {(c, n): s for s, (c, n) in canonical_codes(stream.lengths).items()}
    out = np.zeros(stream.length, dtype=np.int8)
    bits = stream.bits.tolist()
    pos, i = -1, 0
    for _ in range(stream.nonzeros):
        code, n = 0, 0
        while (code, n) not in decode or n == 0:
            if i >= len(bits) or n > 32:
                raise ValueError("Huffman stream ended inside a codeword (corrupt stream)")
            code = (code << 1) | bits[i]
            n += 1
            i += 1
        pos += decode[(code, n)] + 1
        if pos >= stream.length or i >= len(bits):
            raise ValueError("Huffman stream runs past the layer's length (corrupt stream)")
        out[pos] = -1 if bits[i] else 1
        i += 1
    return out.reshape(stream.shape)

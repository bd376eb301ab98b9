"""Sparse ternary weight codecs (seed 002 §3.2.4): exact round trips on random tensors
(including all-zero and no-zero ones) and sizes checked by hand on a known stream."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.codec import (
    huffman_decode,
    huffman_encode,
    layer_codec_stats,
    network_codec_report,
    pack_rle,
    rle_decode,
    rle_encode,
    unpack_rle,
)
from hwnn.codec.huffman import canonical_codes, code_lengths
from hwnn.codec.rle import best_gap_bits, gaps_and_signs


def ternary(seed: int, shape: tuple[int, ...], density: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    nz = rng.random(shape) < density
    return np.where(nz, rng.choice([-1, 1], size=shape), 0).astype(np.int8)


shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))


@given(st.integers(0, 2**31 - 1), shapes, st.sampled_from([0.0, 0.02, 0.2, 0.7, 1.0]),
       st.one_of(st.none(), st.integers(1, 8)))
@settings(max_examples=150, deadline=None)
def test_rle_round_trips(seed: int, shape: tuple[int, int], density: float,
                         gap_bits: int | None) -> None:
    w = ternary(seed, shape, density)
    stream = rle_encode(w, gap_bits)
    assert np.array_equal(rle_decode(stream), w)
    assert (stream.gaps < 1 << stream.gap_bits).all()
    again = unpack_rle(pack_rle(stream), stream.gap_bits, stream.entries, stream.length,
                       stream.shape)
    assert np.array_equal(rle_decode(again), w)


@given(st.integers(0, 2**31 - 1), shapes, st.sampled_from([0.0, 0.02, 0.2, 0.7, 1.0]))
@settings(max_examples=150, deadline=None)
def test_huffman_round_trips(seed: int, shape: tuple[int, int], density: float) -> None:
    w = ternary(seed, shape, density)
    stream = huffman_encode(w)
    assert np.array_equal(huffman_decode(stream), w)
    assert stream.nonzeros == int((w != 0).sum())


def test_all_zero_and_no_zero_layers() -> None:
    zeros = np.zeros((7, 9), dtype=np.int8)
    assert rle_encode(zeros).bits == 0 and huffman_encode(zeros).payload_bits == 0
    assert np.array_equal(rle_decode(rle_encode(zeros)), zeros)
    assert np.array_equal(huffman_decode(huffman_encode(zeros)), zeros)
    full = np.ones((3, 4), dtype=np.int8)
    full[1] = -1
    # every gap is 0: 1-bit gaps, 12 entries of 2 bits; Huffman: one symbol, 1-bit code + sign
    assert rle_encode(full).bits == 24 and huffman_encode(full).payload_bits == 24
    assert np.array_equal(huffman_decode(huffman_encode(full)), full)


def test_known_stream_by_hand() -> None:
    # positions 2 (+1), 3 (-1), 10 (+1) of 16: gaps 2, 0, 6; signs 0, 1, 0
    w = np.zeros(16, dtype=np.int8)
    w[[2, 3, 10]] = [1, -1, 1]
    gaps, signs = gaps_and_signs(w)
    assert gaps.tolist() == [2, 0, 6] and signs.tolist() == [0, 1, 0]
    # 3-bit gaps: 3 entries x 4 bits = 12 bits. 2-bit gaps (escape 3): 6 = 2 * 3 + 0 -> two
    # escapes then gap 0, so 5 entries x 3 bits = 15. 1-bit gaps (escape 1): 2 -> 2 escapes,
    # 6 -> 6 escapes, 11 entries x 2 bits = 22.
    assert rle_encode(w, 3).bits == 12
    assert rle_encode(w, 2).bits == 15 and rle_encode(w, 2).gaps.tolist() == [2, 0, 3, 3, 0]
    assert rle_encode(w, 1).bits == 22
    assert best_gap_bits(gaps) == 3
    stats = layer_codec_stats(w)
    assert stats["dense_bits"] == 32 and stats["rle_bits"] == 12
    assert stats["rle_ratio"] == pytest.approx(32 / 12)
    # Huffman: three symbols with one occurrence each -> lengths 1, 2, 2; codes canonical
    lengths = code_lengths(np.array([0, 2, 6]), np.array([1, 1, 1]))
    assert sorted(lengths.values()) == [1, 2, 2]
    hc = huffman_encode(w)
    assert hc.payload_bits == (1 + 2 + 2) + 3
    # table: 3 symbols x (3 bits for gap 6 + 5 length bits)
    assert hc.table_bits == 3 * (3 + 5)


def test_escapes_cover_long_runs() -> None:
    w = np.zeros(1000, dtype=np.int8)
    w[999] = -1
    stream = rle_encode(w, 4)  # 999 zeros = 66 escapes of 15 + gap 9
    assert stream.entries == 67 and stream.gaps[-1] == 9 and stream.signs[-1] == 1
    assert np.array_equal(rle_decode(stream), w)


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=40))
def test_canonical_code_is_prefix_free_and_kraft_tight(counts: list[int]) -> None:
    symbols = np.arange(len(counts))
    codes = canonical_codes(code_lengths(symbols, np.array(counts)))
    words = [format(c, f"0{n}b") for c, n in codes.values()]
    assert not any(a != b and b.startswith(a) for a in words for b in words)
    kraft = sum(2.0 ** -n for _, n in codes.values())
    assert kraft == pytest.approx(1.0) or len(words) == 1


def test_huffman_beats_or_matches_rle_on_skewed_gaps() -> None:
    w = ternary(5, (256, 256), 0.1)
    stats = layer_codec_stats(w)
    assert stats["huffman_payload_bits"] <= stats["rle_bits"]
    report = network_codec_report({"a": w, "b": ternary(6, (64, 32), 0.5)})
    total = report["total"]
    assert total["weights"] == 256 * 256 + 64 * 32
    assert total["rle_ratio"] == pytest.approx(total["dense_bits"] / total["rle_bits"])


def test_non_ternary_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="ternary weights must be -1, 0 or \\+1"):
        rle_encode(np.array([0, 2, -1]))

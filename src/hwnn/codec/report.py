"""Bits per weight and compression ratio of sparse ternary layers (seed 002 §3.2.4, the
"x/y" RLE/Huffman sizes of Tables 3.2-3.3).

Baseline: dense 2-bit storage of every ternary weight (``2 N`` bits for ``N`` weights).
RLE: entries * (gap_bits + 1) (:mod:`hwnn.codec.rle`). Huffman: codewords + sign bits, plus
its code table (:mod:`hwnn.codec.huffman`). Ratio = dense bits / encoded bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hwnn.codec.huffman import huffman_encode
from hwnn.codec.rle import check_ternary, rle_encode

DENSE_BITS = 2


def layer_codec_stats(weights: np.ndarray) -> dict[str, Any]:
    """Sizes of one layer under dense 2-bit, RLE and Huffman coding."""
    n = int(check_ternary(weights).size)
    rle = rle_encode(weights)
    hc = huffman_encode(weights)
    dense = DENSE_BITS * n
    huffman_total = hc.payload_bits + hc.table_bits
    return {
        "weights": n, "nonzeros": hc.nonzeros,
        "sparsity": 1 - hc.nonzeros / n if n else 0.0,
        "dense_bits": dense,
        "rle_gap_bits": rle.gap_bits, "rle_entries": rle.entries, "rle_bits": rle.bits,
        "huffman_payload_bits": hc.payload_bits, "huffman_table_bits": hc.table_bits,
        "huffman_bits": huffman_total,
        "rle_bits_per_weight": rle.bits / n if n else 0.0,
        "huffman_bits_per_weight": huffman_total / n if n else 0.0,
        "rle_ratio": dense / rle.bits if rle.bits else float("inf"),
        "huffman_ratio": dense / huffman_total if huffman_total else float("inf"),
    }


def network_codec_report(layers: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per-layer stats and the network total (sizes summed, ratios of the sums)."""
    per_layer = {name: layer_codec_stats(w) for name, w in layers.items()}
    keys = ("weights", "nonzeros", "dense_bits", "rle_bits", "huffman_bits")
    total = {k: sum(s[k] for s in per_layer.values()) for k in keys}
    n = total["weights"]
    total.update(
        sparsity=1 - total["nonzeros"] / n if n else 0.0,
        rle_bits_per_weight=total["rle_bits"] / n if n else 0.0,
        huffman_bits_per_weight=total["huffman_bits"] / n if n else 0.0,
        rle_ratio=total["dense_bits"] / total["rle_bits"] if total["rle_bits"] else float("inf"),
        huffman_ratio=(total["dense_bits"] / total["huffman_bits"] if total["huffman_bits"]
                       else float("inf")))
    return {"layers": per_layer, "total": total}

"""Weight codecs for sparse ternary networks (seed 002 §3.2.4): run-length encoding of the
index differences with a sign bit, Huffman coding of those differences, and size reports."""

from hwnn.codec.huffman import HuffmanStream, huffman_decode, huffman_encode
from hwnn.codec.report import layer_codec_stats, network_codec_report
from hwnn.codec.rle import RLEStream, pack_rle, rle_decode, rle_encode, unpack_rle

__all__ = [
    "HuffmanStream",
    "RLEStream",
    "huffman_decode",
    "huffman_encode",
    "layer_codec_stats",
    "network_codec_report",
    "pack_rle",
    "rle_decode",
    "rle_encode",
    "unpack_rle",
]

"""Quantized torch layers (seed 000 §III-A) with an exact integer mode; the SAM layer
(seed 001)."""

from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantAct, QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from hwnn.nn.model import QuantSequential, build_mlp, quantizers, set_quant_enabled
from hwnn.nn.sam import SAMLinear

__all__ = [
    "IntTensor",
    "QuantAct",
    "QuantConv2d",
    "QuantIdentity",
    "QuantLinear",
    "QuantReLU",
    "QuantSequential",
    "SAMLinear",
    "build_mlp",
    "quantizers",
    "set_quant_enabled",
]

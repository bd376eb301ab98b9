"""LUT networks (LogicNets, seed 000 §II-A): every neuron is a truth table over a few inputs.

Neuron ``j`` of a :class:`LutLayer` reads ``F`` outputs of the previous layer (indices
``inputs[j]``), each a ``b``-bit code, and returns ``table[j][a]`` where the address packs
the input codes with input 0 at the least significant bits::

    a = sum_f (code_f mod 2^b) << (f * b)        (two's complement bits for signed codes)

The tables are enumerated from the trained torch neuron (:mod:`hwnn.nn.lutnet`); the
reference :func:`run_lut` and the Verilog of :mod:`hwnn.logic.lut_verilog` both just look
them up, so they agree by construction with each other and - tested - with the torch model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwnn.ir.model import HEADS, Head, IRError, IRInput
from hwnn.ir.reference import Trace, apply_head, check_inputs
from hwnn.rules import int_range


@dataclass
class LutLayer:
    name: str
    inputs: np.ndarray  # (out, F) int64 indices into the previous layer's outputs
    table: np.ndarray  # (out, 2^(F*in_bits)) int64 output codes
    in_bits: int
    in_signed: bool
    out_bits: int
    out_signed: bool
    kind: str = field(default="lut", init=False)

    @property
    def out_features(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def fan_in(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def address_bits(self) -> int:
        return self.fan_in * self.in_bits


@dataclass
class LutNetwork:
    name: str
    input: IRInput
    layers: list[LutLayer]
    head: Head = field(default_factory=Head)
    meta: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> LutNetwork:
        if not self.layers:
            raise IRError(f"LUT network {self.name!r} has no layers")
        width, bits, signed = self.input.features, self.input.bits, self.input.signed
        for k, layer in enumerate(self.layers):
            where = f"layer {k} ({layer.name})"
            if (layer.in_bits, layer.in_signed) != (bits, signed):
                raise IRError(f"{where}: reads {layer.in_bits}-bit codes but its input gives "
                              f"{bits}-bit codes")
            if layer.inputs.ndim != 2 or layer.inputs.min() < 0 or layer.inputs.max() >= width:
                raise IRError(f"{where}: input indices must be in [0, {width})")
            rows = 1 << layer.address_bits
            if layer.table.shape != (layer.out_features, rows):
                raise IRError(f"{where}: table must have shape ({layer.out_features}, {rows}), "
                              f"got {layer.table.shape}")
            lo, hi = int_range(layer.out_bits, layer.out_signed)
            if layer.table.min() < lo or layer.table.max() > hi:
                raise IRError(f"{where}: table codes outside [{lo}, {hi}]")
            width, bits, signed = layer.out_features, layer.out_bits, layer.out_signed
        if self.head.kind not in HEADS or self.head.kind == "slicer":
            raise IRError("LUT networks support the argmax and raw heads")
        return self

    def summary(self) -> dict[str, object]:
        return {"name": self.name, "kind": "lut",
                "layers": [{"name": la.name, "neurons": la.out_features, "fan_in": la.fan_in,
                            "in_bits": la.in_bits, "out_bits": la.out_bits,
                            "address_bits": la.address_bits} for la in self.layers]}


def table_address(codes: np.ndarray, bits: int) -> np.ndarray:
    """Pack ``codes`` (..., F) of ``bits`` bits each into table addresses (input 0 lowest)."""
    mask = (1 << bits) - 1
    shifts = np.arange(codes.shape[-1], dtype=np.int64) * bits
    return ((codes.astype(np.int64) & mask) << shifts).sum(axis=-1)


def address_codes(addresses: np.ndarray, fan_in: int, bits: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`table_address`: the (N, F) codes of each address."""
    mask = (1 << bits) - 1
    shifts = np.arange(fan_in, dtype=np.int64) * bits
    codes = (addresses.astype(np.int64)[:, None] >> shifts) & mask
    if signed:
        codes = np.where(codes >= 1 << (bits - 1), codes - (1 << bits), codes)
    return codes


def lut_layer_forward(layer: LutLayer, x: np.ndarray) -> np.ndarray:
    """Outputs (N, out) of one LUT layer for input codes ``x`` (N, in): a table lookup."""
    addr = table_address(x[:, layer.inputs], layer.in_bits)  # (N, out)
    return layer.table[np.arange(layer.out_features)[None, :], addr]


def run_lut(net: LutNetwork, x: np.ndarray) -> Trace:
    """Reference run of a LUT network on integer input codes ``x`` (N, features)."""
    h = check_inputs(net, x)  # type: ignore[arg-type]  # reads only net.input
    inputs = h
    outputs = []
    for layer in net.layers:
        h = lut_layer_forward(layer, h)
        outputs.append(h)
    return Trace(inputs, [], outputs, apply_head(net.head, outputs[-1]))

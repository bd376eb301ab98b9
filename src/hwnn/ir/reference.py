"""Exact numpy reference interpreter of the IR (the golden model every backend must match).

Implements the four steps of :mod:`hwnn.ir.model` with int64 arithmetic:

* ``acc = bias + W x`` — exact (checked: every layer's worst-case ``|acc|`` < 2^62);
* ``fit_accumulator``: ``wrap`` = two's complement ``acc mod 2^A`` mapped to
  ``[-2^(A-1), 2^(A-1))``; ``saturate`` = clip to that range (``A`` per neuron when the
  layer carries profiled widths);
* ``requantize`` (:func:`hwnn.rules.requantize`, round half up) and clip to the output range
  (ReLU = lower bound 0);
* SAM layers (:mod:`hwnn.ir.sam`): max + min of input-plus-constant sums, then the same
  requantizer and clip;
* conv layers (:mod:`hwnn.ir.conv`): the same per output position, then ReLU prediction
  and max-pool when the layer has them;
* head: argmax (first maximum), slicer (count of thresholds ``<= y``), or raw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwnn.ir.conv import ConvLayer, conv_forward
from hwnn.ir.model import DenseLayer, Head, IRError, IRNetwork
from hwnn.ir.ranges import worst_case_acc_range
from hwnn.ir.sam import SamLayer, sam_accumulate
from hwnn.rules import requantize, round_half_up


def fit_accumulator(acc: np.ndarray, bits: int | np.ndarray, overflow: str) -> np.ndarray:
    """The value a ``bits``-wide signed accumulator holds for the exact sum ``acc``;
    ``bits`` is one width or one per neuron (broadcast over the last axis)."""
    width = np.asarray(bits, dtype=np.int64)
    lo = -(np.int64(1) << (width - 1))
    hi = -lo - 1
    if overflow == "saturate":
        return np.clip(acc, lo, hi)
    if overflow == "wrap":
        return ((acc - lo) & ((np.int64(1) << width) - 1)) + lo
    raise IRError(f"unknown overflow rule {overflow!r}")


def accumulate(layer: DenseLayer, x: np.ndarray) -> np.ndarray:
    """Exact ``bias + x @ W.T`` (int64) for a batch ``x`` of shape (N, in); exact as long as
    the layer's worst case fits int64 (:func:`run` checks that once per layer)."""
    # int64 matmul is exact (numpy integer dot products do not round).
    return x.astype(np.int64) @ layer.weight.T + layer.bias


def layer_forward(layer: DenseLayer | SamLayer | ConvLayer, x: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(acc, y)``: the accumulator value (after the overflow rule) and the layer output
    (a SAM layer's accumulator is exact: :func:`hwnn.ir.sam.sam_accumulate`; a conv layer:
    :func:`hwnn.ir.conv.conv_forward`, accumulators before pooling)."""
    if isinstance(layer, ConvLayer):
        return conv_forward(layer, x)
    if isinstance(layer, SamLayer):
        acc = sam_accumulate(layer, x)
    else:
        acc = fit_accumulator(accumulate(layer, x), layer.acc_widths(), layer.overflow)
    r = requantize(acc, layer.multiplier, layer.shift)
    lo, hi = layer.out_range()
    return acc, np.clip(r, lo, hi)


def apply_head(head: Head, y: np.ndarray) -> np.ndarray:
    """Prediction from the last layer's outputs (N, out)."""
    if head.kind == "argmax":
        return np.argmax(y, axis=1).astype(np.int64)  # first maximum on ties
    if head.kind == "slicer":
        t = np.asarray(head.thresholds, dtype=np.int64)
        return (y[:, :1] >= t[None, :]).sum(axis=1).astype(np.int64)
    return y


@dataclass
class Trace:
    """Everything the reference computed for a batch."""

    inputs: np.ndarray
    accumulators: list[np.ndarray]
    outputs: list[np.ndarray]
    prediction: np.ndarray


def check_inputs(net: IRNetwork, x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != net.input.features:
        raise IRError(f"inputs must have shape (N, {net.input.features}), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise IRError(f"inputs must be integer codes, got dtype {arr.dtype}; quantize first "
                      "(hwnn.ir.reference.quantize_inputs)")
    lo, hi = net.input.range()
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise IRError(f"input codes must be in [{lo}, {hi}], got [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def run(net: IRNetwork, x: np.ndarray, batch: int = 65536) -> Trace:
    """Run the network on integer input codes ``x`` (N, features)."""
    x = check_inputs(net, x)
    for layer in net.layers:
        if isinstance(layer, DenseLayer):  # SAM/conv layers: checked by validate (acc_bits)
            worst_case_acc_range(layer)  # raises if an exact accumulator would not fit int64
    accs: list[list[np.ndarray]] = [[] for _ in net.layers]
    outs: list[list[np.ndarray]] = [[] for _ in net.layers]
    for start in range(0, max(len(x), 1), batch):
        h = x[start : start + batch]
        for k, layer in enumerate(net.layers):
            acc, h = layer_forward(layer, h)
            accs[k].append(acc)
            outs[k].append(h)
    accumulators = [np.concatenate(a) for a in accs]
    outputs = [np.concatenate(o) for o in outs]
    return Trace(x, accumulators, outputs, apply_head(net.head, outputs[-1]))


def predict(net: IRNetwork, x: np.ndarray) -> np.ndarray:
    return run(net, x).prediction


def quantize_inputs(net: IRNetwork, x_real: np.ndarray) -> np.ndarray:
    """Integer codes of real inputs with the recorded input scale (round half up, clip)."""
    if net.input.scale is None:
        raise IRError("this IR does not record an input scale; pass integer codes")
    lo, hi = net.input.range()
    codes = round_half_up(np.asarray(x_real, dtype=np.float64) / net.input.scale)
    return np.clip(codes, lo, hi).astype(np.int64)

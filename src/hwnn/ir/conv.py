"""Convolution layers in the integer IR (issue 10: the streaming CNN accelerator of seed 003
§V), with optional ReLU prediction (seed 003 §IV).

Layer kind ``"conv"``: the input is a flattened (C, H, W) feature map of integer codes
(``in_bits``, signed or not), in C-major order as ``torch.flatten`` gives it. With
``weight`` (O, C, k, k), zero padding ``padding`` and stride 1, output channel ``o`` at
``(y, x)``:

1. ``acc = bias_o + Σ_{c, u, v} weight[o, c, u, v] · x_pad[c, y + u, x + v]`` — exact;
   ``acc_bits`` covers the worst case, so it never overflows (``overflow`` is "wrap");
2. requantize ``r = (acc · M_o + 2^(S_o-1)) >> S_o`` (round half up), clip to the
   ``out_bits``/``out_signed`` range; ``activation = "relu"`` raises the lower bound to 0;
3. ReLU prediction (optional, ``approx`` (O, C, k, k) and ``approx_offset`` (O,)): the
   approximate pre-activation ``p = approx_offset_o + Σ approx[o, c, u, v] · x_pad[…]``
   (:mod:`hwnn.nn.relu_pred`); where ``p < 0`` the output is 0 (the exact convolution is
   skipped);
4. max-pool (optional, ``pool`` = p > 1): the maximum of each p × p window, stride p
   (floor: a last partial row/column is dropped);
5. flatten (O, H', W') in C-major order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwnn.ir.model import IRError, RequantizedLayer
from hwnn.rules import int_range, requantize


@dataclass
class ConvLayer(RequantizedLayer):
    """One integer conv (+ ReLU prediction) (+ max-pool) layer; arrays are int64."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    in_shape: tuple[int, int, int]
    padding: int
    pool: int
    in_bits: int
    in_signed: bool
    acc_bits: int
    out_bits: int
    out_signed: bool
    activation: str = "relu"
    overflow: str = "wrap"
    weight_bits: int = 8
    approx: np.ndarray | None = None
    approx_offset: np.ndarray | None = None
    kind: str = field(default="conv", init=False)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])

    @property
    def channels(self) -> int:
        return int(self.weight.shape[0])

    def conv_shape(self) -> tuple[int, int, int]:
        """(O, H, W) of the convolution output, before pooling."""
        _, h, w = self.in_shape
        k, p = self.kernel, self.padding
        return self.channels, h + 2 * p - k + 1, w + 2 * p - k + 1

    def out_shape(self) -> tuple[int, int, int]:
        o, h, w = self.conv_shape()
        step = max(self.pool, 1)
        return o, h // step, w // step

    @property
    def in_features(self) -> int:
        c, h, w = self.in_shape
        return c * h * w

    @property
    def out_features(self) -> int:
        o, h, w = self.out_shape()
        return o * h * w

    @property
    def neuron_acc_bits(self) -> None:
        return None

    def nonzero_weights(self) -> int:
        return int(np.count_nonzero(self.weight))

    def worst_case_acc_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per output channel, the exact accumulator range over all inputs (zero padding
        included: a padded position contributes 0, which the input range covers when it
        holds 0, and otherwise only narrows the sum, so the bound stays safe)."""
        x_lo, x_hi = int_range(self.in_bits, self.in_signed)
        x_lo, x_hi = min(x_lo, 0), max(x_hi, 0)
        w = self.weight.reshape(self.channels, -1).astype(object)
        a, b = w * x_lo, w * x_hi
        lo = np.minimum(a, b).sum(axis=1) + self.bias.astype(object)
        hi = np.maximum(a, b).sum(axis=1) + self.bias.astype(object)
        return lo.astype(np.int64), hi.astype(np.int64)

    def check(self, where: str) -> None:
        """Raise :class:`hwnn.ir.model.IRError` on any malformed field."""
        w = self.weight
        if w.ndim != 4 or min(w.shape) < 1 or w.shape[2] != w.shape[3]:
            raise IRError(f"{where}: weight must be (O, C, k, k), got {w.shape}")
        if len(self.in_shape) != 3 or min(self.in_shape) < 1 or self.in_shape[0] != w.shape[1]:
            raise IRError(f"{where}: in_shape {self.in_shape} must be (C, H, W) with C = "
                          f"{w.shape[1]} (the weight's input channels)")
        if self.padding < 0 or self.pool < 0:
            raise IRError(f"{where}: padding and pool must be >= 0")
        o, h, wd = self.conv_shape()
        if h < max(self.pool, 1) or wd < max(self.pool, 1):
            raise IRError(f"{where}: the {self.kernel}x{self.kernel} convolution of "
                          f"{self.in_shape} leaves {h}x{wd}, too small for the layer")
        for name in ("bias", "multiplier", "shift"):
            if getattr(self, name).shape != (o,):
                raise IRError(f"{where}: {name} must have shape ({o},)")
        if (self.approx is None) != (self.approx_offset is None):
            raise IRError(f"{where}: approx and approx_offset come together")
        arrays = ["weight", "bias", "multiplier", "shift"]
        if self.approx is not None:
            assert self.approx_offset is not None
            if self.approx.shape != w.shape or self.approx_offset.shape != (o,):
                raise IRError(f"{where}: approx must have the weight's shape {w.shape} and "
                              f"approx_offset ({o},)")
            if self.activation != "relu":
                raise IRError(f"{where}: ReLU prediction needs activation relu")
            arrays += ["approx", "approx_offset"]
        for name in arrays:
            if getattr(self, name).dtype != np.int64:
                raise IRError(f"{where}: {name} must be int64, got {getattr(self, name).dtype}")
        if self.activation not in ("relu", "identity") or self.overflow != "wrap":
            raise IRError(f"{where}: a conv layer takes activation relu/identity and overflow "
                          f"wrap, got {self.activation!r}/{self.overflow!r}")
        if min(self.in_bits, self.out_bits, self.weight_bits) < 1:
            raise IRError(f"{where}: in_bits, out_bits and weight_bits must be >= 1")
        wlo, whi = int_range(self.weight_bits, True) if self.weight_bits > 1 else (-1, 1)
        if w.min() < wlo or w.max() > whi:
            raise IRError(f"{where}: weights must fit int{self.weight_bits} [{wlo}, {whi}]")
        self.check_requantizer(where)


def _windows(layer: ConvLayer, x: np.ndarray) -> np.ndarray:
    """(N, H', W', C·k·k) int64 sliding windows of the zero-padded input."""
    c, h, w = layer.in_shape
    k, p = layer.kernel, layer.padding
    img = np.asarray(x, dtype=np.int64).reshape(-1, c, h, w)
    img = np.pad(img, ((0, 0), (0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(img, (k, k), axis=(2, 3))  # N,C,H',W',k,k
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(*win.shape[:1], *win.shape[2:4], -1)


def _correlate(layer: ConvLayer, win: np.ndarray, weight: np.ndarray,
               offset: np.ndarray) -> np.ndarray:
    """(N, O, H', W') exact ``offset + Σ weight · window`` (int64 matmul does not round)."""
    acc = win @ weight.reshape(layer.channels, -1).T + offset  # N, H', W', O
    return acc.transpose(0, 3, 1, 2)


def conv_accumulate(layer: ConvLayer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Step 1 (and the prediction of step 3): ``(acc, pred)``, each (N, O, H', W') int64;
    ``pred`` is None without ReLU prediction."""
    win = _windows(layer, x)
    acc = _correlate(layer, win, layer.weight, layer.bias)
    if layer.approx is None:
        return acc, None
    assert layer.approx_offset is not None
    return acc, _correlate(layer, win, layer.approx, layer.approx_offset)


def max_pool(y: np.ndarray, p: int) -> np.ndarray:
    """Step 4: p × p max-pool, stride p, floor mode, on (N, O, H, W)."""
    if p <= 1:
        return y
    n, o, h, w = y.shape
    y = y[:, :, : h - h % p, : w - w % p].reshape(n, o, h // p, p, w // p, p)
    return y.max(axis=(3, 5))


def conv_forward(layer: ConvLayer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(acc, y)``: the accumulators (N, O·H'·W', before pooling) and the flattened layer
    output (N, out_features), steps 1-5 of the module docstring."""
    acc, pred = conv_accumulate(layer, x)
    mult = layer.multiplier.reshape(1, -1, 1, 1)
    shift = layer.shift.reshape(1, -1, 1, 1)
    lo, hi = layer.out_range()
    y = np.clip(requantize(acc, mult, shift), lo, hi)
    if pred is not None:
        y = np.where(pred < 0, 0, y)
    y = max_pool(y, layer.pool)
    return acc.reshape(len(acc), -1), y.reshape(len(y), -1)


__all__ = ["ConvLayer", "conv_accumulate", "conv_forward", "max_pool"]

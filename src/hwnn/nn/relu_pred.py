"""ReLU prediction in integer mode (seed 003 §IV-A): a cheap approximate convolution
(ApproxConv) predicts the sign of each conv pre-activation; where it predicts a negative
value the exact convolution is skipped and the output is 0, otherwise the exact result goes
through the requantizer and ReLU as usual.

Integer form of one conv layer's ApproxConv (``x``: the layer's integer input codes, scale
``s_x``; exact weights ``w = q_w · s_w``, bias ``b = b_int · s_x · s_w``):

    pred_o = Σ_i x_i · a_oi + c_o,     c_o = round_half_up(b_o / (unit · s_x))

with the approximate weights ``ŵ = a · unit`` (:mod:`hwnn.quant.pow2`: power-of-two codes,
or sign codes for SignConnect). ``pred_o`` is the approximate pre-activation divided by the
positive constant ``unit · s_x``, so its sign is the prediction: skip when ``pred_o < 0``.
Because skipped outputs are set to 0 and the rest are computed exactly, an output that is
predicted non-negative is never changed (tested).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantAct, QuantConv2d
from hwnn.nn.model import QuantSequential, forward_int_module
from hwnn.quant.pow2 import Pow2Levels, pow2_levels, sign_codes
from hwnn.quant.ste import round_half_up

Method = Literal["pow2", "sign"]


@dataclass(frozen=True)
class ConvPredictor:
    """The ApproxConv of one conv layer: integer codes ``approx`` (O, I, k, k), the bias on
    the prediction's grid ``offset`` (O,), and the real weight of code 1 (``unit``)."""

    approx: torch.Tensor
    offset: torch.Tensor
    unit: float
    method: Method
    levels: Pow2Levels | None = None

    @property
    def weight_bits(self) -> int:
        """Bits per packed approximate weight: ceil(log2(2·N_L + 1)); SignConnect: 2 bits
        for {-1, 0, +1} (1 bit when no weight is zero)."""
        if self.levels is not None:
            return self.levels.bits
        return 2 if bool((self.approx == 0).any()) else 1

    def predict(self, x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        """``pred`` (int64, N × O × H' × W') for integer input codes ``x``."""
        acc = F.conv2d(x.double(), self.approx.double(), self.offset.double(), conv.stride,
                       conv.padding, conv.dilation, conv.groups)  # exact: |acc| < 2^53
        return acc.to(torch.int64)


@torch.no_grad()
def real_conv_params(conv: QuantConv2d, input_scale: float
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """The exact layer's real weights ``q_w · s_w`` and bias ``b_int · s_x · s_w`` (as the
    integer mode computes them) for the input scale ``s_x``."""
    assert conv.weight_quant is not None
    x = IntTensor(torch.zeros(1, dtype=torch.int64),
                  torch.tensor(float(input_scale), dtype=torch.float64))
    q_w, b_int, acc_scale = conv._int_params(x)  # the integer-mode contract
    _, s_w = conv.weight_quant.quantize(conv.masked_weight())
    w = q_w * s_w.double().reshape(-1, *([1] * (q_w.dim() - 1)))
    b = None if b_int is None else (b_int * acc_scale).double().numpy()
    return w.numpy(), b


def make_predictor(conv: QuantConv2d, input_scale: float, method: Method,
                   n_levels: int | None = None) -> ConvPredictor:
    """Seed 003 §IV-B (``method="pow2"``, ``n_levels`` = N_L) or SignConnect
    (``method="sign"``) for one conv layer whose integer input has scale ``input_scale``."""
    w, b = real_conv_params(conv, input_scale)
    levels: Pow2Levels | None = None
    if method == "pow2":
        if n_levels is None:
            raise ValueError("method pow2 needs n_levels")
        levels = pow2_levels(w, n_levels)
        codes, unit = levels.encode(w), levels.unit
    elif method == "sign":
        codes, unit = sign_codes(w)
    else:
        raise ValueError(f"unknown prediction method {method!r}")
    if b is None:
        offset = torch.zeros(w.shape[0], dtype=torch.int64)
    else:
        offset = round_half_up(torch.from_numpy(b / (unit * input_scale))).to(torch.int64)
    return ConvPredictor(torch.from_numpy(codes), offset, unit, method, levels)


def conv_layers(model: QuantSequential) -> list[int]:
    """Indices (in the Sequential) of the conv layers, in order."""
    return [i for i, m in enumerate(model) if isinstance(m, QuantConv2d)]


def conv_input_scales(model: QuantSequential) -> dict[int, float]:
    """The integer input scale of each conv layer: the output scale of the last activation
    quantizer before it (reshapes and max-pools keep the scale)."""
    scales: dict[int, float] = {}
    scale: float | None = None
    for i, module in enumerate(model):
        if isinstance(module, QuantConv2d):
            if scale is None:
                raise ValueError(f"conv layer {i} has no quantized input")
            scales[i] = scale
        elif isinstance(module, QuantAct):
            out = module.output_scale()
            if out is None:
                raise RuntimeError("ReLU prediction needs the model in integer mode (QAT on)")
            if out.dim() != 0:
                raise ValueError("ReLU prediction needs per-tensor activation scales")
            scale = float(out)
    return scales


def make_predictors(model: QuantSequential, layers: Sequence[int], method: Method,
                    n_levels: int | None = None) -> dict[int, ConvPredictor]:
    """Predictors for the conv layers at ``layers`` (Prop-1: all of ``conv_layers``; Prop-2:
    all but the first)."""
    scales = conv_input_scales(model)
    out = {}
    for i in layers:
        conv = model[i]
        if not isinstance(conv, QuantConv2d):
            raise ValueError(f"module {i} is {type(conv).__name__}, not a conv layer")
        out[i] = make_predictor(conv, scales[i], method, n_levels)
    return out


@dataclass
class LayerCounts:
    """What happened at one conv layer over a batch (counts of conv output values)."""

    outputs: int = 0
    #: exact pre-activation <= 0: the ReLU output is 0, the convolution was redundant
    non_positive: int = 0
    #: predicted negative (exact convolution skipped)
    skipped: int = 0
    #: skipped although the exact output after ReLU is > 0 (changes the network's output)
    wrong_skips: int = 0
    #: outputs that the following max-pool discards (not the maximum of their window)
    pool_discarded: int = 0

    def add(self, other: LayerCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PredictedOutput:
    output: IntTensor
    counts: dict[int, LayerCounts] = field(default_factory=dict)


def _pool_discarded(y: torch.Tensor, pool: nn.MaxPool2d) -> int:
    """Conv outputs not selected by ``pool`` (each window's first maximum counts as used)."""
    _, idx = F.max_pool2d(y.double(), pool.kernel_size, pool.stride, pool.padding,
                          pool.dilation, ceil_mode=pool.ceil_mode, return_indices=True)
    used = torch.zeros(y.shape[0] * y.shape[1], y.shape[2] * y.shape[3], dtype=torch.bool)
    used.scatter_(1, idx.reshape(used.shape[0], -1), True)
    return int(y.numel() - used.sum())


def forward_int_predicted(model: QuantSequential, x: IntTensor,
                          predictors: Mapping[int, ConvPredictor]) -> PredictedOutput:
    """Integer mode (:meth:`QuantSequential.forward_int`) with ReLU prediction at the conv
    layers in ``predictors``: each must be followed by a ReLU activation quantizer, whose
    outputs are zeroed where the prediction is negative. Counts per conv layer (all conv
    layers, predicted or not) come back with the output."""
    counts: dict[int, LayerCounts] = {}
    keep: torch.Tensor | None = None
    pending: int | None = None  # conv index whose ReLU output is the next QuantAct
    modules = list(model)
    for i, module in enumerate(modules):
        if isinstance(module, QuantConv2d):
            acc = module.forward_int(x)
            c = LayerCounts(outputs=acc.value.numel(),
                            non_positive=int((acc.value <= 0).sum()))
            keep = None
            if i in predictors:
                nxt = modules[i + 1] if i + 1 < len(modules) else None
                if not (isinstance(nxt, QuantAct) and nxt.relu):
                    raise ValueError(f"conv layer {i} is not followed by a ReLU quantizer")
                keep = predictors[i].predict(x.value, module) >= 0
                c.skipped = int((~keep).sum())
            counts[i], pending, x = c, i, acc
        elif isinstance(module, QuantAct) and pending is not None:
            y = module.forward_int(x)
            if keep is not None:
                counts[pending].wrong_skips = int(((~keep) & (y.value > 0)).sum())
                y = IntTensor(torch.where(keep, y.value, 0), y.scale)
            if i + 1 < len(modules) and isinstance(modules[i + 1], nn.MaxPool2d):
                counts[pending].pool_discarded = _pool_discarded(y.value, modules[i + 1])
            x, keep, pending = y, None, None
        else:
            x = forward_int_module(module, x)
    return PredictedOutput(x, counts)


def iter_batches(codes: torch.Tensor, batch: int) -> Iterator[torch.Tensor]:
    for start in range(0, codes.shape[0], batch):
        yield codes[start:start + batch]


__all__ = ["ConvPredictor", "LayerCounts", "Method", "PredictedOutput", "conv_input_scales",
           "conv_layers", "forward_int_predicted", "iter_batches", "make_predictor",
           "make_predictors", "real_conv_params"]

"""Quantized layers taking quantizers as arguments (Brevitas-style ``weight_quant=``,
``act_quant=``), each with two forward paths:

* ``forward`` — fake quantization on float tensors, used for training. In eval mode the
  arithmetic runs in float64, where every product ``s_x q_x · s_w q_w`` and every partial
  sum is exact (power-of-two activation scales, 12-bit-mantissa weight scales, |acc| < 2^53).
* ``forward_int`` — integer mode: int64 accumulators and the requantizer of
  :mod:`hwnn.rules` (``(acc·M + 2^(S-1)) >> S``, saturate). Same numbers, bit for bit, as
  the eval-mode ``forward`` (tested), and the contract the IR and RTL follow (seed 000
  §III-B: MAC with embedded weights, requantizer with embedded scale, ReLU).

Bias is quantized to the accumulator's scale ``s_x · s_w`` with ``bias_bits`` bits, so it
adds into the integer accumulator directly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnn.nn.int_tensor import IntTensor, along_features
from hwnn.quant.ste import round_half_up, round_half_up_ste
from hwnn.quant.uniform import UniformQuantizer
from hwnn.rules import dyadic, int_range, requantize


class _QuantWeightMixin:
    """Shared weight/bias handling for QuantLinear and QuantConv2d."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    weight_mask: torch.Tensor
    weight_quant: UniformQuantizer | None
    bias_bits: int

    def _init_quant(self, weight_quant: UniformQuantizer | None, bias_bits: int) -> None:
        self.weight_quant = weight_quant
        self.bias_bits = bias_bits
        self.register_buffer("weight_mask", torch.ones_like(self.weight))  # type: ignore[attr-defined]

    @property
    def quant_enabled(self) -> bool:
        return self.weight_quant is not None and self.weight_quant.enabled

    def masked_weight(self) -> torch.Tensor:
        """Weights with pruned entries forced to zero (masks survive fine-tuning)."""
        return self.weight * self.weight_mask

    def _bias_codes(self, acc_scale: torch.Tensor, ste: bool) -> torch.Tensor:
        """``clamp(round(b / (s_x s_w)))`` in float64; STE when training."""
        assert self.bias is not None
        lo, hi = int_range(self.bias_bits, True)
        ratio = self.bias.double() / acc_scale.double()
        return torch.clamp(round_half_up_ste(ratio) if ste else round_half_up(ratio), lo, hi)

    def _quantized_params(
        self, input_scale: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = self.masked_weight()
        if not self.quant_enabled:
            return w, self.bias
        assert self.weight_quant is not None
        w_q = self.weight_quant(w)
        if self.bias is None or input_scale is None or not getattr(self.weight_quant,
                                                                   "per_output", True):
            return w_q, self.bias  # (SYQ conv row/pixel scales: no accumulator scale)
        acc_scale = input_scale.detach().double() * self.weight_quant.scale(w).detach().double()
        b_q = self._bias_codes(acc_scale, ste=self.training) * acc_scale
        return w_q, b_q

    def _int_params(self, x: IntTensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        if not self.quant_enabled:
            raise RuntimeError("integer mode needs an enabled weight quantizer")
        if x.scale.dim() != 0:
            raise ValueError("integer mode expects a per-tensor input scale")
        assert self.weight_quant is not None
        q_w, s_w = self.weight_quant.quantize(self.masked_weight())
        acc_scale = x.scale * s_w
        b_int = None if self.bias is None else self._bias_codes(acc_scale, ste=False)
        return q_w.double(), b_int, acc_scale


class QuantLinear(nn.Linear, _QuantWeightMixin):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        weight_quant: UniformQuantizer | None = None,
        bias_bits: int = 32,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self._init_quant(weight_quant, bias_bits)

    def forward(self, x: torch.Tensor, input_scale: torch.Tensor | None = None) -> torch.Tensor:
        w, b = self._quantized_params(input_scale)
        if self.quant_enabled and not self.training:
            return F.linear(x.double(), w.double(), None if b is None else b.double())
        return F.linear(x, w, None if b is None else b.to(x.dtype))

    @torch.no_grad()
    def forward_int(self, x: IntTensor) -> IntTensor:
        q_w, b_int, acc_scale = self._int_params(x)
        acc = F.linear(x.value.double(), q_w, b_int)  # exact: integers below 2^53
        return IntTensor(acc.to(torch.int64), acc_scale)


class QuantConv2d(nn.Conv2d, _QuantWeightMixin):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        *,
        weight_quant: UniformQuantizer | None = None,
        bias_bits: int = 32,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self._init_quant(weight_quant, bias_bits)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x: torch.Tensor, input_scale: torch.Tensor | None = None) -> torch.Tensor:
        w, b = self._quantized_params(input_scale)
        if self.quant_enabled and not self.training:
            return self._conv(x.double(), w.double(), None if b is None else b.double())
        return self._conv(x, w, None if b is None else b.to(x.dtype))

    @torch.no_grad()
    def forward_int(self, x: IntTensor) -> IntTensor:
        q_w, b_int, acc_scale = self._int_params(x)
        acc = self._conv(x.value.double(), q_w, b_int)
        return IntTensor(acc.to(torch.int64), acc_scale)


class QuantAct(nn.Module):
    """Activation quantizer after an optional ReLU: ``act_quant(relu(x))``.

    In integer mode it is the requantizer: accumulator (scale ``s_acc``) to output codes
    (scale ``s_y``) with the exact ratio ``s_acc / s_y = M / 2^S`` (:func:`hwnn.rules.dyadic`).
    """

    def __init__(self, act_quant: UniformQuantizer | None, relu: bool) -> None:
        super().__init__()
        self.act_quant, self.relu = act_quant, relu

    @property
    def quant_enabled(self) -> bool:
        return self.act_quant is not None and self.act_quant.enabled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.relu:
            x = F.relu(x)
        return self.act_quant(x) if self.quant_enabled else x  # type: ignore[misc]

    def output_scale(self) -> torch.Tensor | None:
        """The output scale (None when quantization is off)."""
        if not self.quant_enabled:
            return None
        assert self.act_quant is not None
        return self.act_quant.scale().detach()

    @torch.no_grad()
    def forward_int(self, x: IntTensor) -> IntTensor:
        if not self.quant_enabled:
            raise RuntimeError("integer mode needs an enabled activation quantizer")
        assert self.act_quant is not None
        s_y = self.act_quant.scale().double()
        ratios = (x.scale / s_y).reshape(-1).tolist()
        pairs = [dyadic(r) for r in ratios]
        mult = np.array([m for m, _ in pairs], dtype=np.int64)
        shift = np.array([s for _, s in pairs], dtype=np.int64)
        if x.scale.dim() != 0:  # per feature: broadcast along dim 1
            shape = (1, -1) + (1,) * (x.value.dim() - 2)
            mult, shift = mult.reshape(shape), shift.reshape(shape)
        else:
            mult, shift = mult.reshape(()), shift.reshape(())
        y = requantize(x.value.numpy(), mult, shift)
        low, high = self.act_quant.qmin, self.act_quant.qmax
        y = np.clip(y, max(low, 0) if self.relu else low, high)
        return IntTensor(torch.from_numpy(y), s_y)


def QuantReLU(act_quant: UniformQuantizer | None) -> QuantAct:
    return QuantAct(act_quant, relu=True)


def QuantIdentity(act_quant: UniformQuantizer | None) -> QuantAct:
    return QuantAct(act_quant, relu=False)


__all__ = ["IntTensor", "QuantAct", "QuantConv2d", "QuantIdentity", "QuantLinear", "QuantReLU",
           "along_features"]

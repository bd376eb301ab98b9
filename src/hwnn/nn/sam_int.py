"""Integer mode of a trained SAM network (seed 001 eq. 5, quantized after training; issue 9
item 4).

A SAM layer adds its inputs to its parameters, so ``x`` and ``W+``/``W-`` must be integers
on one shared scale ``s_l`` (the layer's *input scale*)::

    x_i = s_l q_i,   W+_ij ~ s_l P_ij,   W-_ij ~ s_l N_ij      (act_bits-bit signed codes)
    acc_j = max_i (q_i + P_ij) + min_i (q_i + N_ij) [+ B_j]     (exact, scale s_l)
    q'_j = clip((acc_j M + 2^(S-1)) >> S)                        (next scale s_{l+1})

with ``M / 2^S = s_l / s_{l+1}`` (:func:`requant_ratio`, MANTISSA_BITS bits). The dense output
layer has ``weight_bits``-bit symmetric weights ``Q = round(W / s_w)``, bias codes at the
accumulator scale ``s_L s_w``, and logits requantized to ``out_bits`` at ``s_out``.

:func:`calibrate` is post-training quantization on calibration inputs: ``s_0`` covers the
inputs' ``percentile`` of ``|x|`` and every kept ``|W±|`` of layer 0 (both must fit the
codes); each later scale is chosen the same way from the integer layer outputs, and every
ratio ``s_l / s_{l+1}`` is rounded to ``MANTISSA_BITS`` significant bits, so the embedded
requantizer constant ``M`` stays short. The scales live in the network's ``int_scales``
buffer (0 = not calibrated): ``[s_0, ..., s_L, s_w, s_out]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from hwnn.nn.int_tensor import IntTensor
from hwnn.quant.ste import round_half_up
from hwnn.rules import dyadic, int_range, requantize, snap_mantissa

if TYPE_CHECKING:
    from hwnn.nn.sam import SAMLinear, SAMNet

#: Significant bits of every requantization ratio (the embedded multiplier ``M``).
MANTISSA_BITS = 8


@dataclass
class SamIntParams:
    """Integer parameters of one SAM layer, (in, out) like :class:`~hwnn.nn.sam.SAMLinear`."""

    plus: torch.Tensor  # int64 codes of W+ at the input scale (removed entries: 0)
    minus: torch.Tensor
    keep_plus: torch.Tensor  # bool
    keep_minus: torch.Tensor
    bias: torch.Tensor  # int64 (out,), zeros without a bias
    multiplier: int
    shift: int


@dataclass
class DenseIntParams:
    """Integer parameters of the dense output layer, weight (out, in)."""

    weight: torch.Tensor
    bias: torch.Tensor
    multiplier: int
    shift: int


def _codes(t: torch.Tensor, scale: float, bits: int) -> torch.Tensor:
    lo, hi = int_range(bits, True)
    return torch.clamp(round_half_up(t.detach().double() / scale), lo, hi).to(torch.int64)


def _snapped_next_scale(scale: float, target: float) -> float:
    """The next scale ``s' ~ target`` with ``scale / s'`` rounded to MANTISSA_BITS bits."""
    return scale / snap_mantissa(scale / target, MANTISSA_BITS)


def requant_ratio(scale: float, next_scale: float) -> tuple[int, int]:
    """``(M, S)`` of the requantizer from ``scale`` to ``next_scale``: their ratio was made
    an MANTISSA_BITS-bit number by :func:`calibrate`; snapping again removes the float
    rounding of the division, so ``M`` stays short."""
    return dyadic(snap_mantissa(scale / next_scale, MANTISSA_BITS))


def is_calibrated(net: SAMNet) -> bool:
    return bool((net.int_scales > 0).all())


def _require(net: SAMNet) -> None:
    if not is_calibrated(net):
        raise RuntimeError("this SAM network has no integer mode yet: quantize it with "
                           "`hwnn sam-hardware RUN` (hwnn.nn.sam_int.calibrate)")


def sam_params(layer: SAMLinear, scale: float, bits: int, next_scale: float) -> SamIntParams:
    """Codes of ``layer`` at input scale ``scale`` and the requantizer to ``next_scale``."""
    m, s = requant_ratio(scale, next_scale)
    bias = (torch.zeros(layer.out_features, dtype=torch.int64) if layer.bias is None
            else round_half_up(layer.bias.detach().double() / scale).to(torch.int64))
    return SamIntParams(_codes(layer.weight_plus, scale, bits) * layer.keep_plus,
                        _codes(layer.weight_minus, scale, bits) * layer.keep_minus,
                        layer.keep_plus.clone(), layer.keep_minus.clone(), bias, m, s)


def dense_params(net: SAMNet) -> DenseIntParams:
    s_in, s_w, s_out = (float(v) for v in net.int_scales[-3:])
    acc_scale = s_in * s_w
    m, s = requant_ratio(acc_scale, s_out)
    return DenseIntParams(_codes(net.out.weight, s_w, net.weight_bits),
                          round_half_up(net.out.bias.detach().double() / acc_scale).to(torch.int64),
                          m, s)


def layer_params(net: SAMNet) -> list[SamIntParams]:
    scales = [float(v) for v in net.int_scales[: len(net.sam) + 1]]
    return [sam_params(layer, scales[k], net.act_bits, scales[k + 1])
            for k, layer in enumerate(net.sam)]


def sam_accumulate(x: torch.Tensor, p: SamIntParams) -> torch.Tensor:
    """Exact int64 ``max(x + P) + min(x + N) + B`` (float64 is exact for these small
    integers, so the block-wise :func:`~hwnn.nn.sam.sam_term` does the work)."""
    from hwnn.nn.sam import sam_term

    xd = x.double()
    hi, _ = sam_term(xd, p.plus.double(), p.keep_plus, True)
    lo, _ = sam_term(xd, p.minus.double(), p.keep_minus, False)
    return (hi + lo).to(torch.int64) + p.bias


def _requant(acc: torch.Tensor, m: int, s: int, bits: int) -> torch.Tensor:
    lo, hi = int_range(bits, True)
    return torch.from_numpy(np.clip(requantize(acc.numpy(), m, s), lo, hi))


def quantize_input(net: SAMNet, x: torch.Tensor) -> IntTensor:
    _require(net)
    s0 = float(net.int_scales[0])
    return IntTensor(_codes(x, s0, net.act_bits), torch.tensor(s0, dtype=torch.float64))


@torch.no_grad()
def forward_int(net: SAMNet, x: IntTensor) -> IntTensor:
    """Integer mode: the requantized logits (``out_bits`` codes at ``s_out``)."""
    _require(net)
    h = x.value
    for p in layer_params(net):
        h = _requant(sam_accumulate(h, p), p.multiplier, p.shift, net.act_bits)
    d = dense_params(net)
    acc = h @ d.weight.T + d.bias
    out = _requant(acc, d.multiplier, d.shift, net.out_bits)
    return IntTensor(out, net.int_scales[-1].clone())


@torch.no_grad()
def calibrate(net: SAMNet, x: torch.Tensor, percentile: float = 100.0) -> None:
    """Choose every scale of the integer mode from calibration inputs ``x`` (module
    docstring); pruning masks must be final before this is called."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    qmax = int_range(net.act_bits, True)[1]

    def cover(values: torch.Tensor, layer: SAMLinear | None) -> float:
        peak = float(torch.quantile(values.abs().double().flatten()[:1 << 24], percentile / 100))
        if layer is not None:
            for w, keep in ((layer.weight_plus, layer.keep_plus),
                            (layer.weight_minus, layer.keep_minus)):
                if bool(keep.any()):
                    peak = max(peak, float(w.detach()[keep].abs().max()))
        return max(peak, 1e-12) / qmax

    scales = [cover(x, net.sam[0])]
    h = _codes(x, scales[0], net.act_bits)
    for k, layer in enumerate(net.sam):
        p = sam_params(layer, scales[k], net.act_bits, scales[k])  # M/2^S unused here
        acc = sam_accumulate(h, p)
        nxt = net.sam[k + 1] if k + 1 < len(net.sam) else None
        scales.append(_snapped_next_scale(scales[k], cover(acc.double() * scales[k], nxt)))
        m, s = requant_ratio(scales[k], scales[k + 1])
        h = _requant(acc, m, s, net.act_bits)
    w = net.out.weight.detach()
    s_w = max(float(w.abs().max()), 1e-12) / int_range(net.weight_bits, True)[1]
    net.int_scales[: len(scales)] = torch.tensor(scales, dtype=torch.float64)
    net.int_scales[-2] = s_w
    net.int_scales[-1] = 1.0  # placeholder so that dense_params can run
    d = dense_params(net)
    acc = (h @ d.weight.T + d.bias).double() * (scales[-1] * s_w)
    out_max = int_range(net.out_bits, True)[1]
    target = max(float(acc.abs().max()), 1e-12) / out_max
    net.int_scales[-1] = _snapped_next_scale(scales[-1] * s_w, target)

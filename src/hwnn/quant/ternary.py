"""Ternary and binary weights for sparse TNNs (seed 002 ch. 3, §3.2).

* :class:`TernaryQuantizer` - eq. 3.1: ``w_q = +1`` if ``w_r > eta``, ``-1`` if
  ``w_r < -eta``, else ``0``; a larger threshold ``eta`` quantizes more of the weight space
  to zero (the thesis goes up to 0.9-0.95).
* :class:`BinaryQuantizer` - ``w_q = +1`` if ``w_r >= 0`` else ``-1`` (the BNN comparison
  point; BinaryConnect/BinaryNet).

Both compute the forward pass with ``w_q`` and pass the gradient straight through to
``w_r`` ("the gradients are computed with w_q and parameter updates are then applied to
w_r"). Integer codes are ``w_q`` itself (2-bit signed, narrow range ``[-1, 1]``) with a
fixed scale ``s`` (float weight = ``s * w_q``); the builder uses the power of two nearest
to ``1/sqrt(fan_in)`` so that a layer's outputs keep the size of its inputs (without it the
logits of a 784-input layer are sums of hundreds of ±1 terms). The exported layers carry
ternary/binary integer weights and the requantizer absorbs ``s`` with every other scale.
As in BinaryConnect, real weights are kept in ``[-1, 1]`` after each update
(:func:`clip_real_weights`) - otherwise a weight could drift arbitrarily far beyond the
threshold and never come back.

Training helpers: :func:`quantized_l2` is ``R(w_q) = 1/2 sum w_q^2`` (eq. 3.4) with the
straight-through gradient ``lambda * w_q`` on ``w_r`` (eq. 3.5) - only weights that are
currently non-zero are pulled towards zero; :func:`quantization_prune_mask` is eq. 3.6
(keep ``|w_r| > sigma``), used with ``sigma = eta`` (eq. 3.7) before retraining from
``w_r * mask`` (eq. 3.8); :func:`uniformize_real_weights` starts quantized training from a
float model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from hwnn.quant.ste import replace_ste
from hwnn.quant.uniform import UniformQuantizer


class _LevelQuantizer(UniformQuantizer):
    """2-bit signed weights ``s * levels(w)`` with a fixed scale ``s``; straight-through."""

    def __init__(self, scale: float) -> None:
        super().__init__(2, True, narrow_range=True, scale_mode="fixed", scale=scale)

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        return replace_ste(x, self.levels(x)) * self.fixed_scale.to(x.dtype)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.levels(x.double()).to(torch.int64), self.fixed_scale.double()


class TernaryQuantizer(_LevelQuantizer):
    def __init__(self, threshold: float = 0.5, scale: float = 1.0) -> None:
        if not 0 <= threshold < 1:
            raise ValueError(f"the ternary threshold eta must be in [0, 1), got {threshold}")
        super().__init__(scale)
        self.threshold = float(threshold)

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 3.1 (same dtype as ``x``)."""
        return torch.sign(x) * (x.abs() > self.threshold).to(x.dtype)

    def extra_repr(self) -> str:
        return f"ternary, eta={self.threshold}, scale={float(self.fixed_scale):g}"


class BinaryQuantizer(_LevelQuantizer):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__(scale)

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    def extra_repr(self) -> str:
        return f"binary, scale={float(self.fixed_scale):g}"


BITWISE = (TernaryQuantizer, BinaryQuantizer)


def bitwise_layers(model: nn.Module) -> Iterator[nn.Module]:
    """Layers whose weight quantizer is ternary or binary."""
    for module in model.modules():
        if isinstance(getattr(module, "weight_quant", None), BITWISE):
            yield module


@torch.no_grad()
def clip_real_weights(model: nn.Module, bound: float = 1.0) -> None:
    """Clamp the real weights of ternary/binary layers to ``[-bound, bound]``."""
    for layer in bitwise_layers(model):
        layer.weight.clamp_(-bound, bound)


@torch.no_grad()
def uniformize_real_weights(model: nn.Module) -> None:
    """Map each ternary/binary layer's real weights monotonically onto a uniform grid over
    ``[-1, 1]``: the weight of rank ``r`` (of ``N``, ascending) becomes
    ``2 (r + 1/2) / N - 1``.

    Our choice for the start of quantized training after a float stage (the thesis trains
    quantized from the start): §3.2.1 reasons about the real weights filling the weight
    space ``[-1, 1]``, where a threshold ``eta`` quantizes a fraction ``eta`` to zero; float
    training leaves ``|w_r|`` near ``1/sqrt(fan_in)``, where any sizeable ``eta`` would zero
    everything. Mapping by rank keeps which weights the float network made large and which
    sign they have (up to the few around the median), and makes the initial zero fraction
    exactly ``eta``."""
    for layer in bitwise_layers(model):
        flat = layer.weight.reshape(-1)
        order = torch.argsort(flat, stable=True)
        grid = (torch.arange(flat.numel(), dtype=flat.dtype) + 0.5) * (2.0 / flat.numel()) - 1
        flat[order] = grid


def fan_in_scale(fan_in: int) -> float:
    """The power of two nearest (in log2) to ``1/sqrt(fan_in)``."""
    return 2.0 ** -round(math.log2(math.sqrt(fan_in)))


def quantized_l2(model: nn.Module) -> torch.Tensor:
    """``sum over ternary layers of 1/2 sum(w_q^2)`` (eq. 3.4) with gradient ``w_q`` on
    ``w_r`` (eq. 3.5); multiply by ``lambda`` and add to the data loss (eq. 3.3)."""
    total = torch.zeros(())
    for layer in bitwise_layers(model):
        quant = layer.weight_quant
        if isinstance(quant, TernaryQuantizer) and quant.enabled:
            w = layer.weight
            w_q = quant.levels(w).detach()
            # value 1/2 w_q^2, gradient w_q (straight through the quantizer)
            total = total + (0.5 * w_q.pow(2)).sum() + (w_q * (w - w.detach())).sum()
    return total


def quantization_prune_mask(weight: torch.Tensor, sigma: float) -> torch.Tensor:
    """Eq. 3.6: 1 where ``|w_r| > sigma`` (kept), 0 where ``-sigma <= w_r <= sigma``."""
    return (weight.abs() > sigma).to(weight.dtype)

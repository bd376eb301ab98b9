"""Straight-through estimators (Bengio et al. 2013; used in seed 000 §III-C)."""

from __future__ import annotations

import torch


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 1/2)``: the rounding rule of :mod:`hwnn.rules`, evaluated exactly as
    ``f + [x - f >= 1/2]`` with ``f = floor(x)`` (``x + 0.5`` itself can round up)."""
    low = torch.floor(x)
    return low + (x - low >= 0.5).to(x.dtype)


def round_half_up_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half up in the forward pass, identity gradient in the backward pass."""
    return replace_ste(x, round_half_up(x))


def replace_ste(x: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Forward ``value`` exactly, backward the gradient of ``x``.

    Written ``value + (x - x)`` rather than ``x + (value - x)``: the latter is not exact in
    floating point, the former adds an exact zero.
    """
    return value.detach() + (x - x.detach())


def grad_scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Forward ``x``, gradient multiplied by ``factor`` (LSQ gradient scaling)."""
    scaled = x * factor
    return x.detach() + (scaled - scaled.detach())

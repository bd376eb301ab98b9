"""Unstructured magnitude pruning (seed 000 §III-A, ref. [14]: Han et al.).

A pruned weight is removed by a 0 in the layer's ``weight_mask`` buffer; layers multiply by
the mask in every forward, so pruned weights stay zero through fine-tuning (their gradient
is zero too) and the mask is saved with the model's state dict. Pruning is cumulative: an
entry once masked is never revived.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from hwnn.nn.model import WEIGHT_LAYERS

Scope = Literal["layer", "global"]


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]


def _keep_mask(scores: torch.Tensor, alive: torch.Tensor, n_prune: int) -> torch.Tensor:
    """Mask keeping all but the ``n_prune`` smallest-score alive entries (stable order)."""
    mask = alive.clone().reshape(-1)
    if n_prune <= 0:
        return mask.reshape(alive.shape)
    flat = torch.where(alive.reshape(-1), scores.reshape(-1), torch.inf)
    order = torch.argsort(flat, stable=True)
    mask[order[:n_prune]] = False
    return mask.reshape(alive.shape)


@torch.no_grad()
def magnitude_prune(
    model: nn.Module, sparsity: float, scope: Scope = "layer",
    only: list[int] | None = None,
) -> dict[str, float]:
    """Mask the smallest-|w| weights so that a fraction ``sparsity`` of each layer
    (``scope="layer"``) or of all weights together (``"global"``) is zero. ``only``: the
    indices of the weight layers to prune (0 = the first); the others keep every weight
    (seed 001 §III-D prunes the hidden layer alone).

    Returns the resulting sparsity per layer.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    layers = weight_layers(model)
    if not layers:
        raise ValueError("the model has no QuantLinear/QuantConv2d layer to prune")
    if only is not None:
        bad = sorted(set(only) - set(range(len(layers))))
        if bad or not only:
            raise ValueError(f"layers to prune must be among 0..{len(layers) - 1} (the "
                             f"model's weight layers), got {only}")
        layers = [layers[k] for k in sorted(set(only))]
    if scope == "layer":
        for _, layer in layers:
            alive = layer.weight_mask.bool()
            target = round(sparsity * alive.numel())
            n_prune = target - int((~alive).sum())
            layer.weight_mask.copy_(_keep_mask(layer.weight.abs(), alive, n_prune))
    elif scope == "global":
        scores = torch.cat([layer.weight.abs().reshape(-1) for _, layer in layers])
        alive = torch.cat([layer.weight_mask.bool().reshape(-1) for _, layer in layers])
        n_prune = round(sparsity * alive.numel()) - int((~alive).sum())
        keep = _keep_mask(scores, alive, n_prune)
        start = 0
        for _, layer in layers:
            n = layer.weight_mask.numel()
            layer.weight_mask.copy_(keep[start : start + n].reshape(layer.weight_mask.shape))
            start += n
    else:
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    return sparsity_report(model)


@torch.no_grad()
def sparsity_report(model: nn.Module) -> dict[str, float]:
    """Fraction of zero weights per layer (mask or value), plus ``"total"``."""
    report: dict[str, float] = {}
    zeros = total = 0
    for name, layer in weight_layers(model):
        w = layer.weight * layer.weight_mask
        z = int((w == 0).sum())
        report[name] = z / w.numel()
        zeros, total = zeros + z, total + w.numel()
    report["total"] = zeros / max(total, 1)
    return report

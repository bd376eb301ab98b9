"""Quantization pruning for sparse TNNs (seed 002 §3.2.3, eqs. 3.6-3.8).

After the first training phase, every real weight that the ternary quantizer maps to zero
(``-sigma <= w_r <= sigma`` with ``sigma = eta``, eq. 3.7) is fixed at zero through the
layer's ``weight_mask`` (eq. 3.6) and the network is retrained from ``w_r * mask``
(eq. 3.8) with the same threshold. The ratio of zeros per layer is thus the one the first
phase converged to - no per-layer sparsity target is set.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnn.prune.magnitude import sparsity_report
from hwnn.quant.ternary import TernaryQuantizer, bitwise_layers, quantization_prune_mask


@torch.no_grad()
def quantization_prune(model: nn.Module, sigma: float | None = None) -> dict[str, float]:
    """Mask ``|w_r| <= sigma`` in every ternary layer (``sigma=None``: the layer's own
    threshold ``eta``) and zero those real weights; returns the sparsity per layer."""
    layers = [m for m in bitwise_layers(model) if isinstance(m.weight_quant, TernaryQuantizer)]
    if not layers:
        raise ValueError("quantization pruning needs ternary weight layers (model.weights: "
                         "ternary)")
    for layer in layers:
        s = layer.weight_quant.threshold if sigma is None else sigma
        if s > layer.weight_quant.threshold + 1e-12:
            raise ValueError(f"sigma {s} > eta {layer.weight_quant.threshold}: eq. 3.7 needs "
                             "sigma <= eta (larger sigma would prune non-zero weights)")
        mask = quantization_prune_mask(layer.weight, s).to(layer.weight_mask.dtype)
        layer.weight_mask.mul_(mask)
        layer.weight.mul_(layer.weight_mask)
    return sparsity_report(model)

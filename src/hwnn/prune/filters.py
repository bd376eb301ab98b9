"""Filter pruning (seed 002 §4.5.3-4.5.5): rank the filters of a layer, remove whole filters
and rebuild a smaller network from the kept weights.

Ranking metrics (:func:`filter_importance`, higher = keep):

* ``msqe`` - the quantization error of eq. 4.8, ``MSQE_N = (1/n) sum_z (q_z - w_z)^2`` over
  the ``n = K^2 I`` weights of filter ``N`` (``q`` the quantized weight times the layer's
  scaling coefficient, :func:`msqe`; ``w`` the real weight); the thesis prunes the filters
  with the *highest* error first (§4.5.4 "Qerror"), so the importance is ``-MSQE``;
* ``l1`` - the L1 norm of the real weights, the smallest pruned first (Li et al., "Pruning
  filters for efficient ConvNets"; the thesis's "Real" magnitude ranking);
* ``random`` - a seeded random order (the thesis's "Random" baseline).

A "filter" is an output channel of a convolution or a neuron of a hidden fully connected
layer; the output layer is never pruned. Removing filter ``k`` of weight layer ``l`` removes
row ``k`` of its weights (with its bias, mask and per-channel quantizer entries) and input
``k`` of layer ``l + 1`` (for a convolution followed by flatten, the ``H*W`` columns of that
channel). :func:`shrink` builds the smaller network "with its new customized configuration by
initializing the weights with values from the saved filters" (§4.5.5): the same computation
as the masked original, ready for fine-tuning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from hwnn.config import ModelConfig
from hwnn.nn.model import WEIGHT_LAYERS, QuantSequential

Metric = Literal["msqe", "l1", "random"]
METRICS: tuple[Metric, ...] = ("msqe", "l1", "random")


@dataclass(frozen=True)
class PrunableLayer:
    """One weight layer whose filters may be removed."""

    index: int  # position among the model's weight layers
    name: str  # module name in the model
    filters: int
    kind: Literal["conv", "fc"]


def prunable_layers(model: QuantSequential) -> list[PrunableLayer]:
    """Every weight layer but the last (the outputs are the classes)."""
    layers = list(model.weight_layers())
    out = []
    for i, (name, layer) in enumerate(layers[:-1]):
        kind: Literal["conv", "fc"] = "conv" if layer.weight.dim() == 4 else "fc"
        out.append(PrunableLayer(i, name, int(layer.weight.shape[0]), kind))
    return out


@torch.no_grad()
def msqe(layer: nn.Module) -> torch.Tensor:
    """Eq. 4.8 per filter: mean over the filter's weights of ``(q - w)^2``.

    ``q`` is the quantized weight with the layer's scaling coefficient (eq. 4.3,
    ``alpha * Q``). Our binary and ternary layers compute with a fixed power-of-two scale
    that only keeps activations in range (the requantizer absorbs it), unrelated to the
    size of the real weights, so for them ``alpha`` is the least-squares scale of the layer,
    ``alpha = sum |w| |Q| / sum Q^2`` (the mean ``|W|`` of binary weights, DoReFa's ``E|W|``,
    thesis ref. [144]); every other quantizer (uniform, SYQ's learned scales, AddNet) gives
    its own ``q``. Without quantization ``q = w``."""
    from hwnn.quant.ternary import BITWISE

    w = layer.masked_weight()
    quant = layer.weight_quant
    if quant is None or not quant.enabled:
        q = w
    elif isinstance(quant, BITWISE):
        levels = quant.levels(w)
        alpha = (w.abs() * levels.abs()).sum() / (levels**2).sum().clamp_min(1)
        q = alpha * levels
    else:
        q = quant(w)
    return ((q - w) ** 2).reshape(w.shape[0], -1).mean(dim=1)


@torch.no_grad()
def filter_importance(layer: nn.Module, metric: Metric, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
    """Importance of every filter of ``layer`` (higher = keep; module docstring)."""
    if metric == "msqe":
        return -msqe(layer)
    if metric == "l1":
        return layer.masked_weight().abs().reshape(layer.weight.shape[0], -1).sum(dim=1)
    if metric == "random":
        return torch.rand(layer.weight.shape[0], generator=generator, dtype=torch.float64)
    raise ValueError(f"unknown filter ranking {metric!r}; choose one of {', '.join(METRICS)}")


def select_filters(model: QuantSequential, remove: Mapping[int, int], metric: Metric,
                   seed: int = 0) -> dict[int, list[int]]:
    """Kept filter indices (ascending) of every prunable layer after removing ``remove[i]``
    filters of weight layer ``i`` (the least important ones; ties: the higher index goes)."""
    layers = {p.index: p for p in prunable_layers(model)}
    weights = [layer for _, layer in model.weight_layers()]
    generator = torch.Generator().manual_seed(seed)
    keep: dict[int, list[int]] = {}
    for index, p in layers.items():
        n_remove = int(remove.get(index, 0))
        if not 0 <= n_remove < p.filters:
            raise ValueError(f"layer {p.name} has {p.filters} filters; cannot remove {n_remove} "
                             "(at least one must stay)")
        score = filter_importance(weights[index], metric, generator)
        order = sorted(range(p.filters), key=lambda k: (-float(score[k]), k))
        keep[index] = sorted(order[: p.filters - n_remove])
    unknown = set(remove) - set(layers)
    if unknown:
        raise ValueError(f"weight layers {sorted(unknown)} cannot be pruned (the last layer "
                         f"and non-existent layers); prunable: {sorted(layers)}")
    return keep


def filter_counts(model: QuantSequential) -> dict[int, int]:
    """Filters of every prunable weight layer, by layer index."""
    return {p.index: p.filters for p in prunable_layers(model)}


def filter_widths(cfg: ModelConfig) -> list[int]:
    """Filters per weight layer but the output layer, from the config: conv channels (cnn),
    then the hidden widths."""
    return [*((cfg.channels or []) if cfg.kind == "cnn" else []), *cfg.hidden]


def pruned_config(cfg: ModelConfig, keep: Mapping[int, Sequence[int]]) -> ModelConfig:
    """``cfg`` with the channel/hidden widths of the kept filters."""
    n_conv = len(cfg.channels or []) if cfg.kind == "cnn" else 0
    widths = filter_widths(cfg)
    for index, kept in keep.items():
        widths[index] = len(kept)
    update = {"hidden": widths[n_conv:]}
    if n_conv:
        update["channels"] = widths[:n_conv]
    return cfg.model_copy(update=update)


def _slice(t: torch.Tensor, dim: int, index: Sequence[int]) -> torch.Tensor:
    return t.index_select(dim, torch.as_tensor(list(index), dtype=torch.long))


@torch.no_grad()
def shrink(model: QuantSequential, new_model: QuantSequential,
           keep: Mapping[int, Sequence[int]]) -> None:
    """Copy ``model``'s weights into ``new_model`` (built from :func:`pruned_config`) without
    the removed filters; every other parameter and buffer is copied as is."""
    if len(model) != len(new_model):
        raise ValueError("the pruned model has a different structure")
    old_layers = [m for _, m in model.weight_layers()]
    index = 0
    for old, new in zip(model, new_model, strict=True):
        if not isinstance(old, WEIGHT_LAYERS):
            new.load_state_dict(old.state_dict())
            continue
        new.load_state_dict(_layer_state(old, keep.get(index),
                                         _input_columns(old_layers, index, keep)))
        index += 1


def _layer_state(layer: nn.Module, out_keep: Sequence[int] | None,
                 in_keep: Sequence[int] | None) -> dict[str, torch.Tensor]:
    """The layer's state without the removed rows (weights, mask, bias, per-channel weight
    quantizer entries) and input columns (weights, mask)."""
    per_channel_quant = bool(getattr(layer.weight_quant, "per_channel", False))
    state = {}
    for key, t in layer.state_dict().items():
        rows = key in ("weight", "weight_mask", "bias") or (
            key.startswith("weight_quant.") and per_channel_quant and t.dim() == 1)
        if out_keep is not None and rows:
            t = _slice(t, 0, out_keep)
        if in_keep is not None and key in ("weight", "weight_mask"):
            t = _slice(t, 1, in_keep)
        state[key] = t
    return state


def _input_columns(layers: Sequence[nn.Module], i: int, keep: Mapping[int, Sequence[int]]
                   ) -> list[int] | None:
    """Columns of weight layer ``i`` that stay when layer ``i - 1`` loses filters."""
    kept = keep.get(i - 1)
    if i == 0 or kept is None:
        return None
    prev, layer = layers[i - 1], layers[i]
    channels = int(prev.weight.shape[0])
    per_channel = int(layer.weight.shape[1]) // channels
    if layer.weight.dim() == 4 or prev.weight.dim() == 2:
        return list(kept)  # conv -> conv, fc -> fc: one input per filter
    # conv -> (pool) -> flatten -> fc: each channel is per_channel consecutive columns
    return [k * per_channel + p for k in kept for p in range(per_channel)]

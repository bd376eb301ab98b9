"""Integer tensors as they flow through a network in integer mode.

``real = value * scale`` where ``value`` is int64 and ``scale`` is float64, either a scalar
or one scale per feature (dim 1: the output neuron of a linear layer, the channel of a conv).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class IntTensor:
    value: torch.Tensor
    scale: torch.Tensor

    def __post_init__(self) -> None:
        if self.value.dtype != torch.int64:
            raise TypeError(f"IntTensor.value must be int64, got {self.value.dtype}")

    def feature_scale(self) -> torch.Tensor:
        """The scale shaped to broadcast against ``value`` along dim 1."""
        return along_features(self.scale, self.value.dim())

    def to_real(self) -> torch.Tensor:
        return self.value.double() * self.feature_scale()


def along_features(scale: torch.Tensor, ndim: int) -> torch.Tensor:
    """Reshape a scalar or per-feature (C,) tensor to broadcast along dim 1 of ``ndim`` dims."""
    if scale.dim() == 0:
        return scale
    return scale.reshape((1, -1) + (1,) * (ndim - 2))

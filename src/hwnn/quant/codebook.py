"""Codebook quantizer: weights restricted to a given set of integers (seed 000 §III-C).

``q = argmin_{v in V} |x/s - v|`` (ties go to the smaller value), ``x_q = s * q``; the
backward pass is the straight-through estimator ("the STE is applied to skip the
selection operation", seed 000 §III-C-2).

The scale is the smallest one that puts every weight of a channel (or tensor) inside the
codebook's range: ``s = max(max(x) / max(V), min(x) / min(V))`` (a side is skipped when
``V`` has no value of that sign), snapped to ``mantissa_bits`` significant bits like
:func:`hwnn.quant.uniform.int_weight_quant`. The extreme weight then lands on the
codebook's end value, which makes the quantizer idempotent when ``0`` is in ``V`` (an
all-zero channel gets scale 1).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from hwnn.quant.ste import replace_ste
from hwnn.quant.uniform import UniformQuantizer


def nearest_value(book: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Nearest entry of the ascending ``book`` to each element of ``ratio`` (ties to the
    smaller value), in ``ratio``'s dtype."""
    book = book.to(ratio.dtype)
    if len(book) == 1:
        return torch.full_like(ratio, float(book[0]))
    idx = torch.searchsorted(book, ratio.contiguous()).clamp(1, len(book) - 1)
    lower, upper = book[idx - 1], book[idx]
    return torch.where((upper - ratio) < (ratio - lower), upper, lower)


class CodebookQuantizer(UniformQuantizer):
    def __init__(
        self, values: Iterable[int], bits: int = 8, per_channel: bool = True
    ) -> None:
        codebook = sorted({int(v) for v in values})
        if not codebook:
            raise ValueError("the codebook must hold at least one value")
        super().__init__(bits, True, per_channel=per_channel)
        if codebook[0] < self.qmin or codebook[-1] > self.qmax:
            raise ValueError(
                f"codebook values must fit in int{bits} [{self.qmin}, {self.qmax}], got "
                f"[{codebook[0]}, {codebook[-1]}]"
            )
        self.register_buffer("codebook", torch.tensor(codebook, dtype=torch.float64))
        self.low, self.high = codebook[0], codebook[-1]

    def scale(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if x is None:
            raise ValueError("the codebook scale is computed from the weights")
        flat = x.detach().reshape(x.shape[0], -1) if self.per_channel else x.detach().reshape(1, -1)
        zero = torch.zeros(flat.shape[0], dtype=flat.dtype)
        up = flat.amax(dim=1).clamp(min=0) / self.high if self.high > 0 else zero
        down = flat.amin(dim=1).clamp(max=0) / self.low if self.low < 0 else zero
        s = torch.maximum(up, down)
        return self._format(s if self.per_channel else s[0])

    def nearest(self, ratio: torch.Tensor) -> torch.Tensor:
        """Nearest codebook value of each element (ties to the smaller value)."""
        return nearest_value(self.codebook, ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        s, dt = self.working_scale(x)
        return replace_ste(x, (self.nearest(x.detach().to(dt) / s) * s).to(x.dtype))

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scale(x).double()
        return self.nearest(x.double() / self._broadcast(s, x)).to(torch.int64), s

"""SYQ: symmetric binary/ternary weights with learned scaling factors per subgroup
(seed 002 ch. 5, Faraone et al. CVPR 2018).

A weight ``W`` of subgroup ``i`` becomes ``alpha_i * Q`` with ``Q`` in ``{-1, +1}`` (binary)
or ``{-1, 0, +1}`` (ternary, zero where ``|W| < eta``, ``eta = 0.05 * max|W_l|`` per layer,
§5.3 after eq. 5.3). The codebook ``{-alpha_i, (0,) +alpha_i}`` is symmetric (eq. 5.9), so
one learned value per subgroup suffices:

* granularity ``layer`` - one ``alpha`` per layer (the thesis's choice for FC layers);
* granularity ``row`` - one ``alpha`` per output neuron (row of the FC weight matrix),
  the FC analogue of the thesis's row-wise CONV subgroups. Both keep the deployment form
  ``diag(alpha) Q`` of §5.4: an integer ``Q`` matrix and per-neuron scales, which the IR's
  requantizer absorbs, so SYQ MLPs export and run through ``hwnn sim/synth``.
  (Pixel-wise subgroups, ``K x K`` scales of a CONV kernel, need convolutions, which the IR
  does not have yet.)

Gradients (autograd of ``alpha * Q`` with the straight-through ``Q``): ``dE/dW = alpha_i
dE/dQ`` (eq. 5.11) and ``dE/dalpha_i = sum_{j in S_i} Q_j dE/dW_j`` - eq. 5.10, with the sign
of each weight's codebook value applied (the thesis's sum over the subgroup's indices).
Initialisation (eq. 5.12): ``alpha_i`` = mean ``|W|`` of the subgroup, on the first forward.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from hwnn.quant.ste import replace_ste
from hwnn.quant.uniform import UniformQuantizer

SYQ_ETA_FRACTION = 0.05  # ternary threshold = 0.05 * max|W_l| (seed 002 §5.3)
Levels = Literal["binary", "ternary"]
Granularity = Literal["layer", "row"]


class SYQQuantizer(UniformQuantizer):
    def __init__(self, levels: Levels, granularity: Granularity, rows: int) -> None:
        if levels not in ("binary", "ternary"):
            raise ValueError(f"SYQ levels are binary or ternary, got {levels!r}")
        if granularity not in ("layer", "row"):
            raise ValueError(f"SYQ granularity for weight matrices is layer or row, got "
                             f"{granularity!r}")
        super().__init__(2, True, narrow_range=True, per_channel=granularity == "row")
        self.levels_kind, self.granularity = levels, granularity
        self.alpha = nn.Parameter(torch.ones(rows if granularity == "row" else ()))
        self.register_buffer("initialized", torch.tensor(False))

    def threshold(self, w: torch.Tensor) -> torch.Tensor:
        if self.levels_kind == "binary":
            return torch.zeros((), dtype=w.dtype)
        return SYQ_ETA_FRACTION * w.detach().abs().max()

    def levels(self, w: torch.Tensor) -> torch.Tensor:
        if self.levels_kind == "binary":
            return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))
        return torch.sign(w) * (w.abs() >= self.threshold(w)).to(w.dtype)

    @torch.no_grad()
    def _init_alpha(self, w: torch.Tensor) -> None:
        """Eq. 5.12: the mean |W| of each subgroup."""
        a = w.abs().reshape(w.shape[0], -1).mean(dim=1) if self.granularity == "row" \
            else w.abs().mean()
        self.alpha.copy_(torch.where(a > 0, a, torch.ones_like(a)))
        self.initialized.fill_(True)

    def _alpha(self, w: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialized):
            self._init_alpha(w)
        return self.alpha

    def scale(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if not bool(self.initialized):
            if x is None:
                raise RuntimeError("SYQ scales are initialised from the weights: run one "
                                   "forward first")
            self._init_alpha(x)
        return self.alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        alpha = self._alpha(x)
        shaped = alpha.reshape((-1,) + (1,) * (x.dim() - 1)) if alpha.dim() else alpha
        return replace_ste(x, self.levels(x)) * shaped.to(x.dtype)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.levels(x.double()).to(torch.int64), self.scale(x).detach().double()

    def extra_repr(self) -> str:
        return f"SYQ {self.levels_kind}, {self.granularity}-wise"

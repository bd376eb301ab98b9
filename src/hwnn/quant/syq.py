"""SYQ: symmetric binary/ternary weights with learned scaling factors per subgroup
(seed 002 ch. 5, Faraone et al. CVPR 2018).

A weight ``W`` of subgroup ``i`` becomes ``alpha_i * Q`` with ``Q`` in ``{-1, +1}`` (binary)
or ``{-1, 0, +1}`` (ternary, zero where ``|W| < eta``, ``eta = 0.05 * max|W_l|`` per layer,
§5.3 after eq. 5.3). The codebook ``{-alpha_i, (0,) +alpha_i}`` is symmetric (eq. 5.9), so
one learned value per subgroup suffices:

* granularity ``layer`` - one ``alpha`` per layer (the thesis's choice for FC layers);
* ``row`` - CONV: one ``alpha`` per kernel row (``K`` scales, subgroups ``I x N x K``,
  §5.4.2); FC: one ``alpha`` per output neuron (our extension: the FC analogue that keeps an
  integer form);
* ``pixel`` - CONV: one ``alpha`` per kernel position (``K x K`` scales, subgroups
  ``I x N``, §5.4.2); FC layers stay layer-wise, as in the thesis.

Layer-wise scales and per-neuron FC scales keep the deployment form ``diag(alpha) Q`` of
§5.4 with one scale per output, which the IR's requantizer absorbs: SYQ MLPs export and run
through ``hwnn sim/synth``. CONV row/pixel scales multiply partial sums inside a neuron
(Fig. 5.1); they train and evaluate in torch, with the bias kept in float
(:attr:`SYQQuantizer.per_output` is False) and no integer mode.

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
Granularity = Literal["layer", "row", "pixel"]


class SYQQuantizer(UniformQuantizer):
    def __init__(self, levels: Levels, granularity: Granularity,
                 weight_shape: tuple[int, ...]) -> None:
        if levels not in ("binary", "ternary"):
            raise ValueError(f"SYQ levels are binary or ternary, got {levels!r}")
        if granularity not in ("layer", "row", "pixel"):
            raise ValueError(f"SYQ granularity is layer, row or pixel, got {granularity!r}")
        conv = len(weight_shape) == 4
        if not conv and granularity == "pixel":
            granularity = "layer"  # FC layers are layer-wise under pixel-wise SYQ (§5.4.1)
        super().__init__(2, True, narrow_range=True,
                         per_channel=granularity == "row" and not conv)
        self.levels_kind, self.granularity, self.conv = levels, granularity, conv
        if granularity == "layer":
            shape: tuple[int, ...] = ()
        elif not conv:
            shape = (weight_shape[0],)
        else:
            k_h, k_w = weight_shape[2], weight_shape[3]
            shape = (k_h,) if granularity == "row" else (k_h, k_w)
        self.alpha = nn.Parameter(torch.ones(shape))
        self.register_buffer("initialized", torch.tensor(False))

    @property
    def per_output(self) -> bool:
        """One scale per output (layer or FC row): the integer form exists."""
        return self.granularity == "layer" or not self.conv

    def _shaped(self, alpha: torch.Tensor, ndim: int) -> torch.Tensor:
        if alpha.dim() == 0:
            return alpha
        if not self.conv:
            return alpha.reshape((-1,) + (1,) * (ndim - 1))
        if self.granularity == "row":
            return alpha.reshape(1, 1, -1, 1)
        return alpha.reshape(1, 1, *alpha.shape)

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
        mag = w.abs()
        if self.granularity == "layer":
            a = mag.mean()
        elif not self.conv:
            a = mag.reshape(w.shape[0], -1).mean(dim=1)
        elif self.granularity == "row":
            a = mag.mean(dim=(0, 1, 3))
        else:
            a = mag.mean(dim=(0, 1))
        self.alpha.copy_(torch.where(a > 0, a, torch.ones_like(a)))
        self.initialized.fill_(True)

    def _alpha(self, w: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialized):
            self._init_alpha(w)
        return self.alpha

    def scale(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if not self.per_output:
            raise RuntimeError(f"SYQ {self.granularity}-wise scales of a convolution have no "
                               "per-output scale: no integer mode (torch-only)")
        if not bool(self.initialized):
            if x is None:
                raise RuntimeError("SYQ scales are initialised from the weights: run one "
                                   "forward first")
            self._init_alpha(x)
        return self.alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        shaped = self._shaped(self._alpha(x), x.dim())
        return replace_ste(x, self.levels(x)) * shaped.to(x.dtype)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.levels(x.double()).to(torch.int64), self.scale(x).detach().double()

    def extra_repr(self) -> str:
        return f"SYQ {self.levels_kind}, {self.granularity}-wise"

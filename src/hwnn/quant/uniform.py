"""Uniform integer quantizer: ``q = clamp(round(x / s), qmin, qmax)``, ``x_q = s * q``.

Scale modes
-----------
* ``"max"``    — ``s = max|x| / qmax`` per tensor or per channel, recomputed every forward
  (weights; the statistic is not differentiated).
* ``"learned"`` — ``s`` is a parameter trained with the LSQ gradient (Esser et al. 2020:
  gradient of ``s * round(x/s)`` through the STE, scaled by ``1/sqrt(N * qmax)``),
  initialised from the first batch it sees: ``percentile`` of ``|x|`` / qmax (``init=
  "percentile"``), or the scale with the least squared quantization error on that batch
  (``init="mse"``; for 1-3-bit codes, where the percentile rule sets a scale so large that
  almost every value rounds to zero).
* ``"fixed"``  — ``s`` is given and never changes (e.g. the pixel scale 2^-8 of MNIST).

Scale formats: with ``po2=True`` the scale is a power of two (activations: the requantizer
then only shifts); otherwise it is snapped to ``mantissa_bits`` significant bits. Both keep
the products ``s_x * s_w * q_x * q_w`` exact in float64, which is what makes the fake-quant
forward in eval mode and the integer mode agree bit for bit (see :mod:`hwnn.nn.layers`).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from hwnn.quant.ste import grad_scale, round_half_up, round_half_up_ste
from hwnn.rules import int_range

ScaleMode = Literal["max", "learned", "fixed"]
ScaleInit = Literal["percentile", "mse"]
MSE_SEARCH_OCTAVES = 12  # init="mse" tries scales from the percentile scale down 2^-12
MSE_GRID_STEPS = 8  # candidate scales per octave when the scale is not a power of two


class UniformQuantizer(nn.Module):
    def __init__(
        self,
        bits: int,
        signed: bool,
        *,
        narrow_range: bool = False,
        per_channel: bool = False,
        num_channels: int | None = None,
        scale_mode: ScaleMode = "max",
        scale: float | None = None,
        po2: bool = False,
        mantissa_bits: int = 12,
        percentile: float = 1.0,
        init: ScaleInit = "percentile",
    ) -> None:
        super().__init__()
        self.bits, self.signed, self.narrow_range = bits, signed, narrow_range
        self.qmin, self.qmax = int_range(bits, signed, narrow_range)
        self.per_channel, self.scale_mode, self.po2 = per_channel, scale_mode, po2
        self.mantissa_bits, self.percentile = mantissa_bits, percentile
        if init not in ("percentile", "mse"):
            raise ValueError(f"unknown scale init {init!r}; choose percentile or mse")
        if init == "mse" and (per_channel or scale_mode != "learned"):
            raise ValueError("init='mse' applies to per-tensor learned scales")
        self.init = init
        self.enabled = True
        if per_channel and scale_mode != "max" and not num_channels:
            raise ValueError("a per-channel learned/fixed scale needs num_channels")
        shape = (num_channels,) if per_channel and scale_mode != "max" else ()
        if scale_mode == "fixed":
            if scale is None or scale <= 0:
                raise ValueError("scale_mode='fixed' needs a positive scale")
            self.register_buffer("fixed_scale", torch.full(shape, float(scale)))
        elif scale_mode == "learned":
            init = math.log2(scale) if (po2 and scale) else (scale or 1.0)
            self.raw_scale = nn.Parameter(torch.full(shape, float(init)))
            self.register_buffer("initialized", torch.tensor(scale is not None))
        elif scale_mode != "max":
            raise ValueError(f"unknown scale_mode {scale_mode!r}")

    # ----------------------------------------------------------------- scale
    def _stat(self, x: torch.Tensor) -> torch.Tensor:
        """max|x| (or a percentile) per tensor, or per channel along axis 0."""
        flat = x.detach().abs().reshape(x.shape[0], -1) if self.per_channel else x.detach().abs()
        if self.percentile >= 1.0:
            return flat.amax(dim=1) if self.per_channel else flat.max()
        sample = flat.reshape(-1)[: 1 << 20].float()
        return torch.quantile(sample, self.percentile)

    def _mse_scale(self, x: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """The candidate scale with the least mean squared error ``(x - s q(x/s))^2`` on (up to
        2^20 values of) ``x``: one (power of two) or ``MSE_GRID_STEPS`` candidates per octave
        from ``upper`` down ``MSE_SEARCH_OCTAVES`` octaves, each in the quantizer's scale format
        (:meth:`_format`, so the first is the percentile scale); ties go to the larger scale."""
        sample = x.detach().reshape(-1)[: 1 << 20].double()
        steps = 1 if self.po2 else MSE_GRID_STEPS
        top = torch.log2(upper.double())
        best, best_err = upper.double(), math.inf
        for k in range(MSE_SEARCH_OCTAVES * steps + 1):
            s = self._format(torch.exp2(top - k / steps))
            err = float(((sample - s * self._codes(sample, s)) ** 2).mean())
            if err < best_err:
                best, best_err = s, err
        return best.to(upper.dtype)

    def _codes(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``clamp(round_half_up(x / s), qmin, qmax)``, ``s`` already broadcast against ``x``."""
        return torch.clamp(round_half_up(x / s), self.qmin, self.qmax)

    def _format(self, s: torch.Tensor) -> torch.Tensor:
        """Power-of-two or ``mantissa_bits``-bit scale, straight-through."""
        s = torch.where(s > 0, s, torch.ones_like(s))  # all-zero channel: any scale
        if self.po2:
            return torch.exp2(round_half_up_ste(torch.log2(s)))
        exp = torch.floor(torch.log2(s.detach())) + 1  # s = m * 2^exp with m in [0.5, 1)
        unit = torch.exp2(exp - self.mantissa_bits)
        return unit * round_half_up_ste(s / unit)

    def scale(self, x: torch.Tensor | None = None) -> torch.Tensor:
        """Current scale: a scalar tensor, or a (C,) tensor when per channel."""
        if self.scale_mode == "fixed":
            return self.fixed_scale
        if self.scale_mode == "max":
            if x is None:
                raise ValueError("scale_mode='max' needs the tensor to compute the scale from")
            # float64: a float32 max|w| / qmax (and its 12-bit snap unit) can underflow
            return self._format(self._stat(x).double() / self.qmax)
        if not bool(self.initialized):
            if x is None:
                raise RuntimeError("learned scale is not initialised: run one forward first")
            stat = self._stat(x)
            s0 = torch.where(stat > 0, stat / self.qmax, torch.ones_like(stat))
            if self.init == "mse" and bool(stat > 0):
                s0 = self._mse_scale(x, s0)
            with torch.no_grad():
                self.raw_scale.fill_(0.0)
                self.raw_scale.add_(torch.log2(s0) if self.po2 else s0)
                self.initialized.fill_(True)
        raw = self.raw_scale
        if x is not None and self.training:
            per = x.numel() / max(1, raw.numel())
            raw = grad_scale(raw, 1.0 / math.sqrt(per * max(1, self.qmax)))
        s = torch.exp2(raw) if self.po2 else raw
        return self._format(s)

    def _broadcast(self, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if s.dim() == 0:
            return s
        return s.reshape((-1,) + (1,) * (x.dim() - 1))

    def working_scale(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
        """The scale broadcast against ``x`` and the dtype in which fake quantization divides.

        :meth:`quantize` rounds the float64 quotient ``x / s``; the fake path must round the
        same number. When every scale is a power of two and a normal number of ``x.dtype``,
        ``x / s`` is exact in ``x.dtype`` (fast path); otherwise (max- or mantissa-snapped
        scales, scales of ~1e-44) a float32 quotient can land on the other side of a half, so
        the division happens in float64.
        """
        s = self.scale(x)
        d = s.detach()
        exact = (x.dtype.is_floating_point and bool((torch.frexp(d).mantissa == 0.5).all())
                 and bool((d >= torch.finfo(x.dtype).tiny).all()))
        dt = x.dtype if exact else torch.float64
        return self._broadcast(s.to(dt), x), dt

    # --------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fake quantization ``s * clamp(round(x/s))`` with STE through the rounding (the
        quotient is the one :meth:`quantize` rounds, see :meth:`working_scale`)."""
        if not self.enabled:
            return x
        s, dt = self.working_scale(x)
        q = torch.clamp(round_half_up_ste(x.to(dt) / s), self.qmin, self.qmax)
        return (q * s).to(x.dtype)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer codes (int64) and the float64 scale they are in: ``x_q = s * q``."""
        s = self.scale(x).double()
        return self._codes(x.double(), self._broadcast(s, x)).to(torch.int64), s

    def extra_repr(self) -> str:
        kind = "int" if self.signed else "uint"
        return (
            f"{kind}{self.bits}, range=[{self.qmin},{self.qmax}], scale={self.scale_mode}"
            f"{', po2' if self.po2 else ''}{', per_channel' if self.per_channel else ''}"
        )


def int_weight_quant(bits: int = 8, per_channel: bool = True) -> UniformQuantizer:
    """Signed symmetric (narrow-range) weight quantizer, max-scaled, 12-bit-mantissa scale."""
    return UniformQuantizer(bits, True, narrow_range=True, per_channel=per_channel)


def int_act_quant(
    bits: int = 8, signed: bool = False, scale: float | None = None, learned: bool = True,
    init: ScaleInit = "percentile",
) -> UniformQuantizer:
    """Per-tensor activation quantizer with a power-of-two scale.

    ``scale`` given and ``learned=False``: fixed (dataset inputs with a known scale);
    otherwise learned with LSQ, initialised from the 99.99th percentile of the first batch
    (``init="percentile"``) or by the least-squared-error search (``init="mse"``).
    """
    if scale is not None and not learned:
        return UniformQuantizer(bits, signed, scale_mode="fixed", scale=scale, po2=True)
    return UniformQuantizer(
        bits, signed, scale_mode="learned", scale=scale, po2=True, percentile=0.9999, init=init
    )


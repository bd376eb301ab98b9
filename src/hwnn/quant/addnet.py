"""AddNet weight quantizer: weights restricted to one RCCM coefficient set per layer
(seed 002 §6.5.2, eqs. 6.3-6.4, Algorithm 5).

``q(w) = lambda * argmin_{c in C} |c - w / lambda|`` with ``C`` the layer's RCCM coefficient
set (symmetric around zero, so the sign of eq. 6.3 is carried by ``C`` itself; ties go to
the smaller value) and ``lambda`` a learned per-layer scale, snapped to 12 significant
bits like every weight scale here so the integer mode stays exact.

* ``C`` is chosen on the first forward with the quantizer enabled (i.e. from the
  pre-trained weights at the start of the quantized stage) by distribution matching
  (:func:`hwnn.arith.rccm_match.match_rccm`, eq. 6.2), or is the Table 6.2 set
  (``select="table62"``); ``lambda`` starts at ``max|w| / max|C|`` (§6.5.2: "M is
  initially the range of the pre-trained model").
* Gradients: ``dL/dw = dL/dq`` (the STE of eq. 6.4) and ``dL/dlambda = sum_j c_j dL/dq_j``
  (the code ``c_j = q_j / lambda`` held constant), the scalar update of Algorithm 5
  (chained through ``lambda = 2^log2_lambda``).
* The chosen set and the RCCM circuit that realises it travel in the module's extra
  state, so checkpoints and finished runs reload with the same codebook.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from hwnn.arith.rccm import Rccm, ShiftSpace, table_6_3
from hwnn.ir.ranges import signed_bits
from hwnn.quant.codebook import nearest_value
from hwnn.quant.uniform import UniformQuantizer

Selection = Literal["kl", "table62"]


class AddNetQuantizer(UniformQuantizer):
    def __init__(self, n_add: int, select: Selection = "kl",
                 space: ShiftSpace | None = None) -> None:
        if n_add not in (2, 3, 4):
            raise ValueError(f"AddNet RCCMs have 2, 3 or 4 adders, got {n_add}")
        if select not in ("kl", "table62"):
            raise ValueError(f"select must be 'kl' or 'table62', got {select!r}")
        super().__init__(16, True)  # bits/range are set once the coefficient set is chosen
        self.n_add, self.select, self.space = n_add, select, space or ShiftSpace()
        self.log2_lam = nn.Parameter(torch.zeros(()))
        self.register_buffer("initialized", torch.tensor(False))
        self.book = torch.zeros(0, dtype=torch.float64)
        self.rccm: Rccm | None = None
        self.divergence: float | None = None

    # ------------------------------------------------------------------ set choice
    def _install(self, rccm: Rccm, divergence: float | None) -> None:
        values = rccm.coefficient_set()
        self.rccm, self.divergence = rccm, divergence
        self.book = torch.tensor(values, dtype=torch.float64)
        self.bits = signed_bits(int(values.min()), int(values.max()))
        self.qmin, self.qmax = int(values.min()), int(values.max())

    @torch.no_grad()
    def choose(self, w: torch.Tensor) -> None:
        """Pick ``C`` for weights ``w`` and initialise ``lambda`` (module docstring)."""
        weights = w.detach().double().cpu().numpy()
        if self.select == "table62":
            self._install(table_6_3(self.n_add), None)
        else:
            from rich.console import Console

            from hwnn.arith.rccm_match import match_rccm_cached

            console = Console(stderr=True)
            t0 = time.perf_counter()
            console.print(f"AddNet: matching a {self.n_add}-Add coefficient set to "
                          f"{weights.size:,} weights (4-Add: minutes, cached afterwards)")
            match = match_rccm_cached(weights, self.n_add, self.space)
            self._install(match.rccm, match.divergence)
            console.print(f"AddNet: {len(self.book)} coefficients, KL {match.divergence:.3f} "
                          f"({time.perf_counter() - t0:.0f} s)")
        peak = float(np.abs(weights).max())
        top = float(self.book.abs().max())
        self.log2_lam.fill_(float(np.log2(peak / top)) if peak > 0 and top > 0 else 0.0)
        self.initialized.fill_(True)

    # ------------------------------------------------------------------ quantizer API
    def scale(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if not bool(self.initialized):
            if x is None:
                raise RuntimeError("the AddNet coefficient set is chosen from the weights: "
                                   "run one forward first")
            self.choose(x)
        return self._format(torch.exp2(self.log2_lam))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        s, dt = self.working_scale(x)  # rounds the quotient quantize() rounds
        codes = nearest_value(self.book, x.detach().to(dt) / s.detach())
        return ((x - x.detach()) + codes * s).to(x.dtype)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.scale(x).detach().double()
        return nearest_value(self.book, x.double() / s).to(torch.int64), s

    # ------------------------------------------------------------------ persistence
    def get_extra_state(self) -> dict[str, Any]:
        return {"rccm": None if self.rccm is None else self.rccm.to_dict(),
                "divergence": self.divergence}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("rccm") is not None:
            self._install(Rccm.from_dict(state["rccm"]), state.get("divergence"))

    def describe(self) -> dict[str, Any]:
        """The chosen set for reports: adders, coefficients, divergence, circuit."""
        if self.rccm is None:
            return {"n_add": self.n_add, "chosen": False}
        return {"n_add": self.n_add, "select": self.select, "coefficients":
                [int(v) for v in self.book.tolist()], "size": len(self.book),
                "divergence": self.divergence, "scale": float(self.scale().detach()),
                "rccm": self.rccm.to_dict()}

    def extra_repr(self) -> str:
        chosen = f"{len(self.book)} coefficients" if self.rccm is not None else "not chosen"
        return f"AddNet {self.n_add}-Add ({self.select}), {chosen}"


__all__ = ["AddNetQuantizer"]

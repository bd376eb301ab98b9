"""SAM layers in the integer IR (seed 001 eq. 5, quantized; issue 9 item 4).

Layer kind ``"sam"``: integer inputs ``x`` (``in_bits``, signed or not) and integer
parameters ``P = W+`` and ``N = W-`` (``weight_bits`` signed, shape (out, in), on the *same*
scale as ``x``: the layer adds them, so they must share it). Output neuron ``j``:

1. ``acc_j = max_{i in K+_j} (x_i + P_ji) + min_{i in K-_j} (x_i + N_ji) + bias_j`` —
   exact; ``K+_j`` / ``K-_j`` are the kept connections (``keep_plus`` / ``keep_minus``,
   pruning of seed 001 §III-D), and a term with no kept connection contributes 0;
2. requantize ``r_j = (acc_j * M_j + 2^(S_j-1)) >> S_j`` (round half up) and clip to the
   ``out_bits``/``out_signed`` range (ReLU raises the lower bound to 0), as a dense layer.

``acc_bits`` is the worst-case width (interval arithmetic over the kept connections), so the
accumulator can never overflow (``overflow`` is always ``"wrap"`` and never wraps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hwnn.ir.model import IRError, RequantizedLayer
from hwnn.rules import int_range


@dataclass
class SamLayer(RequantizedLayer):
    """One integer SAM layer; arrays are int64 of shape (out, in) (``keep_*``: 0/1) or (out,)."""

    name: str
    plus: np.ndarray
    minus: np.ndarray
    keep_plus: np.ndarray
    keep_minus: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    in_bits: int
    in_signed: bool
    acc_bits: int
    out_bits: int
    out_signed: bool
    activation: str = "identity"
    overflow: str = "wrap"
    weight_bits: int = 8
    kind: str = field(default="sam", init=False)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def in_features(self) -> int:
        return int(self.plus.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.plus.shape[0])

    @property
    def neuron_acc_bits(self) -> None:
        return None

    def nonzero_weights(self) -> int:
        """Kept parameters (``P`` and ``N`` entries): what seed 001 Table I counts as N_B."""
        return int(self.keep_plus.sum() + self.keep_minus.sum())

    def kept(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Input indices of neuron ``j``'s kept max and min connections (ascending)."""
        return np.flatnonzero(self.keep_plus[j]), np.flatnonzero(self.keep_minus[j])

    def term_ranges(self, j: int) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """Exact value intervals of neuron ``j``'s max term and min term (None: no kept
        connection, the term is 0): ``max_i`` over an interval product is the interval of
        the maxima, ``[max_i (x_lo + P_i), max_i (x_hi + P_i)]``."""
        x_lo, x_hi = int_range(self.in_bits, self.in_signed)
        out: list[tuple[int, int] | None] = []
        for params, idx, pick in ((self.plus, self.kept(j)[0], max),
                                  (self.minus, self.kept(j)[1], min)):
            if not idx.size:
                out.append(None)
                continue
            row = params[j, idx].tolist()
            out.append((pick(x_lo + c for c in row), pick(x_hi + c for c in row)))
        return out[0], out[1]

    def worst_case_acc_range(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.empty(self.out_features, dtype=np.int64)
        hi = np.empty(self.out_features, dtype=np.int64)
        for j in range(self.out_features):
            lo[j] = hi[j] = int(self.bias[j])
            for term in self.term_ranges(j):
                if term is not None:
                    lo[j] += term[0]
                    hi[j] += term[1]
        return lo, hi

    def check(self, where: str) -> None:
        """Raise :class:`hwnn.ir.model.IRError` on any malformed field."""
        shape = self.plus.shape
        if self.plus.ndim != 2 or min(shape) < 1:
            raise IRError(f"{where}: plus must be a non-empty (out, in) matrix, got {shape}")
        for name in ("minus", "keep_plus", "keep_minus"):
            if getattr(self, name).shape != shape:
                raise IRError(f"{where}: {name} must have shape {shape}, got "
                              f"{getattr(self, name).shape}")
        for name in ("bias", "multiplier", "shift"):
            if getattr(self, name).shape != (shape[0],):
                raise IRError(f"{where}: {name} must have shape ({shape[0]},)")
        for name in ("plus", "minus", "keep_plus", "keep_minus", "bias", "multiplier", "shift"):
            if getattr(self, name).dtype != np.int64:
                raise IRError(f"{where}: {name} must be int64, got {getattr(self, name).dtype}")
        for name in ("keep_plus", "keep_minus"):
            if not np.isin(getattr(self, name), (0, 1)).all():
                raise IRError(f"{where}: {name} must hold 0/1")
        if self.activation not in ("relu", "identity") or self.overflow != "wrap":
            raise IRError(f"{where}: a SAM layer takes activation relu/identity and overflow "
                          f"wrap, got {self.activation!r}/{self.overflow!r}")
        if min(self.in_bits, self.out_bits, self.weight_bits) < 2:
            raise IRError(f"{where}: in_bits, out_bits and weight_bits must be >= 2")
        wlo, whi = int_range(self.weight_bits, True)
        for name in ("plus", "minus"):
            arr = getattr(self, name)
            if arr.min() < wlo or arr.max() > whi:
                raise IRError(f"{where}: {name} must fit int{self.weight_bits} [{wlo}, {whi}]")
        self.check_requantizer(where)


def sam_accumulate(layer: SamLayer, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Step 1 of the module docstring, exact int64, for a batch ``x`` (N, in): per neuron, the
    max over its kept ``x_i + P_ji`` plus the min over its kept ``x_i + N_ji`` plus bias."""
    x = np.asarray(x, dtype=np.int64)
    acc = np.tile(layer.bias, (len(x), 1))
    for j in range(layer.out_features):
        for params, idx, reduce in ((layer.plus, layer.kept(j)[0], np.max),
                                    (layer.minus, layer.kept(j)[1], np.min)):
            if idx.size:
                for lo in range(0, len(x), chunk):
                    acc[lo : lo + chunk, j] += reduce(x[lo : lo + chunk, idx] + params[j, idx],
                                                      axis=1)
    return acc

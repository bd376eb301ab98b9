"""Adder bit-width profiling (seed 000 §III-B, Fig. 4).

Run data (normally the training split) through the exact reference, record every neuron's
accumulator values, and size each neuron's adder to the range it actually uses instead of
the worst case over all possible inputs:

* ``quantile = None``: ``[min, max]`` of the observed exact sums ``acc_j``;
* ``quantile = q`` (e.g. ``1e-4``): ``[Q_q(acc_j), Q_{1-q}(acc_j)]`` (numpy's ``lower``/
  ``higher`` quantiles, so the bounds are observed values), i.e. the rarest ``q`` of the
  values on each side are treated as outliers.

The neuron's width is ``A_j = signed_bits(lo_j, hi_j)`` (never more than the worst case).
The profiled network keeps everything else and sets ``neuron_acc_bits = A`` with an
overflow rule: ``saturate`` (default; an outlier clips to the nearest representable value,
the IR/RTL saturating adder) or ``wrap`` (the plain narrow adder tree; an outlier wraps
around). Profiling ranges are measured on the exact sums of the *given* network, so a
profiled layer's inputs come from the unprofiled layers before it; every layer is sized in
one pass, which is how the seed describes it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from hwnn.ir.model import IRError, IRNetwork, Overflow
from hwnn.ir.ranges import signed_bits, worst_case_acc_range
from hwnn.ir.reference import accumulate, check_inputs, layer_forward


@dataclass(frozen=True)
class LayerProfile:
    """Per-neuron accumulator ranges of one layer (int64 arrays of shape (out,))."""

    name: str
    observed_lo: np.ndarray
    observed_hi: np.ndarray
    kept_lo: np.ndarray  # after dropping the outlier quantiles (= observed when q is None)
    kept_hi: np.ndarray
    worst_lo: np.ndarray
    worst_hi: np.ndarray
    samples: int
    layer_acc_bits: int  # the layer's uniform accumulator width before profiling

    @staticmethod
    def _bits(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.array([signed_bits(int(a), int(b)) for a, b in zip(lo, hi, strict=True)],
                        dtype=np.int64)

    def worst_bits(self) -> np.ndarray:
        return self._bits(self.worst_lo, self.worst_hi)

    def profiled_bits(self) -> np.ndarray:
        """``A_j``: the width holding the kept range, capped at the worst-case width."""
        return np.minimum(self._bits(self.kept_lo, self.kept_hi), self.worst_bits())

    def summary(self) -> dict[str, object]:
        worst, prof = self.worst_bits(), self.profiled_bits()
        return {
            "layer": self.name,
            "neurons": int(worst.size),
            "layer_acc_bits": self.layer_acc_bits,
            "adder_bits_layer_uniform": int(worst.size) * self.layer_acc_bits,
            "worst_case_bits": [int(worst.min()), int(worst.max())],
            "profiled_bits": [int(prof.min()), int(prof.max())],
            "adder_bits_worst_case": int(worst.sum()),
            "adder_bits_profiled": int(prof.sum()),
            "bits_saved": int((worst - prof).sum()),
            "mean_bits_saved_per_neuron": round(float((worst - prof).mean()), 3),
        }


def _bounds(acc: np.ndarray, quantile: float | None) -> tuple[np.ndarray, np.ndarray]:
    if quantile is None or quantile == 0:
        return acc.min(axis=0), acc.max(axis=0)
    lo = np.quantile(acc, quantile, axis=0, method="lower")
    hi = np.quantile(acc, 1.0 - quantile, axis=0, method="higher")
    return lo.astype(np.int64), hi.astype(np.int64)


def profile_accumulators(net: IRNetwork, x: np.ndarray, quantile: float | None = None,
                         batch: int = 65536) -> list[LayerProfile]:
    """Exact accumulator ranges of every neuron over the integer inputs ``x`` (N, features).

    Raises :class:`IRError` for an empty batch or a quantile outside ``[0, 0.5)``.
    """
    if quantile is not None and not 0 <= quantile < 0.5:
        raise IRError(f"quantile must be in [0, 0.5), got {quantile}")
    if any(layer.kind != "dense" for layer in net.layers):
        raise IRError("adder bit-width profiling narrows dense accumulators; this network has "
                      "SAM layers (their accumulators are already exact-width max/min sums)")
    codes = check_inputs(net, x)
    if len(codes) == 0:
        raise IRError("profiling needs at least one input vector")
    sums: list[list[np.ndarray]] = [[] for _ in net.layers]
    for start in range(0, len(codes), batch):
        h = codes[start : start + batch]
        for k, layer in enumerate(net.layers):
            sums[k].append(accumulate(layer, h))
            _, h = layer_forward(layer, h)
    profiles = []
    for k, layer in enumerate(net.layers):
        acc = np.concatenate(sums[k])
        kept_lo, kept_hi = _bounds(acc, quantile)
        worst_lo, worst_hi = worst_case_acc_range(layer)
        profiles.append(LayerProfile(layer.name, acc.min(axis=0), acc.max(axis=0),
                                     kept_lo, kept_hi, worst_lo, worst_hi, len(acc),
                                     layer.acc_bits))
    return profiles


def apply_profile(net: IRNetwork, profiles: list[LayerProfile],
                  overflow: Overflow = "saturate") -> IRNetwork:
    """A copy of ``net`` with per-neuron adder widths from ``profiles`` (module docstring).

    The layer's ``acc_bits`` becomes the widest profiled neuron, so the requantizer and the
    generic baseline's bias registers shrink with it.
    """
    if len(profiles) != len(net.layers):
        raise IRError(f"{len(profiles)} layer profiles for {len(net.layers)} layers")
    out = copy.deepcopy(net)
    for layer, prof in zip(out.layers, profiles, strict=True):
        if prof.name != layer.name:
            raise IRError(f"profile for layer {prof.name!r} given for layer {layer.name!r}")
        bits = prof.profiled_bits()
        # the bias must stay representable: widen a neuron whose bias alone does not fit
        bias_bits = np.array([signed_bits(int(b), int(b)) for b in layer.bias], dtype=np.int64)
        bits = np.maximum(bits, bias_bits)
        layer.acc_bits = int(bits.max())
        layer.neuron_acc_bits = bits
        layer.overflow = overflow
        layer.notes = {**layer.notes, "profiled": True}
    out.meta = {**out.meta, "profiled": {"overflow": overflow}}
    return out.validate()

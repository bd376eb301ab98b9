"""FINN-style streaming dataflow accelerator model (seed 002 ch. 4, §4.4.2, §4.5.1, §4.7.1).

One matrix-vector unit (MVU) per layer, all layers running at once as a pipeline. A layer
with ``I`` input channels, ``N`` filters of ``K x K`` and ``F_out x F_out`` output pixels is
the matrix product of an ``MH x MW`` weight matrix (``MH = N``, ``MW = K * K * I``; a fully
connected layer is ``K = F_out = 1``) with ``P = F_out^2`` input vectors (the sliding-window
unit's im2col stream). The MVU is folded: ``PE`` processing elements each compute one output
channel at a time, ``SIMD`` lanes per PE take that many inputs per cycle, with
``PE | MH`` and ``SIMD | MW`` (FINN's constraints; the thesis also names an ``MMV`` output-pixel
parallelism, not modelled: ``MMV = 1``).

* cycles per frame: ``(MH / PE) * (MW / SIMD) * P`` - the MVU of :mod:`hwnn.logic.mvu`
  takes exactly this many cycles per frame once its pipeline is full (checked by
  simulation, ``scripts/dataflow_check.py``);
* initiation interval of the pipeline: the slowest layer's cycles; throughput
  ``fps = f_clk / II``;
* operations (MACs), eq. 4.5: ``OPS = K^2 * I * N * F_out^2``; re-use of the ``PE * SIMD``
  MAC units, eq. 4.6: ``Reuse = ceil(OPS / (PE * SIMD))`` (the thesis's "PE" counts MAC units;
  with the divisibility constraints ``Reuse`` equals the cycles);
* input feature-map buffer, eq. 4.7: ``ceil(I * F_in^2 * (Reuse - 1) / (Reuse * B_w))`` BRAMs,
  ``B_w`` words (activations) per BRAM - none when ``Reuse = 1`` (fully pipelined: feature maps
  flow straight into the next sliding window);
* weight memory: each PE holds ``(MH / PE) * (MW / SIMD)`` words of ``SIMD * W`` bits, mapped to
  RAMB18s in the cheapest of their aspect ratios (16K x 1 ... 512 x 36); the thesis only says
  the BRAM cost "to store all network weights" is part of the model;
* LUTs (:class:`LutModel`): a per-layer control cost, per PE the accumulator and the
  requantizer, per SIMD lane its product (an add/subtract for binary weights, thesis
  Fig. 4.5, or a multiplier) and its share of the adder tree; coefficients fitted to Yosys
  ``synth_xilinx`` runs on generated MVUs (``scripts/dataflow_check.py``).

:func:`optimise_folding` picks ``PE``/``SIMD`` per layer: for a target frame rate the
cheapest folding of each layer that meets the cycle bound; for a LUT budget the fastest
pipeline that fits (the II is one of the finitely many per-layer cycle counts, so trying them
in increasing order finds the optimum exactly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

LayerKind = Literal["conv", "fc"]
# RAMB18 aspect ratios (width bits, depth words) of Xilinx 7-series / UltraScale
RAMB18_SHAPES: tuple[tuple[int, int], ...] = ((1, 16384), (2, 8192), (4, 4096), (9, 2048),
                                              (18, 1024), (36, 512))


@dataclass(frozen=True)
class LayerShape:
    """One layer as the dataflow model sees it (§4.4 notation)."""

    name: str
    kind: LayerKind
    in_channels: int  # I
    out_channels: int  # N (filters, or neurons of an FC layer)
    kernel: int = 1  # K
    in_size: int = 1  # F_in: side of the input feature map
    out_size: int = 1  # F_out: side of the output feature map (before any pooling)
    weight_bits: int = 1  # W
    act_bits: int = 1  # A: bits of the layer's input activations

    def __post_init__(self) -> None:
        for label, value in (("in_channels", self.in_channels),
                             ("out_channels", self.out_channels), ("kernel", self.kernel),
                             ("in_size", self.in_size), ("out_size", self.out_size),
                             ("weight_bits", self.weight_bits), ("act_bits", self.act_bits)):
            if value < 1:
                raise ValueError(f"layer {self.name}: {label} must be >= 1, got {value}")
        if self.kind == "fc" and (self.kernel, self.in_size, self.out_size) != (1, 1, 1):
            raise ValueError(f"layer {self.name}: a fully connected layer has K = F = 1")

    @property
    def mw(self) -> int:
        """Matrix width ``K^2 I`` (inputs per output)."""
        return self.kernel * self.kernel * self.in_channels

    @property
    def mh(self) -> int:
        """Matrix height ``N``."""
        return self.out_channels

    @property
    def pixels(self) -> int:
        """Output pixels ``P = F_out^2`` (input vectors per frame)."""
        return self.out_size * self.out_size

    def ops(self) -> int:
        """MACs per frame, eq. 4.5: ``K^2 * I * N * F_out^2``."""
        return self.mw * self.mh * self.pixels

    def weights(self) -> int:
        return self.mw * self.mh

    def with_filters(self, n: int) -> LayerShape:
        """The same layer with ``n`` filters."""
        return LayerShape(self.name, self.kind, self.in_channels, n, self.kernel, self.in_size,
                          self.out_size, self.weight_bits, self.act_bits)

    def with_inputs(self, i: int) -> LayerShape:
        """The same layer with ``i`` input channels (after pruning the layer before)."""
        return LayerShape(self.name, self.kind, i, self.out_channels, self.kernel, self.in_size,
                          self.out_size, self.weight_bits, self.act_bits)


@dataclass(frozen=True)
class Folding:
    pe: int
    simd: int

    def check(self, layer: LayerShape) -> None:
        """FINN's constraints: ``PE | MH`` and ``SIMD | MW``."""
        if self.pe < 1 or self.simd < 1:
            raise ValueError(f"layer {layer.name}: PE and SIMD must be >= 1, got {self}")
        if layer.mh % self.pe:
            raise ValueError(f"layer {layer.name}: PE = {self.pe} does not divide the "
                             f"{layer.mh} output channels; choose one of {divisors(layer.mh)}")
        if layer.mw % self.simd:
            raise ValueError(f"layer {layer.name}: SIMD = {self.simd} does not divide the "
                             f"matrix width {layer.mw}; choose one of {divisors(layer.mw)}")


def divisors(n: int) -> list[int]:
    """Every positive divisor of ``n``, ascending."""
    if n < 1:
        raise ValueError(f"divisors of a positive integer, got {n}")
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def cycles(layer: LayerShape, fold: Folding) -> int:
    """Cycles per frame ``(MH / PE) * (MW / SIMD) * P``."""
    fold.check(layer)
    return (layer.mh // fold.pe) * (layer.mw // fold.simd) * layer.pixels


def reuse(layer: LayerShape, fold: Folding) -> int:
    """Eq. 4.6: ``ceil(OPS / (PE * SIMD))`` - how often each MAC unit is used per frame."""
    return -(-layer.ops() // (fold.pe * fold.simd))


def words_per_bram(bits: int) -> int:
    """``B_w``: words of ``bits`` bits one RAMB18 holds in its best aspect ratio."""
    fits = [depth for width, depth in RAMB18_SHAPES if width >= bits]
    if bits < 1 or not fits:
        raise ValueError(f"words per BRAM for 1..36-bit words, got {bits}")
    return max(fits)


def fm_brams(layer: LayerShape, layer_reuse: int) -> int:
    """Eq. 4.7: BRAMs buffering the layer's input feature maps,
    ``ceil(I * F_in^2 * (Reuse - 1) / (Reuse * B_w))`` with ``B_w = words_per_bram(A)``."""
    if layer_reuse < 1:
        raise ValueError(f"Reuse is at least 1, got {layer_reuse}")
    words = layer.in_channels * layer.in_size * layer.in_size
    b_w = words_per_bram(layer.act_bits)
    return -(-(words * (layer_reuse - 1)) // (layer_reuse * b_w))


def memory_brams(width_bits: int, depth: int) -> int:
    """RAMB18s for a ``depth x width_bits`` memory: the cheapest aspect ratio, tiled."""
    if width_bits < 1 or depth < 1:
        raise ValueError("a memory has positive width and depth")
    return min(-(-width_bits // w) * -(-depth // d) for w, d in RAMB18_SHAPES)


def weight_brams(layer: LayerShape, fold: Folding) -> int:
    """Weight memory: ``PE`` memories of ``(MH/PE)(MW/SIMD)`` words of ``SIMD * W`` bits."""
    fold.check(layer)
    depth = (layer.mh // fold.pe) * (layer.mw // fold.simd)
    return fold.pe * memory_brams(fold.simd * layer.weight_bits, depth)


@dataclass(frozen=True)
class LutModel:
    """LUT6 estimate of one folded MVU of :mod:`hwnn.logic.mvu` (xc7, Yosys ``synth_xilinx``):

    ``LUT = control + PE * (per_acc_bit * acc + SIMD * (per_lane_bit * lane + per_mult_bit2 * m))``

    with ``acc = W + A + ceil(log2 MW)`` (the accumulator and the requantizer behind it),
    ``lane = W + A + ceil(log2 SIMD)`` (a lane's share of the adder tree and, for binary
    weights, its add/subtract, Fig. 4.5) and ``m = W * A`` for a multiplier lane (0 for
    binary weights). The coefficients are least-squares fits to synthesised MVUs
    (:meth:`fit`; ``scripts/dataflow_check.py`` measures them and reports the error), so the
    defaults are measured numbers, not guesses."""

    # least-squares fit to 21 synthesised MVUs (W/A = 1/2, 1/8, 8/8 at seven foldings each):
    # results/dataflow/dataflow_check.md, mean error 11.6 %, max 33 % (the smallest designs)
    control: float = 211.31
    per_acc_bit: float = 39.973
    per_lane_bit: float = 2.4778
    per_mult_bit2: float = 2.4787

    @staticmethod
    def features(layer: LayerShape, fold: Folding) -> tuple[float, float, float, float]:
        """The four quantities the coefficients multiply (control, acc, lane, mult terms)."""
        fold.check(layer)
        w, a = layer.weight_bits, layer.act_bits
        acc = w + a + math.ceil(math.log2(layer.mw))
        lane = w + a + math.ceil(math.log2(fold.simd))
        mult = 0 if w == 1 else w * a
        return (1.0, float(fold.pe * acc), float(fold.pe * fold.simd * lane),
                float(fold.pe * fold.simd * mult))

    def layer(self, layer: LayerShape, fold: Folding) -> float:
        f = self.features(layer, fold)
        return (self.control * f[0] + self.per_acc_bit * f[1] + self.per_lane_bit * f[2]
                + self.per_mult_bit2 * f[3])

    @classmethod
    def fit(cls, samples: Sequence[tuple[LayerShape, Folding, float]]) -> LutModel:
        """Least-squares coefficients from measured ``(layer, folding, LUTs)`` samples."""
        import numpy as np

        if len(samples) < 4:
            raise ValueError("fitting four coefficients needs at least four samples")
        a = np.array([cls.features(la, f) for la, f, _ in samples])
        b = np.array([luts for _, _, luts in samples], dtype=float)
        coef, *_ = np.linalg.lstsq(a, b, rcond=None)
        return cls(*(float(c) for c in coef))


@dataclass(frozen=True)
class LayerCost:
    layer: LayerShape
    fold: Folding
    cycles: int
    reuse: int
    luts: float
    weight_brams: int
    fm_brams: int

    def as_dict(self) -> dict[str, object]:
        return {"layer": self.layer.name, "kind": self.layer.kind, "I": self.layer.in_channels,
                "N": self.layer.out_channels, "K": self.layer.kernel,
                "F_out": self.layer.out_size, "MW": self.layer.mw, "MH": self.layer.mh,
                "PE": self.fold.pe, "SIMD": self.fold.simd, "ops": self.layer.ops(),
                "cycles": self.cycles, "reuse": self.reuse, "luts": round(self.luts, 1),
                "weight_brams": self.weight_brams, "fm_brams": self.fm_brams}


def layer_cost(layer: LayerShape, fold: Folding, lut_model: LutModel | None = None
               ) -> LayerCost:
    model = lut_model or LutModel()
    r = reuse(layer, fold)
    return LayerCost(layer, fold, cycles(layer, fold), r, model.layer(layer, fold),
                     weight_brams(layer, fold), fm_brams(layer, r))


@dataclass(frozen=True)
class PipelineCost:
    layers: tuple[LayerCost, ...]
    clock_hz: float
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ii(self) -> int:
        """Initiation interval: cycles of the slowest layer."""
        return max(c.cycles for c in self.layers)

    @property
    def fps(self) -> float:
        return self.clock_hz / self.ii

    @property
    def luts(self) -> float:
        return sum(c.luts for c in self.layers)

    @property
    def brams(self) -> int:
        return sum(c.weight_brams + c.fm_brams for c in self.layers)

    @property
    def ops(self) -> int:
        return sum(c.layer.ops() for c in self.layers)

    def as_dict(self) -> dict[str, object]:
        return {"ii_cycles": self.ii, "fps": self.fps, "clock_hz": self.clock_hz,
                "luts": round(self.luts, 1), "brams": self.brams, "ops": self.ops,
                "weight_brams": sum(c.weight_brams for c in self.layers),
                "fm_brams": sum(c.fm_brams for c in self.layers),
                "layers": [c.as_dict() for c in self.layers], **self.notes}


def pipeline_cost(layers: Sequence[LayerShape], folds: Sequence[Folding], clock_hz: float,
                  lut_model: LutModel | None = None) -> PipelineCost:
    if len(layers) != len(folds):
        raise ValueError(f"{len(layers)} layers but {len(folds)} foldings")
    if not layers:
        raise ValueError("a pipeline needs at least one layer")
    if clock_hz <= 0:
        raise ValueError(f"clock must be positive, got {clock_hz}")
    return PipelineCost(tuple(layer_cost(la, f, lut_model) for la, f in zip(layers, folds,
                                                                            strict=True)),
                        clock_hz)


def foldings(layer: LayerShape) -> list[Folding]:
    """Every legal folding of the layer."""
    return [Folding(pe, simd) for pe in divisors(layer.mh) for simd in divisors(layer.mw)]


def cheapest_folding(layer: LayerShape, max_cycles: int, lut_model: LutModel | None = None
                     ) -> Folding | None:
    """The folding with the fewest LUTs among those within ``max_cycles`` (ties: fewer
    cycles, then fewer BRAMs); None when even full unrolling is too slow."""
    model = lut_model or LutModel()
    best: tuple[float, int, int, Folding] | None = None
    for fold in foldings(layer):
        c = cycles(layer, fold)
        if c > max_cycles:
            continue
        key = (model.layer(layer, fold), c, weight_brams(layer, fold), fold)
        if best is None or key[:3] < best[:3]:
            best = key
    return None if best is None else best[3]


def optimise_folding(layers: Sequence[LayerShape], clock_hz: float, *,
                     lut_budget: float | None = None, target_fps: float | None = None,
                     lut_model: LutModel | None = None) -> PipelineCost:
    """PE/SIMD per layer (module docstring). Exactly one of ``lut_budget`` (fastest pipeline
    within the budget) and ``target_fps`` (cheapest pipeline at that frame rate or faster).
    Raises ``ValueError`` when no folding reaches the target or fits the budget."""
    if (lut_budget is None) == (target_fps is None):
        raise ValueError("give exactly one of lut_budget and target_fps")
    if not layers:
        raise ValueError("a pipeline needs at least one layer")

    def at(max_cycles: int) -> list[Folding] | None:
        folds = [cheapest_folding(la, max_cycles, lut_model) for la in layers]
        return None if any(f is None for f in folds) else folds  # type: ignore[return-value]

    if target_fps is not None:
        if target_fps <= 0:
            raise ValueError(f"target fps must be positive, got {target_fps}")
        max_cycles = math.floor(clock_hz / target_fps)
        folds = at(max_cycles)
        if folds is None:
            fastest = max(la.pixels for la in layers)
            raise ValueError(f"{target_fps:g} fps needs an II of at most {max_cycles} cycles at "
                             f"{clock_hz / 1e6:g} MHz; full unrolling gives {fastest}")
        return _with_notes(pipeline_cost(layers, folds, clock_hz, lut_model),
                           target_fps=target_fps)
    assert lut_budget is not None
    candidates = sorted({cycles(la, f) for la in layers for f in foldings(la)})
    for max_cycles in candidates:
        folds = at(max_cycles)
        if folds is None:
            continue
        cost = pipeline_cost(layers, folds, clock_hz, lut_model)
        if cost.luts <= lut_budget:
            return _with_notes(cost, lut_budget=lut_budget)
    smallest = pipeline_cost(layers, [Folding(1, 1)] * len(layers), clock_hz, lut_model)
    raise ValueError(f"no folding fits {lut_budget:g} LUTs; the most folded design (PE = SIMD "
                     f"= 1 everywhere) needs {smallest.luts:.0f}")


def _with_notes(cost: PipelineCost, **notes: object) -> PipelineCost:
    return PipelineCost(cost.layers, cost.clock_hz, {**cost.notes, **notes})

"""Hardware-aware choices of filter pruning on a dataflow accelerator (seed 002 §4.5.1-4.5.2,
Algorithm 3), on the model of :mod:`hwnn.cost.dataflow`.

* :func:`heaviest_layer` - §4.5.1 layer selection: with every layer folded for the fastest
  pipeline that fits the LUT budget, the prunable layer that uses the most LUTs for its PEs
  (the thesis prunes "the layer utilizing the most resources for PEs"; when the design is
  bound by BRAMs instead, "the layer utilizing the most BRAMs").
* :func:`round_filters` - §4.5.2 model fine-tuning ("layers are pruned so that the remaining
  number of feature maps in a layer is a multiple of the number of PEs assigned to that
  layer"): each pruned layer may drop up to ``max_drop`` more filters so that its count has
  a divisor that makes the pipeline faster within the same budget (our folding only uses
  divisors, ``N % PE = 0`` always holds; an awkward ``N``, e.g. a prime, leaves only
  ``PE = 1`` or ``PE = N``). Growing layers (the thesis's other option) is not done.
"""

from __future__ import annotations

from collections.abc import Sequence

from hwnn.cost.dataflow import LayerShape, LutModel, PipelineCost, optimise_folding


def with_filters(shapes: Sequence[LayerShape], filters: dict[int, int]) -> list[LayerShape]:
    """Shapes after setting layer ``i``'s filters to ``filters[i]``; the next layer's inputs
    follow (a convolution feeding a fully connected layer gives it ``inputs / channels``
    inputs per channel)."""
    out = list(shapes)
    for i, n in sorted(filters.items()):
        out[i] = out[i].with_filters(n)
        if i + 1 < len(out):
            per_channel = 1
            if shapes[i].kind == "conv" and shapes[i + 1].kind == "fc":
                per_channel = shapes[i + 1].in_channels // shapes[i].out_channels
            out[i + 1] = out[i + 1].with_inputs(n * per_channel)
    return out


def heaviest_layer(cost: PipelineCost, prunable: Sequence[int], bram_budget: int | None = None
                   ) -> int:
    """The prunable layer with the most LUTs (most BRAMs when ``bram_budget`` is exceeded);
    ties go to the layer with more operations."""
    if not prunable:
        raise ValueError("no prunable layer")
    by_bram = bram_budget is not None and cost.brams > bram_budget

    def key(i: int) -> tuple[float, int]:
        c = cost.layers[i]
        return (float(c.weight_brams + c.fm_brams) if by_bram else c.luts, c.layer.ops())

    return max(prunable, key=key)


def round_filters(shapes: Sequence[LayerShape], pruned: Sequence[int], clock_hz: float,
                  lut_budget: float, max_drop: dict[int, int],
                  lut_model: LutModel | None = None, passes: int = 3
                  ) -> tuple[dict[int, int], PipelineCost]:
    """New filter counts of the ``pruned`` layers, each lowered by at most ``max_drop[i]``,
    that give the highest frame rate within ``lut_budget`` (coordinate-wise, ``passes``
    rounds; ties keep more filters). Returns the counts and the pipeline they give."""
    counts = {i: shapes[i].out_channels for i in pruned}

    def evaluate(c: dict[int, int]) -> PipelineCost:
        return optimise_folding(with_filters(shapes, c), clock_hz, lut_budget=lut_budget,
                                lut_model=lut_model)

    best = evaluate(counts)
    for _ in range(passes):
        changed = False
        for i in pruned:
            n0 = shapes[i].out_channels
            for n in range(n0 - 1, max(1, n0 - max_drop.get(i, 0)) - 1, -1):
                trial = {**counts, i: n}
                cost = evaluate(trial)
                if cost.fps > best.fps * (1 + 1e-12):
                    counts, best, changed = trial, cost, True
        if not changed:
            break
    return counts, best

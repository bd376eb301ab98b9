"""LogicNets' analytic LUT cost of a truth table (Umuroglu et al., FPL 2020, §III-D; seed 000
§II-A).

An ``X``-input, ``Y``-output Boolean function costs about
``LUTCost(X, Y) = (Y / 3) * (2^(X - 4) - (-1)^X)`` LUT6s: one LUT6 per output bit at
``X = 6`` (``(1/3)(4 - 1) = 1``), and roughly doubling with each extra input (wider tables
are built from LUT6s and multiplexers). It is an upper-bound style estimate that ignores
logic minimisation; synthesis usually finds fewer.

Below ``X = 5`` the formula stops making sense (``X = 4`` gives 0, ``X = 2`` a negative
number) while such a function still needs one LUT per output bit, so for ``X <= 6`` we use
``Y`` (the formula's own value at ``X = 5`` and ``X = 6``).
"""

from __future__ import annotations

from collections.abc import Iterable


def logicnets_lut_cost(x_bits: int, y_bits: int) -> float:
    """``(Y/3)(2^(X-4) - (-1)^X)`` for ``X = x_bits`` input and ``Y = y_bits`` output bits
    (``Y`` for ``X <= 6``, module docstring)."""
    if x_bits < 1 or y_bits < 0:
        raise ValueError(f"need x_bits >= 1 and y_bits >= 0, got {x_bits}, {y_bits}")
    if x_bits <= 6:
        return float(y_bits)
    return (y_bits / 3.0) * (2.0 ** (x_bits - 4) - (-1) ** x_bits)


def network_lut_cost(neurons: Iterable[tuple[int, int]]) -> float:
    """Summed estimate over ``(input bits, output bits)`` of every neuron."""
    return float(sum(logicnets_lut_cost(x, y) for x, y in neurons))

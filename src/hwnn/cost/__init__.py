"""Analytic hardware cost models (no synthesis): LUT estimates and effective throughput."""

from hwnn.cost.lut import logicnets_lut_cost, network_lut_cost
from hwnn.cost.throughput import (
    KU115,
    Device,
    break_even_gamma,
    effective_cost,
    effective_tops,
    peak_tops,
    reuse_factor,
)

__all__ = [
    "KU115",
    "Device",
    "break_even_gamma",
    "effective_cost",
    "effective_tops",
    "logicnets_lut_cost",
    "network_lut_cost",
    "peak_tops",
    "reuse_factor",
]

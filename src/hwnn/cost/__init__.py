"""Analytic hardware cost models (no synthesis): LUT estimates and, later, throughput."""

from hwnn.cost.lut import logicnets_lut_cost, network_lut_cost

__all__ = ["logicnets_lut_cost", "network_lut_cost"]

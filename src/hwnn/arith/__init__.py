"""Arithmetic building blocks and their measured costs (seed 000 §III-C, Fig. 6)."""

from hwnn.arith.csd import adders, csd_digits, nonzero_digits
from hwnn.arith.multiplier_cost import (
    CostTable,
    all_constants,
    build_cost_table,
    load_cost_table,
    save_cost_table,
)

__all__ = ["CostTable", "adders", "all_constants", "build_cost_table", "csd_digits",
           "load_cost_table", "nonzero_digits", "save_cost_table"]

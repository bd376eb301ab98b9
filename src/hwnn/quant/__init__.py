"""Quantizers with straight-through estimators (seed 000 §III-A, Brevitas-style modules).

See :mod:`hwnn.rules` for the rounding/saturation rules every quantizer follows.
"""

from hwnn.quant.codebook import CodebookQuantizer
from hwnn.quant.ste import round_half_up_ste
from hwnn.quant.ternary import BinaryQuantizer, TernaryQuantizer
from hwnn.quant.uniform import (
    UniformQuantizer,
    int_act_quant,
    int_weight_quant,
)

__all__ = [
    "BinaryQuantizer",
    "CodebookQuantizer",
    "TernaryQuantizer",
    "UniformQuantizer",
    "int_act_quant",
    "int_weight_quant",
    "round_half_up_ste",
]

"""What a trained network's integer weights would cost as embedded constant multipliers.

For the hardware-aware schedule (seed 000 §III-C, Fig. 10): count the non-zero integer
weights and the distinct values among them, and sum the measured multiplier cost of each
(:mod:`hwnn.arith` table; one constant multiplier per non-zero weight, adders not
included) - an estimate of how the weight set drives area, without synthesising every
trial.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hwnn.arith import CostTable
from hwnn.nn.model import QuantSequential


@torch.no_grad()
def layer_weight_codes(model: QuantSequential) -> dict[str, np.ndarray]:
    """Each weight layer's integer weight codes (pruned ones are 0), by layer name. Levels
    quantizers (ternary, binary, SYQ) give their {-1, 0, +1} levels, also where their scales
    have no integer form (SYQ row/pixel convolutions)."""
    out = {}
    for name, layer in model.weight_layers():
        quant = layer.weight_quant
        assert quant is not None
        w = layer.masked_weight().detach()
        if hasattr(quant, "levels") and callable(quant.levels):
            codes = quant.levels(w.double()).to(torch.int64)
        else:
            codes, _ = quant.quantize(w)
        out[name] = codes.numpy()
    return out


def integer_weights(model: QuantSequential) -> np.ndarray:
    """All weight codes of the model's layers (pruned ones are 0), flattened."""
    parts = [codes.reshape(-1) for codes in layer_weight_codes(model).values()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def weight_cost_stats(model: QuantSequential, table: CostTable, inputs: str) -> dict[str, Any]:
    codes = integer_weights(model)
    nonzero = codes[codes != 0]
    in_range = (nonzero.size == 0 or (nonzero.min() >= table.constants[0]
                                      and nonzero.max() <= table.constants[-1]))
    return {
        "nonzero_weights": int(nonzero.size),
        "distinct_nonzero_values": int(np.unique(nonzero).size),
        "multiplier_area_um2": (round(table.total(nonzero, "area", inputs), 2)  # type: ignore[arg-type]
                                if in_range else None),
        "multiplier_lut6": (int(table.total(nonzero, "lut6", inputs))  # type: ignore[arg-type]
                            if in_range else None),
    }

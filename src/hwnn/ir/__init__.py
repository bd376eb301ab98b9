"""The integer network (IR): format, exact numpy reference, bit widths.

``hwnn.ir.export`` (torch → IR) is imported on demand; everything else here is numpy only.
"""

from hwnn.ir.io import ir_fingerprint, load_ir, save_ir
from hwnn.ir.model import IR_FORMAT, DenseLayer, Head, IRError, IRInput, IRNetwork
from hwnn.ir.reference import Trace, predict, quantize_inputs, run

__all__ = [
    "IR_FORMAT",
    "DenseLayer",
    "Head",
    "IRError",
    "IRInput",
    "IRNetwork",
    "Trace",
    "ir_fingerprint",
    "load_ir",
    "predict",
    "quantize_inputs",
    "run",
    "save_ir",
]

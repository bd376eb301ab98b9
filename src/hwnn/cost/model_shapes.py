"""The dataflow model's view (:class:`hwnn.cost.dataflow.LayerShape`) of a trained network:
one entry per weight layer of a ``build_mlp``/``build_cnn`` model, with the bit widths its
quantizers give (binary weights 1 bit, ternary 2, otherwise the quantizer's width)."""

from __future__ import annotations

from torch import nn

from hwnn.cost.dataflow import LayerShape
from hwnn.nn.layers import QuantAct, QuantConv2d, QuantLinear
from hwnn.nn.model import QuantSequential
from hwnn.quant.syq import SYQQuantizer
from hwnn.quant.ternary import BinaryQuantizer, TernaryQuantizer


def weight_bits(quant: nn.Module | None) -> int:
    """Bits per stored weight: 1 (binary, one bit per sign), 2 (ternary) or the width."""
    if isinstance(quant, BinaryQuantizer) or (
            isinstance(quant, SYQQuantizer) and quant.levels_kind == "binary"):
        return 1
    if isinstance(quant, TernaryQuantizer | SYQQuantizer):
        return 2
    if quant is None:
        raise ValueError("a layer without a weight quantizer has no hardware width")
    return int(quant.bits)


def model_shapes(model: QuantSequential) -> list[LayerShape]:
    """Layer shapes in order; feature-map sides are tracked through ``Unflatten``,
    same-padded convolutions and max-pools."""
    shapes: list[LayerShape] = []
    side, act = 1, None
    for module in model:
        if isinstance(module, nn.Unflatten):
            side = int(module.unflattened_size[-1])
        elif isinstance(module, QuantAct):
            if module.act_quant is None:
                raise ValueError("the dataflow model needs quantized activations")
            act = int(module.act_quant.bits)
        elif isinstance(module, nn.MaxPool2d):
            side //= int(module.kernel_size) if isinstance(module.kernel_size, int) else \
                int(module.kernel_size[0])
        elif isinstance(module, QuantConv2d | QuantLinear):
            assert act is not None, "the model starts with its input quantizer"
            n, i = int(module.weight.shape[0]), int(module.weight.shape[1])
            wb = weight_bits(module.weight_quant)
            name = f"{'conv' if isinstance(module, QuantConv2d) else 'fc'}{len(shapes)}"
            if isinstance(module, QuantConv2d):
                k = int(module.kernel_size[0])
                out_side = side + 2 * int(module.padding[0]) - k + 1
                shapes.append(LayerShape(name, "conv", i, n, k, side, out_side, wb, act))
                side = out_side
            else:
                shapes.append(LayerShape(name, "fc", i, n, weight_bits=wb, act_bits=act))
    return shapes

"""Export a trained quantized torch model to the IR (the only module of ``hwnn.ir`` that
imports torch).

For each ``QuantLinear`` the integer weights, bias codes and accumulator scale come from the
same code path as the layer's integer mode (``_int_params``), and the requantizer
``s_x s_w / s_y = M / 2^S`` from :func:`hwnn.rules.dyadic`, so the IR reference computes
what ``QuantSequential.forward_int`` computes, bit for bit (tested). Accumulators are
exported at their worst-case width (no overflow possible); :mod:`hwnn.ir.profile` narrows
them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from hwnn.ir.conv import ConvLayer
from hwnn.ir.lut import LutNetwork
from hwnn.ir.model import DenseLayer, Head, IRError, IRInput, IRNetwork
from hwnn.ir.ranges import worst_case_acc_bits
from hwnn.ir.sam import SamLayer
from hwnn.nn import sam_int
from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantAct, QuantConv2d, QuantLinear
from hwnn.nn.lutnet import LutNet
from hwnn.nn.model import QuantSequential
from hwnn.nn.sam import SAMNet
from hwnn.rules import dyadic, int_range

if TYPE_CHECKING:
    from hwnn.nn.relu_pred import ConvPredictor

PAM4_THRESHOLDS = (-2.0, 0.0, 2.0)  # hwnn.data.ofc.THRESHOLDS, in level units


def _act_format(act: QuantAct, where: str) -> tuple[int, bool, float]:
    quant = act.act_quant
    if quant is None or not quant.enabled:
        raise IRError(f"{where}: activation quantizer is off; export needs a quantized model "
                      "(train with a `qat` stage)")
    if (quant.qmin, quant.qmax) != int_range(quant.bits, quant.signed):
        raise IRError(f"{where}: narrow-range activation quantizers are not supported by IR v1")
    scale = quant.scale()
    if scale.dim() != 0:
        raise IRError(f"{where}: per-channel activation scales are not supported by IR v1")
    return quant.bits, quant.signed, float(scale)


def slicer_thresholds(out_scale: float, levels: tuple[float, ...] = PAM4_THRESHOLDS
                      ) -> tuple[int, ...]:
    """Integer thresholds ``T`` with ``y_int >= T  <=>  y_int * s >= t`` (``T = ceil(t/s)``)."""
    s = Fraction(out_scale)
    return tuple(math.ceil(Fraction(t) / s) for t in levels)


def _requantizer(acc_scale: torch.Tensor, out_scale: float, n_out: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per output, ``(M, S)`` with ``acc_scale / out_scale = M / 2^S`` (:func:`dyadic`)."""
    ratios = (acc_scale / out_scale).reshape(-1).tolist()
    if len(ratios) == 1:
        ratios = ratios * n_out
    pairs = [dyadic(r) for r in ratios]
    return (np.array([m for m, _ in pairs], dtype=np.int64),
            np.array([s for _, s in pairs], dtype=np.int64))


def _int_weights(layer: QuantLinear | QuantConv2d, scale: float, n_out: int
                 ) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Integer weights and bias codes of a layer whose input has ``scale``, and the
    accumulator scale, from the layer's integer-mode code path."""
    dummy = IntTensor(torch.zeros(1, dtype=torch.int64), torch.tensor(scale, dtype=torch.float64))
    q_w, b_int, acc_scale = layer._int_params(dummy)
    bias = (np.zeros(n_out, dtype=np.int64) if b_int is None else b_int.to(torch.int64).numpy())
    return q_w.to(torch.int64).numpy(), bias, acc_scale


def _conv_layer(conv: QuantConv2d, act: QuantAct, pool: nn.MaxPool2d | None,
                in_shape: tuple[int, int, int], fmt: tuple[int, bool, float], index: int,
                where: str) -> ConvLayer:
    bits, signed, scale = fmt
    k = conv.kernel_size
    pad = conv.padding
    if (conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1 or k[0] != k[1]
            or not isinstance(pad, tuple) or pad[0] != pad[1]):
        raise IRError(f"{where}: the IR takes square stride-1 convolutions with symmetric "
                      f"zero padding, got kernel {k}, stride {conv.stride}, padding {pad}")
    size = 1
    if pool is not None:
        size = int(pool.kernel_size) if isinstance(pool.kernel_size, int) else -1
        stride = pool.stride if isinstance(pool.stride, int) else -1
        if size < 1 or stride != size or pool.padding != 0 or pool.ceil_mode:
            raise IRError(f"{where}: the IR takes p x p max-pools with stride p, no padding")
    weight, bias, acc_scale = _int_weights(conv, scale, conv.out_channels)
    out_bits, out_signed, out_scale = _act_format(act, where)
    mult, shift = _requantizer(acc_scale, out_scale, conv.out_channels)
    layer = ConvLayer(
        name=f"conv{index}", weight=weight, bias=bias, multiplier=mult, shift=shift,
        in_shape=in_shape, padding=int(pad[0]), pool=size if pool is not None else 0,
        in_bits=bits, in_signed=signed, acc_bits=2, out_bits=out_bits, out_signed=out_signed,
        activation="relu" if act.relu else "identity",
        weight_bits=conv.weight_quant.bits if conv.weight_quant is not None else 8,
        notes={"weight_scale": acc_scale.reshape(-1).div(scale).tolist(),
               "out_scale": out_scale})
    layer.acc_bits = layer.worst_case_acc_bits()
    return layer


@torch.no_grad()
def export_model(model: QuantSequential, name: str, head: str = "raw",
                 meta: dict[str, Any] | None = None,
                 predictors: Mapping[int, ConvPredictor] | None = None) -> IRNetwork:
    """IR of ``input quantizer → [QuantLinear → QuantAct]*`` (an MLP from ``build_mlp``), or
    of a CNN from ``build_cnn``: ``input quantizer → Unflatten → [QuantConv2d → QuantAct
    (→ MaxPool2d)]* → Flatten → [QuantLinear → QuantAct]*``; each conv block becomes one
    :class:`~hwnn.ir.conv.ConvLayer`, with the ReLU prediction of ``predictors`` (keyed by
    the conv's index in the Sequential, :func:`hwnn.nn.relu_pred.make_predictors`).

    ``head`` is ``"argmax"`` (classification), ``"slicer"`` (OFC PAM4) or ``"raw"``.
    """
    modules = list(model)
    if not modules or not isinstance(modules[0], QuantAct) or modules[0].relu:
        raise IRError("the model must start with a QuantIdentity input quantizer")
    in_bits, in_signed, in_scale = _act_format(modules[0], "input quantizer")
    predictors = dict(predictors or {})
    layers: list[DenseLayer | ConvLayer] = []
    bits, signed, scale = in_bits, in_signed, in_scale
    shape: tuple[int, int, int] | None = None  # (C, H, W) while the network is convolutional
    i = 1
    while i < len(modules):
        module, where = modules[i], f"module {i}"
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(module, nn.Unflatten):
            if i != 1 or layers:
                raise IRError(f"{where}: Unflatten must directly follow the input quantizer")
            shape = tuple(int(v) for v in module.unflattened_size)  # type: ignore[assignment]
            i += 1
            continue
        if isinstance(module, nn.Flatten):
            shape = None
            i += 1
            continue
        if not isinstance(nxt, QuantAct):
            raise IRError(f"module {i + 1}: expected an activation quantizer after "
                          f"{type(module).__name__}, got {type(nxt).__name__}")
        if isinstance(module, QuantConv2d):
            if shape is None:
                raise IRError(f"{where}: a convolution needs an (C, H, W) input (Unflatten)")
            after = modules[i + 2] if i + 2 < len(modules) else None
            pool = after if isinstance(after, nn.MaxPool2d) else None
            layer = _conv_layer(module, nxt, pool, shape, (bits, signed, scale),
                                sum(isinstance(la, ConvLayer) for la in layers), where)
            if i in predictors:
                p = predictors.pop(i)
                layer.approx = p.approx.to(torch.int64).numpy()
                layer.approx_offset = p.offset.to(torch.int64).numpy()
            layers.append(layer)
            shape = layer.out_shape()
            i += 3 if pool is not None else 2
        elif isinstance(module, QuantLinear):
            if shape is not None:
                raise IRError(f"{where}: a dense layer after a convolution needs a Flatten")
            weight, bias, acc_scale = _int_weights(module, scale, module.out_features)
            out_bits, out_signed, out_scale = _act_format(nxt, f"module {i + 1}")
            mult, shift = _requantizer(acc_scale, out_scale, module.out_features)
            dense = DenseLayer(
                name=f"fc{sum(isinstance(la, DenseLayer) for la in layers)}", weight=weight,
                bias=bias, multiplier=mult, shift=shift, in_bits=bits, in_signed=signed,
                acc_bits=2, out_bits=out_bits, out_signed=out_signed,
                activation="relu" if nxt.relu else "identity",
                weight_bits=module.weight_quant.bits if module.weight_quant is not None else 8,
                notes={"weight_scale": acc_scale.reshape(-1).div(scale).tolist(),
                       "out_scale": out_scale})
            dense.acc_bits = worst_case_acc_bits(dense)
            layers.append(dense)
            i += 2
        else:
            raise IRError(f"{where}: unsupported layer {type(module).__name__}; the IR exports "
                          "QuantLinear and QuantConv2d (+ MaxPool2d) layers")
        last = layers[-1]
        bits, signed = last.out_bits, last.out_signed
        scale = float(last.notes["out_scale"])
    if predictors:
        raise IRError(f"predictors for modules {sorted(predictors)}, which are not conv layers")
    if not layers:
        raise IRError("the model has no weight layers")
    net_input = IRInput(layers[0].in_features, in_bits, in_signed, in_scale)
    if head == "slicer":
        net_head = Head("slicer", slicer_thresholds(scale))
    elif head in ("argmax", "raw"):
        net_head = Head(head)  # type: ignore[arg-type]
    else:
        raise IRError(f"unknown head {head!r}; choose argmax, slicer or raw")
    meta = dict(meta or {})
    meta["output_scale"] = scale
    return IRNetwork(name, net_input, layers, net_head, meta).validate()  # type: ignore[arg-type]


@torch.no_grad()
def export_sam(model: SAMNet, name: str, meta: dict[str, Any] | None = None) -> IRNetwork:
    """IR of a calibrated SAM network (:mod:`hwnn.nn.sam_int`): one :class:`SamLayer` per
    SAM layer, then the dense output layer, argmax head. The integers come from the same
    functions as the torch integer mode, so both compute the same codes (tested)."""
    bits = model.act_bits
    layers: list[DenseLayer | SamLayer] = []
    for k, p in enumerate(sam_int.layer_params(model)):
        n_out = p.plus.shape[1]
        layer = SamLayer(
            name=f"sam{k}", plus=p.plus.T.contiguous().numpy(),
            minus=p.minus.T.contiguous().numpy(),
            keep_plus=p.keep_plus.T.to(torch.int64).numpy(),
            keep_minus=p.keep_minus.T.to(torch.int64).numpy(), bias=p.bias.numpy(),
            multiplier=np.full(n_out, p.multiplier, dtype=np.int64),
            shift=np.full(n_out, p.shift, dtype=np.int64), in_bits=bits, in_signed=True,
            acc_bits=2, out_bits=bits, out_signed=True, weight_bits=bits,
            notes={"in_scale": float(model.int_scales[k]),
                   "out_scale": float(model.int_scales[k + 1])})
        layer.acc_bits = layer.worst_case_acc_bits()
        layers.append(layer)
    d = sam_int.dense_params(model)
    n_out = d.weight.shape[0]
    dense = DenseLayer(
        name="fc0", weight=d.weight.numpy(), bias=d.bias.numpy(),
        multiplier=np.full(n_out, d.multiplier, dtype=np.int64),
        shift=np.full(n_out, d.shift, dtype=np.int64), in_bits=bits, in_signed=True,
        acc_bits=2, out_bits=model.out_bits, out_signed=True, activation="identity",
        weight_bits=model.weight_bits,
        notes={"weight_scale": float(model.int_scales[-2]),
               "out_scale": float(model.int_scales[-1])})
    dense.acc_bits = worst_case_acc_bits(dense)
    layers.append(dense)
    s0 = float(model.int_scales[0])
    meta = dict(meta or {})
    meta["output_scale"] = float(model.int_scales[-1])
    return IRNetwork(name, IRInput(layers[0].in_features, bits, True, s0), layers,  # type: ignore[arg-type]
                     Head("argmax"), meta).validate()


def export_run(run_dir: str | Path) -> IRNetwork | LutNetwork:
    """IR of a finished training run (``hwnn train``): argmax head for classification
    tasks, PAM4 slicer for OFC. A ``kind: lutnet`` run gives a :class:`LutNetwork` (every
    neuron's truth table enumerated)."""
    from hwnn.train.build import load_run

    cfg, model, ds = load_run(run_dir)
    head = "argmax" if ds["kind"] == "classification" else "slicer"
    meta = {"source_run": str(Path(run_dir).resolve()), "config": cfg.to_yaml_dict(),
            "dataset": {k: ds[k] for k in ("name", "kind", "input_width", "num_outputs")},
            "exported_by": "hwnn.ir.export.export_run"}
    if isinstance(model, SAMNet):
        if not sam_int.is_calibrated(model):
            raise IRError(f"{run_dir} is a float SAM network: make its integer version first "
                          f"with `hwnn sam-hardware {run_dir} --out DIR` and export DIR")
        return export_sam(model, cfg.name, meta)
    if isinstance(model, LutNet):
        if head == "slicer":
            raise IRError("LUT networks support classification heads only (argmax); the OFC "
                          "slicer head is for kind: mlp")
        net = model.to_ir(cfg.name, head)
        net.meta.update(meta, exported_by="hwnn.nn.lutnet.LutNet.to_ir")
        return net
    return export_model(model, cfg.name, head, meta)

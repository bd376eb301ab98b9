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
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnn.ir.lut import LutNetwork
from hwnn.ir.model import DenseLayer, Head, IRError, IRInput, IRNetwork
from hwnn.ir.ranges import worst_case_acc_bits
from hwnn.ir.sam import SamLayer
from hwnn.nn import sam_int
from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantAct, QuantLinear
from hwnn.nn.lutnet import LutNet
from hwnn.nn.model import QuantSequential
from hwnn.nn.sam import SAMNet
from hwnn.rules import dyadic, int_range

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


@torch.no_grad()
def export_model(model: QuantSequential, name: str, head: str = "raw",
                 meta: dict[str, Any] | None = None) -> IRNetwork:
    """IR of ``input quantizer → [QuantLinear → QuantAct]*`` (an MLP from ``build_mlp``).

    ``head`` is ``"argmax"`` (classification), ``"slicer"`` (OFC PAM4) or ``"raw"``.
    """
    modules = list(model)
    if not modules or not isinstance(modules[0], QuantAct) or modules[0].relu:
        raise IRError("the model must start with a QuantIdentity input quantizer")
    in_bits, in_signed, in_scale = _act_format(modules[0], "input quantizer")
    layers: list[DenseLayer] = []
    bits, signed, scale = in_bits, in_signed, in_scale
    rest = modules[1:]
    if len(rest) % 2:
        raise IRError("expected alternating QuantLinear / activation quantizer modules")
    for k in range(0, len(rest), 2):
        lin, act = rest[k], rest[k + 1]
        where = f"module {k + 1}"
        if not isinstance(lin, QuantLinear):
            raise IRError(f"{where}: unsupported layer {type(lin).__name__}; IR v1 exports "
                          "QuantLinear layers (MLPs)")
        if not isinstance(act, QuantAct):
            raise IRError(f"module {k + 2}: expected an activation quantizer after "
                          f"{type(lin).__name__}, got {type(act).__name__}")
        dummy = IntTensor(torch.zeros(1, lin.in_features, dtype=torch.int64),
                          torch.tensor(scale, dtype=torch.float64))
        q_w, b_int, acc_scale = lin._int_params(dummy)
        out_bits, out_signed, out_scale = _act_format(act, f"module {k + 2}")
        ratios = (acc_scale / out_scale).reshape(-1).tolist()
        if len(ratios) == 1:
            ratios = ratios * lin.out_features
        pairs = [dyadic(r) for r in ratios]
        weight = q_w.to(torch.int64).numpy()
        bias = (np.zeros(lin.out_features, dtype=np.int64) if b_int is None
                else b_int.to(torch.int64).numpy())
        layer = DenseLayer(
            name=f"fc{len(layers)}", weight=weight, bias=bias,
            multiplier=np.array([m for m, _ in pairs], dtype=np.int64),
            shift=np.array([s for _, s in pairs], dtype=np.int64),
            in_bits=bits, in_signed=signed, acc_bits=2, out_bits=out_bits,
            out_signed=out_signed, activation="relu" if act.relu else "identity",
            weight_bits=lin.weight_quant.bits if lin.weight_quant is not None else 8,
            notes={"weight_scale": acc_scale.reshape(-1).div(scale).tolist(),
                   "out_scale": out_scale})
        layer.acc_bits = worst_case_acc_bits(layer)
        layers.append(layer)
        bits, signed, scale = out_bits, out_signed, out_scale
    net_input = IRInput(layers[0].in_features, in_bits, in_signed, in_scale)
    if head == "slicer":
        net_head = Head("slicer", slicer_thresholds(scale))
    elif head in ("argmax", "raw"):
        net_head = Head(head)  # type: ignore[arg-type]
    else:
        raise IRError(f"unknown head {head!r}; choose argmax, slicer or raw")
    meta = dict(meta or {})
    meta["output_scale"] = scale
    return IRNetwork(name, net_input, layers, net_head, meta).validate()


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
    if cfg.model.kind == "cnn":
        raise IRError(f"{run_dir} is a CNN: the integer IR has dense layers only, so CNN runs "
                      "stay in torch (integer mode: QuantSequential.forward_int)")
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

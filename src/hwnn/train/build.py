"""Model construction from a config, and loading a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hwnn.arith.rccm import ShiftSpace
from hwnn.config import AddNetSpec, ModelConfig, RunConfig, parse_config
from hwnn.data.base import Dataset, InputQuant
from hwnn.errors import HwnnError
from hwnn.nn.layers import QuantAct
from hwnn.nn.lutnet import LutNet
from hwnn.nn.model import (
    WEIGHT_LAYERS,
    QuantSequential,
    build_cnn,
    build_mlp,
    load_weights,
    set_quant_enabled,
)
from hwnn.nn.sam import SAMNet
from hwnn.quant.addnet import AddNetQuantizer
from hwnn.quant.syq import SYQQuantizer
from hwnn.quant.ternary import BinaryQuantizer, TernaryQuantizer, fan_in_scale
from hwnn.quant.uniform import int_act_quant

Model = QuantSequential | LutNet | SAMNet


def build_model(cfg: ModelConfig, dataset: Dataset) -> Model:
    return build_from_shape(cfg, dataset.input_width, dataset.num_outputs, dataset.input_quant)


def build_from_shape(
    cfg: ModelConfig, input_width: int, num_outputs: int, input_quant: InputQuant
) -> Model:
    if cfg.kind == "lutnet":
        assert cfg.fan_in is not None  # the config validator requires it
        if cfg.input_bits is not None:
            input_quant = InputQuant(bits=cfg.input_bits, signed=input_quant.signed, scale=None)
        try:
            return LutNet(input_width, list(cfg.hidden), num_outputs, input_quant,
                          list(cfg.fan_in), cfg.act_bits, cfg.out_bits, cfg.seed, cfg.act_init)
        except ValueError as err:
            raise HwnnError(f"model: {err}") from None
    if cfg.kind == "sam":
        return SAMNet(input_width, list(cfg.hidden), num_outputs, bias=cfg.sam_bias,
                      act_bits=cfg.act_bits, weight_bits=cfg.weight_bits,
                      out_bits=cfg.out_bits)
    if cfg.kind == "cnn":
        assert cfg.image is not None and cfg.channels is not None  # the validator checks
        pixels = cfg.image[0] * cfg.image[1] * cfg.image[2]
        if pixels != input_width:
            raise HwnnError(f"model.image {cfg.image} has {pixels} values but the dataset's "
                            f"inputs have {input_width}")
        try:
            model = build_cnn(cfg.image, cfg.channels, cfg.hidden, num_outputs, input_quant,
                              cfg.kernel, weight_bits=cfg.weight_bits, act_bits=cfg.act_bits,
                              out_bits=cfg.out_bits, per_channel=cfg.per_channel,
                              padding=cfg.conv_padding)
        except ValueError as err:
            raise HwnnError(f"model: {err}") from None
    elif cfg.kind == "mlp":
        model = build_mlp(input_width, list(cfg.hidden), num_outputs, input_quant,
                          weight_bits=cfg.weight_bits, act_bits=cfg.act_bits,
                          out_bits=cfg.out_bits, per_channel=cfg.per_channel)
    else:
        raise HwnnError(f"unknown model kind {cfg.kind!r}")
    if cfg.act_frac_bits is not None:  # seed 002 eq. 5.13: fixed-point hidden activations
        for module in model.modules():
            if isinstance(module, QuantAct) and module.relu:
                module.act_quant = int_act_quant(cfg.act_bits, signed=False,
                                                 scale=2.0 ** -cfg.act_frac_bits, learned=False)
    if cfg.weights != "uniform":
        layers = [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]
        etas = cfg.eta if isinstance(cfg.eta, list) else [cfg.eta] * len(layers)
        for layer, eta in zip(layers, etas, strict=True):
            scale = fan_in_scale(layer.weight[0].numel())
            if cfg.weights == "addnet":
                layer.weight_quant = _addnet_quantizer(cfg.addnet or AddNetSpec(),
                                                       layers.index(layer), len(layers))
            elif cfg.weights.startswith("syq_"):
                layer.weight_quant = SYQQuantizer(cfg.weights.removeprefix("syq_"),  # type: ignore[arg-type]
                                                  cfg.syq_granularity, tuple(layer.weight.shape))
            else:
                layer.weight_quant = (TernaryQuantizer(eta, scale) if cfg.weights == "ternary"
                                      else BinaryQuantizer(scale))
    return model


def _addnet_quantizer(spec: AddNetSpec, index: int, n_layers: int) -> AddNetQuantizer:
    """4-Add (``first_last_adders``) at the ends, ``adders`` in between (seed 002 §6.6.3)."""
    edge = index in (0, n_layers - 1)
    return AddNetQuantizer(spec.first_last_adders if edge else spec.adders, spec.select,
                           ShiftSpace(phi_max=spec.phi_max))


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    """Small JSON-able description of a dataset, stored with every run."""
    iq = dataset.input_quant
    scalars = {k: v for k, v in dataset.info.items()
               if isinstance(v, str | int | float | bool) or v is None}
    return {"name": dataset.name, "kind": dataset.kind, "input_width": dataset.input_width,
            "num_outputs": dataset.num_outputs,
            "input_quant": {"bits": iq.bits, "signed": iq.signed, "scale": iq.scale},
            "sizes": {"train": len(dataset.train), "val": len(dataset.val),
                      "test": len(dataset.test)},
            "class_balance": dataset.class_balance(), "info": scalars}


def load_run(run_dir: str | Path) -> tuple[RunConfig, Model, dict[str, Any]]:
    """Rebuild the trained model of a finished run: (config, model in eval mode, dataset
    summary)."""
    path = Path(run_dir) / "model.pt"
    if not path.is_file():
        raise HwnnError(f"{path} not found: train first with `hwnn train CONFIG --out {run_dir}`")
    blob = torch.load(path, weights_only=False)
    cfg = parse_config(blob["config"], str(path))
    ds = blob["dataset"]
    iq = InputQuant(**ds["input_quant"])
    model = build_from_shape(cfg.model, ds["input_width"], ds["num_outputs"], iq)
    load_weights(model, blob["state_dict"])  # hardware-aware runs carry a weight codebook
    set_quant_enabled(model, blob["quant_enabled"])
    model.eval()
    return cfg, model, ds


__all__ = ["Model", "build_from_shape", "build_model", "dataset_summary", "load_run"]

"""A sequential container that threads quantization scales between layers, and builders.

Each weight layer receives the output scale of the activation quantizer before it, so its
bias can be quantized to the accumulator scale; ``forward_int`` threads
:class:`~hwnn.nn.int_tensor.IntTensor` values through the same modules (integer mode).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from hwnn.data.base import InputQuant
from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantAct, QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from hwnn.quant.codebook import CodebookQuantizer
from hwnn.quant.uniform import UniformQuantizer, int_act_quant, int_weight_quant

WEIGHT_LAYERS = (QuantLinear, QuantConv2d)


class QuantSequential(nn.Sequential):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        scale: torch.Tensor | None = None
        for module in self:
            if isinstance(module, WEIGHT_LAYERS):
                x = module(x, input_scale=scale)
            else:
                x = module(x)
                if isinstance(module, QuantAct):
                    scale = module.output_scale()
        return x.float()

    def input_quantizer(self) -> QuantAct:
        first = self[0]
        if not isinstance(first, QuantAct) or first.relu:
            raise TypeError("the first module must be a QuantIdentity input quantizer")
        return first

    @torch.no_grad()
    def quantize_input(self, x: torch.Tensor) -> IntTensor:
        """Integer codes of a float input batch, as the first quantizer produces them."""
        quant = self.input_quantizer().act_quant
        if quant is None or not quant.enabled:
            raise RuntimeError("integer mode needs an enabled input quantizer")
        codes, scale = quant.quantize(x)
        return IntTensor(codes, scale)

    @torch.no_grad()
    def forward_int(self, x: IntTensor) -> IntTensor:
        """Integer mode: every module computes exactly on int64 tensors."""
        for module in self:
            x = forward_int_module(module, x)
        return x

    def weight_layers(self) -> Iterator[tuple[str, QuantLinear | QuantConv2d]]:
        for name, module in self.named_modules():
            if isinstance(module, WEIGHT_LAYERS):
                yield name, module


@torch.no_grad()
def forward_int_module(module: nn.Module, x: IntTensor) -> IntTensor:
    """One module of :meth:`QuantSequential.forward_int`."""
    if isinstance(module, (*WEIGHT_LAYERS, QuantAct)):
        return module.forward_int(x)
    if isinstance(module, nn.Flatten | nn.Unflatten):
        return IntTensor(module(x.value), x.scale)
    if isinstance(module, nn.MaxPool2d):  # exact: max commutes with a positive scale
        pooled = F.max_pool2d(x.value.double(), module.kernel_size, module.stride,
                              module.padding, module.dilation, ceil_mode=module.ceil_mode)
        return IntTensor(pooled.to(torch.int64), x.scale)
    raise TypeError(f"no integer mode for {type(module).__name__}")


def quantizers(model: nn.Module) -> Iterator[UniformQuantizer]:
    for module in model.modules():
        if isinstance(module, UniformQuantizer):
            yield module


def set_quant_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch every quantizer on (QAT / integer mode) or off (float training)."""
    for quant in quantizers(model):
        quant.enabled = enabled


def set_weight_codebook(model: nn.Module, values: Sequence[int] | None) -> None:
    """Restrict every weight layer to the integer set ``values`` (a
    :class:`~hwnn.quant.CodebookQuantizer`, seed 000 §III-C-2), or with ``None`` go back to
    the uniform quantizer of the same width. Bit width, per-channel mode and the on/off
    switch of each layer's quantizer are kept."""
    for module in model.modules():
        if not isinstance(module, WEIGHT_LAYERS) or module.weight_quant is None:
            continue
        old = module.weight_quant
        new = (int_weight_quant(old.bits, old.per_channel) if values is None
               else CodebookQuantizer(values, old.bits, old.per_channel))
        new.enabled = old.enabled
        module.weight_quant = new


def weight_codebook(model: nn.Module) -> list[int] | None:
    """The codebook shared by the weight layers (None when they are uniform)."""
    return codebook_in_state(model.state_dict())


def codebook_in_state(state_dict: Mapping[str, torch.Tensor]) -> list[int] | None:
    """The weight codebook recorded in a state dict (``*.weight_quant.codebook``), so a model
    can be given matching quantizers before ``load_state_dict``."""
    books = {tuple(int(v) for v in t.tolist()) for k, t in state_dict.items()
             if k.endswith("weight_quant.codebook")}
    if len(books) > 1:
        raise ValueError("the state dict holds different codebooks per layer")
    return list(books.pop()) if books else None


def load_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """``load_state_dict`` after switching the weight quantizers to the state's codebook
    (uniform/codebook layers only: ternary and binary quantizers stay as built)."""
    book = codebook_in_state(state_dict)
    if book is not None or any(isinstance(q, CodebookQuantizer) for q in _weight_quants(model)):
        set_weight_codebook(model, book)
    model.load_state_dict(state_dict)


def _weight_quants(model: nn.Module) -> list[nn.Module]:
    return [m.weight_quant for m in model.modules()
            if isinstance(m, WEIGHT_LAYERS) and m.weight_quant is not None]


def input_layer(input_quant: InputQuant) -> QuantIdentity:
    """The network's input quantizer: the dataset's fixed scale, or a learned one."""
    fixed = input_quant.scale is not None
    return QuantIdentity(int_act_quant(input_quant.bits, input_quant.signed,
                                       scale=input_quant.scale, learned=not fixed))


def dense_stack(width: int, hidden: Sequence[int], num_outputs: int, weight_bits: int,
                act_bits: int, out_bits: int, per_channel: bool, bias_bits: int
                ) -> list[nn.Module]:
    """[QuantLinear → QuantReLU]* per entry of ``hidden`` → QuantLinear → QuantIdentity."""
    def linear(n_in: int, n_out: int) -> QuantLinear:
        return QuantLinear(n_in, n_out, weight_quant=int_weight_quant(weight_bits, per_channel),
                           bias_bits=bias_bits)

    widths = [width, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in pairwise(widths):
        layers += [linear(fan_in, fan_out), QuantReLU(int_act_quant(act_bits, signed=False))]
    layers += [linear(widths[-1], num_outputs), QuantIdentity(int_act_quant(out_bits, signed=True))]
    return layers


def build_mlp(
    input_width: int,
    hidden: list[int],
    num_outputs: int,
    input_quant: InputQuant,
    weight_bits: int = 8,
    act_bits: int = 8,
    out_bits: int = 16,
    per_channel: bool = True,
    bias_bits: int = 32,
) -> QuantSequential:
    """input quantizer → [QuantLinear → QuantReLU]* → QuantLinear → QuantIdentity(out_bits).

    Seed 000 §III-A: 8-bit weights and activations; the output stays wider (``out_bits``) so
    argmax / the OFC slicer see a fine-grained value.
    """
    return QuantSequential(input_layer(input_quant),
                           *dense_stack(input_width, hidden, num_outputs, weight_bits, act_bits,
                                        out_bits, per_channel, bias_bits))


def build_cnn(
    image: Sequence[int],
    channels: Sequence[int],
    hidden: Sequence[int],
    num_outputs: int,
    input_quant: InputQuant,
    kernel: int = 3,
    weight_bits: int = 8,
    act_bits: int = 8,
    out_bits: int = 16,
    per_channel: bool = True,
    bias_bits: int = 32,
    padding: str = "same",
) -> QuantSequential:
    """input quantizer → unflatten to ``image`` (C, H, W) → [QuantConv2d (``kernel``,
    ``padding`` "same" or "valid") → QuantReLU → MaxPool2d(2)]* per entry of ``channels`` →
    flatten →
    [QuantLinear → QuantReLU]* per entry of ``hidden`` → QuantLinear → QuantIdentity.

    The quantization scheme is the MLP's (:func:`build_mlp`); integer mode is exact through
    the convolutions and max-pools (:meth:`QuantSequential.forward_int`)."""
    c, h, w = (int(v) for v in image)
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if kernel < 1 or (padding == "same" and kernel % 2 == 0):
        raise ValueError(f"kernel must be odd with same padding, got {kernel}")
    pad = kernel // 2 if padding == "same" else 0
    layers: list[nn.Module] = [input_layer(input_quant), nn.Unflatten(1, (c, h, w))]
    for out_c in channels:
        if padding == "valid":
            h, w = h - kernel + 1, w - kernel + 1
        if h < 2 or w < 2:
            raise ValueError(f"image {tuple(image)} is too small for {len(channels)} "
                             f"{kernel}x{kernel} {padding} convolutions and 2x2 pools")
        layers += [
            QuantConv2d(c, out_c, kernel, padding=pad,
                        weight_quant=int_weight_quant(weight_bits, per_channel),
                        bias_bits=bias_bits),
            QuantReLU(int_act_quant(act_bits, signed=False)),
            nn.MaxPool2d(2),
        ]
        c, h, w = out_c, h // 2, w // 2
    layers.append(nn.Flatten())
    layers += dense_stack(c * h * w, hidden, num_outputs, weight_bits, act_bits, out_bits,
                          per_channel, bias_bits)
    return QuantSequential(*layers)

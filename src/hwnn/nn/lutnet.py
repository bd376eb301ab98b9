"""LogicNets-style networks of LUT neurons (Umuroglu et al., FPL 2020; seed 000 §II-A, Fig. 1).

Each neuron reads a fixed, random subset of ``F`` outputs of the previous layer (chosen
once from a seed, never trained), computes ``BN(sum_f w_f x_f + b)``, and quantizes it to a
few bits (ReLU + unsigned ``act_bits`` in hidden layers, signed ``out_bits`` at the
output). With ``F`` inputs of ``b`` bits a neuron is a Boolean function of ``F*b`` bits,
so after training it is enumerated into a truth table (:meth:`LutNet.to_ir`) and becomes a
ROM in logic (:mod:`hwnn.logic.lut_verilog`).

Exactness: the integer path (:meth:`LutNeuronLayer.forward_codes`) computes each neuron in
float64 with the fan-in summed in a fixed order, from input codes, and quantizes with the
layer's activation quantizer. Inference in eval mode with quantization on, the integer
forward and the truth-table enumeration all run exactly this function, so the torch model,
the IR tables, the reference and the RTL agree bit for bit (tested).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from hwnn.data.base import InputQuant
from hwnn.ir.lut import LutLayer, LutNetwork, address_codes
from hwnn.ir.model import Head, IRInput
from hwnn.nn.int_tensor import IntTensor
from hwnn.nn.layers import QuantAct, QuantIdentity
from hwnn.quant.uniform import ScaleInit, UniformQuantizer, int_act_quant

ENUM_CHUNK = 4096  # truth-table rows evaluated at once (memory: rows * neurons * F doubles)
MAX_ADDRESS_BITS = 20  # a neuron's table has 2^(F*b) rows; beyond ~1M rows enumeration and
# the Verilog become impractical


class LutNeuronLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, fan_in: int,
                 act_quant: UniformQuantizer, relu: bool, seed: int) -> None:
        super().__init__()
        if not 1 <= fan_in <= in_features:
            raise ValueError(f"fan-in must be in [1, {in_features}], got {fan_in}")
        gen = torch.Generator().manual_seed(seed)
        idx = torch.stack([torch.randperm(in_features, generator=gen)[:fan_in].sort().values
                           for _ in range(out_features)])
        self.register_buffer("inputs", idx.to(torch.int64))
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(out_features, fan_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.bn = nn.BatchNorm1d(out_features)
        self.act = QuantAct(act_quant, relu)

    @property
    def fan_in(self) -> int:
        return int(self.inputs.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x[:, self.inputs] * self.weight).sum(-1) + self.bias
        return self.act(self.bn(z))

    @torch.no_grad()
    def forward_codes(self, gathered: torch.Tensor, in_scale: torch.Tensor) -> torch.Tensor:
        """Output codes (N, out) from the gathered input codes (N, out, F), eval-mode BN, in
        float64 with the fan-in summed in index order (the one neuron function)."""
        x = gathered.double() * in_scale.double()
        w = self.weight.double()
        z = self.bias.double().expand(x.shape[0], -1).clone()
        for f in range(self.fan_in):
            z = z + x[:, :, f] * w[:, f]
        bn = self.bn
        assert bn.running_mean is not None and bn.running_var is not None
        z = ((z - bn.running_mean.double()) / torch.sqrt(bn.running_var.double() + bn.eps)
             * bn.weight.double() + bn.bias.double())
        if self.act.relu:
            z = torch.clamp(z, min=0)
        assert self.act.act_quant is not None
        codes, _ = self.act.act_quant.quantize(z)
        return codes

    def out_scale(self) -> torch.Tensor:
        assert self.act.act_quant is not None
        return self.act.act_quant.scale().detach().double()


class LutNet(nn.Module):
    """Input quantizer → LUT neuron layers (hidden: ReLU, ``act_bits``; last: ``out_bits``).
    ``act_init`` sets how the learned scales (inputs without a fixed scale, every layer) are
    initialised (:class:`hwnn.quant.uniform.UniformQuantizer` ``init``)."""

    def __init__(self, input_width: int, hidden: Sequence[int], num_outputs: int,
                 input_quant: InputQuant, fan_in: Sequence[int], act_bits: int, out_bits: int,
                 seed: int = 0, act_init: ScaleInit = "percentile") -> None:
        super().__init__()
        self.input_width = input_width
        widths = [input_width, *hidden, num_outputs]
        if len(fan_in) != len(widths) - 1:
            raise ValueError(f"need one fan-in per layer ({len(widths) - 1}), got {list(fan_in)}")
        fixed = input_quant.scale is not None
        self.input_quant = QuantIdentity(int_act_quant(input_quant.bits, input_quant.signed,
                                                       scale=input_quant.scale,
                                                       learned=not fixed,
                                                       init="percentile" if fixed else act_init))
        layers = []
        bits = [input_quant.bits] + [act_bits] * len(hidden)
        for k, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
            address = min(fan_in[k], n_in) * bits[k]
            if address > MAX_ADDRESS_BITS:
                raise ValueError(f"layer {k}: fan-in {min(fan_in[k], n_in)} x {bits[k]}-bit "
                                 f"inputs = {address} address bits; a truth table of "
                                 f"2^{address} rows is too large (at most {MAX_ADDRESS_BITS} "
                                 "bits): lower the fan-in or the activation bits")
            last = k == len(widths) - 2
            quant = int_act_quant(out_bits if last else act_bits, signed=last, init=act_init)
            layers.append(LutNeuronLayer(n_in, n_out, min(fan_in[k], n_in), quant,
                                         relu=not last, seed=seed * 1000 + k))
        self.layers = nn.ModuleList(layers)

    def _quant_on(self) -> bool:
        quant = self.input_quant.act_quant
        return quant is not None and quant.enabled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and self._quant_on():  # inference = the exact integer function
            codes = self.layer_codes(x)
            return (codes[-1].double() * self.layers[-1].out_scale()).float()
        h = self.input_quant(x)
        for layer in self.layers:
            h = layer(h)
        return h

    @torch.no_grad()
    def input_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        quant = self.input_quant.act_quant
        assert quant is not None
        codes, scale = quant.quantize(x)
        return codes, scale

    def quantize_input(self, x: torch.Tensor) -> IntTensor:
        """Input codes as :class:`IntTensor` (the protocol of
        :meth:`hwnn.nn.model.QuantSequential.quantize_input`)."""
        if not self._quant_on():
            raise RuntimeError("integer mode needs an enabled input quantizer")
        codes, scale = self.input_codes(x)
        return IntTensor(codes, scale.double())

    @torch.no_grad()
    def forward_int(self, x: IntTensor) -> IntTensor:
        """Last-layer output codes for input codes ``x`` (the protocol of
        :meth:`hwnn.nn.model.QuantSequential.forward_int`)."""
        out = self.layer_codes(None, x.value)[-1]
        return IntTensor(out, self.layers[-1].out_scale())

    @torch.no_grad()
    def layer_codes(self, x: torch.Tensor | None, codes: torch.Tensor | None = None
                    ) -> list[torch.Tensor]:
        """Output codes of every layer for float inputs ``x`` (or given input ``codes``)."""
        if codes is None:
            if x is None:
                raise ValueError("give float inputs x or input codes")
            h, scale = self.input_codes(x)
        else:
            h, scale = codes, self._input_scale()
        outs = []
        for layer in self.layers:
            h = layer.forward_codes(h[:, layer.inputs], scale)
            scale = layer.out_scale()
            outs.append(h)
        return outs

    def _input_scale(self) -> torch.Tensor:
        quant = self.input_quant.act_quant
        assert quant is not None
        return quant.scale().detach().double()

    def _code_format(self, k: int) -> tuple[int, bool]:
        quant = (self.input_quant if k == 0 else self.layers[k - 1].act).act_quant
        assert quant is not None
        return quant.bits, quant.signed

    @torch.no_grad()
    def to_ir(self, name: str, head: str = "argmax") -> LutNetwork:
        """Enumerate every neuron's truth table (all ``2^(F*b)`` input combinations)."""
        layers = []
        scale = self._input_scale()
        for k, layer in enumerate(self.layers):
            bits, signed = self._code_format(k)
            n, f = layer.inputs.shape
            rows = 1 << (f * bits)
            table = np.empty((n, rows), dtype=np.int64)
            for start in range(0, rows, ENUM_CHUNK):
                addr = np.arange(start, min(rows, start + ENUM_CHUNK), dtype=np.int64)
                codes = torch.from_numpy(address_codes(addr, f, bits, signed))  # (R, F)
                out = layer.forward_codes(codes[:, None, :].expand(-1, n, -1), scale)
                table[:, start:start + len(addr)] = out.numpy().T
            out_bits, out_signed = self._code_format(k + 1)
            layers.append(LutLayer(f"lut{k}", layer.inputs.numpy().copy(), table, bits, signed,
                                   out_bits, out_signed))
            scale = layer.out_scale()
        in_bits, in_signed = self._code_format(0)
        ir_input = IRInput(self.input_width, in_bits, in_signed, float(self._input_scale()))
        return LutNetwork(name, ir_input, layers, Head(head)).validate()


def build_lutnet(input_width: int, hidden: list[int], num_outputs: int, input_quant: InputQuant,
                 fan_in: list[int], act_bits: int, out_bits: int, seed: int = 0,
                 act_init: ScaleInit = "percentile") -> LutNet:
    return LutNet(input_width, hidden, num_outputs, input_quant, fan_in, act_bits, out_bits,
                  seed, act_init)


__all__ = ["LutNet", "LutNeuronLayer", "build_lutnet"]

"""Verilog for LUT networks (:mod:`hwnn.ir.lut`): every neuron's truth table as logic,
registers between layers.

Layer ``k`` is module ``<top>_l<k>`` (ports ``clk``, ``x``, ``y``, like the dense layers of
:mod:`hwnn.logic.verilog`, so the same top module, head and self-checking testbench serve).
Neuron ``j``'s address concatenates its inputs' codes, input 0 at the least significant
bits. Two forms of the same tables (tested equal in simulation):

* ``form="rom"`` - each output bit is a constant vector ``T<j>_<t>`` of ``2^A`` bits indexed
  by the address (``T[a]``), the literal truth table as LogicNets writes it.
* ``form="mux"`` (default) - each output bit is the table's reduced ordered binary decision
  diagram (Bryant 1986) written as 2:1 multiplexers: the table is split on the address's
  highest bit first, equal halves collapse into one node and identical sub-tables are shared.
  It is the same function, but Yosys maps it in seconds where a 14-input ``T[a]`` costs it
  ~2 minutes per neuron (measured: a 7 x 2-bit neuron, 4 s vs 106 s, 298 vs 248 LUT6), which
  makes networks of hundreds of such neurons synthesizable.

The layer's outputs are registered. With ``partition=True`` each neuron is its own module
of logic only and the layer module holds the one register of all its neurons, not one per
neuron: the layer output then changes once per clock edge. Measured in Icarus on LogicNets
NID-M (100 vectors): a register in every neuron module took 260 s, one per layer 19 s, the
whole (unpartitioned) form 18 s - Icarus passes the whole layer vector to every next-layer
neuron on each change of any of its parts, so per-neuron registers cost neurons x neurons
vector updates per clock. The partitioned xc7 count maps the layer registers with the glue
(:func:`hwnn.eda.yosys.synth_fpga`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from hwnn.ir.lut import LutLayer, LutNetwork
from hwnn.logic.verilog import register_chain_lines, top_module, verilog_identifier

LutForm = Literal["rom", "mux"]
LUT_FORMS: tuple[str, ...] = ("rom", "mux")


def _rom_literal(bits: np.ndarray) -> str:
    """``N'h...`` for a 0/1 vector whose element ``r`` is bit ``r``."""
    n = len(bits)
    padded = np.zeros(-(-n // 4) * 4, dtype=np.uint8)
    padded[:n] = bits
    nibbles = padded.reshape(-1, 4) @ np.array([1, 2, 4, 8])
    return f"{n}'h" + "".join("0123456789abcdef"[v] for v in nibbles[::-1])


def bdd_nodes(bits: np.ndarray) -> tuple[np.ndarray, int]:
    """Reduced ordered BDD of a 0/1 truth table of length ``2^A`` (index = address).

    Returns ``(nodes, root)``: ``nodes[i - 2] = (var, lo, hi)`` for node ids ``i >= 2``
    (ids 0 and 1 are the constants), children always have smaller ids, ``var`` is the address
    bit tested (node = ``a[var] ? hi : lo``). Built bottom-up over the address bits, lowest
    first: at each level the current sub-tables pair up (bit ``var`` = 0 / 1), a pair with
    equal halves is its half, and equal pairs become one node (``np.unique``)."""
    ids = np.asarray(bits, dtype=np.int64).reshape(-1)
    if len(ids) & (len(ids) - 1) or np.any((ids != 0) & (ids != 1)):
        raise ValueError("a truth table is a 0/1 array whose length is a power of two")
    nodes: list[np.ndarray] = []
    next_id, var = 2, 0
    while len(ids) > 1:
        lo, hi = ids[0::2], ids[1::2]
        out = lo.copy()
        split = lo != hi
        if split.any():
            pairs = np.stack([lo[split], hi[split]], axis=1)
            uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
            out[split] = next_id + inverse.reshape(-1)
            nodes.append(np.column_stack([np.full(len(uniq), var), uniq]))
            next_id += len(uniq)
        ids, var = out, var + 1
    table = np.concatenate(nodes) if nodes else np.zeros((0, 3), dtype=np.int64)
    return table, int(ids[0])


def _bdd_lines(bits: np.ndarray, addr: str, name: str) -> tuple[list[str], str]:
    """Wires for one output bit as muxes; returns (lines, expression of the bit)."""
    nodes, root = bdd_nodes(bits)

    def ref(i: int) -> str:
        return ("1'b0", "1'b1")[i] if i < 2 else f"{name}_{i - 2}"

    lines = []
    for i, (var, lo, hi) in enumerate(nodes.tolist()):
        if (lo, hi) == (0, 1):
            expr = f"{addr}[{var}]"
        elif (lo, hi) == (1, 0):
            expr = f"~{addr}[{var}]"
        else:
            expr = f"{addr}[{var}] ? {ref(hi)} : {ref(lo)}"
        lines.append(f"  wire {name}_{i} = {expr};")
    return lines, ref(root)


def _lut_neuron_lines(layer: LutLayer, j: int, form: LutForm) -> list[str]:
    """Wires ``a<j>`` (the address) and ``n<j>`` (the output code) of neuron ``j``."""
    b, ob = layer.in_bits, layer.out_bits
    rows = 1 << layer.address_bits
    codes = layer.table[j] & ((1 << ob) - 1)  # two's complement bits of the output codes
    fields = [f"x[{i * b + b - 1}:{i * b}]" for i in layer.inputs[j][::-1]]
    lines = [f"  wire [{layer.address_bits - 1}:0] a{j} = {{{', '.join(fields)}}};"]
    bits = []
    for t in range(ob):
        table = (codes >> t) & 1
        if form == "rom":
            lines.append(f"  localparam [{rows - 1}:0] T{j}_{t} = {_rom_literal(table)};")
            bits.append(f"T{j}_{t}[a{j}]")
        else:
            wires, bit = _bdd_lines(table, f"a{j}", f"m{j}_{t}")
            lines += wires
            bits.append(bit)
    lines.append(f"  wire [{ob - 1}:0] n{j} = {{{', '.join(bits[::-1])}}};")
    return lines


def _registered_output(width: int, src: str) -> list[str]:
    """The output register (:func:`register_chain_lines`) and the module's end."""
    return [*register_chain_lines(width, src), "endmodule", ""]


def lut_neuron_module(layer: LutLayer, in_features: int, k: int, j: int, top: str,
                      form: LutForm = "mux") -> str:
    """Neuron ``j`` of layer ``k`` as its own module ``<top>_l<k>_n<j>`` (ports: the whole
    layer input ``x`` and the neuron's output code ``y``, logic only; the layer module
    registers it): the unit of partitioned synthesis, as
    :func:`hwnn.logic.verilog.neuron_module` is for dense layers."""
    ob = layer.out_bits
    lines = [f"module {top}_l{k}_n{j} (input wire [{in_features * layer.in_bits - 1}:0] x, "
             f"output wire [{ob - 1}:0] y);"]
    lines += _lut_neuron_lines(layer, j, form)
    return "\n".join([*lines, f"  assign y = n{j};", "endmodule", ""])


def lut_layer_module(layer: LutLayer, in_features: int, k: int, top: str,
                     form: LutForm = "mux", partition: bool = False) -> str:
    """Module ``<top>_l<k>``: every neuron's table and one output register; with
    ``partition`` it instantiates one :func:`lut_neuron_module` per neuron (emitted before
    it) and holds only that register (see the module docstring for why not one per neuron)."""
    b, ob = layer.in_bits, layer.out_bits
    in_w, out_w = in_features * b, layer.out_features * ob
    lines = [f"// layer {k} ({layer.name}): {layer.out_features} LUT neurons, fan-in "
             f"{layer.fan_in} x {b} bits -> {ob} bits"
             + (", one module per neuron" if partition else ""),
             f"module {top}_l{k} (input wire clk, input wire [{in_w - 1}:0] x, "
             f"output wire [{out_w - 1}:0] y);"]
    if partition:
        neurons = [lut_neuron_module(layer, in_features, k, j, top, form)
                   for j in range(layer.out_features)]
        lines.append(f"  wire [{out_w - 1}:0] n;")
        lines += [f"  {top}_l{k}_n{j} u_n{j} (.x(x), .y(n[{j * ob + ob - 1}:{j * ob}]));"
                  for j in range(layer.out_features)]
        return "\n".join(neurons) + "\n" + "\n".join(lines + _registered_output(out_w, "n"))
    for j in range(layer.out_features):
        lines += _lut_neuron_lines(layer, j, form)
    outs = ", ".join(f"n{j}" for j in reversed(range(layer.out_features)))
    return "\n".join(lines + _registered_output(out_w, f"{{{outs}}}"))


def lut_network_verilog(net: LutNetwork, top: str | None = None, form: LutForm = "mux",
                        partition: bool = False) -> str:
    """The complete Verilog of a LUT network (latency: one cycle per layer + head).
    ``partition=True`` writes every neuron as its own module (:func:`lut_neuron_module`), so a
    synthesis flow can map the neurons one by one; the function is the same, cycle for
    cycle."""
    if form not in LUT_FORMS:
        raise ValueError(f"unknown LUT Verilog form {form!r}; choose one of {LUT_FORMS}")
    net.validate()
    top = verilog_identifier(top or net.name)
    what = "a ROM" if form == "rom" else "a reduced mux tree (BDD)"
    parts = [f"// Generated by hwnn from LUT network {net.name!r}: each neuron's truth table as "
             f"{what}{', one module per neuron' if partition else ''}.\n"]
    width = net.input.features
    for k, layer in enumerate(net.layers):
        parts.append(lut_layer_module(layer, width, k, top, form, partition))
        width = layer.out_features
    parts += top_module(net, top)  # type: ignore[arg-type]  # same port convention
    return "\n".join(parts)

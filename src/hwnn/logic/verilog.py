"""IR → synthesizable Verilog-2005: the whole network flattened into logic (seed 000 §III-A).

Top-level port contract (every design hwnn generates):

```
module <top> (input wire clk, input wire [IN_W-1:0] x, output wire [OUT_W-1:0] y
              [, input wire w_en, input wire w_in]);   // generic baseline only
```

``x`` packs the input codes, feature ``i`` at ``x[i*b +: b]``; ``y`` is the head's
prediction (argmax index, slicer symbol) or the packed last-layer outputs (raw head). No
reset; one input per clock; fixed latency :func:`latency`.

Per layer (module ``<top>_l<k>``), per neuron ``j``:

* **products** ``p = x_i * w_ji`` for the non-zero weights only. ``embedded`` style: ``w_ji``
  is a constant literal, so synthesis reduces each multiplier to the shifts/adds its bit
  pattern needs (seed 000 §III-A-1, Fig. 2). ``csd`` style: the same constants, the product
  written as shifts and adds/subtracts of the CSD digits of ``w_ji`` (Yosys then never builds
  the full multiplier array: on the 8-bit MNIST MLP the array form needed > 13 GB, see
  docs/results.md for what the form costs in area and LUTs). ``generic`` style (the "Base."
  columns of seed 000 Table I): the same connections, but every weight, bias and requantizer
  multiplier is read from a register loaded through a serial shift chain (``w_en``/``w_in``),
  so nothing is simplified; the requantizer shift stays wired.
* **adder tree**: a balanced binary tree over the products and the bias; every node is as
  wide as the exact interval of values it can hold (so the adders are sized, §III-B),
  capped at the neuron's accumulator width ``A_j`` (``acc_bits``, or the profiled
  ``neuron_acc_bits[j]``) when the layer's overflow rule is ``wrap`` (two's complement
  wrap-around is order independent, so a capped tree computes ``acc mod 2^A_j`` exactly as
  the IR defines it); ``saturate`` clips the full-width sum to ``A_j`` bits.
* **requantizer with embedded scale** ``(acc * M + 2^(S-1)) >>> S`` and the output clip
  (ReLU = lower bound 0), comparisons dropped where the value range cannot reach a bound.
* **one register stage** on the layer output, plus ``extra_stages`` more in a chain after it
  (for retiming, seed 000 §III-B and Fig. 5).

SAM layers (``kind == "sam"``, seed 001) use the same layer, register and partition
structure; their neurons are constant adders and max/min comparator trees
(:mod:`hwnn.logic.sam_verilog`).

The head (module ``<top>_head``): argmax as a comparator tree (strictly greater wins, the
left/lower index wins ties: the first maximum, like ``numpy.argmax``) or the slicer
``sum_k (y >= T_k)``, then one register.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from hwnn.arith.csd import csd_digits
from hwnn.ir.model import DenseLayer, IRNetwork
from hwnn.ir.ranges import product_range, signed_bits
from hwnn.logic.literals import signed_literal
from hwnn.rules import int_range

#: ``embedded``: weights are constants and each product is written ``x * c``, so synthesis
#: simplifies the multiplier for the fixed weight (seed 000 Fig. 2). ``csd``: the same
#: constants, each product written as the shift-add/subtract form of the canonical signed
#: digits of ``c`` (:mod:`hwnn.arith.csd`). ``generic``: weights in registers (the baseline).
Style = Literal["embedded", "generic", "csd"]
STYLES: tuple[str, ...] = get_args(Style)


@dataclass(frozen=True)
class Term:
    """A signed wire and the exact interval of values it carries."""

    name: str
    width: int
    lo: int
    hi: int


@dataclass(frozen=True)
class GenericParams:
    """Shift-chain layout of the generic baseline: per layer, the bits of each register."""

    weight_bits: int
    bias_bits: int
    mult_bits: int
    n_weights: int  # non-zero connections
    n_neurons: int

    @property
    def total(self) -> int:
        return (self.n_weights * self.weight_bits
                + self.n_neurons * (self.bias_bits + self.mult_bits))


def verilog_identifier(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9_]`` replaced by ``_`` (and a prefix
    if it would start with a digit)."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else f"n_{out}"


def latency(net: IRNetwork, extra_stages: int = 0) -> int:
    """Clock cycles from ``x`` to ``y``."""
    return len(net.layers) * (1 + extra_stages) + (0 if net.head.kind == "raw" else 1)


def generic_params(layer: DenseLayer) -> GenericParams:
    return GenericParams(layer.weight_bits, layer.acc_bits,
                         max(1, int(layer.multiplier.max()).bit_length()),
                         layer.nonzero_weights(), layer.out_features)


def generic_neuron_width(layer: DenseLayer, gp: GenericParams, j: int) -> int:
    """Width of neuron ``j``'s contiguous slice of the layer's weight bus ``w``: its non-zero
    weights, then its bias and its multiplier (:func:`generic_chain_stream`)."""
    return int(np.count_nonzero(layer.weight[j])) * gp.weight_bits + gp.bias_bits + gp.mult_bits


def generic_neuron_bits(layer: DenseLayer, gp: GenericParams) -> list[int]:
    """:func:`generic_neuron_width` of every neuron, in order."""
    return [generic_neuron_width(layer, gp, j) for j in range(layer.out_features)]


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        self.lines.append(text)

    def wire(self, name: str, lo: int, hi: int, expr: str, cap: int | None = None) -> Term:
        width = signed_bits(lo, hi)
        if cap is not None and width > cap:
            width, lo, hi = cap, -(1 << (cap - 1)), (1 << (cap - 1)) - 1
        self(f"  wire signed [{width - 1}:0] {name} = {expr};")
        return Term(name, width, lo, hi)


def _input_term(layer: DenseLayer, i: int) -> str:
    b = layer.in_bits
    sl = f"x[{i * b + b - 1}:{i * b}]" if b > 1 else f"x[{i}]"
    return f"$signed({sl})" if layer.in_signed else f"$signed({{1'b0, {sl}}})"


def csd_product(term: str, c: int) -> str:
    """``term * c`` as shifts and adds/subtracts of the CSD digits of ``c`` (most significant
    digit first), e.g. ``c = 7 = 2^3 - 2^0``: ``(t <<< 3) - t``. ``term`` must be a signed
    expression; the sum is exact in the context width of the wire it is assigned to (the
    product range fits it, and partial sums wrap modulo that width)."""
    if c == 0:
        raise ValueError("no product for a zero weight")
    out = ""
    for k, d in reversed(list(enumerate(csd_digits(c)))):
        if not d:
            continue
        shifted = f"({term} <<< {k})" if k else term
        if not out:
            out = shifted if d > 0 else f"-{shifted}"
        else:
            out += f" {'+' if d > 0 else '-'} {shifted}"
    return out


def balanced_tree(emit: _Emitter, prefix: str, terms: list[Term],
                  node: Callable[[Term, Term], tuple[int, int, str]],
                  cap: int | None = None) -> Term:
    """Reduce ``terms`` pairwise, level by level (an odd last term moves up unchanged):
    ``node(a, b)`` gives the interval and expression of the wire ``<prefix><level>_<k>``."""
    level = 0
    while len(terms) > 1:
        nxt: list[Term] = []
        for k in range(0, len(terms) - 1, 2):
            lo, hi, expr = node(terms[k], terms[k + 1])
            nxt.append(emit.wire(f"{prefix}{level}_{k // 2}", lo, hi, expr, cap))
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms, level = nxt, level + 1
    return terms[0]


def _adder_tree(emit: _Emitter, prefix: str, terms: list[Term], cap: int | None) -> Term:
    return balanced_tree(emit, f"{prefix}_s", terms,
                         lambda a, b: (a.lo + b.lo, a.hi + b.hi, f"{a.name} + {b.name}"), cap)


def _neuron(emit: _Emitter, layer: DenseLayer, j: int, style: Style,
            gp: GenericParams | None, w_index: list[int], out_word: str) -> None:
    if layer.kind == "sam":  # constants only: the same logic for the embedded and csd styles
        from hwnn.logic.sam_verilog import sam_neuron

        sam_neuron(emit, layer, j, out_word)  # type: ignore[arg-type]
        return
    acc = accumulator(emit, layer, j, style, gp, w_index)
    requantizer(emit, layer, j, acc, out_word, style, gp, w_index)


def accumulator(emit: _Emitter, layer: DenseLayer, j: int, style: Style = "embedded",
                gp: GenericParams | None = None, w_index: list[int] | None = None) -> Term:
    """Neuron ``j``'s products and sized adder tree over the input bus ``x``, brought to its
    accumulator width (module docstring): the wire ``n<j>_acc``."""
    w_index = w_index if w_index is not None else [0]
    x_lo, x_hi = int_range(layer.in_bits, layer.in_signed)
    pre = f"n{j}"
    acc_w = int(layer.acc_widths()[j])
    cap = acc_w if layer.overflow == "wrap" else None
    acc_lo_cap, acc_hi_cap = int_range(acc_w, True)
    terms: list[Term] = []
    row = layer.weight[j]
    for i in np.flatnonzero(row).tolist():
        c = int(row[i])
        if style != "generic":
            lo, hi = product_range(c, x_lo, x_hi)
            if style == "csd":
                expr = csd_product(_input_term(layer, i), c)
            else:
                expr = f"{_input_term(layer, i)} * {signed_literal(c, signed_bits(lo, hi))}"
        else:
            assert gp is not None
            wlo, whi = int_range(gp.weight_bits, True)
            lo = min(wlo * x_lo, wlo * x_hi, whi * x_lo, whi * x_hi)
            hi = max(wlo * x_lo, wlo * x_hi, whi * x_lo, whi * x_hi)
            off = w_index[0]
            w_index[0] += gp.weight_bits
            expr = (f"{_input_term(layer, i)} * "
                    f"$signed(w[{off + gp.weight_bits - 1}:{off}])")
        terms.append(emit.wire(f"{pre}_p{i}", lo, hi, expr, cap))
    bias = int(layer.bias[j])
    if style == "generic":
        assert gp is not None
        off = w_index[0]
        w_index[0] += gp.bias_bits
        blo, bhi = acc_lo_cap, acc_hi_cap
        terms.append(emit.wire(f"{pre}_b", blo, bhi,
                               f"$signed(w[{off + gp.bias_bits - 1}:{off}])", cap))
    elif bias != 0 or not terms:
        terms.append(Term(signed_literal(bias, signed_bits(bias, bias)),
                          signed_bits(bias, bias), bias, bias))
    acc = _adder_tree(emit, pre, terms, cap)
    # Bring the sum to the accumulator width: with "wrap" every node is already capped at
    # A_j (modular sums); "saturate" clips the full-width sum.
    lo, hi = acc.lo, acc.hi
    src = acc.name
    if layer.overflow == "saturate" and (acc.lo < acc_lo_cap or acc.hi > acc_hi_cap):
        lo_l = signed_literal(acc_lo_cap, acc.width)
        hi_l = signed_literal(acc_hi_cap, acc.width)
        emit(f"  wire signed [{acc.width - 1}:0] {pre}_sat = ({acc.name} < {lo_l}) ? {lo_l} : "
             f"({acc.name} > {hi_l}) ? {hi_l} : {acc.name};")
        src, lo, hi = f"{pre}_sat[{acc_w - 1}:0]", acc_lo_cap, acc_hi_cap
    emit(f"  wire signed [{acc_w - 1}:0] {pre}_acc = {src};")
    return Term(f"{pre}_acc", acc_w, max(lo, acc_lo_cap), min(hi, acc_hi_cap))



def requantizer(emit: _Emitter, layer: DenseLayer, j: int, acc: Term, out_word: str,
                style: Style = "embedded", gp: GenericParams | None = None,
                w_index: list[int] | None = None) -> None:
    """Neuron ``j``'s requantizer with embedded scale, ``(acc * M + 2^(S-1)) >>> S``, and the
    clip to the output range (ReLU: lower bound 0), assigned to ``out_word`` (seed 000
    §III-B). The generic style reads ``M`` from the weight chain at ``w_index``."""
    pre = f"n{j}"
    mult, shift = int(layer.multiplier[j]), int(layer.shift[j])
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    if style == "generic":
        assert gp is not None and w_index is not None
        off = w_index[0]
        w_index[0] += gp.mult_bits
        m_expr = f"$signed({{1'b0, w[{off + gp.mult_bits - 1}:{off}]}})"
        m_lo, m_hi = 0, (1 << gp.mult_bits) - 1
    else:
        m_lo = m_hi = mult
        m_expr = ""
    corners = [acc.lo * m_lo, acc.lo * m_hi, acc.hi * m_lo, acc.hi * m_hi]
    t_lo, t_hi = min(corners) + rnd, max(corners) + rnd
    if style != "generic" and mult == 1 and shift == 0:
        r = acc
    else:
        # the literal's width sets the context width of the whole expression: wide enough
        # for the product, the multiplier and the accumulator
        width = max(signed_bits(t_lo, t_hi), signed_bits(0, m_hi), signed_bits(0, rnd),
                    acc.width)
        if style != "generic":
            m_expr = signed_literal(mult, width)
        prod = f"{acc.name} * {m_expr}"
        body = f"({prod} + {signed_literal(rnd, width)})" if rnd else f"({prod})"
        expr = f"{body} >>> {shift}" if shift else body
        r = emit.wire(f"{pre}_r", t_lo >> shift, t_hi >> shift, expr)
    lo, hi = layer.out_range()
    conds = []
    if r.lo < lo:
        conds.append((f"{r.name} < {signed_literal(lo, max(r.width, signed_bits(lo, lo)))}", lo))
    if r.hi > hi:
        conds.append((f"{r.name} > {signed_literal(hi, max(r.width, signed_bits(hi, hi)))}", hi))
    ob = layer.out_bits
    if r.width >= ob:
        val = f"{r.name}[{ob - 1}:0]"
    else:  # sign-extend a narrow result
        msb = f"{r.name}[{r.width - 1}]"
        val = "{{" + str(ob - r.width) + "{" + msb + "}}, " + r.name + "}"
    for c, bound in reversed(conds):
        val = f"({c}) ? {ob}'h{bound & ((1 << ob) - 1):x} : {val}"
    emit(f"  assign {out_word} = {val};")


def register_chain_lines(width: int, src: str, extra_stages: int = 0) -> list[str]:
    """Lines making output ``y`` = ``src`` delayed by one register plus ``extra_stages`` more
    (for retiming)."""
    lines = [f"  reg [{width - 1}:0] y_q;", f"  always @(posedge clk) y_q <= {src};"]
    prev = "y_q"
    for e in range(extra_stages):
        lines += [f"  reg [{width - 1}:0] y_e{e};", f"  always @(posedge clk) y_e{e} <= {prev};"]
        prev = f"y_e{e}"
    return [*lines, f"  assign y = {prev};"]


def _register_chain(emit: _Emitter, width: int, src: str, extra_stages: int) -> None:
    for line in register_chain_lines(width, src, extra_stages):
        emit(line)


def neuron_module(net: IRNetwork, k: int, j: int, top: str, style: Style,
                  extra_stages: int) -> str:
    """Neuron ``j`` of layer ``k`` as its own module ``<top>_l<k>_n<j>`` (ports ``clk``, the
    whole layer input ``x``, for the generic style the neuron's slice ``w`` of the weight
    chain, the neuron's output word ``y``), with its register chain: the unit of partitioned
    synthesis (:func:`network_verilog` ``partition=True``)."""
    return registered_neuron_module(net.layers[k], j, f"{top}_l{k}_n{j}", style, extra_stages)


def registered_neuron_module(layer: DenseLayer, j: int, name: str, style: Style = "embedded",
                             extra_stages: int = 0) -> str:
    """Module ``name`` (ports ``clk``, input bus ``x``, output word ``y``; the generic style
    also takes ``w``, the neuron's own fields of the weight chain): neuron ``j`` of ``layer``
    followed by one register and ``extra_stages`` more."""
    ob = layer.out_bits
    emit = _Emitter()
    gp = generic_params(layer) if style == "generic" else None
    w_port = (f"input wire [{generic_neuron_width(layer, gp, j) - 1}:0] w, "
              if gp is not None else "")
    emit(f"module {name} (input wire clk, "
         f"input wire [{layer.in_features * layer.in_bits - 1}:0] x, {w_port}"
         f"output wire [{ob - 1}:0] y);")
    emit(f"  wire [{ob - 1}:0] y_comb;")
    _neuron(emit, layer, j, style, gp, [0], "y_comb")
    _register_chain(emit, ob, "y_comb", extra_stages)
    emit("endmodule")
    return "\n".join(emit.lines) + "\n"


def layer_module(net: IRNetwork, k: int, top: str, style: Style, extra_stages: int,
                 partition: bool = False) -> str:
    """Module ``<top>_l<k>``; with ``partition`` it only instantiates one
    :func:`neuron_module` per neuron (which are emitted before it) and holds no logic."""
    layer = net.layers[k]
    emit = _Emitter()
    in_w = layer.in_features * layer.in_bits
    out_w = layer.out_features * layer.out_bits
    ob = layer.out_bits
    gp = generic_params(layer) if style == "generic" else None
    neurons = ([neuron_module(net, k, j, top, style, extra_stages)
                for j in range(layer.out_features)] if partition else [])
    emit(f"// layer {k} ({layer.name}): {layer.in_features} -> {layer.out_features}, "
         f"{layer.nonzero_weights()} non-zero weights, acc {layer.acc_bits} bits "
         f"({layer.overflow}), out {'int' if layer.out_signed else 'uint'}{layer.out_bits}, "
         f"{layer.activation}, {style} weights" + (", one module per neuron" if partition else ""))
    ports = ["input wire clk", f"input wire [{in_w - 1}:0] x"]
    if gp is not None:
        ports.append(f"input wire [{gp.total - 1}:0] w")
    ports.append(f"output wire [{out_w - 1}:0] y")
    emit(f"module {top}_l{k} (" + ", ".join(ports) + ");")
    if partition:
        w_slices = []
        if gp is not None:
            off = 0
            for width in generic_neuron_bits(layer, gp):
                w_slices.append(f".w(w[{off + width - 1}:{off}]), ")
                off += width
            if off != gp.total:
                raise AssertionError("generic register layout mismatch")
        for j in range(layer.out_features):
            emit(f"  {top}_l{k}_n{j} u_n{j} (.clk(clk), .x(x), "
                 f"{w_slices[j] if w_slices else ''}.y(y[{j * ob + ob - 1}:{j * ob}]));")
        emit("endmodule")
        return "\n".join(neurons) + "\n" + "\n".join(emit.lines) + "\n"
    emit(f"  wire [{out_w - 1}:0] y_comb;")
    w_index = [0]
    for j in range(layer.out_features):
        _neuron(emit, layer, j, style, gp, w_index,
                f"y_comb[{j * ob + ob - 1}:{j * ob}]")
    if gp is not None and w_index[0] != gp.total:
        raise AssertionError("generic register layout mismatch")
    _register_chain(emit, out_w, "y_comb", extra_stages)
    emit("endmodule")
    return "\n".join(emit.lines) + "\n"


def head_module(net: IRNetwork, top: str) -> str | None:
    last = net.layers[-1]
    head = net.head
    if head.kind == "raw":
        return None
    ob, n = last.out_bits, last.out_features
    emit = _Emitter()
    out_w = head.output_bits(last)
    emit(f"// head: {head.kind}")
    emit(f"module {top}_head (input wire clk, input wire [{n * ob - 1}:0] x, "
         f"output wire [{out_w - 1}:0] y);")
    sign = "signed " if last.out_signed else ""
    if head.kind == "argmax":
        iw = out_w
        nodes = []
        for i in range(n):
            emit(f"  wire {sign}[{ob - 1}:0] v0_{i} = x[{i * ob + ob - 1}:{i * ob}];")
            emit(f"  wire [{iw - 1}:0] i0_{i} = {iw}'d{i};")
            nodes.append((f"v0_{i}", f"i0_{i}"))
        level = 0
        while len(nodes) > 1:
            nxt = []
            for k in range(0, len(nodes) - 1, 2):
                (va, ia), (vb, ib) = nodes[k], nodes[k + 1]
                v, i = f"v{level + 1}_{k // 2}", f"i{level + 1}_{k // 2}"
                emit(f"  wire g{level + 1}_{k // 2} = {vb} > {va};")
                emit(f"  wire {sign}[{ob - 1}:0] {v} = g{level + 1}_{k // 2} ? {vb} : {va};")
                emit(f"  wire [{iw - 1}:0] {i} = g{level + 1}_{k // 2} ? {ib} : {ia};")
                nxt.append((v, i))
            if len(nodes) % 2:
                nxt.append(nodes[-1])
            nodes, level = nxt, level + 1
        result = nodes[0][1]
    else:
        emit(f"  wire {sign}[{ob - 1}:0] v = x[{ob - 1}:0];")
        if not last.out_signed:
            emit(f"  wire signed [{ob}:0] vs = $signed({{1'b0, v}});")
        value = "v" if last.out_signed else "vs"
        value_width = ob if last.out_signed else ob + 1
        parts = []
        for t_idx, t in enumerate(head.thresholds):
            lit = signed_literal(t, max(value_width, signed_bits(t, t)))
            emit(f"  wire c{t_idx} = {value} >= {lit};")
            parts.append(f"{{{{{out_w - 1}{{1'b0}}}}, c{t_idx}}}" if out_w > 1 else f"c{t_idx}")
        result = "(" + " + ".join(parts) + ")"
    emit(f"  reg [{out_w - 1}:0] y_q;")
    emit(f"  always @(posedge clk) y_q <= {result};")
    emit("  assign y = y_q;")
    emit("endmodule")
    return "\n".join(emit.lines) + "\n"


def output_width(net: IRNetwork) -> int:
    return net.head.output_bits(net.layers[-1])


def generic_chain_bits(net: IRNetwork) -> list[int]:
    return [generic_params(layer).total for layer in net.layers]


def network_verilog(net: IRNetwork, top: str | None = None, style: Style = "embedded",
                    extra_stages: int = 0, partition: bool = False) -> str:
    """The complete Verilog source (all modules) of ``net``.

    ``partition=True`` writes every neuron as its own module (:func:`neuron_module`, register
    chain included), so that a synthesis flow can map the neurons one by one
    (:func:`hwnn.eda.yosys.synth_asic` ``partition=True``); the function is the same, cycle for
    cycle.
    """
    net.validate()
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if extra_stages < 0:
        raise ValueError("extra_stages must be >= 0")
    if any(layer.kind == "conv" for layer in net.layers):
        raise ValueError("conv layers are not flattened into one combinational network; CNN "
                         "hardware is a streaming design (seed 003 §V), not this flow")
    if style == "generic" and any(layer.kind == "sam" for layer in net.layers):
        raise ValueError("SAM layers have constant parameters only (adders and comparators); "
                         "the generic weight-register baseline is for dense layers")
    top = verilog_identifier(top or net.name)
    parts = [f"// Generated by hwnn from IR {net.name!r} ({style} weights, "
             f"{extra_stages} extra register stage(s) per layer"
             f"{', one module per neuron' if partition else ''}); latency "
             f"{latency(net, extra_stages)} cycles.\n"
             "// Arithmetic follows hwnn.ir (round half up requantization, saturation, "
             "ReLU).\n"]
    for k in range(len(net.layers)):
        parts.append(layer_module(net, k, top, style, extra_stages, partition))
    parts += top_module(net, top, style)
    return "\n".join(parts)


def top_module(net: IRNetwork, top: str, style: Style = "embedded") -> list[str]:
    """The head module (if any) and the top module that chains ``<top>_l<k>`` layer modules
    (ports ``clk``, ``x``, ``y``; generic layers also take their slice of the weight chain).
    Used for every network kind whose layers follow that port convention."""
    parts = []
    head = head_module(net, top)
    if head:
        parts.append(head)
    in_w = net.input.features * net.input.bits
    out_w = output_width(net)
    ports = ["input wire clk", f"input wire [{in_w - 1}:0] x", f"output wire [{out_w - 1}:0] y"]
    chain = generic_chain_bits(net) if style == "generic" else []
    if style == "generic":
        ports += ["input wire w_en", "input wire w_in"]
    lines = [f"module {top} (" + ", ".join(ports) + ");"]
    if style == "generic":
        total = sum(chain)
        lines += [
            f"  // weight shift chain: {total} bits, loaded MSB first while w_en = 1",
            f"  reg [{total - 1}:0] wchain;",
            f"  always @(posedge clk) if (w_en) wchain <= {{wchain[{total - 2}:0], w_in}};"
            if total > 1 else "  always @(posedge clk) if (w_en) wchain <= w_in;",
        ]
    prev = "x"
    offset = 0
    for k, layer in enumerate(net.layers):
        w = layer.out_features * layer.out_bits
        lines.append(f"  wire [{w - 1}:0] h{k};")
        conn = f".clk(clk), .x({prev}), .y(h{k})"
        if style == "generic":
            conn += f", .w(wchain[{offset + chain[k] - 1}:{offset}])"
            offset += chain[k]
        lines.append(f"  {top}_l{k} u_l{k} ({conn});")
        prev = f"h{k}"
    if head:
        lines.append(f"  {top}_head u_head (.clk(clk), .x({prev}), .y(y));")
    else:
        lines.append(f"  assign y = {prev};")
    lines.append("endmodule")
    parts.append("\n".join(lines) + "\n")
    return parts


def generic_chain_stream(net: IRNetwork) -> list[int]:
    """The bits to shift into a generic design, in shift order (first bit first).

    The chain register ``wchain`` is the concatenation of the layers' ``w`` buses (layer 0 at
    the LSBs); inside a layer, per neuron: the non-zero weights (ascending input index), the
    bias (``acc_bits``), the multiplier (unsigned); each field LSB at the lower index.
    Shifting MSB first leaves bit ``TOTAL-1`` where it belongs.
    """
    fields: list[tuple[int, int]] = []  # (value, width), LSB-first order
    for layer in net.layers:
        gp = generic_params(layer)
        for j in range(layer.out_features):
            for i in np.flatnonzero(layer.weight[j]).tolist():
                fields.append((int(layer.weight[j, i]), gp.weight_bits))
            fields.append((int(layer.bias[j]), gp.bias_bits))
            fields.append((int(layer.multiplier[j]), gp.mult_bits))
    word, pos = 0, 0
    for value, width in fields:
        word |= (value & ((1 << width) - 1)) << pos
        pos += width
    return [(word >> b) & 1 for b in range(pos - 1, -1, -1)]

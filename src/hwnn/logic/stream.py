"""IR conv layers → a streaming CNN accelerator in Verilog-2005 (seed 003 §V, Fig. 4).

All conv layers run at once; pixels stream through them in raster order, one input pixel
(all channels) per valid cycle, and each layer starts as soon as its window is complete.
Per conv layer ``k`` (module ``<top>_s<k>``), for a :class:`~hwnn.ir.conv.ConvLayer` with
``padding = 0``:

* **line buffer** (§V-A-1): a register shift chain of ``(K-1)·W + K`` pixels that shifts on
  every valid input; the K × K × C window is a fixed set of taps of it. Row/column counters
  of the incoming pixel tell when the window is complete (``row >= K-1`` and
  ``col >= K-1``).
* **CONV unit** (§V-A-2), one per output channel (module ``<top>_s<k>_o<o>``): the loop-
  unrolled products of the window with the hard-coded weights, a sized adder tree, the
  requantizer with embedded scale and the ReLU clip (the same neuron logic as
  :mod:`hwnn.logic.verilog`, ``embedded`` or ``csd`` style), then a register.
* **ReLU prediction** (§V-B; layers whose IR carries ``approx``): an **ApproxConv** unit per
  output channel (module ``<top>_s<k>_a<o>``: the window times the power-of-two codes, i.e.
  shifts, a sized adder tree and the offset) whose sign bit is **ReLUPred**. The window is
  held in a per-channel operand register that loads only when its channel is predicted
  non-negative (the *pixel delay buffer*, which is also operand isolation: a skipped CONV
  unit's inputs do not toggle); the skip flag travels with it and forces the output to 0.
  One cycle more latency than the baseline.
* **operand isolation without prediction** (``operand_isolation=True``, layers without
  ``approx``; the control for attributing the saving): one window register shared by all
  CONV units that loads only complete windows, so the CONV units hold still while the line
  buffer shifts through the positions the layer has no output for (image edges) - which the
  per-channel registers of the prediction also do. Same latency as the prediction.
* **max-pool** (§V-A-3; ``pool = 2``): a horizontal unit keeps the previous output of the
  row, a vertical unit a row buffer (a shift chain of W'/2 entries) of pair maxima; the
  output is valid once per 2 × 2 window (floor mode, like the IR).

Top-level port contract (the same ``clk``/``x``/``y`` names as every hwnn design, so the
gate-level activity tools of :mod:`hwnn.eda` drive it one word per clock):

```
module <top> (input wire clk, input wire [C0*b0+1:0] x, output wire [O*ob:0] y);
// x = {rst, valid, pixel}: pixel channel c at x[c*b0 +: b0], valid at x[C0*b0],
//     synchronous reset at x[C0*b0+1] (clears the counters and valid flags)
// y = {valid, pixel}: the last conv layer's (pooled) output pixel, channel o at
//     y[o*ob +: ob], valid at y[O*ob]
```

Outputs come out in raster order of the last layer's output map, image after image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwnn.ir.conv import ConvLayer
from hwnn.ir.model import DenseLayer, IRError, IRNetwork
from hwnn.ir.ranges import worst_case_acc_bits
from hwnn.logic.verilog import (
    Style,
    _Emitter,
    accumulator,
    registered_neuron_module,
    verilog_identifier,
)


@dataclass(frozen=True)
class StreamPorts:
    """Bit layout of the stream ports of a generated accelerator."""

    in_channels: int
    in_bits: int
    out_channels: int
    out_bits: int
    out_signed: bool
    #: (H, W) of the input image and of the output map
    in_size: tuple[int, int]
    out_size: tuple[int, int]

    @property
    def pixel_width(self) -> int:
        return self.in_channels * self.in_bits

    @property
    def x_width(self) -> int:
        return self.pixel_width + 2

    @property
    def y_width(self) -> int:
        return self.out_channels * self.out_bits + 1


def conv_prefix(net: IRNetwork) -> list[ConvLayer]:
    """The leading conv layers of ``net`` (the part the accelerator builds; seed 003
    leaves the FC layers out of the hardware)."""
    layers = []
    for layer in net.layers:
        if not isinstance(layer, ConvLayer):
            break
        layers.append(layer)
    if not layers:
        raise IRError(f"IR {net.name!r} starts with no conv layer: nothing to stream")
    for layer in layers:
        if layer.padding != 0:
            raise IRError(f"{layer.name}: the streaming accelerator takes unpadded ('valid') "
                          f"convolutions, got padding {layer.padding}")
        if layer.pool not in (0, 1, 2):
            raise IRError(f"{layer.name}: the streaming accelerator pools 2 x 2 (or not), got "
                          f"pool {layer.pool}")
    return layers


def stream_ports(net: IRNetwork) -> StreamPorts:
    layers = conv_prefix(net)
    first, last = layers[0], layers[-1]
    _, h, w = first.in_shape
    o, oh, ow = last.out_shape()
    return StreamPorts(first.in_shape[0], first.in_bits, o, last.out_bits, last.out_signed,
                       (h, w), (oh, ow))


def dense_view(layer: ConvLayer, approx: bool = False) -> DenseLayer:
    """One output channel of the conv = one dense neuron over the flattened window
    (C, K, K order): the exact weights, or the ApproxConv codes and offset (``approx``)."""
    weight = layer.approx if approx else layer.weight
    bias = layer.approx_offset if approx else layer.bias
    assert weight is not None and bias is not None
    view = DenseLayer(
        name=layer.name, weight=weight.reshape(layer.channels, -1), bias=bias,
        multiplier=layer.multiplier, shift=layer.shift, in_bits=layer.in_bits,
        in_signed=layer.in_signed, acc_bits=layer.acc_bits, out_bits=layer.out_bits,
        out_signed=layer.out_signed, activation=layer.activation, overflow="wrap",
        weight_bits=max(2, int(np.abs(weight).max()).bit_length() + 1))
    if approx:  # exact worst-case width of the prediction (never wraps)
        view.acc_bits = worst_case_acc_bits(view)
    return view


def _approx_module(layer: ConvLayer, o: int, name: str) -> str:
    """ApproxConv + ReLUPred of output channel ``o``: ``neg = (Σ a·x + offset) < 0``."""
    view = dense_view(layer, approx=True)
    emit = _Emitter()
    emit(f"module {name} (input wire [{view.in_features * view.in_bits - 1}:0] x, "
         "output wire neg);")
    acc = accumulator(emit, view, o, "csd")  # powers of two: CSD = one shift per code
    emit(f"  assign neg = {acc.name}[{acc.width - 1}];")
    emit("endmodule")
    return "\n".join(emit.lines) + "\n"


def _bits_for(n: int) -> int:
    return max(1, (max(n, 1) - 1).bit_length())


def _window_taps(layer: ConvLayer) -> list[tuple[int, int]]:
    """For window input ``i`` (C, K, K order): (line-buffer slot, channel). Slot 0 holds the
    newest pixel, the window's bottom-right corner."""
    c_n, _, w = layer.in_shape
    k = layer.kernel
    taps = []
    for c in range(c_n):
        for u in range(k):
            for v in range(k):
                taps.append(((k - 1 - u) * w + (k - 1 - v), c))
    return taps


def _layer_module(layer: ConvLayer, k: int, top: str, style: Style,
                  isolate: bool = False) -> tuple[str, list[str]]:
    """Module ``<top>_s<k>`` and the CONV/ApproxConv unit modules it instantiates
    (``isolate``: a shared operand register for a layer without prediction)."""
    c_n, h, w = layer.in_shape
    kk = layer.kernel
    o_n, oh, ow = layer.conv_shape()
    b, ob = layer.in_bits, layer.out_bits
    pw = c_n * b
    depth = (kk - 1) * w + kk
    win_w = c_n * kk * kk * b
    view = dense_view(layer)
    predict = layer.approx is not None
    name = f"{top}_s{k}"
    units = [registered_neuron_module(view, o, f"{name}_o{o}", style) for o in range(o_n)]
    if predict:
        units += [_approx_module(layer, o, f"{name}_a{o}") for o in range(o_n)]
    cw, rw = _bits_for(w), _bits_for(h)
    e = _Emitter()
    e(f"// conv layer {k} ({layer.name}): {c_n}x{h}x{w} -> {o_n}x{oh}x{ow}, {kk}x{kk} "
      f"kernel, {layer.nonzero_weights()} non-zero weights, out "
      f"{'int' if layer.out_signed else 'uint'}{ob} {layer.activation}"
      + (", ReLU prediction" if predict else "") + (f", {layer.pool}x{layer.pool} max-pool"
                                                     if layer.pool > 1 else ""))
    e(f"module {name} (input wire clk, input wire rst, input wire v_in, "
      f"input wire [{pw - 1}:0] p_in, output wire v_out, output wire [{o_n * ob - 1}:0] p_out);")
    e(f"  reg [{cw - 1}:0] col = 0;")
    e(f"  reg [{rw - 1}:0] row = 0;")
    e("  always @(posedge clk)")
    e("    if (rst) begin col <= 0; row <= 0; end")
    e("    else if (v_in) begin")
    e(f"      col <= (col == {w - 1}) ? {cw}'d0 : col + {cw}'d1;")
    e(f"      if (col == {w - 1}) row <= (row == {h - 1}) ? {rw}'d0 : row + {rw}'d1;")
    e("    end")
    e(f"  // line buffer: {depth} pixels of {pw} bits, slot 0 = newest")
    e(f"  reg [{depth * pw - 1}:0] lb;")
    shifted = f"{{lb[{(depth - 1) * pw - 1}:0], p_in}}" if depth > 1 else "p_in"
    e(f"  always @(posedge clk) if (v_in) lb <= {shifted};")
    # window complete after this shift; position parity/range for the pool
    e("  reg win_v = 1'b0;")
    e("  reg c_odd, r_odd, c_keep, r_keep;")
    c_floor, r_floor = ow - ow % 2, oh - oh % 2
    e("  always @(posedge clk) begin")
    e(f"    win_v <= !rst && v_in && row >= {kk - 1} && col >= {kk - 1};")
    e(f"    c_odd <= col[0] ^ 1'b{(kk - 1) & 1};")
    e(f"    r_odd <= row[0] ^ 1'b{(kk - 1) & 1};")
    e(f"    c_keep <= col < {kk - 1 + c_floor};")
    e(f"    r_keep <= row < {kk - 1 + r_floor};")
    e("  end")
    taps = _window_taps(layer)
    e(f"  wire [{win_w - 1}:0] win;")
    for i, (slot, c) in enumerate(taps):
        lo = slot * pw + c * b
        e(f"  assign win[{i * b + b - 1}:{i * b}] = lb[{lo + b - 1}:{lo}];")
    e(f"  wire [{o_n * ob - 1}:0] conv;")
    if predict or isolate:
        e("  reg v1 = 1'b0, v2 = 1'b0;")
        e("  reg c1, r1, ck1, rk1, c2, r2, ck2, rk2;")
        e("  always @(posedge clk) begin")
        e("    v1 <= win_v && !rst; v2 <= v1 && !rst;")
        e("    c1 <= c_odd; r1 <= r_odd; ck1 <= c_keep; rk1 <= r_keep;")
        e("    c2 <= c1; r2 <= r1; ck2 <= ck1; rk2 <= rk1;")
        e("  end")
        v, c_o, r_o, ck, rk = "v2", "c2", "r2", "ck2", "rk2"
    if isolate and not predict:
        e(f"  reg [{win_w - 1}:0] opnd;  // operand isolation: loads complete windows only")
        e("  always @(posedge clk) if (win_v) opnd <= win;")
        for o in range(o_n):
            e(f"  {name}_o{o} u_o{o} (.clk(clk), .x(opnd), "
              f".y(conv[{o * ob + ob - 1}:{o * ob}]));")
    elif predict:
        e(f"  wire [{o_n - 1}:0] neg;")
        e(f"  reg [{o_n - 1}:0] skip1, skip2;")
        e("  always @(posedge clk) begin skip1 <= neg; skip2 <= skip1; end")
        for o in range(o_n):
            e(f"  {name}_a{o} u_a{o} (.x(win), .neg(neg[{o}]));")
            e(f"  reg [{win_w - 1}:0] opnd{o};  // operand isolation: loads only when needed")
            e(f"  always @(posedge clk) if (win_v && !neg[{o}]) opnd{o} <= win;")
            e(f"  wire [{ob - 1}:0] y{o};")
            e(f"  {name}_o{o} u_o{o} (.clk(clk), .x(opnd{o}), .y(y{o}));")
            e(f"  assign conv[{o * ob + ob - 1}:{o * ob}] = skip2[{o}] ? {ob}'d0 : y{o};")
    else:
        e("  reg v1 = 1'b0;")
        e("  reg c1, r1, ck1, rk1;")
        e("  always @(posedge clk) begin")
        e("    v1 <= win_v && !rst; c1 <= c_odd; r1 <= r_odd; ck1 <= c_keep; rk1 <= r_keep;")
        e("  end")
        for o in range(o_n):
            e(f"  {name}_o{o} u_o{o} (.clk(clk), .x(win), "
              f".y(conv[{o * ob + ob - 1}:{o * ob}]));")
        v, c_o, r_o, ck, rk = "v1", "c1", "r1", "ck1", "rk1"
    if layer.pool > 1:
        _pool(e, layer, v, c_o, r_o, ck, rk)
    else:
        e(f"  assign v_out = {v};")
        e("  assign p_out = conv;")
    e("endmodule")
    return "\n".join(e.lines) + "\n", units


def _pool(e: _Emitter, layer: ConvLayer, v: str, c_odd: str, r_odd: str, c_keep: str,
          r_keep: str) -> None:
    """2 × 2 max-pool of the stream ``conv`` (valid ``v``) into ``v_out``/``p_out``."""
    o_n, _, ow = layer.conv_shape()
    ob = layer.out_bits
    half = ow // 2
    sgn = "$signed" if layer.out_signed else ""
    e(f"  // max-pool 2x2: horizontal pairs, then a row buffer of {half} pair maxima")
    e(f"  reg [{o_n * ob - 1}:0] hprev;")
    e(f"  always @(posedge clk) if ({v}) hprev <= conv;")
    e(f"  wire [{o_n * ob - 1}:0] hmax, vmax, push;")
    e(f"  reg [{half * o_n * ob - 1}:0] rowbuf;")
    e(f"  wire [{o_n * ob - 1}:0] tail = rowbuf[{half * o_n * ob - 1}:{(half - 1) * o_n * ob}];")
    tail = "tail"
    for o in range(o_n):
        sl = f"[{o * ob + ob - 1}:{o * ob}]"
        e(f"  assign hmax{sl} = ({sgn}(conv{sl}) > {sgn}(hprev{sl})) ? conv{sl} : hprev{sl};")
        e(f"  assign vmax{sl} = ({sgn}(hmax{sl}) > {sgn}({tail}{sl})) ? hmax{sl} : {tail}{sl};")
    e(f"  assign push = {r_odd} ? vmax : hmax;")
    e(f"  wire pair = {v} && {c_odd} && {c_keep};")
    shifted = (f"{{rowbuf[{(half - 1) * o_n * ob - 1}:0], push}}" if half > 1 else "push")
    e(f"  always @(posedge clk) if (pair) rowbuf <= {shifted};")
    e("  reg vo = 1'b0;")
    e(f"  reg [{o_n * ob - 1}:0] po;")
    e("  always @(posedge clk) begin")
    e(f"    vo <= pair && {r_odd} && {r_keep};")
    e("    if (pair) po <= vmax;")
    e("  end")
    e("  assign v_out = vo && !rst;")
    e("  assign p_out = po;")


def stream_verilog(net: IRNetwork, top: str | None = None, style: Style = "embedded",
                   operand_isolation: bool = False) -> str:
    """The complete Verilog source of the streaming accelerator of ``net``'s conv layers
    (``operand_isolation``: a shared operand register in the layers without prediction)."""
    net.validate()
    layers = conv_prefix(net)
    ports = stream_ports(net)
    top = verilog_identifier(top or net.name)
    parts = [f"// Generated by hwnn.logic.stream from IR {net.name!r}: {len(layers)} streaming "
             f"conv layer(s), {style} weights"
             + ("; ReLU prediction in " + ", ".join(la.name for la in layers
                                                    if la.approx is not None)
                if any(la.approx is not None for la in layers) else "") + ".\n"]
    for k, layer in enumerate(layers):
        module, units = _layer_module(layer, k, top, style, operand_isolation)
        parts += units
        parts.append(module)
    e = _Emitter()
    pw = ports.pixel_width
    e(f"module {top} (input wire clk, input wire [{ports.x_width - 1}:0] x, "
      f"output wire [{ports.y_width - 1}:0] y);")
    e(f"  wire rst = x[{pw + 1}];")
    e(f"  wire v0 = x[{pw}];")
    e(f"  wire [{pw - 1}:0] p0 = x[{pw - 1}:0];")
    for k, layer in enumerate(layers):
        ow = layer.channels * layer.out_bits
        e(f"  wire v{k + 1};")
        e(f"  wire [{ow - 1}:0] p{k + 1};")
        e(f"  {top}_s{k} u_s{k} (.clk(clk), .rst(rst), .v_in(v{k}), .p_in(p{k}), "
          f".v_out(v{k + 1}), .p_out(p{k + 1}));")
    n = len(layers)
    e(f"  assign y = {{v{n}, p{n}}};")
    e("endmodule")
    parts.append("\n".join(e.lines) + "\n")
    return "\n".join(parts)


def stream_words(ports: StreamPorts, images: np.ndarray, idle: np.ndarray | None = None,
                 drain: int = 64) -> list[int]:
    """The ``x`` words that stream ``images`` (N, C·H·W integer codes, C-major like the IR)
    through the accelerator: one reset cycle, then every image's pixels in raster order
    (``idle[n, p]`` extra cycles with valid low before pixel ``p`` of image ``n``, to test
    gaps), then ``drain`` idle cycles for the pipeline to empty."""
    c_n, b = ports.in_channels, ports.in_bits
    h, w = ports.in_size
    codes = np.asarray(images, dtype=np.int64).reshape(-1, c_n, h * w)
    mask = (1 << b) - 1
    valid = 1 << ports.pixel_width
    words = [1 << (ports.pixel_width + 1)]
    for n, img in enumerate(codes):
        for p in range(h * w):
            if idle is not None:
                words += [0] * int(idle[n, p])
            pixel = 0
            for c in range(c_n):
                pixel |= (int(img[c, p]) & mask) << (c * b)
            words.append(valid | pixel)
    return words + [0] * drain


def stream_outputs(ports: StreamPorts, y_words: list[int | None]) -> np.ndarray:
    """The valid output pixels of a simulation, (M, O) integer codes in output order."""
    ob, o_n = ports.out_bits, ports.out_channels
    valid = 1 << (o_n * ob)
    rows = []
    for word in y_words:
        if word is None or not word & valid:
            continue
        vals = [(word >> (o * ob)) & ((1 << ob) - 1) for o in range(o_n)]
        if ports.out_signed:
            vals = [v - (1 << ob) if v >> (ob - 1) else v for v in vals]
        rows.append(vals)
    return np.array(rows, dtype=np.int64).reshape(-1, o_n)


def mismatching_pixels(got: np.ndarray, want: np.ndarray) -> int:
    """Output pixels (rows) where a simulation differs from the reference; a stream of the
    wrong length counts every pixel of the longer one."""
    if got.shape != want.shape:
        return max(len(got), len(want))
    return int((got != want).any(axis=1).sum())


def expected_stream(net: IRNetwork, codes: np.ndarray) -> np.ndarray:
    """The IR reference of the conv layers, in the accelerator's output order: per image,
    the last conv layer's (pooled) map in raster order, (N·H'·W', O)."""
    from hwnn.ir.reference import run

    n_conv = len(conv_prefix(net))
    out = run(net, codes).outputs[n_conv - 1]
    o_n, oh, ow = conv_prefix(net)[-1].out_shape()
    return out.reshape(-1, o_n, oh * ow).transpose(0, 2, 1).reshape(-1, o_n)


__all__ = ["StreamPorts", "conv_prefix", "dense_view", "expected_stream", "mismatching_pixels",
           "stream_outputs",
           "stream_ports", "stream_verilog", "stream_words"]

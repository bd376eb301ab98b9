"""The integer network (IR): the one contract between training and hardware.

A feed-forward network of dense integer layers (seed 000 §III-A/B). Layer ``k`` maps integer
inputs ``x`` (``in_bits`` wide, signed or not) to integer outputs ``y``:

1. accumulate (the MAC with embedded weights):
   ``acc_j = bias_j + sum_i weight_ji * x_i`` — exact; zero weights are pruned connections;
2. fit the accumulator into ``A_j`` bits, signed two's complement, where ``A_j`` is
   ``neuron_acc_bits[j]`` when the layer has per-neuron widths (set by adder bit-width
   profiling, :mod:`hwnn.ir.profile`, seed 000 §III-B) and ``acc_bits`` otherwise:
   ``overflow = "wrap"`` keeps ``acc mod 2^A_j`` (an adder tree that is ``A_j`` wide),
   ``"saturate"`` clips to ``[-2^(A_j-1), 2^(A_j-1)-1]``. A layer exported at the
   worst-case width never overflows, so both modes are exact there;
3. requantize with the embedded scale ``M_j / 2^S_j`` (round half up, :mod:`hwnn.rules`):
   ``r_j = (acc_j * M_j + 2^(S_j-1)) >> S_j``;
4. activation and saturation: ``y_j = clip(r_j, lo, hi)`` with ``[lo, hi]`` the range of
   ``out_bits``/``out_signed``; ``activation = "relu"`` raises ``lo`` to ``max(lo, 0)``.

The network's ``head`` turns the last layer's outputs into the prediction: ``"argmax"``
(class index, first maximum on ties), ``"slicer"`` (PAM4 symbol index = number of
``thresholds`` that are ``<= y``, thresholds ascending, one output) or ``"raw"``.

The input is the integer code the model's input quantizer produces:
``x_int = clip(round_half_up(x / input.scale), range(input.bits, input.signed))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hwnn.errors import HwnnError
from hwnn.rules import int_range

IR_FORMAT = "hwnn.ir.v1"
Activation = Literal["relu", "identity"]
Overflow = Literal["wrap", "saturate"]
HeadKind = Literal["argmax", "slicer", "raw"]
LAYER_KINDS = ("dense", "sam", "conv")
ACTIVATIONS = ("relu", "identity")
OVERFLOWS = ("wrap", "saturate")
HEADS = ("argmax", "slicer", "raw")
MAX_ACC_BITS = 62  # int64 reference arithmetic (acc * M must stay below 2^63)


class IRError(HwnnError):
    """An IR file or object is malformed or inconsistent."""


@dataclass(frozen=True)
class IRInput:
    features: int
    bits: int
    signed: bool
    scale: float | None = None  # x_real = scale * x_int (None: unknown / not recorded)

    def range(self) -> tuple[int, int]:
        return int_range(self.bits, self.signed)


class RequantizedLayer:
    """Steps 2-4 of the module docstring, shared by every layer kind that ends in the
    accumulator -> requantizer -> clip pipeline (dense here, SAM in :mod:`hwnn.ir.sam`)."""

    out_bits: int
    out_signed: bool
    activation: str
    acc_bits: int
    neuron_acc_bits: np.ndarray | None
    multiplier: np.ndarray
    shift: np.ndarray

    @property
    def out_features(self) -> int:
        raise NotImplementedError

    def out_range(self) -> tuple[int, int]:
        lo, hi = int_range(self.out_bits, self.out_signed)
        return (max(lo, 0) if self.activation == "relu" else lo), hi

    def acc_range(self) -> tuple[int, int]:
        return int_range(self.acc_bits, True)

    def worst_case_acc_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per output, the exact accumulator range over all inputs (layer kinds with a
        worst-case width check: SAM, conv)."""
        raise NotImplementedError

    def worst_case_acc_bits(self) -> int:
        from hwnn.ir.ranges import signed_bits

        lo, hi = self.worst_case_acc_range()
        return signed_bits(int(lo.min()), int(hi.max()))

    def check_requantizer(self, where: str) -> None:
        """Multipliers >= 1, shifts in 0..62, and ``acc_bits`` covering the worst case with
        room for ``acc * M`` in int64 (a layer whose accumulator never overflows)."""
        if np.any(self.multiplier < 1) or np.any(self.shift < 0) or np.any(self.shift > 62):
            raise IRError(f"{where}: requantization needs multipliers >= 1 and shifts in 0..62")
        need = self.worst_case_acc_bits()
        if not need <= self.acc_bits <= 62 - int(self.multiplier.max()).bit_length():
            raise IRError(f"{where}: acc_bits {self.acc_bits} must cover the worst case "
                          f"({need} bits) and leave room for acc * M in int64")

    def acc_widths(self) -> np.ndarray:
        """Per-neuron accumulator width ``A_j`` (int64, shape (out,))."""
        if self.neuron_acc_bits is None:
            return np.full(self.out_features, self.acc_bits, dtype=np.int64)
        return self.neuron_acc_bits.astype(np.int64)


@dataclass
class DenseLayer(RequantizedLayer):
    """One dense integer layer; arrays are int64, ``weight`` has shape (out, in)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    in_bits: int
    in_signed: bool
    acc_bits: int
    out_bits: int
    out_signed: bool
    activation: Activation = "identity"
    overflow: Overflow = "wrap"
    weight_bits: int = 8
    kind: str = "dense"
    # Optional per-neuron accumulator widths (<= acc_bits), from profiling (seed 000 §III-B).
    neuron_acc_bits: np.ndarray | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    def nonzero_weights(self) -> int:
        return int(np.count_nonzero(self.weight))


@dataclass(frozen=True)
class Head:
    kind: HeadKind = "raw"
    thresholds: tuple[int, ...] = ()  # slicer: ascending integer thresholds on y

    def output_bits(self, last: DenseLayer) -> int:
        """Width of one prediction word at the network output."""
        if self.kind == "argmax":
            return max(1, (last.out_features - 1).bit_length())
        if self.kind == "slicer":
            return max(1, len(self.thresholds).bit_length())
        return last.out_bits * last.out_features


@dataclass
class IRNetwork:
    name: str
    input: IRInput
    layers: list[DenseLayer]  # or hwnn.ir.sam.SamLayer ("sam"), hwnn.ir.conv.ConvLayer ("conv")
    head: Head = Head()
    meta: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> IRNetwork:
        """Check shapes, ranges and that each layer's input width is the previous output's.
        Raises :class:`IRError` naming the layer and field."""
        if not self.layers:
            raise IRError(f"IR {self.name!r} has no layers")
        if self.input.features < 1 or self.input.bits < 1:
            raise IRError(f"input: features and bits must be >= 1, got {self.input}")
        prev_features, prev_bits, prev_signed = (self.input.features, self.input.bits,
                                                 self.input.signed)
        prev_name = "input"
        for idx, layer in enumerate(self.layers):
            where = f"layer {idx} ({layer.name})"
            if layer.kind not in LAYER_KINDS:
                raise IRError(f"{where}: unsupported layer kind {layer.kind!r}; this IR version "
                              f"supports {', '.join(LAYER_KINDS)}")
            if layer.kind in ("sam", "conv"):
                layer.check(where)  # hwnn.ir.sam.SamLayer, hwnn.ir.conv.ConvLayer
            else:
                _check_layer(layer, where)
            if layer.in_features != prev_features:
                raise IRError(f"{where}: weight has {layer.in_features} inputs but {prev_name} "
                              f"gives {prev_features}")
            if (layer.in_bits, layer.in_signed) != (prev_bits, prev_signed):
                raise IRError(
                    f"{where}: input is declared {_fmt_int(layer.in_bits, layer.in_signed)} but "
                    f"{prev_name} produces {_fmt_int(prev_bits, prev_signed)}")
            prev_features, prev_bits, prev_signed = (layer.out_features, layer.out_bits,
                                                     layer.out_signed)
            prev_name = where
        last = self.layers[-1]
        if self.head.kind not in HEADS:
            raise IRError(f"head: unknown kind {self.head.kind!r}; choose one of "
                          f"{', '.join(HEADS)}")
        if self.head.kind == "slicer":
            t = list(self.head.thresholds)
            if last.out_features != 1 or not t or t != sorted(t):
                raise IRError("head: a slicer needs one output and ascending thresholds, got "
                              f"{last.out_features} outputs and thresholds {t}")
        elif self.head.thresholds:
            raise IRError(f"head: thresholds are only valid for a slicer, not {self.head.kind}")
        if self.head.kind == "argmax" and last.out_features < 2:
            raise IRError("head: argmax needs at least 2 outputs")
        return self

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": f"{self.input.features} x {_fmt_int(self.input.bits, self.input.signed)}",
            "layers": [{"name": la.name, "kind": la.kind,
                        "shape": [la.out_features, la.in_features],
                        "nonzero_weights": la.nonzero_weights(), "acc_bits": la.acc_bits,
                        "out": _fmt_int(la.out_bits, la.out_signed),
                        "activation": la.activation} for la in self.layers],
            "head": self.head.kind,
        }


def _fmt_int(bits: int, signed: bool) -> str:
    return f"{'int' if signed else 'uint'}{bits}"


def _check_layer(layer: DenseLayer, where: str) -> None:
    w = layer.weight
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
        raise IRError(f"{where}: weight must be a non-empty (out, in) matrix, got {w.shape}")
    n_out = w.shape[0]
    for name in ("bias", "multiplier", "shift"):
        arr = getattr(layer, name)
        if arr.shape != (n_out,):
            raise IRError(f"{where}: {name} must have shape ({n_out},), got {arr.shape}")
    for name in ("weight", "bias", "multiplier", "shift"):
        if getattr(layer, name).dtype != np.int64:
            raise IRError(f"{where}: {name} must be int64, got {getattr(layer, name).dtype}")
    if layer.activation not in ACTIVATIONS:
        raise IRError(f"{where}: unknown activation {layer.activation!r}; choose one of "
                      f"{', '.join(ACTIVATIONS)}")
    if layer.overflow not in OVERFLOWS:
        raise IRError(f"{where}: unknown overflow rule {layer.overflow!r}; choose one of "
                      f"{', '.join(OVERFLOWS)}")
    for name in ("in_bits", "out_bits", "weight_bits"):
        if getattr(layer, name) < 1:
            raise IRError(f"{where}: {name} must be >= 1")
    if layer.out_signed and layer.out_bits < 2:
        raise IRError(f"{where}: a signed output needs at least 2 bits")
    if not 2 <= layer.acc_bits <= MAX_ACC_BITS:
        raise IRError(f"{where}: acc_bits must be in 2..{MAX_ACC_BITS}, got {layer.acc_bits}")
    wlo, whi = int_range(layer.weight_bits, True) if layer.weight_bits > 1 else (-1, 1)
    if w.size and (w.min() < wlo or w.max() > whi):
        raise IRError(f"{where}: weights must fit int{layer.weight_bits} [{wlo}, {whi}], got "
                      f"[{w.min()}, {w.max()}]")
    alo, ahi = layer.acc_range()
    if layer.bias.size and (layer.bias.min() < alo or layer.bias.max() > ahi):
        raise IRError(f"{where}: bias does not fit the {layer.acc_bits}-bit accumulator")
    if np.any(layer.multiplier < 1):
        raise IRError(f"{where}: requantization multipliers must be >= 1")
    if np.any(layer.shift < 0) or np.any(layer.shift > 62):
        raise IRError(f"{where}: requantization shifts must be in 0..62")
    mbits = int(layer.multiplier.max()).bit_length()
    if layer.acc_bits + mbits > 63:
        raise IRError(f"{where}: acc_bits {layer.acc_bits} + multiplier bits {mbits} exceed "
                      "63; acc * M would not fit int64")
    nab = layer.neuron_acc_bits
    if nab is not None:
        if nab.shape != (n_out,) or nab.dtype != np.int64:
            raise IRError(f"{where}: neuron_acc_bits must be int64 of shape ({n_out},), got "
                          f"{nab.dtype} {nab.shape}")
        if nab.size and (nab.min() < 2 or nab.max() > layer.acc_bits):
            raise IRError(f"{where}: neuron_acc_bits must be in 2..acc_bits ({layer.acc_bits}),"
                          f" got [{nab.min()}, {nab.max()}]")
        lo = -(np.int64(1) << (nab - 1))
        if np.any(layer.bias < lo) or np.any(layer.bias > -lo - 1):
            raise IRError(f"{where}: a bias does not fit its neuron's accumulator width")

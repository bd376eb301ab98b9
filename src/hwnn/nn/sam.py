"""The Sum-and-Max (SAM) layer of seed 001 (Prono et al., ISCAS 2022).

Seed 001 eq. 5, per output ``j``::

    o_j = max_i (x_i + W+_ij) + min_i (x_i + W-_ij)

No multiplication, no activation function (max and min are the non-linearity); an optional
per-output bias ``b_j`` is added when ``bias=True`` (the paper's layer has none: §II says
bias and activation are not needed). Gradient (§II): the max (min) passes the upstream
gradient to the one selected term only, i.e. to that ``x_i`` and that ``W+_ij`` (``W-_ij``);
every other input and parameter of output ``j`` gets 0 from that term.

Pruning (§III-D): a removed connection is a parameter set to ``-inf`` in the max (``+inf``
in the min), so it can never be selected. Here the boolean buffers ``keep_plus`` /
``keep_minus`` say which parameters are kept. A term whose every parameter is removed
contributes 0 (the neuron then has no max or no min at all, as hardware would build it).

Why a custom autograd function: autograd through ``torch.max`` would keep the
``batch × n × m`` sum tensor for the backward pass (537 MB per term at the paper's 256 × 512
× 1024 in float32). :class:`_SamTerm` evaluates the sums in cache-sized blocks (:func:`sam_term`),
keeps only the winning index per (sample, output) and scatters the gradient back from it.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

#: Elements of one ``rows × outputs × n`` block the forward pass materialises at a time
#: (float32: 2 MB, so that a block stays in a core's L2 cache).
BLOCK_ELEMENTS = 512 * 1024
#: Samples per block: blocks tile the batch as well as the outputs.
ROW_TILE = 32


def _chunk(rows: int, n: int, m: int, block_elements: int) -> int:
    return max(1, min(m, block_elements // max(1, rows * n)))


def sam_term(x: torch.Tensor, weight: torch.Tensor, keep: torch.Tensor | None, largest: bool,
             block_elements: int = BLOCK_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """``max_i (x_i + W_ij)`` (``largest``) or ``min_i``: values ``(B, m)`` and the winning
    input index ``(B, m)`` (``-1`` where every parameter of output ``j`` is removed; the
    value is then 0). ``x`` is ``(B, n)``, ``weight`` and ``keep`` are ``(n, m)``.

    The sums are formed in ``(rows, outputs, n)`` blocks of about ``block_elements`` and
    reduced over their last, contiguous axis (4x faster on one core than ``(B, n, outputs)``
    blocks reduced over the middle axis, measured at 256 x 512 -> 1024).
    After heavy pruning (no output keeps more than a quarter of the inputs) only the kept
    inputs of each output are gathered, so the work is ``B x m x (most kept per output)``
    instead of ``B x n x m`` (the §III-D pruning curves evaluate 10^5 signals per point)."""
    batch, n = x.shape
    m = weight.shape[1]
    fill = float("-inf") if largest else float("inf")
    if keep is not None and 4 * int(keep.sum(dim=0).max()) < n:
        values, index = _gathered_term(x, weight, keep, largest, fill, block_elements)
    else:
        w_t = weight.T if keep is None else weight.T.masked_fill(~keep.T, fill)
        w_t = w_t.contiguous()  # (m, n)
        values = x.new_empty(batch, m)
        index = torch.empty(batch, m, dtype=torch.long, device=x.device)
        rows = min(batch, ROW_TILE)
        step = _chunk(rows, n, m, block_elements)
        for r0 in range(0, batch, rows):
            xs = x[r0 : r0 + rows].unsqueeze(1)  # (rows, 1, n)
            for lo in range(0, m, step):
                block = xs + w_t[lo : lo + step].unsqueeze(0)  # (rows, c, n)
                best = block.max(dim=2) if largest else block.min(dim=2)
                values[r0 : r0 + rows, lo : lo + step] = best.values
                index[r0 : r0 + rows, lo : lo + step] = best.indices
    if keep is not None:
        empty = ~keep.any(dim=0)  # outputs with no kept parameter in this term
        if bool(empty.any()):
            values[:, empty] = 0.0
            index[:, empty] = -1
    return values, index


def _gathered_term(x: torch.Tensor, weight: torch.Tensor, keep: torch.Tensor, largest: bool,
                   fill: float, block_elements: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`sam_term` over the kept inputs only: per output, its kept input indices in
    ascending order, padded to the longest list with a removed (``fill``) parameter."""
    batch = x.shape[0]
    m = weight.shape[1]
    width = max(1, int(keep.sum(dim=0).max()))
    rows = torch.argsort((~keep).to(torch.int8), dim=0, stable=True)[:width]  # kept first
    inputs = rows.T.contiguous()  # (m, width)
    kept = torch.gather(keep, 0, rows).T
    w = torch.gather(weight, 0, rows).T.masked_fill(~kept, fill)  # (m, width)
    values = x.new_empty(batch, m)
    index = torch.empty(batch, m, dtype=torch.long, device=x.device)
    rows = min(batch, ROW_TILE)
    step = _chunk(rows, width, m, block_elements)
    for r0 in range(0, batch, rows):
        xs = x[r0 : r0 + rows]
        for lo in range(0, m, step):
            hi = min(m, lo + step)
            block = xs[:, inputs[lo:hi]] + w[lo:hi].unsqueeze(0)  # (rows, c, width)
            best = block.max(dim=2) if largest else block.min(dim=2)
            values[r0 : r0 + rows, lo:hi] = best.values
            index[r0 : r0 + rows, lo:hi] = inputs[lo:hi].T.gather(0, best.indices)
    return values, index


class _SamTerm(torch.autograd.Function):
    """One SAM term with the §II gradient (see module docstring)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, keep: torch.Tensor | None,
                largest: bool, block_elements: int) -> torch.Tensor:
        values, index = sam_term(x, weight, keep, largest, block_elements)
        ctx.save_for_backward(index)
        ctx.shape = (x.shape, weight.shape)
        return values

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        (index,) = ctx.saved_tensors
        x_shape, w_shape = ctx.shape
        live = index >= 0
        g = grad_out * live
        idx = index.clamp(min=0)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_out.new_zeros(x_shape).scatter_add_(1, idx, g)
        if ctx.needs_input_grad[1]:
            n, m = w_shape
            flat = idx * m + torch.arange(m, device=idx.device)  # position of W[i*, j]
            grad_w = grad_out.new_zeros(n * m).scatter_add_(0, flat.reshape(-1),
                                                            g.reshape(-1)).view(n, m)
        return grad_x, grad_w, None, None, None


class SAMLinear(nn.Module):
    """Seed 001 eq. 5 as a layer: ``(B, in_features) -> (B, out_features)``.

    ``weight_plus`` / ``weight_minus`` are ``(in_features, out_features)`` (the paper's
    ``W+`` and ``W-``, indexed ``[i, j]``); ``keep_plus`` / ``keep_minus`` mark the
    connections left after pruning (all kept at first).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False,
                 init_scale: float = 0.1, block_elements: int = BLOCK_ELEMENTS) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"SAMLinear needs positive sizes, got {in_features} -> "
                             f"{out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.block_elements = block_elements
        shape = (in_features, out_features)
        self.weight_plus = nn.Parameter(torch.empty(shape).uniform_(-init_scale, init_scale))
        self.weight_minus = nn.Parameter(torch.empty(shape).uniform_(-init_scale, init_scale))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("keep_plus", torch.ones(shape, dtype=torch.bool))
        self.register_buffer("keep_minus", torch.ones(shape, dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"SAMLinear expects (batch, {self.in_features}) inputs, got "
                             f"{tuple(x.shape)}")
        keep_p = None if bool(self.keep_plus.all()) else self.keep_plus
        keep_m = None if bool(self.keep_minus.all()) else self.keep_minus
        out = (_SamTerm.apply(x, self.weight_plus, keep_p, True, self.block_elements)
               + _SamTerm.apply(x, self.weight_minus, keep_m, False, self.block_elements))
        return out if self.bias is None else out + self.bias

    @torch.no_grad()
    def activation_counts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """§III-D activation rate: how often each ``W+_ij`` wins its max and each ``W-_ij``
        its min over the rows of ``x``; two ``(in_features, out_features)`` int64 tensors."""
        counts = []
        for weight, keep, largest in ((self.weight_plus, self.keep_plus, True),
                                      (self.weight_minus, self.keep_minus, False)):
            _, index = sam_term(x, weight, keep, largest, self.block_elements)
            n, m = weight.shape
            live = index >= 0
            flat = (index * m + torch.arange(m))[live]
            counts.append(torch.bincount(flat, minlength=n * m).view(n, m))
        return counts[0], counts[1]

    @torch.no_grad()
    def prune_by_activation(self, counts_plus: torch.Tensor, counts_minus: torch.Tensor,
                            threshold: int) -> int:
        """Remove every connection activated fewer than ``threshold`` times (§III-D);
        returns the number of parameters kept (both matrices)."""
        self.keep_plus &= counts_plus >= threshold
        self.keep_minus &= counts_minus >= threshold
        return self.kept_parameters()

    def kept_parameters(self) -> int:
        """Parameters still used at inference: kept ``W+`` and ``W-`` entries (+ bias)."""
        extra = 0 if self.bias is None else self.out_features
        return int(self.keep_plus.sum()) + int(self.keep_minus.sum()) + extra

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, kept={self.kept_parameters()}")


class SAMNet(nn.Module):
    """Seed 001 configuration B (§III-B, Fig. 2): SAM hidden layer(s), then a dense output
    layer whose logits go to softmax / cross-entropy. No activation between them (§II: max
    and min are the non-linearity)."""

    def __init__(self, in_features: int, hidden: list[int], num_outputs: int,
                 bias: bool = False, act_bits: int = 8, weight_bits: int = 8,
                 out_bits: int = 16) -> None:
        super().__init__()
        widths = [in_features, *hidden]
        self.sam = nn.ModuleList(SAMLinear(a, b, bias=bias)
                                 for a, b in itertools.pairwise(widths))
        self.out = nn.Linear(widths[-1], num_outputs)
        # integer mode (hwnn.nn.sam_int): act_bits-bit SAM inputs/parameters/outputs,
        # weight_bits-bit output-layer weights, out_bits-bit logits; scales set by calibrate
        self.act_bits, self.weight_bits, self.out_bits = act_bits, weight_bits, out_bits
        self.register_buffer("int_scales", torch.zeros(len(hidden) + 3, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.sam:
            x = layer(x)
        return self.out(x)

    def quantize_input(self, x: torch.Tensor) -> Any:
        """Integer input codes (:func:`hwnn.nn.sam_int.quantize_input`)."""
        from hwnn.nn import sam_int

        return sam_int.quantize_input(self, x)

    def forward_int(self, x: Any) -> Any:
        """Integer mode (:func:`hwnn.nn.sam_int.forward_int`): requantized logit codes."""
        from hwnn.nn import sam_int

        return sam_int.forward_int(self, x)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              *args: Any, **kwargs: Any) -> None:
        # runs saved before the integer mode existed carry no int_scales: not calibrated
        state_dict.setdefault(prefix + "int_scales", torch.zeros_like(self.int_scales))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

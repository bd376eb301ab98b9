"""Effective throughput of sparse (RLE-coded) vs dense bitwise networks on an FPGA
(seed 002 §3.4.3-3.4.4, Figs. 3.6/3.7).

Device model: a fraction of the LUTs and of the DSPs may be used for compute (thesis: 70 %
of the LUTs, 100 % of the DSPs of a Xilinx KU115 - 663k LUTs, 5,520 DSPs - at 250 MHz).
The *share* of the device taken by one unit of a resource mix is the largest of its
per-resource shares, ``C = max(luts / usable_luts, dsps / usable_dsps)``, so ``1 / C``
units fit.

* One MAC (``C_op``): type 1 networks (binary activations) - XNOR + popcount, 5 LUTs per MAC
  (FINN's 2.5 LUTs per operation x 2); type 2 (float activations) - a sign flip and a float
  add, here 2 DSPs per adder (a parameter; the thesis instantiates a Xilinx Floating Point 7.1
  adder and quotes 1.3 TOPs, 2 DSPs per adder gives 1.38).
* One decoder (``C_d``): the RLE decompressor in front of the processing elements
  (Fig. 3.5); its LUT count is a parameter, measured by synthesising
  :func:`hwnn.logic.rle_decoder.rle_decoder_verilog`.

Effective operation cost ``C_e = gamma * (C_op + C_d / R)`` with ``gamma`` the fraction of
non-zero weights and ``R`` the data re-use factor (``R = B`` for fully connected layers,
``B * P`` for convolutions with ``P`` output pixels); effective throughput
``T_e = f_clk / C_e`` MACs per second, reported in TOPs (2 operations per MAC, as the
thesis's 46.4 TOPs peak for type 1). A dense network (BNN) needs no decoder:
``C_e = C_op``.
"""

from __future__ import annotations

from dataclasses import dataclass

OPS_PER_MAC = 2


@dataclass(frozen=True)
class Device:
    name: str
    luts: int
    dsps: int
    clock_hz: float
    usable_lut_fraction: float = 0.7
    usable_dsp_fraction: float = 1.0

    def share(self, luts: float = 0.0, dsps: float = 0.0) -> float:
        """Fraction of the usable device taken by one unit needing ``luts`` and ``dsps``."""
        if luts < 0 or dsps < 0 or (luts == 0 and dsps == 0):
            raise ValueError("a unit needs a positive number of LUTs or DSPs")
        lut_share = luts / (self.luts * self.usable_lut_fraction) if luts else 0.0
        dsp_share = dsps / (self.dsps * self.usable_dsp_fraction) if dsps else 0.0
        return max(lut_share, dsp_share)


KU115 = Device("Xilinx KU115", luts=663_360, dsps=5_520, clock_hz=250e6)
# per-MAC resources of the thesis's two network types
TYPE1_MAC = {"luts": 5.0}  # binary activations: XNOR + popcount
TYPE2_MAC = {"dsps": 2.0}  # float activations: float adder (sign flip is free)


def peak_tops(device: Device, mac: dict[str, float]) -> float:
    """Dense peak: every usable resource doing MACs, ``OPS_PER_MAC * f / C_op`` / 1e12."""
    return OPS_PER_MAC * device.clock_hz / device.share(**mac) / 1e12


def effective_cost(gamma: float, c_op: float, c_d: float, reuse: float) -> float:
    """``C_e = gamma * (C_op + C_d / R)`` (seed 002 §3.4.4)."""
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma is a fraction of non-zero weights, got {gamma}")
    if reuse < 1:
        raise ValueError(f"the re-use factor R is at least 1, got {reuse}")
    return gamma * (c_op + c_d / reuse)


def effective_tops(device: Device, mac: dict[str, float], decoder_luts: float, gamma: float,
                   reuse: float) -> float:
    """``T_e = f_clk / C_e`` of a sparse network, in TOPs (``OPS_PER_MAC`` per MAC).
    ``gamma = 0`` (nothing to compute) gives infinity."""
    c_e = effective_cost(gamma, device.share(**mac), device.share(luts=decoder_luts), reuse)
    return float("inf") if c_e == 0 else OPS_PER_MAC * device.clock_hz / c_e / 1e12


def reuse_factor(batch: int, output_pixels: int = 1) -> int:
    """``R = B`` (fully connected) or ``B * P`` (convolution with ``P`` output pixels)."""
    if batch < 1 or output_pixels < 1:
        raise ValueError("batch and output pixels are positive")
    return batch * output_pixels


def break_even_gamma(c_op: float, c_d: float, reuse: float) -> float:
    """The non-zero fraction below which the sparse network beats the dense one:
    ``gamma * (C_op + C_d / R) < C_op``."""
    return c_op / (c_op + c_d / reuse)

"""Pruning with persistent masks: unstructured magnitude pruning (seed 000) and quantization
pruning of sparse TNNs (seed 002 §3.2.3)."""

from hwnn.prune.magnitude import magnitude_prune, sparsity_report
from hwnn.prune.quantization import quantization_prune

__all__ = ["magnitude_prune", "quantization_prune", "sparsity_report"]

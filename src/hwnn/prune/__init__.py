"""Pruning: unstructured magnitude pruning with persistent masks."""

from hwnn.prune.magnitude import magnitude_prune, sparsity_report

__all__ = ["magnitude_prune", "sparsity_report"]

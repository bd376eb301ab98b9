"""hwnn: train hardware-efficient neural networks and turn them into measured logic."""

__version__ = "0.1.0"

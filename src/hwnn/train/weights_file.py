"""Weights files: a network's full state (weights, masks, quantizer parameters) with the model
config it fits, for a run that continues from them (``train.init_weights``).

Filter pruning (seed 002 §4.5.5) writes one per iteration: the smaller network "initialised
with the values from the saved filters", fine-tuned by the next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hwnn.errors import ConfigError
from hwnn.train.io import atomic_torch_save

WEIGHTS_FORMAT = "hwnn.weights.v1"


def save_weights_file(path: Path, model: torch.nn.Module, model_cfg: dict[str, Any],
                      source: dict[str, Any]) -> None:
    """Write ``model``'s state with its ``model`` config and where it came from."""
    atomic_torch_save(path, {"format": WEIGHTS_FORMAT, "model": model_cfg,
                             "state_dict": model.state_dict(), "source": source})


def load_weights_file(path: str | Path, model_cfg: dict[str, Any]) -> dict[str, Any]:
    """The file's contents, checked to be a weights file for the network ``model_cfg``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"train.init_weights: {path} not found")
    blob = torch.load(path, weights_only=False)
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise ConfigError(f"train.init_weights: {path} is not a weights file ({WEIGHTS_FORMAT})")
    if blob["model"] != model_cfg:
        diff = sorted(k for k in set(blob["model"]) | set(model_cfg)
                      if blob["model"].get(k) != model_cfg.get(k))
        raise ConfigError(f"train.init_weights: {path} holds a different network (model "
                          f"differs in {', '.join(diff)}); use the model config it was saved "
                          "with")
    return blob

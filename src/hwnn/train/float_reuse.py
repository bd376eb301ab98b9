"""Reuse another run's float stage (``train.init_from``).

Every run saves ``float.pt`` when its float stage ends: the selected float weights, the
stage result and its epoch history. A run whose ``train.init_from`` names that run folder
starts from those weights and skips its own float stage. Training is deterministic here
(same seed, data and float settings give the same weights bit for bit, tested), so the
result is exactly what the run would have computed itself: only the time is saved. This is
the "pre-trained model" every quantization method of seed 002 starts from (e.g. AddNet,
Algorithm 5: "Initialize: Pre-train model").

The two runs must agree on everything the float stage depends on (:func:`float_signature`):
the data settings, the network shape, ``train.seed``, ``train.batch_size`` and
``train.float``. Only the layers' ``weight``/``bias`` are copied; quantizer parameters
stay as built, as they would after a float stage (quantizers are off during it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hwnn.errors import ConfigError
from hwnn.train.io import atomic_torch_save

FLOAT_SNAPSHOT = "float.pt"
FLOAT_FORMAT = "hwnn.float.v1"
_SHAPE_KEYS = ("kind", "hidden", "image", "channels", "kernel")


def float_signature(cfg: dict[str, Any]) -> dict[str, Any]:
    """The parts of a run config (``to_yaml_dict`` form) the float stage depends on."""
    model, train = cfg["model"], cfg["train"]
    data = {k: v for k, v in cfg["data"].items() if k != "data_dir"}
    return {"data": data, "model": {k: model.get(k) for k in _SHAPE_KEYS},
            "train": {"seed": train.get("seed"), "batch_size": train.get("batch_size"),
                      "float": train.get("float")}}


def save_float_snapshot(run_dir: Path, cfg: dict[str, Any], model: torch.nn.Module,
                        result: dict[str, Any], history: list[dict[str, Any]]) -> None:
    atomic_torch_save(run_dir / FLOAT_SNAPSHOT, {
        "format": FLOAT_FORMAT, "signature": float_signature(cfg),
        "weights": float_weights(model.state_dict()), "result": result,
        "history": [h for h in history if h.get("stage") == "float"]})


def _is_float_weight(key: str) -> bool:
    """A layer's ``weight`` or ``bias`` (not a quantizer parameter or a mask buffer)."""
    return key.rsplit(".", 1)[-1] in ("weight", "bias") and "_quant." not in key


def float_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of the layer weights and biases of ``state_dict``."""
    return {k: v.clone() for k, v in state_dict.items() if _is_float_weight(k)}


def load_float_snapshot(source: str | Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The snapshot of run folder ``source``, checked against this run's config."""
    path = Path(source) / FLOAT_SNAPSHOT
    if not path.is_file():
        raise ConfigError(f"train.init_from: {path} not found; train {source} first (runs "
                          "save float.pt when their float stage ends) or remove init_from")
    snap = torch.load(path, weights_only=False)
    if snap.get("format") != FLOAT_FORMAT:
        raise ConfigError(f"train.init_from: {path} is not a float snapshot ({FLOAT_FORMAT})")
    mine = float_signature(cfg)
    diff = sorted(f"{part}.{key}" for part in mine for key in mine[part]
                  if mine[part][key] != snap["signature"][part].get(key))
    if diff:
        raise ConfigError(f"train.init_from: {source} trained a different float stage "
                          f"(differs in {', '.join(diff)}); use a run with the same data, "
                          "network shape, seed, batch size and float settings")
    return snap


def apply_float_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Copy the snapshot's weights into ``model`` (every key must exist with its shape)."""
    own = model.state_dict()
    own_keys = {k for k in own if _is_float_weight(k)}
    bad = [k for k, v in weights.items() if k not in own or own[k].shape != v.shape]
    if bad or own_keys != set(weights):
        raise ConfigError(f"train.init_from: the float snapshot does not fit this network "
                          f"(e.g. {(bad or sorted(own_keys ^ set(weights)))[:3]})")
    model.load_state_dict(weights, strict=False)

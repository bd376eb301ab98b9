"""A trained float SAM run → its pruned integer version, an ordinary run folder that
``hwnn export / verilog / sim / synth`` take like any other (issue 9 item 4).

Steps (``hwnn sam-hardware RUN --out DIR``):

1. activation counts of the hidden SAM layer over the validation signals (seed 001 §III-D);
2. activation-rate pruning: remove every ``W+``/``W-`` activated fewer than ``threshold``
   times. ``threshold = 1`` drops only the never-activated parameters (seed 001: "after
   removing the useless (null activation) parameters", its accuracy-0.95 point);
   ``max_loss`` instead picks the largest threshold of ``THRESHOLDS`` whose validation
   accuracy stays within ``max_loss`` of the unpruned network (the paper's "lose 0.05");
3. post-training quantization (:func:`hwnn.nn.sam_int.calibrate`, on the validation
   signals): ``bits``-bit SAM inputs, parameters and outputs, ``weight_bits``-bit output
   layer, ``out_bits``-bit logits;
4. test accuracy of the float pruned network and of the integer mode on the whole test set.

``DIR`` gets ``model.pt`` (integer scales and pruning masks in the state), ``config.yaml``,
``metrics.json`` and ``sam_hardware.json`` (every number above and where it came from).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from hwnn.data.base import Dataset, InputQuant
from hwnn.errors import HwnnError
from hwnn.nn import sam_int
from hwnn.nn.sam import SAMNet
from hwnn.prune.sam_study import accuracy, activation_counts, activation_curve, hidden_sam
from hwnn.train.io import atomic_torch_save, atomic_write_json, atomic_write_text

#: Activation-count thresholds tried by ``max_loss`` (counts over the validation signals).
THRESHOLDS = (1, 2, 3, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500)
REPORT = "sam_hardware.json"


def _int_accuracy(model: SAMNet, x: torch.Tensor, y: torch.Tensor, batch: int = 8192) -> float:
    hits = 0
    for i in range(0, len(x), batch):
        out = model.forward_int(model.quantize_input(x[i : i + batch]))
        hits += int((out.value.argmax(1) == y[i : i + batch]).sum())
    return hits / len(x)


def _choose_threshold(model: SAMNet, counts: tuple[torch.Tensor, torch.Tensor],
                      x: torch.Tensor, y: torch.Tensor, base: float, max_loss: float
                      ) -> tuple[int, list[dict[str, Any]]]:
    points = activation_curve(model, counts, THRESHOLDS, x, y)
    ok = [p for p in points if p.accuracy >= base - max_loss]
    if not ok:
        raise HwnnError(f"no activation threshold keeps the validation accuracy within "
                        f"{max_loss} of {base:.4f}; give --threshold instead")
    return int(max(ok, key=lambda p: p.threshold).threshold), [p.to_dict() for p in points]


def make_hardware_run(src: Path, out: Path, threshold: int | None = 1,
                      max_loss: float | None = None, bits: int | None = None,
                      percentile: float = 100.0, data_dir: str | None = None,
                      dataset: Dataset | None = None) -> dict[str, Any]:
    """Write the pruned integer version of the float SAM run ``src`` into ``out``
    (module docstring); returns the report. Give ``threshold`` or ``max_loss``;
    ``dataset`` replaces the run's own data (tests)."""
    from hwnn.data import load_dataset
    from hwnn.train.build import build_from_shape, load_run
    from hwnn.train.metrics import model_inputs

    src, out = Path(src), Path(out)
    if (threshold is None) == (max_loss is None):
        raise HwnnError("give exactly one of threshold (activation count) and max_loss")
    if out.resolve() == src.resolve():
        raise HwnnError("--out must be a new folder: the float run stays as it is")
    if (out / "model.pt").exists():
        raise HwnnError(f"{out} already holds a run; choose another --out or delete it")
    cfg, model, summary = load_run(src)
    if not isinstance(model, SAMNet):
        raise HwnnError(f"{src} is not a SAM run (model.kind {cfg.model.kind!r})")
    hidden_sam(model)  # one hidden SAM layer: seed 001 configuration B
    t0 = time.perf_counter()
    cfg_dict = cfg.to_yaml_dict()
    cfg_dict["name"] = f"{cfg.name}_int"
    if bits is not None:
        cfg_dict["model"]["act_bits"] = bits
    from hwnn.config import parse_config

    new_cfg = parse_config(cfg_dict, "derived SAM config")
    net = build_from_shape(new_cfg.model, summary["input_width"], summary["num_outputs"],
                           InputQuant(**summary["input_quant"]))
    assert isinstance(net, SAMNet)
    net.load_state_dict(model.state_dict())
    net.eval()
    ds = dataset or load_dataset(cfg.data.task, data_dir or cfg.data.data_dir, cfg.data.seed,
                                 cfg.data.ofc)
    x_val, y_val = model_inputs(ds, ds.val.x), torch.from_numpy(np.asarray(ds.val.y))
    x_test, y_test = model_inputs(ds, ds.test.x), torch.from_numpy(np.asarray(ds.test.y))
    base_val = accuracy(net, x_val, y_val)
    counts = activation_counts(net, x_val)
    curve = None
    if threshold is None:
        assert max_loss is not None
        threshold, curve = _choose_threshold(net, counts, x_val, y_val, base_val, max_loss)
    if threshold < 1:
        raise HwnnError(f"threshold must be >= 1 activation, got {threshold}")
    layer = hidden_sam(net)
    kept = layer.prune_by_activation(counts[0], counts[1], threshold)
    if kept == 0:
        raise HwnnError(f"threshold {threshold} removes every parameter of the SAM layer "
                        f"(most activations of one parameter: {int(max(c.max() for c in counts))})"
                        "; choose a lower threshold")
    sam_int.calibrate(net, x_val, percentile)
    report: dict[str, Any] = {
        "source_run": str(src.resolve()), "threshold": threshold, "max_loss": max_loss,
        "counted_on": f"validation split ({len(x_val)} signals)",
        "kept_parameters": kept, "kept_plus": int(layer.keep_plus.sum()),
        "kept_minus": int(layer.keep_minus.sum()),
        "total_parameters": 2 * layer.in_features * layer.out_features,
        "bits": net.act_bits, "weight_bits": net.weight_bits, "out_bits": net.out_bits,
        "percentile": percentile, "int_scales": [float(v) for v in net.int_scales],
        "val_accuracy_unpruned_float": base_val,
        "val_accuracy_pruned_float": accuracy(net, x_val, y_val),
        "test_accuracy_pruned_float": accuracy(net, x_test, y_test),
        "test_accuracy_integer": _int_accuracy(net, x_test, y_test),
        "test_signals": len(x_test), "threshold_curve": curve,
    }
    report["seconds"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    from hwnn.train.loop import RUN_FORMAT

    atomic_torch_save(out / "model.pt", {
        "format": RUN_FORMAT, "config": new_cfg.to_yaml_dict(), "quant_enabled": True,
        "state_dict": net.state_dict(), "dataset": summary})
    atomic_write_text(out / "config.yaml", yaml.safe_dump(new_cfg.to_yaml_dict(),
                                                          sort_keys=False))
    atomic_write_json(out / "metrics.json", {
        "status": "done", "source": f"hwnn sam-hardware {src}",
        "test": {"acc": report["test_accuracy_integer"]},
        "test_float_pruned": {"acc": report["test_accuracy_pruned_float"]},
        "kept_parameters": kept})
    atomic_write_json(out / REPORT, report)
    return report

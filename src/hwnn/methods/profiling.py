"""Adder bit-width profiling of a trained run (seed 000 §III-B): ``hwnn profile RUN``.

1. the training split (all of it, or the first ``n``) goes through the exported IR
   (``net.ir.json``) and every neuron's exact accumulator range is recorded
   (:func:`hwnn.ir.profile.profile_accumulators`);
2. each neuron's adder is sized to that range, optionally after dropping a ``quantile`` of
   outliers on each side, with saturation (or wrap-around) for values outside it
   (:func:`hwnn.ir.profile.apply_profile`) → ``profiled.ir.json``;
3. the accuracy effect: both IRs scored on the full test split (accuracy, or BER for OFC),
   and the share of test vectors whose output changed → ``profile.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.errors import HwnnError
from hwnn.ir import IRNetwork, run, save_ir
from hwnn.ir.lut import LutNetwork
from hwnn.ir.model import Overflow
from hwnn.ir.profile import apply_profile, profile_accumulators
from hwnn.methods.logic_flow import ir_path, load_run_ir, quantized_inputs

PROFILE_FILE = "profile.json"


def ir_score(net: IRNetwork, pred: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Accuracy (argmax head) or bit error rate (slicer head) of the IR reference's
    predictions ``pred``."""
    if net.head.kind == "argmax":
        return {"accuracy": float((pred == targets).mean()), "n": len(targets)}
    if net.head.kind == "slicer":
        from hwnn.data.ofc import ber, symbols_to_levels

        return {"ber": ber(symbols_to_levels(pred), targets), "n": len(targets)}
    raise ValueError(f"no task metric for a {net.head.kind!r} head")


def profile_run(run_dir: Path, quantile: float | None = None, overflow: Overflow = "saturate",
                n_train: int | None = None, data_dir: str | None = None) -> dict[str, Any]:
    """Profile, write ``profiled.ir.json`` and ``profile.json``; returns the report."""
    run_dir = Path(run_dir)
    net = load_run_ir(run_dir)
    if isinstance(net, LutNetwork):
        raise HwnnError(f"{run_dir} is a LUT network: adder profiling applies to MLP runs "
                        "(its tables have no accumulators)")
    train_codes, _, _ = quantized_inputs(run_dir, "train", n_train, data_dir,
                                         torch_outputs=False)
    profiles = profile_accumulators(net, train_codes, quantile)
    profiled = apply_profile(net, profiles, overflow)
    save_ir(profiled, ir_path(run_dir, "profiled"))
    test_codes, targets, _ = quantized_inputs(run_dir, "test", None, data_dir,
                                              torch_outputs=False)
    base, prof = run(net, test_codes), run(profiled, test_codes)
    layers = [p.summary() for p in profiles]
    report: dict[str, Any] = {
        "run": str(run_dir), "profiled_ir": str(ir_path(run_dir, "profiled")),
        "quantile": quantile, "overflow": overflow, "train_samples": len(train_codes),
        "layers": layers,
        "adder_bits_layer_uniform": sum(x["adder_bits_layer_uniform"] for x in layers),
        "adder_bits_worst_case": sum(x["adder_bits_worst_case"] for x in layers),
        "adder_bits_profiled": sum(x["adder_bits_profiled"] for x in layers),
        "bits_saved": sum(x["bits_saved"] for x in layers),
        "layer_acc_bits": {"worst_case": [la.acc_bits for la in net.layers],
                           "profiled": [la.acc_bits for la in profiled.layers]},
        "test": {"worst_case": ir_score(net, base.prediction, targets),
                 "profiled": ir_score(profiled, prof.prediction, targets),
                 "changed_outputs": int(np.any(base.outputs[-1] != prof.outputs[-1],
                                               axis=1).sum()),
                 "vectors": len(test_codes)},
    }
    atomic_write_bytes(run_dir / PROFILE_FILE, (json.dumps(report, indent=2) + "\n").encode())
    return report

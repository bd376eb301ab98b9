"""IR files: ``<stem>.ir.json`` (structure, widths, rules; human-readable) and
``<stem>.ir.npz`` (integer arrays). Format ``hwnn.ir.v1``:

```
{"format": "hwnn.ir.v1", "name": ..., "arrays": "net.ir.npz", "arrays_sha256": ...,
 "rules": {...the rounding/overflow/saturation rules in words...},
 "input": {"features": F, "bits": b, "signed": bool, "scale": float|null},
 "layers": [{"kind": "dense", "name": ..., "in_features": ..., "out_features": ...,
             "in_bits": ..., "in_signed": ..., "weight_bits": ..., "acc_bits": ...,
             "overflow": "wrap"|"saturate", "out_bits": ..., "out_signed": ...,
             "activation": "relu"|"identity", "nonzero_weights": ..., "notes": {...}}],
 "head": {"kind": "argmax"|"slicer"|"raw", "thresholds": [...]},
 "meta": {...where it came from...}}
```

Arrays in the npz, per layer ``k``: ``l{k}.weight`` (out, in), ``l{k}.bias``,
``l{k}.multiplier``, ``l{k}.shift`` (out,), optionally ``l{k}.neuron_acc_bits``;
all int64. Writes are atomic; loading checks the npz checksum and validates the network.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hwnn.atomic import atomic_write_bytes
from hwnn.ir.model import IR_FORMAT, DenseLayer, Head, IRError, IRInput, IRNetwork

RULES = {
    "accumulate": "acc = bias + sum_i weight[j,i] * x[i], exact integer arithmetic",
    "overflow": "A = neuron_acc_bits[j] if present else acc_bits; wrap: acc mod 2^A in "
                "two's complement; saturate: clip to [-2^(A-1), 2^(A-1)-1]",
    "requantize": "r = (acc * multiplier + 2^(shift-1)) >> shift (arithmetic shift: round "
                  "half up); shift = 0: r = acc * multiplier",
    "saturate": "y = clip(r, lo, hi), [lo, hi] = range of out_bits/out_signed; relu: lo = "
                "max(lo, 0)",
    "head": "argmax: index of the first maximum; slicer: number of thresholds t with t <= y",
}
_LAYER_FIELDS = ("kind", "name", "in_bits", "in_signed", "weight_bits", "acc_bits", "overflow",
                 "out_bits", "out_signed", "activation")
_ARRAYS = ("weight", "bias", "multiplier", "shift")
_OPTIONAL_ARRAYS = ("neuron_acc_bits",)


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    p = Path(path)
    name = p.name
    if name.endswith(".ir.json"):
        stem = name[: -len(".ir.json")]
    elif name.endswith(".json"):
        stem = name[: -len(".json")]
    else:
        raise IRError(f"IR file names end in .ir.json, got {p}")
    return p, p.with_name(f"{stem}.ir.npz")


def to_dict(net: IRNetwork, arrays_name: str, arrays_sha256: str) -> dict[str, Any]:
    layers = []
    for layer in net.layers:
        entry: dict[str, Any] = {f: getattr(layer, f) for f in _LAYER_FIELDS}
        entry.update(in_features=layer.in_features, out_features=layer.out_features,
                     nonzero_weights=layer.nonzero_weights(), notes=layer.notes)
        layers.append(entry)
    return {
        "format": IR_FORMAT, "name": net.name, "arrays": arrays_name,
        "arrays_sha256": arrays_sha256, "rules": RULES,
        "input": {"features": net.input.features, "bits": net.input.bits,
                  "signed": net.input.signed, "scale": net.input.scale},
        "layers": layers,
        "head": {"kind": net.head.kind, "thresholds": list(net.head.thresholds)},
        "meta": net.meta,
    }


def save_ir(net: IRNetwork, path: str | os.PathLike[str]) -> Path:
    """Validate and write ``net`` to ``path`` (``*.ir.json``) and its ``.ir.npz``."""
    net.validate()
    json_path, npz_path = _paths(path)
    arrays: dict[str, np.ndarray] = {}
    for k, layer in enumerate(net.layers):
        for name in _ARRAYS:
            arrays[f"l{k}.{name}"] = np.asarray(getattr(layer, name), dtype=np.int64)
        for name in _OPTIONAL_ARRAYS:
            if getattr(layer, name) is not None:
                arrays[f"l{k}.{name}"] = np.asarray(getattr(layer, name), dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    blob = buffer.getvalue()
    atomic_write_bytes(npz_path, blob)
    doc = to_dict(net, npz_path.name, hashlib.sha256(blob).hexdigest())
    atomic_write_bytes(json_path, (json.dumps(doc, indent=2) + "\n").encode())
    return json_path


def _need(doc: dict[str, Any], key: str, where: str) -> Any:
    if key not in doc:
        raise IRError(f"{where}: missing field {key!r}")
    return doc[key]


def from_dict(doc: dict[str, Any], arrays: dict[str, np.ndarray], source: str) -> IRNetwork:
    fmt = doc.get("format")
    if fmt != IR_FORMAT:
        raise IRError(f"{source}: format {fmt!r} is not {IR_FORMAT!r} (written by another hwnn "
                      "version? re-export the run with `hwnn export RUN`)")
    inp = _need(doc, "input", source)
    net_input = IRInput(int(_need(inp, "features", "input")), int(_need(inp, "bits", "input")),
                        bool(_need(inp, "signed", "input")), inp.get("scale"))
    layers = []
    for k, entry in enumerate(_need(doc, "layers", source)):
        where = f"{source}: layer {k}"
        kind = _need(entry, "kind", where)
        if kind != "dense":
            raise IRError(f"{where}: unsupported layer kind {kind!r}; this IR version supports "
                          "dense")
        fields = {f: _need(entry, f, where) for f in _LAYER_FIELDS}
        for name in _ARRAYS:
            if f"l{k}.{name}" not in arrays:
                raise IRError(f"{where}: array l{k}.{name} missing from the npz")
        opt = {name: arrays.get(f"l{k}.{name}") for name in _OPTIONAL_ARRAYS}
        layers.append(DenseLayer(**fields, **{n: arrays[f"l{k}.{n}"] for n in _ARRAYS},
                                 **opt, notes=entry.get("notes", {})))
        declared = (entry.get("out_features"), entry.get("in_features"))
        if declared != (None, None) and declared != layers[-1].weight.shape:
            raise IRError(f"{where}: declared shape {declared} but the weight array is "
                          f"{layers[-1].weight.shape}")
    head_doc = doc.get("head", {"kind": "raw"})
    head = Head(head_doc.get("kind", "raw"), tuple(int(t) for t in head_doc.get("thresholds", ())))
    return IRNetwork(str(_need(doc, "name", source)), net_input, layers, head,
                     doc.get("meta", {})).validate()


def load_ir(path: str | os.PathLike[str]) -> IRNetwork:
    """Read and validate an IR written by :func:`save_ir`."""
    json_path, _ = _paths(path)
    if not json_path.is_file():
        raise IRError(f"IR file not found: {json_path} (write it with `hwnn export RUN`)")
    try:
        doc = json.loads(json_path.read_text())
    except json.JSONDecodeError as err:
        raise IRError(f"{json_path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise IRError(f"{json_path}: expected a JSON object")
    npz_path = json_path.with_name(str(_need(doc, "arrays", str(json_path))))
    if not npz_path.is_file():
        raise IRError(f"{json_path}: its arrays file {npz_path.name} is missing")
    blob = npz_path.read_bytes()
    if doc.get("arrays_sha256") and hashlib.sha256(blob).hexdigest() != doc["arrays_sha256"]:
        raise IRError(f"{npz_path} does not match the checksum in {json_path.name} (files from "
                      "different exports?); re-export")
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return from_dict(doc, arrays, str(json_path))

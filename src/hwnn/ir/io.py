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
all int64. SAM layers (``"kind": "sam"``, :mod:`hwnn.ir.sam`) store ``l{k}.plus``,
``l{k}.minus``, ``l{k}.keep_plus``, ``l{k}.keep_minus`` (out, in) instead of the weight.
Conv layers (``"kind": "conv"``, :mod:`hwnn.ir.conv`) add ``in_shape``, ``padding`` and
``pool`` to the JSON, store the weight as (O, C, k, k) and, with ReLU prediction,
``l{k}.approx`` (O, C, k, k) and ``l{k}.approx_offset`` (O,).
LUT networks (:mod:`hwnn.ir.lut`) carry ``"network": "lut"`` and per layer
``l{k}.inputs`` (out, F) and ``l{k}.table`` (out, 2^(F*in_bits)). The npz is compressed.
Writes are atomic; loading checks the npz checksum and validates the network.
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
from hwnn.ir.conv import ConvLayer
from hwnn.ir.lut import LutLayer, LutNetwork
from hwnn.ir.model import IR_FORMAT, DenseLayer, Head, IRError, IRInput, IRNetwork
from hwnn.ir.sam import SamLayer

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
_SAM_ARRAYS = ("plus", "minus", "keep_plus", "keep_minus", "bias", "multiplier", "shift")
_CONV_FIELDS = ("in_shape", "padding", "pool")
_CONV_OPTIONAL_ARRAYS = ("approx", "approx_offset")


def _layer_arrays(layer: DenseLayer | SamLayer | ConvLayer) -> tuple[str, ...]:
    """Array names a layer stores in the npz (``l{k}.<name>``)."""
    if isinstance(layer, SamLayer):
        return _SAM_ARRAYS
    if isinstance(layer, ConvLayer):
        return (*_ARRAYS, *(n for n in _CONV_OPTIONAL_ARRAYS if getattr(layer, n) is not None))
    return (*_ARRAYS, *(n for n in _OPTIONAL_ARRAYS if getattr(layer, n) is not None))


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
        if isinstance(layer, ConvLayer):
            entry.update({f: getattr(layer, f) for f in _CONV_FIELDS},
                         in_shape=list(layer.in_shape), out_shape=list(layer.out_shape()),
                         kernel=layer.kernel, relu_prediction=layer.approx is not None)
        layers.append(entry)
    return {
        "format": IR_FORMAT, "name": net.name, "arrays": arrays_name,
        "arrays_sha256": arrays_sha256, "rules": RULES,
        "input": _input_dict(net.input),
        "layers": layers,
        "head": {"kind": net.head.kind, "thresholds": list(net.head.thresholds)},
        "meta": net.meta,
    }


def save_ir(net: IRNetwork | LutNetwork, path: str | os.PathLike[str]) -> Path:
    """Validate and write ``net`` to ``path`` (``*.ir.json``) and its ``.ir.npz``."""
    net.validate()
    json_path, npz_path = _paths(path)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **network_arrays(net))
    blob = buffer.getvalue()
    atomic_write_bytes(npz_path, blob)
    sha = hashlib.sha256(blob).hexdigest()
    doc = _network_dict(net, npz_path.name, sha)
    atomic_write_bytes(json_path, (json.dumps(doc, indent=2) + "\n").encode())
    return json_path


def network_arrays(net: IRNetwork | LutNetwork) -> dict[str, np.ndarray]:
    """The npz arrays of ``net`` by name (``l{k}.<name>``, all int64)."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(net, LutNetwork):
        for k, lut in enumerate(net.layers):
            arrays[f"l{k}.inputs"] = np.asarray(lut.inputs, dtype=np.int64)
            arrays[f"l{k}.table"] = np.asarray(lut.table, dtype=np.int64)
    else:
        for k, layer in enumerate(net.layers):
            for name in _layer_arrays(layer):
                arrays[f"l{k}.{name}"] = np.asarray(getattr(layer, name), dtype=np.int64)
    return arrays


def _network_dict(net: IRNetwork | LutNetwork, arrays_name: str, arrays_sha256: str
                  ) -> dict[str, Any]:
    return (lut_to_dict(net, arrays_name, arrays_sha256) if isinstance(net, LutNetwork)
            else to_dict(net, arrays_name, arrays_sha256))


def ir_fingerprint(net: IRNetwork | LutNetwork) -> str:
    """SHA-256 of what defines the hardware of ``net``: its JSON structure (name, input,
    layers with widths and rules, head) and every array's name, dtype, shape and values.
    Unlike the npz checksum it does not change when the same network is exported again (the
    zip holds write times), and it leaves out ``meta`` (where the run lives, its config),
    which the Verilog does not depend on. Results made from one IR (``sim*.json``,
    ``synth.json``) record it, so a retrained network is never matched with old results."""
    doc = _network_dict(net, "", "")
    doc.pop("meta", None)
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
    for name, array in sorted(network_arrays(net).items()):
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def lut_to_dict(net: LutNetwork, arrays_name: str, arrays_sha256: str) -> dict[str, Any]:
    """JSON part of a LUT network (``"network": "lut"``; arrays ``l{k}.inputs``,
    ``l{k}.table``)."""
    return {
        "format": IR_FORMAT, "network": "lut", "name": net.name, "arrays": arrays_name,
        "arrays_sha256": arrays_sha256,
        "rules": {"lut": "y[j] = table[j][a], a = sum_f (x[inputs[j][f]] mod 2^in_bits) << "
                         "(f * in_bits)", "head": RULES["head"]},
        "input": _input_dict(net.input),
        "layers": [{"kind": "lut", "name": la.name, "in_bits": la.in_bits,
                    "in_signed": la.in_signed, "out_bits": la.out_bits,
                    "out_signed": la.out_signed, "out_features": la.out_features,
                    "fan_in": la.fan_in} for la in net.layers],
        "head": {"kind": net.head.kind, "thresholds": list(net.head.thresholds)},
        "meta": net.meta,
    }


def lut_from_dict(doc: dict[str, Any], arrays: dict[str, np.ndarray], source: str
                  ) -> LutNetwork:
    layers = []
    for k, entry in enumerate(_need(doc, "layers", source)):
        where = f"{source}: layer {k}"
        for name in ("inputs", "table"):
            if f"l{k}.{name}" not in arrays:
                raise IRError(f"{where}: array l{k}.{name} missing from the npz")
        layers.append(LutLayer(str(_need(entry, "name", where)), arrays[f"l{k}.inputs"],
                               arrays[f"l{k}.table"], int(_need(entry, "in_bits", where)),
                               bool(_need(entry, "in_signed", where)),
                               int(_need(entry, "out_bits", where)),
                               bool(_need(entry, "out_signed", where))))
    return LutNetwork(str(_need(doc, "name", source)), _input_from(doc, source), layers,
                      _head_from(doc), doc.get("meta", {})).validate()


def _input_dict(inp: IRInput) -> dict[str, Any]:
    return {"features": inp.features, "bits": inp.bits, "signed": inp.signed,
            "scale": inp.scale}


def _input_from(doc: dict[str, Any], source: str) -> IRInput:
    inp = _need(doc, "input", source)
    return IRInput(int(_need(inp, "features", "input")), int(_need(inp, "bits", "input")),
                   bool(_need(inp, "signed", "input")), inp.get("scale"))


def _head_from(doc: dict[str, Any]) -> Head:
    head_doc = doc.get("head", {"kind": "raw"})
    return Head(head_doc.get("kind", "raw"),
                tuple(int(t) for t in head_doc.get("thresholds", ())))


def _need(doc: dict[str, Any], key: str, where: str) -> Any:
    if key not in doc:
        raise IRError(f"{where}: missing field {key!r}")
    return doc[key]


def from_dict(doc: dict[str, Any], arrays: dict[str, np.ndarray], source: str
              ) -> IRNetwork | LutNetwork:
    fmt = doc.get("format")
    if fmt != IR_FORMAT:
        raise IRError(f"{source}: format {fmt!r} is not {IR_FORMAT!r} (written by another hwnn "
                      "version? re-export the run with `hwnn export RUN`)")
    if doc.get("network") == "lut":
        return lut_from_dict(doc, arrays, source)
    net_input = _input_from(doc, source)
    layers = []
    for k, entry in enumerate(_need(doc, "layers", source)):
        where = f"{source}: layer {k}"
        kind = _need(entry, "kind", where)
        if kind not in ("dense", "sam", "conv"):
            raise IRError(f"{where}: unsupported layer kind {kind!r}; this IR version supports "
                          "dense, sam and conv")
        fields = {f: _need(entry, f, where) for f in _LAYER_FIELDS}
        if kind == "conv":
            layers.append(_conv_from(entry, fields, arrays, k, where))
            continue
        if kind == "sam":
            missing = [n for n in _SAM_ARRAYS if f"l{k}.{n}" not in arrays]
            if missing:
                raise IRError(f"{where}: arrays {', '.join(missing)} missing from the npz")
            fields.pop("kind")
            layers.append(SamLayer(**fields, **{n: arrays[f"l{k}.{n}"] for n in _SAM_ARRAYS},
                                   notes=entry.get("notes", {})))
            continue
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
    return IRNetwork(str(_need(doc, "name", source)), net_input, layers, _head_from(doc),
                     doc.get("meta", {})).validate()


def _conv_from(entry: dict[str, Any], fields: dict[str, Any], arrays: dict[str, np.ndarray],
               k: int, where: str) -> ConvLayer:
    missing = [n for n in _ARRAYS if f"l{k}.{n}" not in arrays]
    if missing:
        raise IRError(f"{where}: arrays {', '.join(missing)} missing from the npz")
    fields.pop("kind")
    conv = {f: _need(entry, f, where) for f in _CONV_FIELDS}
    conv["in_shape"] = tuple(int(v) for v in conv["in_shape"])
    return ConvLayer(**fields, **conv, **{n: arrays[f"l{k}.{n}"] for n in _ARRAYS},
                     **{n: arrays.get(f"l{k}.{n}") for n in _CONV_OPTIONAL_ARRAYS},
                     notes=entry.get("notes", {}))


def load_ir(path: str | os.PathLike[str]) -> IRNetwork | LutNetwork:
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

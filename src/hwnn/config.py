"""Run configuration: YAML validated with pydantic; any wrong key, type or value becomes a
one-line :class:`~hwnn.errors.ConfigError` naming the field.

A config fully describes a run: dataset, network shape and bit widths, and the training
flow of seed 000 §III-A/§IV — float → QAT (8-bit weights and activations) → prune →
fine-tune — with Adam and a step-decay learning rate from 1e-3, batch size 1024.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from hwnn.data.ofc import OFCConfig
from hwnn.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DataConfig(_Strict):
    task: Literal["mnist", "fashion", "nid", "ofc", "sam", "jsc"]
    data_dir: str | None = Field(None, description="shipped data root (else $HWNN_DATA_DIR)")
    seed: int = Field(0, description="split seed (validation split, NID stratified split)")
    ofc: OFCConfig | None = Field(None, description="OFC channel settings (task: ofc only)")

    @model_validator(mode="after")
    def _ofc_only_for_ofc(self) -> DataConfig:
        if self.ofc is not None and self.task != "ofc":
            raise ValueError("'ofc' settings are only valid with task: ofc")
        return self


class AddNetSpec(_Strict):
    """AddNet weights (seed 002 §6.5): one RCCM coefficient set per layer."""

    adders: Literal[2, 3, 4] = Field(2, description="RCCM of the hidden layers: 2-, 3- or "
                                     "4-Add (Fig. 6.4)")
    first_last_adders: Literal[2, 3, 4] = Field(
        4, description="RCCM of the first and last weight layer (the thesis uses 4-Add where "
        "more coefficients are needed)")
    select: Literal["kl", "table62"] = Field(
        "kl", description="coefficient set: distribution matching on the pre-trained weights "
        "(eq. 6.2) or the optimised sets of Table 6.2")
    phi_max: int = Field(3, ge=1, le=3, description="largest hard-wired shift in the "
                         "enumerated RCCMs (the thesis: 3)")


class ModelConfig(_Strict):
    """``kind: mlp`` - the quantized MLP of seed 000 (weights, ReLU, requantizer).
    ``kind: lutnet`` - LogicNets-style LUT neurons (:mod:`hwnn.nn.lutnet`): each neuron reads
    ``fan_in[k]`` randomly chosen outputs of the previous layer (fixed by ``seed``) and
    becomes a truth table; ``act_bits`` may be 1-3, ``out_bits`` is the (signed) output
    width; ``weight_bits``/``per_channel`` do not apply (tables replace the weights).
    ``kind: sam`` - seed 001's Sum-and-Max layers (:class:`hwnn.nn.sam.SAMNet`): ``hidden``
    SAM layers, then a dense output layer; float training only. Its integer mode
    (:mod:`hwnn.nn.sam_int`, post-training, ``hwnn sam-hardware``) uses ``act_bits`` for the
    SAM inputs, parameters and outputs, ``weight_bits`` for the output layer and
    ``out_bits`` for the logits."""

    kind: Literal["mlp", "lutnet", "cnn", "sam"] = "mlp"
    hidden: list[PositiveInt] = Field(description="hidden layer widths, e.g. [20] or [40, 25]")
    image: list[PositiveInt] | None = Field(
        None, description="cnn: input image shape [C, H, W] (MNIST: [1, 28, 28])")
    channels: list[PositiveInt] | None = Field(
        None, description="cnn: output channels of each conv + 2x2 max-pool block")
    kernel: PositiveInt = Field(3, description="cnn: convolution kernel size (odd for same "
                                "padding)")
    conv_padding: Literal["same", "valid"] = Field(
        "same", description="cnn: 'same' keeps H x W through each conv (zero padding kernel//2); "
        "'valid' pads nothing, so each conv shrinks H and W by kernel - 1 (LeNet-5)")
    weight_bits: int = Field(8, ge=2, le=16)
    act_bits: int = Field(8, ge=1, le=16)
    out_bits: int = Field(16, ge=2, le=32)
    per_channel: bool = True
    fan_in: list[PositiveInt] | None = Field(
        None, description="lutnet: inputs per neuron, one entry per layer (hidden + output)")
    seed: int = Field(0, description="lutnet: seed of the random fan-in connections")
    act_init: Literal["percentile", "mse"] = Field(
        "percentile", description="lutnet: initial learned activation scales, from the "
        "99.99th percentile of |x| of the first batch, or the power of two with the least "
        "squared quantization error on it (mse: for 2-3-bit codes of real-valued inputs such "
        "as JSC, where the percentile scale rounds almost every value to zero)")
    input_bits: int | None = Field(
        None, ge=1, le=8, description="lutnet: re-quantize the inputs to this many bits with a "
        "learned scale (e.g. 1-2 for MNIST pixels, so that tables stay small)")
    weights: Literal["uniform", "ternary", "binary", "syq_binary", "syq_ternary",
                     "addnet"] = Field(
        "uniform", description="mlp weight quantizer: uniform weight_bits-bit, ternary "
        "{-1, 0, +1} with threshold eta (seed 002 eq. 3.1), binary {-1, +1}, SYQ "
        "binary/ternary with learned symmetric scales (seed 002 ch. 5), or AddNet RCCM "
        "coefficient sets (seed 002 ch. 6; settings in addnet)")
    addnet: AddNetSpec | None = Field(
        None, description="weights: addnet settings (default: 4-Add first/last, 2-Add hidden, "
        "distribution matching)")
    act_frac_bits: int | None = Field(
        None, ge=0, le=16, description="hidden activations as unsigned fixed point with this "
        "many fractional bits, G(x) = floor(2^f x + 1/2) / 2^f on [0, 2^(k-f) - 2^-f] "
        "(seed 002 eq. 5.13); default: a learned power-of-two scale")
    syq_granularity: Literal["layer", "row", "pixel"] = Field(
        "layer", description="SYQ scales: per layer; row = per kernel row of a conv / per "
        "output neuron of an FC layer; pixel = per kernel position of a conv (FC: per layer)")
    sam_bias: bool = Field(False, description="sam: add a learned bias per SAM output (seed "
                           "001's layer has none)")
    eta: float | list[float] = Field(
        0.5, description="ternary threshold on the real weights (kept in [-1, 1]); one value "
        "or one per weight layer (seed 002 uses up to 0.9)")

    @model_validator(mode="after")
    def _kind_fields(self) -> ModelConfig:
        etas = self.eta if isinstance(self.eta, list) else [self.eta]
        if any(not 0 <= e < 1 for e in etas):
            raise ValueError(f"eta must be in [0, 1), got {self.eta}")
        n_layers = len(self.hidden) + 1 + (len(self.channels or []) if self.kind == "cnn" else 0)
        if isinstance(self.eta, list) and len(self.eta) != n_layers:
            raise ValueError(f"eta lists need one value per weight layer ({n_layers}), got "
                             f"{len(self.eta)}")
        if self.addnet is not None and self.weights != "addnet":
            raise ValueError("addnet settings apply to weights: addnet only")
        if self.kind == "cnn":
            if self.image is None or len(self.image) != 3 or not self.channels:
                raise ValueError("kind: cnn needs image: [C, H, W] and channels: [c1, ...]")
            if self.kernel % 2 == 0 and self.conv_padding == "same":
                raise ValueError(f"kernel must be odd with same padding, got {self.kernel} "
                                 "(or set conv_padding: valid)")
        elif self.image is not None or self.channels is not None:
            raise ValueError("image and channels apply to kind: cnn only")
        if self.kind == "sam":
            if (self.fan_in is not None or self.input_bits is not None
                    or self.weights != "uniform" or self.act_init != "percentile"):
                raise ValueError("kind: sam takes hidden (SAM layer widths), sam_bias and the "
                                 "integer widths act_bits, weight_bits, out_bits only")
            if self.act_bits < 2:
                raise ValueError("kind: sam needs act_bits >= 2")
            return self
        if self.sam_bias:
            raise ValueError("sam_bias applies to kind: sam only")
        if self.kind in ("mlp", "cnn"):
            if self.fan_in is not None or self.input_bits is not None:
                raise ValueError("fan_in and input_bits apply to kind: lutnet only")
            if self.act_init != "percentile":
                raise ValueError("act_init applies to kind: lutnet only")
            if self.act_bits < 2:
                raise ValueError(f"kind: {self.kind} needs act_bits >= 2 (1-bit activations: "
                                 "lutnet)")
            if self.act_frac_bits is not None and self.act_frac_bits > self.act_bits:
                raise ValueError(f"act_frac_bits ({self.act_frac_bits}) cannot exceed act_bits "
                                 f"({self.act_bits})")
        else:
            if self.fan_in is None or len(self.fan_in) != len(self.hidden) + 1:
                raise ValueError(f"kind: lutnet needs fan_in with one entry per layer "
                                 f"({len(self.hidden) + 1}: hidden + output), got {self.fan_in}")
            if self.weights != "uniform":
                raise ValueError("weights: ternary/binary/syq/addnet apply to kind: mlp or cnn")
            if self.out_bits > 8:
                raise ValueError(f"kind: lutnet output codes are table entries; use out_bits "
                                 f"<= 8 (LogicNets: 2-3), got {self.out_bits}")
        return self


class StageConfig(_Strict):
    epochs: int = Field(ge=0)
    lr: float = Field(1e-3, gt=0)
    lr_step: PositiveInt = Field(10, description="epochs between learning-rate decays")
    lr_gamma: float = Field(0.5, gt=0, le=1)
    patience: PositiveInt | None = Field(10, description="early stop after this many epochs "
                                         "without a better validation score (None: never)")


class PruneConfig(StageConfig):
    """``method: magnitude`` removes the ``sparsity`` smallest weights (seed 000);
    ``method: quantization`` fixes every ternary weight with ``|w_r| <= sigma`` at zero
    (seed 002 eq. 3.6; ``sigma`` defaults to each layer's ``eta``, eq. 3.7)."""

    method: Literal["magnitude", "quantization"] = "magnitude"
    sparsity: float | None = Field(None, ge=0, lt=1, description="magnitude: fraction of "
                                   "weights removed")
    sigma: float | None = Field(None, ge=0, lt=1, description="quantization: threshold "
                                "(default: eta)")
    scope: Literal["layer", "global"] = "layer"
    layers: list[int] | None = Field(
        None, description="magnitude: indices of the weight layers to prune (0 = the first; "
        "default: all)")

    @model_validator(mode="after")
    def _method_fields(self) -> PruneConfig:
        if self.layers is not None and self.method != "magnitude":
            raise ValueError("layers applies to method: magnitude")
        if self.method == "magnitude" and self.sparsity is None:
            raise ValueError("method: magnitude needs sparsity (fraction of weights removed)")
        if self.method == "magnitude" and self.sigma is not None:
            raise ValueError("sigma applies to method: quantization")
        if self.method == "quantization" and self.sparsity is not None:
            raise ValueError("method: quantization takes no sparsity: the first phase's "
                             "zeros are pruned (set sigma instead)")
        return self


class HwAwareConfig(StageConfig):
    """Hardware-aware training (seed 000 §III-C): weights restricted to the ``n`` constants
    whose multipliers are cheapest, ``n = n_start`` first and ``+ n_step`` until validation
    recovers to within ``tolerance`` of the unrestricted model (the last static stage)."""

    n_start: int = Field(40, ge=1, le=256, description="first set size (seed: 40)")
    n_step: int = Field(10, ge=1, description="values added per iteration (seed: 10)")
    tolerance: float = Field(
        0.005, ge=0, description="accuracy: largest allowed absolute drop (0.005 = 0.5 points);"
        " BER: largest allowed relative rise (0.1 = +10 %)")
    rank_by: Literal["area", "lut6", "csd"] = Field(
        "area", description="multiplier cost that ranks the constants (hwnn.arith table)")
    inputs: Literal["unsigned", "signed"] = Field(
        "unsigned", description="multiplicand kind of the cost table: unsigned = ReLU outputs")
    curve: list[int] = Field(default_factory=list, description="extra set sizes trained after "
                             "the selection, for the accuracy-vs-n curve (seed Fig. 10)")

    @model_validator(mode="after")
    def _curve_in_range(self) -> HwAwareConfig:
        bad = [n for n in self.curve if not 1 <= n <= 256]
        if bad:
            raise ValueError(f"curve sizes must be in [1, 256], got {bad}")
        return self


class TrainConfig(_Strict):
    seed: int = 0
    batch_size: PositiveInt = 1024
    eval_batch_size: PositiveInt = 8192
    steps_per_epoch: PositiveInt | None = Field(
        None, description="batches per epoch for on-the-fly data (task: sam)")
    float_stage: StageConfig = Field(alias="float")
    qat: StageConfig | None = None
    prune: PruneConfig | None = Field(None, description="prune, then fine-tune")
    hw_aware: HwAwareConfig | None = Field(
        None, description="then retrain with the cheapest-multiplier weight sets")
    l2_quant: float = Field(0.0, ge=0, description="lambda of the L2 penalty on the "
                            "quantized (ternary) weights in quantized stages, seed 002 eq. 3.3")
    init_from: str | None = Field(
        None, description="a run folder whose float stage this run reuses instead of "
        "training its own (same data, network shape, seed, batch size and float settings; "
        "the result is identical, hwnn.train.float_reuse)")
    init_weights: str | None = Field(
        None, description="a weights file (hwnn.train.weights_file, e.g. written by filter "
        "pruning) this run continues from: the float stage is skipped and the qat stage "
        "fine-tunes the loaded network")

    @model_validator(mode="after")
    def _hw_aware_after_qat(self) -> TrainConfig:
        if self.hw_aware is not None and self.qat is None:
            raise ValueError("hw_aware needs a qat stage (it restricts quantized weights)")
        return self

    @model_validator(mode="after")
    def _init_weights_fine_tunes(self) -> TrainConfig:
        if self.init_weights is not None:
            if self.qat is None:
                raise ValueError("init_weights needs a qat stage (the fine-tuning)")
            if self.init_from is not None:
                raise ValueError("init_weights and init_from both set the starting weights; "
                                 "give one")
        return self


class RunConfig(_Strict):
    name: str = Field(min_length=1)
    data: DataConfig
    model: ModelConfig
    train: TrainConfig

    @model_validator(mode="after")
    def _lutnet_training(self) -> RunConfig:
        if self.model.kind == "lutnet":
            if self.train.prune is not None or self.train.hw_aware is not None:
                raise ValueError("kind: lutnet trains float -> qat only (its sparsity is the "
                                 "fixed fan-in): remove train.prune and train.hw_aware")
            if self.train.qat is None:
                raise ValueError("kind: lutnet needs a train.qat stage (the truth tables are "
                                 "enumerated from the quantized neurons)")
        return self

    @model_validator(mode="after")
    def _bitwise_training(self) -> RunConfig:
        prune = self.train.prune
        if prune is not None and prune.method == "quantization" and self.model.weights != "ternary":
            raise ValueError("train.prune.method: quantization needs model.weights: ternary")
        if self.train.l2_quant and self.model.weights != "ternary":
            raise ValueError("train.l2_quant penalises ternary weights: set model.weights: "
                             "ternary")
        if self.model.weights != "uniform" and self.train.hw_aware is not None:
            raise ValueError("train.hw_aware restricts 8-bit weights; not with ternary/binary/"
                             "SYQ/AddNet weights")
        if self.model.weights != "uniform" and self.train.qat is None:
            raise ValueError(f"weights: {self.model.weights} need a train.qat stage (the "
                             "quantized training phase)")
        return self

    @model_validator(mode="after")
    def _hw_aware_needs_8bit(self) -> RunConfig:
        if self.train.hw_aware is not None and self.model.weight_bits != 8:
            raise ValueError("train.hw_aware ranks signed 8-bit constants (hwnn.arith cost "
                             f"table); set model.weight_bits: 8 (got {self.model.weight_bits})")
        return self

    def to_yaml_dict(self) -> dict[str, Any]:
        """The config as a plain dict: unset optional fields (default None) are left out; a
        None that overrides a non-None default (``patience: null``) is kept, so the dict
        parses back to the same config."""
        return _drop_default_nones(self, self.model_dump(mode="json", by_alias=True))


def _drop_default_nones(model: BaseModel, data: dict[str, Any]) -> dict[str, Any]:
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        value = getattr(model, name)
        if value is None and field.default is None:
            data.pop(key, None)
        elif isinstance(value, BaseModel):
            _drop_default_nones(value, data[key])
    return data


def format_validation_error(source: str, err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "<root>"
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see configs/ for valid files)"
        elif "input" in item and not isinstance(item["input"], dict | list):
            msg += f" (got {item['input']!r})"
        parts.append(f"{loc}: {msg}")
    return f"{source}: " + "; ".join(parts)


def parse_config(data: Any, source: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(source, err)) from None


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """Parse a YAML file; a missing file or bad YAML becomes a one-line ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(err, 'problem', err)}") from None


def load_config(path: str | Path) -> RunConfig:
    return parse_config(read_yaml(path), str(path))

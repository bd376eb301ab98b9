"""Integer mode equals the eval-mode fake-quant forward exactly, on random nets and inputs
(including saturating inputs and extreme weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from hwnn.data.base import InputQuant
from hwnn.nn import (
    QuantConv2d,
    QuantIdentity,
    QuantLinear,
    QuantReLU,
    QuantSequential,
    build_mlp,
    set_quant_enabled,
)
from hwnn.prune import magnitude_prune
from hwnn.quant import CodebookQuantizer, int_act_quant, int_weight_quant


def check_exact(model: QuantSequential, x: torch.Tensor) -> None:
    model.train()
    with torch.no_grad():
        model(x)  # initialise learned scales
    model.eval()
    fake = model(x)
    integer = model.forward_int(model.quantize_input(x))
    assert integer.value.dtype == torch.int64
    assert torch.equal(integer.to_real().float(), fake)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 40), st.lists(st.integers(1, 24), min_size=0, max_size=3),
    st.integers(1, 6), st.integers(2, 8), st.integers(2, 8), st.integers(0, 2**31 - 1),
    st.floats(0.01, 100.0), st.booleans(),
)
# an input of 31.999998 at scale 64: float32 floor(x/s + 0.5) rounded it up to 1
@example(27, [], 2, 2, 2, 349, 96.9057992337672, True)
def test_mlp_integer_mode_is_exact(fan_in, hidden, outs, wbits, abits, seed, gain, signed):
    torch.manual_seed(seed)
    model = build_mlp(fan_in, hidden, outs, InputQuant(8, signed, None), weight_bits=wbits,
                      act_bits=abits)
    with torch.no_grad():
        for _, layer in model.weight_layers():
            layer.weight.mul_(gain)  # extreme weights
            layer.bias.mul_(gain)
    x = torch.randn(64, fan_in) * gain
    x[0] = 1e4  # saturating input
    check_exact(model, x)


def test_fixed_scale_inputs_and_pruned_codebook_layer_exact() -> None:
    torch.manual_seed(1)
    model = build_mlp(30, [12], 2, InputQuant(1, False, 1.0))
    model[1].weight_quant = CodebookQuantizer([-64, -8, -1, 0, 1, 2, 16, 127])
    magnitude_prune(model, 0.6)
    x = torch.randint(0, 2, (128, 30)).float()
    check_exact(model, x)
    codes = model.quantize_input(x).value
    assert torch.equal(codes, x.long())


def test_conv_integer_mode_is_exact() -> None:
    torch.manual_seed(2)
    model = QuantSequential(
        QuantIdentity(int_act_quant(8, False, scale=2.0**-8, learned=False)),
        QuantConv2d(1, 4, 3, padding=1, weight_quant=int_weight_quant()),
        QuantReLU(int_act_quant()),
        nn.MaxPool2d(2),
        nn.Flatten(),
        QuantLinear(4 * 7 * 7, 10, weight_quant=int_weight_quant()),
        QuantIdentity(int_act_quant(16, signed=True)),
    )
    x = torch.randint(0, 256, (16, 1, 14, 14)).float() / 256
    check_exact(model, x)


def test_float_mode_ignores_quantizers() -> None:
    torch.manual_seed(3)
    model = build_mlp(5, [4], 2, InputQuant(8, True, None))
    set_quant_enabled(model, False)
    ref = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    ref[0].load_state_dict(model[1].state_dict(), strict=False)
    ref[2].load_state_dict(model[3].state_dict(), strict=False)
    x = torch.randn(8, 5)
    assert torch.allclose(model(x), ref(x))
    with pytest.raises(RuntimeError, match="integer mode"):
        model.quantize_input(x)


def test_bias_is_quantized_to_accumulator_scale() -> None:
    torch.manual_seed(4)
    model = build_mlp(6, [3], 2, InputQuant(4, False, 2.0**-4))
    x = torch.randint(0, 16, (32, 6)).float() / 16
    check_exact(model, x)
    acc = model[1].forward_int(model.quantize_input(x))
    in_scale = 2.0**-4
    _, s_w = model[1].weight_quant.quantize(model[1].masked_weight())
    codes = np.round(model[1].bias.detach().double().numpy() / (in_scale * s_w.numpy()))
    assert torch.allclose(acc.scale, in_scale * s_w)
    # zero input → the accumulator equals the integer bias exactly
    zero = model[1].forward_int(model.quantize_input(torch.zeros(1, 6))).value[0].numpy()
    assert np.array_equal(zero, codes.astype(np.int64))


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=2), st.sampled_from([1, 3, 5]),
       st.integers(2, 8), st.integers(0, 2**31 - 1))
def test_cnn_integer_mode_is_exact(channels, kernel, bits, seed):
    from hwnn.nn.model import build_cnn

    torch.manual_seed(seed)
    model = build_cnn([2, 8, 6], channels, [5], 3, InputQuant(bits=8, signed=True, scale=None),
                      kernel, weight_bits=bits, act_bits=bits)
    set_quant_enabled(model, True)
    check_exact(model, torch.randn(32, 2 * 8 * 6))


def test_cnn_run_trains_and_exports_bit_exact(tmp_path):
    from toy import toy_dataset

    from hwnn.config import parse_config
    from hwnn.ir import load_ir, run, save_ir
    from hwnn.ir.export import export_run
    from hwnn.logic.verilog import network_verilog
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer
    from hwnn.train.metrics import model_inputs

    stage = {"epochs": 3, "lr": 3e-3, "lr_step": 2, "patience": 3}
    cfg = parse_config({"name": "cnn", "data": {"task": "mnist"},
                        "model": {"kind": "cnn", "image": [1, 4, 6], "channels": [4],
                                  "hidden": [8], "weights": "ternary", "eta": 0.3},
                        "train": {"seed": 1, "batch_size": 64, "float": stage, "qat": stage}})
    ds = toy_dataset(n=1200)
    metrics = Trainer(cfg, ds, tmp_path / "r", progress=False).run()
    assert metrics["summary_test"]["qat"] > 0.4  # 3 classes
    net = export_run(tmp_path / "r")
    assert [la.kind for la in net.layers] == ["conv", "dense", "dense"]
    save_ir(net, tmp_path / "net.ir.json")
    net = load_ir(tmp_path / "net.ir.json")
    _, model, _ = load_run(tmp_path / "r")
    q = model.quantize_input(model_inputs(ds, ds.test.x))
    trace = run(net, q.value.numpy())
    np.testing.assert_array_equal(trace.outputs[-1], model.forward_int(q).value.numpy())
    with pytest.raises(ValueError, match="streaming"):
        network_verilog(net)

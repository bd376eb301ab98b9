"""Conv layers in the IR (hwnn.ir.conv): export from torch, the exact reference with and
without ReLU prediction, file round trip, validation errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.data.base import InputQuant
from hwnn.ir import IRError, ir_fingerprint, load_ir, run, save_ir
from hwnn.ir.conv import ConvLayer, max_pool
from hwnn.ir.export import export_model
from hwnn.nn.model import build_cnn, set_quant_enabled
from hwnn.nn.relu_pred import conv_layers, forward_int_predicted, make_predictors

IQ = InputQuant(bits=8, signed=True, scale=None)


def _cnn(seed: int, channels: list[int], kernel: int, padding: str, image=(2, 9, 8)):
    torch.manual_seed(seed)
    c, h, w = image
    model = build_cnn(list(image), channels, [5], 3, IQ, kernel=kernel, padding=padding)
    set_quant_enabled(model, True)
    with torch.no_grad():
        model(torch.randn(64, c * h * w))
    model.eval()
    return model


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 5), min_size=1, max_size=2),
       st.sampled_from([(1, "same"), (3, "same"), (3, "valid"), (2, "valid")]),
       st.sampled_from([None, "pow2", "sign"]), st.integers(1, 8))
def test_ir_reference_matches_torch_integer_mode(seed, channels, conv, method, n_levels):
    kernel, padding = conv
    if padding == "valid" and len(channels) == 2 and kernel == 3:
        channels = channels[:1]  # 9x8 -> 7x6 -> 3x3 -> 1x1: too small for a second pool
    model = _cnn(seed, channels, kernel, padding)
    x = model.quantize_input(torch.randn(20, 2 * 9 * 8))
    predictors = {} if method is None else make_predictors(model, conv_layers(model), method,
                                                           n_levels)
    net = export_model(model, "t", "argmax", predictors=predictors)
    assert [la.kind for la in net.layers] == ["conv"] * len(channels) + ["dense"] * 2
    expected = forward_int_predicted(model, x, predictors).output.value.numpy()
    trace = run(net, x.value.numpy())
    np.testing.assert_array_equal(trace.outputs[-1], expected)
    assert (trace.prediction == expected.argmax(1)).all()


def test_conv_ir_round_trip_and_fingerprint(tmp_path):
    model = _cnn(0, [3, 2], 3, "same")
    plain = export_model(model, "t", "argmax")
    pred = export_model(model, "t", "argmax",
                        predictors=make_predictors(model, conv_layers(model)[1:], "pow2", 2))
    assert plain.layers[0].approx is None and pred.layers[1].approx is not None
    assert ir_fingerprint(plain) != ir_fingerprint(pred)
    save_ir(pred, tmp_path / "net.ir.json")
    back = load_ir(tmp_path / "net.ir.json")
    assert ir_fingerprint(back) == ir_fingerprint(pred)
    assert back.layers[0].in_shape == (2, 9, 8) and back.layers[1].out_shape() == (2, 2, 2)
    x = np.random.default_rng(0).integers(-128, 128, size=(7, 144))
    np.testing.assert_array_equal(run(back, x).outputs[-1], run(pred, x).outputs[-1])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_max_pool_is_torch_floor_mode(h, w, p, seed):
    y = np.random.default_rng(seed).integers(-50, 50, size=(2, 3, h, w))
    if h < p or w < p:
        return
    want = torch.nn.functional.max_pool2d(torch.from_numpy(y).double(), p).long().numpy()
    np.testing.assert_array_equal(max_pool(y, p), want)


def _layer(**over) -> ConvLayer:
    fields = dict(name="c", weight=np.ones((2, 1, 3, 3), dtype=np.int64),
                  bias=np.zeros(2, dtype=np.int64), multiplier=np.ones(2, dtype=np.int64),
                  shift=np.zeros(2, dtype=np.int64), in_shape=(1, 5, 5), padding=0, pool=2,
                  in_bits=8, in_signed=False, acc_bits=14, out_bits=8, out_signed=False)
    fields.update(over)
    return ConvLayer(**fields)


def test_conv_layer_validation_names_the_problem():
    _layer().check("l0")
    assert _layer().out_shape() == (2, 1, 1) and _layer().out_features == 2
    with pytest.raises(IRError, match="in_shape"):
        _layer(in_shape=(2, 5, 5)).check("l0")
    with pytest.raises(IRError, match="approx"):
        _layer(approx=np.ones((2, 1, 3, 3), dtype=np.int64)).check("l0")
    with pytest.raises(IRError, match="worst case"):
        _layer(acc_bits=8).check("l0")
    with pytest.raises(IRError, match="too small"):
        _layer(in_shape=(1, 3, 3), pool=2).check("l0")
    # worst case: 9 inputs of at most 255 times weight 1
    assert _layer().worst_case_acc_range()[1].tolist() == [9 * 255, 9 * 255]

"""ReLU prediction (seed 003): power-of-two levels, N_L search, predicted integer forward."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.data.base import InputQuant
from hwnn.methods.relu_pred import search_levels
from hwnn.nn.model import QuantSequential, build_cnn, set_quant_enabled
from hwnn.nn.relu_pred import (
    conv_input_scales,
    conv_layers,
    forward_int_predicted,
    make_predictors,
    real_conv_params,
)
from hwnn.quant.pow2 import (
    Pow2Levels,
    nearest_power_of_two_exponent,
    packed_bits,
    pow2_levels,
    sign_codes,
    w99,
)

IQ = InputQuant(bits=8, signed=True, scale=None)


def test_w99_and_levels_on_a_hand_made_layer():
    # |w| = 0.01, 0.02, ..., 1.00 with alternating signs, plus nothing else: numpy's linear
    # percentile puts W99 at 0.99 + 0.01 * 0.01 = 0.9901, whose nearest power of two is 1
    w = np.arange(1, 101) / 100 * np.where(np.arange(100) % 2, -1, 1)
    assert w99(w) == pytest.approx(0.9901)
    levels = pow2_levels(w, 3)
    assert levels.top_exponent == 0
    assert levels.unit == 0.25
    np.testing.assert_array_equal(levels.values(), [-1, -0.5, -0.25, 0, 0.25, 0.5, 1])
    hand = np.array([0.9, 0.7, 0.75, 0.3, 0.1, 0.125, 0.13, -0.6, 5.0, -0.2])
    # nearest level; ties (0.75 between 0.5 and 1, 0.125 between 0 and 0.25) go to the
    # smaller magnitude; 5.0 saturates at the top level
    np.testing.assert_array_equal(levels.encode(hand), [4, 2, 2, 1, 0, 0, 1, -2, 4, -1])
    np.testing.assert_array_equal(levels.decode(levels.encode(hand)),
                                  [1, 0.5, 0.5, 0.25, 0, 0, 0.25, -0.5, 1, -0.25])


def test_seed_003_fig3_levels_and_table1_bit_widths():
    # Fig. 3: W99 near 0.125 and N_L = 3 give {0, ±0.03125, ±0.0625, ±0.125}
    levels = Pow2Levels(nearest_power_of_two_exponent(0.13), 3)
    np.testing.assert_array_equal(levels.values()[3:], [0, 0.03125, 0.0625, 0.125])
    # Table I: LeNet Prop-1 N_L = 2 -> 3 bits, Prop-2 N_L = 1 -> 2 bits; AlexNet 5 -> 4
    assert [packed_bits(n) for n in (1, 2, 3, 5, 8)] == [2, 3, 3, 4, 5]


def test_nearest_power_of_two_at_the_edges():
    assert [nearest_power_of_two_exponent(v) for v in (1, 1.5, 1.49, 0.75, 0.7, 96, 95)] == \
        [0, 1, 0, 0, -1, 7, 6]
    with pytest.raises(ValueError):
        nearest_power_of_two_exponent(0.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-30, 1e30))
def test_nearest_power_of_two_is_nearest(value):
    e = nearest_power_of_two_exponent(value)
    assert abs(value - 2.0**e) <= min(abs(value - 2.0 ** (e - 1)), abs(value - 2.0 ** (e + 1)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-4, 4), min_size=1, max_size=40), st.integers(1, 8),
       st.integers(-6, 2))
def test_encode_picks_the_nearest_level(weights, n_levels, top):
    levels = Pow2Levels(top, n_levels)
    w = np.array(weights)
    codes = levels.encode(w)
    approx = levels.decode(codes)
    assert set(np.abs(codes).tolist()) <= set(levels.codes.tolist())
    dist = np.abs(w[:, None] - levels.values()[None, :]).min(axis=1)
    np.testing.assert_allclose(np.abs(w - approx), dist, rtol=0, atol=1e-12)


def test_sign_codes_keep_zeros_and_fit_the_mean_magnitude():
    codes, unit = sign_codes(np.array([0.5, -0.25, 0.0, 0.25]))
    np.testing.assert_array_equal(codes, [1, -1, 0, 1])
    assert unit == pytest.approx(0.25)


def test_search_keeps_the_smallest_passing_level_count():
    # a non-monotone curve: N_L = 4 fails, 3 and 2 pass, 1 fails -> 2 (all are evaluated)
    curve = {8: 0.990, 7: 0.990, 6: 0.989, 5: 0.985, 4: 0.970, 3: 0.982, 2: 0.981, 1: 0.90}
    seen: list[int] = []

    def acc(n):
        seen.append(n)
        return curve[n]

    chosen, got = search_levels(acc, baseline=0.990)
    assert chosen == 2 and got == curve and seen == list(range(8, 0, -1))
    # the bound is strict: a loss of exactly 1 % does not pass
    assert search_levels(lambda n: 0.98, baseline=0.99, max_loss=0.01 + 1e-12)[0] == 1
    assert search_levels(lambda n: 0.5, baseline=0.99)[0] is None


def _cnn(seed: int, padding: str = "valid") -> QuantSequential:
    torch.manual_seed(seed)
    model = build_cnn([1, 10, 10], [4, 3], [6], 3, IQ, kernel=3, padding=padding)
    set_quant_enabled(model, True)
    with torch.no_grad():
        model(torch.randn(64, 100))  # initialises the learned activation scales
    model.eval()
    return model


def _conv_relu(model: QuantSequential) -> QuantSequential:
    """The first block only: input → unflatten → conv → ReLU quantizer."""
    return QuantSequential(*list(model)[:4])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["pow2", "sign"]), st.integers(1, 8),
       st.sampled_from(["same", "valid"]))
def test_prediction_never_changes_an_output_predicted_positive(seed, method, n_levels,
                                                               padding):
    model = _cnn(seed, padding)
    x = model.quantize_input(torch.randn(16, 100))
    block = _conv_relu(model)
    exact = block.forward_int(x).value
    predictors = make_predictors(block, [2], method, n_levels)
    out = forward_int_predicted(block, x, predictors)
    conv_in = QuantSequential(*list(model)[:2]).forward_int(x).value
    keep = predictors[2].predict(conv_in, block[2]) >= 0
    assert torch.equal(out.output.value[keep], exact[keep])
    assert bool((out.output.value[~keep] == 0).all())
    c = out.counts[2]
    assert c.skipped == int((~keep).sum())
    assert c.wrong_skips == int(((~keep) & (exact > 0)).sum())
    # the whole network: no predictors = plain integer mode
    assert torch.equal(forward_int_predicted(model, x, {}).output.value,
                       model.forward_int(x).value)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_integer_prediction_is_the_approximate_convolution(seed, n_levels):
    """pred = (Σ x ŵ + b) / (unit s_x) up to the rounding of the bias (<= 1/2)."""
    model = _cnn(seed)
    x = model.quantize_input(torch.randn(8, 100))
    s_x = conv_input_scales(model)[2]
    pred = make_predictors(model, [2], "pow2", n_levels)[2]
    w, b = real_conv_params(model[2], s_x)
    w_hat = pred.levels.decode(pred.levels.encode(w))
    conv_in = QuantSequential(*list(model)[:2]).forward_int(x).value
    real = torch.nn.functional.conv2d(conv_in.double() * s_x, torch.from_numpy(w_hat),
                                      torch.from_numpy(b))
    got = pred.predict(conv_in, model[2]).double()
    assert float((got - real / (pred.unit * s_x)).abs().max()) <= 0.5 + 1e-9


def test_counts_of_negative_outputs_and_max_pool_redundancy():
    model = _cnn(3)
    x = model.quantize_input(torch.randn(5, 100))
    out = forward_int_predicted(model, x, {})
    first, second = conv_layers(model)
    acc = QuantSequential(*list(model)[:3]).forward_int(x).value
    c = out.counts[first]
    assert c.outputs == acc.numel() and c.non_positive == int((acc <= 0).sum())
    assert c.skipped == 0 and c.wrong_skips == 0
    # 8x8 maps into 2x2 windows: exactly one output in four survives each pool
    assert c.pool_discarded == 3 * c.outputs // 4
    assert out.counts[second].outputs == 5 * 3 * 2 * 2


def test_prediction_refuses_a_conv_without_relu():
    model = _cnn(0)
    conv_only = QuantSequential(*list(model)[:3])
    x = model.quantize_input(torch.randn(2, 100))
    with pytest.raises(ValueError, match="ReLU"):
        forward_int_predicted(conv_only, x, make_predictors(conv_only, [2], "sign"))


def test_packed_bits_formula():
    for n in range(1, 20):
        assert packed_bits(n) == math.ceil(math.log2(2 * n + 1))


def test_study_on_a_trained_toy_cnn(tmp_path):
    from toy import toy_dataset

    from hwnn.config import parse_config
    from hwnn.errors import HwnnError
    from hwnn.ir import load_ir, run
    from hwnn.methods.relu_pred import (
        RESULT_FILE,
        export_predicted,
        ir_variant,
        relu_prediction_study,
        torch_integer_outputs,
    )
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer
    from hwnn.train.metrics import model_inputs

    stage = {"epochs": 2, "lr": 3e-3, "lr_step": 2, "patience": 2}
    cfg = parse_config({"name": "cnn", "data": {"task": "mnist"},
                        "model": {"kind": "cnn", "image": [1, 4, 6], "channels": [4, 3],
                                  "hidden": [8]},
                        "train": {"seed": 1, "batch_size": 64, "float": stage, "qat": stage}})
    ds = toy_dataset(n=900)
    Trainer(cfg, ds, tmp_path / "r", progress=False).run()
    study = relu_prediction_study(tmp_path / "r", dataset=ds, levels=(3, 2, 1))
    # the baseline is the plain integer mode
    _, model, _ = load_run(tmp_path / "r")
    q = model.quantize_input(model_inputs(ds, ds.test.x))
    plain = (model.forward_int(q).value.argmax(1).numpy() == ds.test.y).mean()
    assert study["baseline"]["test_accuracy"] == pytest.approx(plain)
    assert set(study["variants"]) == {"SignConnect-1", "SignConnect-2", "Prop-1", "Prop-2"}
    first, second = (layer["index"] for layer in study["conv_layers"])
    for name, v in study["variants"].items():
        assert v["layers"] == ([second] if name.endswith("2") else [first, second])
        if "counts" in v:  # every conv layer is counted, predicted or not
            assert set(v["counts"]) == {str(first), str(second)}
            assert v["counts"][str(first)]["skipped"] == 0 or name.endswith("1")
    prop1 = study["variants"]["Prop-1"]
    assert set(prop1["val_curve"]) == {"3", "2", "1"}
    # the IR of each variant computes what the study measured, image for image, and its
    # outputs are the torch integer mode's with the same prediction
    (tmp_path / "r" / RESULT_FILE).write_text(json.dumps(study))
    codes = q.value.numpy()
    for name, path in export_predicted(tmp_path / "r", study).items():
        ir_out = run(load_ir(path), codes)
        assert (ir_out.prediction == ds.test.y).mean() == pytest.approx(
            study["variants"][name]["test_accuracy"])
        np.testing.assert_array_equal(
            torch_integer_outputs(tmp_path / "r", ir_variant(name), codes),
            ir_out.outputs[-1])
    with pytest.raises(HwnnError, match="no variant"):
        torch_integer_outputs(tmp_path / "r", "prop7", codes)
    if prop1["n_levels"] is not None:
        assert prop1["weight_bits"] == packed_bits(prop1["n_levels"])
        skipped = prop1["counts"][str(first)]["skipped"]
        assert 0 <= skipped <= prop1["counts"][str(first)]["outputs"]

"""Streaming CNN accelerator (hwnn.logic.stream, seed 003 §V): RTL simulation against the
IR reference, with and without ReLU prediction, with idle cycles in the input stream."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.data.base import InputQuant
from hwnn.eda.rtlsim import available_simulators, simulate_cycles
from hwnn.ir import IRError
from hwnn.ir.export import export_model
from hwnn.logic.stream import (
    expected_stream,
    stream_outputs,
    stream_ports,
    stream_verilog,
    stream_words,
)
from hwnn.nn.model import build_cnn, set_quant_enabled
from hwnn.nn.relu_pred import conv_layers, make_predictors

pytestmark = pytest.mark.skipif("icarus" not in available_simulators(),
                                reason="needs Icarus Verilog")
IMAGE = (2, 16, 15)  # 14x13 -> pool 7x6 -> 5x4 -> pool 2x2 (odd sizes: floor mode)


def _model(seed: int, channels: list[int], padding: str = "valid"):
    torch.manual_seed(seed)
    model = build_cnn(list(IMAGE), channels, [5], 3, InputQuant(8, False, None), kernel=3,
                      padding=padding)
    set_quant_enabled(model, True)
    with torch.no_grad():
        model(torch.rand(64, int(np.prod(IMAGE))) * 3)
    model.eval()
    return model


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([None, "pow2", "sign"]),
       st.integers(1, 4), st.booleans(), st.booleans())
def test_stream_rtl_matches_the_ir_reference(tmp_path_factory, seed, method, n_levels, gaps,
                                             isolate):
    model = _model(seed, [3, 2])
    convs = conv_layers(model)
    predictors = {} if method is None else make_predictors(model, convs, method, n_levels)
    net = export_model(model, "toy", "argmax", predictors=predictors)
    ports = stream_ports(net)
    assert (ports.x_width, ports.y_width, ports.out_size) == (18, 17, (2, 2))
    work = tmp_path_factory.mktemp("stream")
    (work / "net.v").write_text(stream_verilog(net, "toy", operand_isolation=isolate))
    rng = np.random.default_rng(seed)
    codes = model.quantize_input(torch.rand(3, int(np.prod(IMAGE))) * 3).value.numpy()
    idle = (rng.integers(1, 4, size=(3, IMAGE[1] * IMAGE[2]))
            * (rng.random((3, IMAGE[1] * IMAGE[2])) < 0.3)) if gaps else None
    y = simulate_cycles([work / "net.v"], "toy", stream_words(ports, codes, idle),
                        ports.x_width, ports.y_width, work)
    np.testing.assert_array_equal(stream_outputs(ports, y), expected_stream(net, codes))


@pytest.mark.parametrize("predict_layers", [(), (1,)])
def test_operand_isolation_keeps_the_stream_exact(tmp_path, predict_layers):
    """The isolated baseline (a shared window register per layer without prediction), also
    next to a predicted layer (Prop-2 style), streams exactly the IR's outputs."""
    model = _model(5, [3, 2])
    convs = conv_layers(model)
    predictors = make_predictors(model, [convs[k] for k in predict_layers], "pow2", 2)
    net = export_model(model, "toy", "argmax", predictors=predictors)
    ports = stream_ports(net)
    src = stream_verilog(net, "toy", operand_isolation=True)
    # one shared register per layer without prediction, one per channel in a predicted one
    assert len(re.findall(r"reg \[\d+:0\] opnd;", src)) == 2 - len(predict_layers)
    assert len(re.findall(r"reg \[\d+:0\] opnd\d+;", src)) == 2 * len(predict_layers)
    (tmp_path / "net.v").write_text(src)
    codes = model.quantize_input(torch.rand(2, int(np.prod(IMAGE))) * 3).value.numpy()
    y = simulate_cycles([tmp_path / "net.v"], "toy", stream_words(ports, codes),
                        ports.x_width, ports.y_width, tmp_path)
    np.testing.assert_array_equal(stream_outputs(ports, y), expected_stream(net, codes))


def test_stream_refuses_padded_convolutions():
    net = export_model(_model(0, [2], padding="same"), "toy", "argmax")
    with pytest.raises(IRError, match="valid"):
        stream_verilog(net)


def test_stream_words_layout():
    net = export_model(_model(0, [3, 2]), "toy", "argmax")
    ports = stream_ports(net)
    img = np.arange(2 * 240).reshape(1, -1) % 256
    words = stream_words(ports, img, drain=2)
    assert words[0] == 1 << 17  # reset
    assert len(words) == 1 + 240 + 2
    # pixel 0: channel 0 = img[0, 0], channel 1 = img[0, 240], valid bit 16
    assert words[1] == (1 << 16) | (int(img[0, 240]) << 8) | int(img[0, 0])


def test_latency_and_image_selection():
    from hwnn.methods.stream_flow import first_per_class, latency_cycles

    net = export_model(_model(0, [3, 2]), "toy", "argmax")
    ports = stream_ports(net)  # 4 output pixels per image, valid at bit 16 of y
    words = [1 << 17, 0, 1 << 16, 1 << 16]  # reset, idle, first pixel at cycle 2
    y = [None, 0, 0, 1 << 16, 0, 1 << 16, 1 << 16, 0, 1 << 16, 1 << 16]
    assert latency_cycles(ports, y, words) == 8 - 2 + 1  # 4th valid output at cycle 8
    labels = np.array([3, 1, 3, 0, 1, 1, 0, 3])
    np.testing.assert_array_equal(first_per_class(labels, 2), [0, 1, 2, 3, 4, 6])


@pytest.mark.slow
def test_stream_gate_level_power_on_a_toy_cnn(tmp_path):
    """Minutes: partitioned Nangate45 synthesis of a small streaming design with ReLU
    prediction, the Icarus gate-level simulation with zeroed flip-flops reproduces the IR
    stream, and OpenSTA splits the power into CONV and ApproxConv units."""
    from hwnn.eda import power_from_activity, synth_asic
    from hwnn.eda.activity import gate_level_activity
    from hwnn.eda.cyclesim import simulate_compiled
    from hwnn.eda.gatesim import zero_state
    from hwnn.methods.stream_flow import register_groups

    model = _model(0, [3, 2])
    net = export_model(model, "toy", "argmax",
                       predictors=make_predictors(model, conv_layers(model), "pow2", 2))
    ports = stream_ports(net)
    (tmp_path / "net.v").write_text(stream_verilog(net, "toy"))
    syn = synth_asic([tmp_path / "net.v"], "toy", tmp_path, clock_period_ps=10_000,
                     partition=True)
    assert syn.partitions == 10  # 3 + 2 CONV units, 3 + 2 ApproxConv units
    codes = model.quantize_input(torch.rand(1, int(np.prod(IMAGE))) * 3).value.numpy()
    words = stream_words(ports, codes, drain=16)
    act = gate_level_activity(syn.netlist_path, "toy", tmp_path / "act",
                              in_width=ports.x_width, vectors=words, period_ns=10.0,
                              initial_state=zero_state(syn.netlist_path, "toy"),
                              timeout_s=3600)
    np.testing.assert_array_equal(stream_outputs(ports, list(act.outputs)),
                                  expected_stream(net, codes))
    # the compiled cycle simulator (the flow's) counts the same toggles on every net
    comp = simulate_compiled(syn.netlist_path, "toy", tmp_path / "compiled",
                             in_width=ports.x_width, vectors=words)
    assert comp.outputs == act.outputs
    assert comp.toggles == {k: act.toggles[k] for k in comp.toggles}
    assert not any(act.toggles[k] for k in set(act.toggles) - set(comp.toggles))
    regs = register_groups(syn.netlist_path, "toy")
    # a window of operand registers per predicted CONV unit, the line buffers of both layers
    assert len(regs["operand_registers"]) > 9 and len(regs["line_buffers"]) > 0
    pa = power_from_activity(syn.netlist_path, "toy", tmp_path / "pw", period_ns=10.0,
                             activity=act.activity,
                             instance_groups={"conv": "u_s*.u_o*", "approx": "u_s*.u_a*",
                                              **regs})
    assert pa.repropagated_pins == 0 and not pa.unmatched_nets
    conv, approx, opnd, lb = (sum(pa.groups_mw[k]) for k in
                              ("conv", "approx", "operand_registers", "line_buffers"))
    assert 0 < approx < conv < pa.total_mw
    assert opnd > 0 and lb > 0 and conv + approx + opnd + lb < pa.total_mw

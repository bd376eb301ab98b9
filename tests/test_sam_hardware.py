"""SAM in logic (issue 9 item 4): a trained SAM run → activation pruning + integer mode
(hwnn.nn.sam_int) → IR (hwnn.ir.sam) → Verilog (hwnn.logic.sam_verilog); the torch integer
mode, the IR reference and the RTL simulation agree bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.config import parse_config
from hwnn.data.sam_task import load_sam
from hwnn.eda.rtlsim import available_simulators, simulate
from hwnn.errors import HwnnError
from hwnn.ir import load_ir, run, save_ir
from hwnn.ir.export import export_run, export_sam
from hwnn.ir.model import IRError
from hwnn.ir.sam import SamLayer, sam_accumulate
from hwnn.logic.testbench import make_testbench, write_vectors
from hwnn.logic.verilog import network_verilog
from hwnn.methods.sam_hardware import make_hardware_run
from hwnn.nn import sam_int
from hwnn.nn.sam import SAMNet
from hwnn.train.loop import Trainer


def _layer(plus: np.ndarray, minus: np.ndarray, kp: np.ndarray, km: np.ndarray,
           bias: np.ndarray) -> SamLayer:
    n_out = plus.shape[0]
    layer = SamLayer("s", plus, minus, kp.astype(np.int64), km.astype(np.int64), bias,
                     np.ones(n_out, dtype=np.int64), np.zeros(n_out, dtype=np.int64), 4, True,
                     2, 8, True, weight_bits=4)
    layer.acc_bits = layer.worst_case_acc_bits()
    return layer


def test_sam_accumulate_on_a_hand_made_layer() -> None:
    """x = (1, -3, 2). Neuron 0: max(1+0, -3+5, 2-1) = 2 over all three; min over inputs
    0 and 2 only: min(1+1, 2+0) = 2; bias 1 -> 5. Neuron 1: no kept max connection (term
    0), min(-3+2) = -1, bias 0 -> -1."""
    plus = np.array([[0, 5, -1], [7, 7, 7]])
    minus = np.array([[1, 6, 0], [3, 2, -4]])
    kp = np.array([[1, 1, 1], [0, 0, 0]])
    km = np.array([[1, 0, 1], [0, 1, 0]])
    layer = _layer(plus, minus, kp, km, np.array([1, 0]))
    assert sam_accumulate(layer, np.array([[1, -3, 2]])).tolist() == [[5, -1]]
    lo, hi = layer.worst_case_acc_range()
    # x in [-8, 7]: max term of neuron 0 in [-8 + 5, 7 + 5], its min term in [-8 + 0, 7 + 0]
    assert lo.tolist() == [-3 - 8 + 1, -8 + 2] and hi.tolist() == [12 + 7 + 1, 7 + 2]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_sam_accumulate_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_out, n_in = rng.integers(1, 5), rng.integers(1, 7)
    plus, minus = (rng.integers(-8, 8, (n_out, n_in)) for _ in range(2))
    kp, km = (rng.random((n_out, n_in)) < 0.6 for _ in range(2))
    layer = _layer(plus, minus, kp, km, rng.integers(-5, 5, n_out))
    x = rng.integers(-8, 8, (6, n_in))
    got = sam_accumulate(layer, x)
    lo, hi = layer.worst_case_acc_range()
    for b in range(len(x)):
        for j in range(n_out):
            want = int(layer.bias[j])
            if kp[j].any():
                want += max(int(x[b, i] + plus[j, i]) for i in range(n_in) if kp[j, i])
            if km[j].any():
                want += min(int(x[b, i] + minus[j, i]) for i in range(n_in) if km[j, i])
            assert got[b, j] == want
            assert lo[j] <= want <= hi[j]


def _small_net(seed: int = 0) -> tuple[SAMNet, torch.Tensor]:
    torch.manual_seed(seed)
    net = SAMNet(12, [7, 5], 4, bias=True)
    net.sam[0].keep_plus[torch.rand(12, 7) < 0.5] = False
    net.sam[0].keep_minus[:, 3] = False  # a neuron without a min term
    net.sam[1].keep_plus[:, 0] = False
    return net.eval(), torch.randn(256, 12)


def test_integer_mode_tracks_the_float_network_and_matches_the_ir(tmp_path: Path) -> None:
    net, x = _small_net()
    with pytest.raises(RuntimeError, match="no integer mode"):
        net.quantize_input(x)
    sam_int.calibrate(net, x)
    codes = net.quantize_input(x)
    out = net.forward_int(codes)
    real = out.value.double() * out.scale
    ref = net(x).detach().double()
    assert float((real - ref).abs().max()) < 0.1 * float(ref.abs().max())  # 8-bit PTQ
    ir = export_sam(net, "toy")
    save_ir(ir, tmp_path / "toy.ir.json")
    back = load_ir(tmp_path / "toy.ir.json")
    assert [la.kind for la in back.layers] == ["sam", "sam", "dense"]
    for layer in back.layers[:2]:
        assert layer.acc_bits == layer.worst_case_acc_bits()
        assert layer.multiplier.max() < 256  # 8-bit requantizer constants
    trace = run(back, codes.value.numpy())
    np.testing.assert_array_equal(trace.outputs[-1], out.value.numpy())
    assert back.layers[0].nonzero_weights() == int(net.sam[0].keep_plus.sum()
                                                   + net.sam[0].keep_minus.sum())


def test_ir_rejects_malformed_sam_layers() -> None:
    layer = _layer(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3), dtype=np.int64),
                   np.ones((2, 3)), np.ones((2, 3)), np.zeros(2, dtype=np.int64))
    layer.plus = layer.plus + 100  # does not fit int4
    with pytest.raises(IRError, match="plus must fit int4"):
        layer.check("layer 0")
    layer.plus = layer.plus - 100
    layer.acc_bits = 2
    with pytest.raises(IRError, match="worst case"):
        layer.check("layer 0")


@pytest.mark.parametrize("partition", [False, True])
def test_rtl_of_a_sam_network_is_bit_exact(tmp_path: Path, partition: bool) -> None:
    sims = available_simulators()
    if not sims:
        pytest.skip("no Verilog simulator installed")
    net, x = _small_net(1)
    sam_int.calibrate(net, x)
    ir = export_sam(net, "toy")
    codes = net.quantize_input(x).value.numpy()
    trace = run(ir, codes)
    (tmp_path / "net.v").write_text(network_verilog(ir, "top", "embedded", 1, partition))
    n = write_vectors(ir, trace, tmp_path)
    (tmp_path / "tb.v").write_text(make_testbench(ir, "top", n, "embedded", 1))
    result = simulate([tmp_path / "tb.v", tmp_path / "net.v"], tmp_path, sims[0])
    assert result.vectors == len(codes)
    assert result.mismatches == 0 and not any(result.layer_mismatches)
    with pytest.raises(ValueError, match="generic"):
        network_verilog(ir, "top", "generic")


def test_hardware_run_from_a_trained_sam_run(tmp_path: Path) -> None:
    ds = load_sam(n=24, n_test=1500, n_val=800, seed=3)
    cfg = parse_config({
        "name": "toy_sam", "data": {"task": "sam"},
        "model": {"kind": "sam", "hidden": [16], "act_bits": 6},
        "train": {"batch_size": 64, "steps_per_epoch": 20,
                  "float": {"epochs": 2, "lr": 8e-3, "patience": None}}})
    Trainer(cfg, ds, tmp_path / "float", progress=False).run()
    with pytest.raises(IRError, match="sam-hardware"):
        export_run(tmp_path / "float")
    with pytest.raises(HwnnError, match="exactly one"):
        make_hardware_run(tmp_path / "float", tmp_path / "hw", 1, 0.05, dataset=ds)
    with pytest.raises(HwnnError, match="removes every parameter"):
        make_hardware_run(tmp_path / "float", tmp_path / "hw", threshold=10**6, dataset=ds)
    assert not (tmp_path / "hw").exists()  # nothing half-written
    rep = make_hardware_run(tmp_path / "float", tmp_path / "hw", threshold=40, dataset=ds)
    assert 0 < rep["kept_parameters"] < rep["total_parameters"] == 2 * 24 * 16
    assert rep["bits"] == 6 and 0 <= rep["test_accuracy_integer"] <= 1
    ir = export_run(tmp_path / "hw")
    assert ir.layers[0].nonzero_weights() == rep["kept_parameters"]
    assert ir.input.bits == 6
    from hwnn.train.build import load_run
    from hwnn.train.metrics import model_inputs

    _, model, _ = load_run(tmp_path / "hw")
    codes = model.quantize_input(model_inputs(ds, ds.test.x[:300]))
    np.testing.assert_array_equal(run(ir, codes.value.numpy()).outputs[-1],
                                  model.forward_int(codes).value.numpy())
    with pytest.raises(HwnnError, match="already holds a run"):
        make_hardware_run(tmp_path / "float", tmp_path / "hw", threshold=1, dataset=ds)


def test_profiling_refuses_sam_networks() -> None:
    from hwnn.ir.profile import profile_accumulators

    net, x = _small_net()
    sam_int.calibrate(net, x)
    with pytest.raises(IRError, match="SAM layers"):
        profile_accumulators(export_sam(net, "toy"), net.quantize_input(x).value.numpy())

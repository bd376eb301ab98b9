"""LogicNets-style LUT networks: truth tables enumerated from the torch neuron, the table
reference, the Verilog ROMs in simulation, and the analytic LUT cost formula."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.cost import logicnets_lut_cost, network_lut_cost
from hwnn.data.base import InputQuant
from hwnn.eda.rtlsim import available_simulators, simulate
from hwnn.errors import HwnnError
from hwnn.ir import load_ir, save_ir
from hwnn.ir.lut import LutNetwork, address_codes, run_lut, table_address
from hwnn.logic.lut_verilog import bdd_nodes, lut_network_verilog
from hwnn.logic.testbench import make_testbench, write_vectors
from hwnn.nn.lutnet import LutNet
from hwnn.nn.model import set_quant_enabled


def _net(seed: int = 0, in_bits: int = 2, signed: bool = False) -> tuple[LutNet, torch.Tensor]:
    """A small LUT net with non-trivial tables (random BN statistics after calibration)."""
    torch.manual_seed(seed)
    net = LutNet(30, [12, 8], 3, InputQuant(bits=in_bits, signed=signed, scale=None),
                 [5, 4, 4], act_bits=2, out_bits=3, seed=seed)
    set_quant_enabled(net, True)
    x = torch.randn(400, 30) * 2 + (0 if signed else 2)
    net.train()
    net(x)  # calibrate the learned scales
    net.eval()
    for layer in net.layers:
        layer.bn.running_mean.normal_(0, 0.3)
        layer.bn.running_var.uniform_(0.05, 0.3)
    return net, x


@given(st.integers(1, 4), st.integers(1, 4), st.booleans(), st.integers(0, 2**31 - 1))
def test_address_packing_round_trips(fan_in: int, bits: int, signed: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    codes = rng.integers(lo, hi + 1, size=(50, fan_in))
    addr = table_address(codes, bits)
    assert (addr >= 0).all() and (addr < 1 << (fan_in * bits)).all()
    assert np.array_equal(address_codes(addr, fan_in, bits, signed), codes)


@pytest.mark.parametrize("signed", [False, True])
def test_truth_tables_equal_the_torch_neuron(signed: bool) -> None:
    net, x = _net(seed=3, signed=signed)
    ir = net.to_ir("t")
    codes, _ = net.input_codes(x)
    trace = run_lut(ir, codes.numpy())
    outs = net.layer_codes(x)
    assert np.array_equal(net.forward_int(net.quantize_input(x)).value.numpy(), outs[-1].numpy())
    for layer_out, ref in zip(outs, trace.outputs, strict=True):
        assert np.array_equal(layer_out.numpy(), ref)
    assert all(len(np.unique(o)) > 1 for o in trace.outputs)  # the tables are not constant
    # eval-mode inference is the integer function
    assert np.array_equal(net(x).argmax(1).numpy(), trace.prediction)
    # one table row by hand: neuron 0 of layer 0 on its gathered inputs
    layer = net.layers[0]
    row = codes[:5][:, layer.inputs[0]]
    scale = net._input_scale()
    manual = layer.forward_codes(row[:, None, :].expand(-1, layer.inputs.shape[0], -1), scale)
    assert np.array_equal(manual[:, 0].numpy(),
                          ir.layers[0].table[0][table_address(row.numpy(), 2)])


def test_logicnets_cost_formula() -> None:
    # (Y/3)(2^(X-4) - (-1)^X): one LUT6 per output bit at X = 6, 3 at X = 7, 5 at X = 8
    assert logicnets_lut_cost(6, 1) == pytest.approx(1.0)
    assert logicnets_lut_cost(7, 1) == pytest.approx(3.0)
    assert logicnets_lut_cost(8, 2) == pytest.approx(10.0)
    assert logicnets_lut_cost(14, 2) == pytest.approx((2 / 3) * (1024 - 1))
    assert logicnets_lut_cost(3, 2) == 2.0  # small tables: one LUT per output bit
    assert network_lut_cost([(7, 2), (6, 1)]) == pytest.approx(7.0)
    with pytest.raises(ValueError):
        logicnets_lut_cost(0, 1)


@settings(max_examples=30)
@given(st.integers(7, 20), st.integers(1, 4))
def test_cost_formula_roughly_doubles_per_input_bit(x: int, y: int) -> None:
    ratio = logicnets_lut_cost(x + 1, y) / logicnets_lut_cost(x, y)
    assert 1.6 < ratio < 2.5


def _eval_bdd(nodes: np.ndarray, root: int, address: int) -> int:
    node = root
    while node >= 2:
        var, lo, hi = nodes[node - 2].tolist()
        node = hi if (address >> var) & 1 else lo
    return node


@given(st.integers(0, 7), st.integers(0, 2**31 - 1), st.floats(0.0, 1.0))
@settings(max_examples=60)
def test_bdd_evaluates_to_its_truth_table(address_bits: int, seed: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    bits = (rng.random(1 << address_bits) < density).astype(np.int64)
    nodes, root = bdd_nodes(bits)
    assert all(_eval_bdd(nodes, root, a) == bits[a] for a in range(len(bits)))
    # reduced: no node has equal children, no two nodes are the same (var, lo, hi)
    assert not np.any(nodes[:, 1] == nodes[:, 2])
    assert len(np.unique(nodes, axis=0)) == len(nodes)
    assert np.all(nodes[:, 1:] < np.arange(2, len(nodes) + 2)[:, None])


def test_bdd_of_a_threshold_function_is_small() -> None:
    # "at least 3 of 7 inputs set": a symmetric function has O(n^2) BDD nodes, not 2^7
    bits = np.array([bin(a).count("1") >= 3 for a in range(128)], dtype=np.int64)
    nodes, _ = bdd_nodes(bits)
    assert len(nodes) <= 7 * 4


@pytest.mark.parametrize(("form", "partition"), [("rom", False), ("mux", False), ("mux", True)])
def test_both_verilog_forms_simulate_bit_exactly(tmp_path: Path, form: str,
                                                 partition: bool) -> None:
    sims = available_simulators()
    if not sims:
        pytest.skip("no Verilog simulator")
    net, x = _net(seed=7)
    ir = net.to_ir("t")
    codes, _ = net.input_codes(x)
    trace = run_lut(ir, codes.numpy())
    text = lut_network_verilog(ir, "lutnet", form, partition)  # type: ignore[arg-type]
    assert (text.count("module lutnet_l0_n") == ir.layers[0].out_features) == partition
    (tmp_path / "net.v").write_text(text)
    n = write_vectors(ir, trace, tmp_path)  # type: ignore[arg-type]
    (tmp_path / "tb.v").write_text(make_testbench(ir, "lutnet", n))  # type: ignore[arg-type]
    for sim in sims:
        result = simulate([tmp_path / "tb.v", tmp_path / "net.v"], tmp_path, sim)
        assert result.vectors == len(x) and result.passed, result.first_failure()


def test_lut_ir_round_trips_through_files(tmp_path: Path) -> None:
    net, x = _net(seed=2)
    ir = net.to_ir("t")
    ir.meta["source"] = "test"
    loaded = load_ir(save_ir(ir, tmp_path / "net.ir.json"))
    assert isinstance(loaded, LutNetwork) and loaded.meta == {"source": "test"}
    codes = net.input_codes(x)[0].numpy()
    assert np.array_equal(run_lut(loaded, codes).prediction, run_lut(ir, codes).prediction)
    for a, b in zip(ir.layers, loaded.layers, strict=True):
        assert np.array_equal(a.table, b.table) and np.array_equal(a.inputs, b.inputs)


def test_lut_network_synthesizes_on_both_targets(tmp_path: Path) -> None:
    import shutil

    if shutil.which("yosys") is None or shutil.which("sta") is None:
        pytest.skip("needs yosys and OpenSTA")
    from hwnn.methods.synth_flow import synth_design

    torch.manual_seed(0)
    net = LutNet(12, [6], 2, InputQuant(bits=1, signed=False, scale=1.0), [4, 3],
                 act_bits=2, out_bits=2, seed=1)
    set_quant_enabled(net, True)
    x = (torch.rand(300, 12) > 0.5).float()
    net.train()
    net(x)
    net.eval()
    for layer in net.layers:
        layer.bn.running_mean.normal_(0, 0.3)
        layer.bn.running_var.uniform_(0.05, 0.3)
    ir = net.to_ir("tiny", head="raw")  # every output bit visible: no logic optimized away
    assert all(len(np.unique(la.table)) > 1 for la in ir.layers)
    fpga = synth_design(ir, tmp_path / "fpga", "fpga")
    # analytic: 6 neurons with 4 address bits + 2 with 6 -> (6 + 2) * 2 bits, one LUT6 each
    assert fpga["analytic_lut6"] == 16 and 0 < fpga["luts"] <= 16
    codes = net.input_codes(x)[0].numpy()
    asic = synth_design(ir, tmp_path / "asic", "asic", vectors=codes[:100])
    assert asic["area_um2"] > 0 and asic["gate_level_vs_ir_mismatches"] == 0
    # one module per neuron, mapped one by one: 6 + 2 neurons + head (raw: no head module)
    fpga_part = synth_design(ir, tmp_path / "fpga_part", "fpga", partition=True)
    assert fpga_part["partitions"] == 8 and 0 < fpga_part["luts"] <= 16
    # the neurons are logic only; the layer registers are mapped with the glue (leaves as
    # black boxes, so all 6 x 2 + 2 x 2 bits stay; the whole design drops constant ones)
    assert fpga_part["flip_flops"] == 6 * 2 + 2 * 2 >= fpga["flip_flops"]
    asic_part = synth_design(ir, tmp_path / "asic_part", "asic", vectors=codes[:100],
                             partition=True)
    with pytest.raises(HwnnError, match="drop --leafwise"):
        synth_design(ir, tmp_path / "leafwise", "asic", partition=True, leafwise=True)
    assert not (tmp_path / "leafwise").exists()  # refused before anything is written
    assert asic_part["partitions"] == 8 and asic_part["gate_level_vs_ir_mismatches"] == 0


def test_act_init_reaches_every_learned_scale() -> None:
    """act_init='mse' sets the learned input scale and every layer's; a fixed input scale
    stays fixed."""
    learned = LutNet(6, [4], 3, InputQuant(bits=2, signed=True, scale=None), [3, 2], 2, 3,
                     act_init="mse")
    assert learned.input_quant.act_quant.init == "mse"
    assert all(layer.act.act_quant.init == "mse" for layer in learned.layers)
    fixed = LutNet(6, [4], 3, InputQuant(bits=1, signed=False, scale=1.0), [3, 2], 2, 3,
                   act_init="mse")
    assert fixed.input_quant.act_quant.scale_mode == "fixed"
    assert all(layer.act.act_quant.init == "mse" for layer in fixed.layers)


def test_lutnet_run_trains_saves_and_exports(tmp_path: Path) -> None:
    from toy import toy_dataset

    from hwnn.config import parse_config
    from hwnn.ir.export import export_run
    from hwnn.train.build import load_run
    from hwnn.train.loop import Trainer

    stage = {"epochs": 5, "lr": 3e-3, "lr_step": 2, "patience": 5}
    cfg = parse_config({
        "name": "toy_lut", "data": {"task": "mnist"},
        "model": {"kind": "lutnet", "hidden": [16], "fan_in": [4, 4], "act_bits": 2,
                  "out_bits": 3, "input_bits": 2, "seed": 4},
        "train": {"seed": 1, "batch_size": 64, "float": stage, "qat": stage}})
    ds = toy_dataset(n=1500)
    metrics = Trainer(cfg, ds, tmp_path / "run", progress=False).run()
    assert metrics["summary_test"]["qat"] > 0.4  # 3 classes: better than chance (1/3)
    _, model, _ = load_run(tmp_path / "run")
    assert isinstance(model, LutNet) and model.layers[0].inputs.shape == (16, 4)
    ir = export_run(tmp_path / "run")
    assert isinstance(ir, LutNetwork) and ir.input.bits == 2
    x = torch.from_numpy(ds.test.x)
    codes = model.quantize_input(x).value.numpy()
    trace = run_lut(ir, codes)
    assert np.array_equal(trace.prediction, model(x).argmax(1).numpy())
    assert np.isclose((trace.prediction == ds.test.y).mean(), metrics["summary_test"]["qat"])

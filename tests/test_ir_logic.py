"""The integer IR and the generated RTL: torch integer mode == IR reference == RTL simulation
on random nets (extreme weights, zero rows, saturating inputs), both weight styles, extra
register stages; IR files round-trip; malformed IRs are rejected with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwnn.data.base import InputQuant
from hwnn.eda.rtlsim import simulate
from hwnn.ir import IRError, load_ir, run, save_ir
from hwnn.ir.export import export_model, slicer_thresholds
from hwnn.ir.model import DenseLayer, Head, IRInput, IRNetwork
from hwnn.ir.reference import fit_accumulator
from hwnn.logic.testbench import make_testbench, write_vectors
from hwnn.logic.verilog import (
    csd_product,
    generic_neuron_bits,
    generic_params,
    network_verilog,
)
from hwnn.nn import QuantSequential, build_mlp


def random_model(fan_in: int, hidden: list[int], outs: int, signed: bool, bits: int,
                 seed: int, gain: float) -> tuple[QuantSequential, torch.Tensor]:
    torch.manual_seed(seed)
    model = build_mlp(fan_in, hidden, outs, InputQuant(bits, signed, None))
    with torch.no_grad():
        for k, (_, layer) in enumerate(model.weight_layers()):
            layer.weight.mul_(gain)
            layer.bias.mul_(gain)
            layer.weight[0, 0] = layer.weight.abs().max() * (1 if k % 2 else -1)  # ±127
            if layer.weight.shape[0] > 1:
                layer.weight_mask[1] = 0  # a pruned (all-zero) row
    x = torch.randn(48, fan_in) * gain
    x[0] = 1e4  # saturating inputs
    x[1] = -1e4
    model.train()
    with torch.no_grad():
        model(x)  # calibrate learned scales
    model.eval()
    return model, x


def check_three_way(model: QuantSequential, x: torch.Tensor, head: str, tmp: Path,
                    style: str = "embedded", extra: int = 0,
                    partition: bool = False) -> IRNetwork:
    net = export_model(model, "rand", head)
    codes = model.quantize_input(x)
    trace = run(net, codes.value.numpy())
    torch_int = model.forward_int(codes).value.numpy()
    assert np.array_equal(trace.outputs[-1], torch_int)
    source = network_verilog(net, "rand", style, extra, partition)  # type: ignore[arg-type]
    (tmp / "net.v").write_text(source)
    n = write_vectors(net, trace, tmp, style)  # type: ignore[arg-type]
    (tmp / "tb.v").write_text(make_testbench(net, "rand", n, style, extra,  # type: ignore[arg-type]
                                                chain_load="shift"))
    result = simulate([tmp / "tb.v", tmp / "net.v"], tmp, "icarus")
    assert result.vectors == len(x)
    assert result.passed, result.first_failure()
    return net


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 12), st.lists(st.integers(1, 8), min_size=0, max_size=2),
       st.integers(2, 5), st.booleans(), st.sampled_from([1, 4, 8]),
       st.integers(0, 2**31 - 1), st.floats(0.05, 50.0),
       st.sampled_from(["embedded", "generic", "csd"]), st.integers(0, 2), st.booleans())
def test_random_nets_torch_ir_rtl_agree(tmp_path_factory: pytest.TempPathFactory, fan_in: int,
                                        hidden: list[int], outs: int, signed: bool, bits: int,
                                        seed: int, gain: float, style: str, extra: int,
                                        partition: bool) -> None:
    if bits == 1:
        signed = False
    model, x = random_model(fan_in, hidden, outs, signed, bits, seed, gain)
    net = check_three_way(model, x, "argmax", tmp_path_factory.mktemp("rtl"), style, extra,
                          partition)
    assert net.layers[0].acc_bits >= 2


def test_slicer_head_three_way(tmp_path: Path) -> None:
    model, x = random_model(21, [6], 1, True, 8, 3, 1.0)
    net = check_three_way(model, x, "slicer", tmp_path)
    s = net.meta["output_scale"]
    assert net.head.thresholds == slicer_thresholds(s)
    real = model(x).detach().numpy().reshape(-1)
    symbols = np.searchsorted([-2.0, 0.0, 2.0], real, side="right")
    assert np.array_equal(symbols, run(net, model.quantize_input(x).value.numpy()).prediction)


def test_raw_head_and_wrap_vs_saturate(tmp_path: Path) -> None:
    model, x = random_model(5, [], 3, True, 8, 5, 2.0)
    check_three_way(model, x, "raw", tmp_path)


def _tiny(acc_bits: int = 10, overflow: str = "wrap") -> IRNetwork:
    layer = DenseLayer("fc0", np.array([[127, -128, 0], [0, 0, 0]], dtype=np.int64),
                       np.array([5, -3], dtype=np.int64), np.array([3, 1], dtype=np.int64),
                       np.array([2, 0], dtype=np.int64), in_bits=4, in_signed=False,
                       acc_bits=acc_bits, out_bits=8, out_signed=True, overflow=overflow)
    return IRNetwork("tiny", IRInput(3, 4, False), [layer], Head("argmax"))


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_narrow_accumulator_rtl_matches_reference(tmp_path: Path, overflow: str) -> None:
    net = _tiny(acc_bits=9, overflow=overflow)  # worst case needs 13 bits: overflows happen
    x = np.array([[i % 16, (i * 7) % 16, (i * 3) % 16] for i in range(64)])
    trace = run(net, x)
    exact = x @ net.layers[0].weight.T + net.layers[0].bias
    assert np.array_equal(trace.accumulators[0], fit_accumulator(exact, 9, overflow))
    (tmp_path / "net.v").write_text(network_verilog(net))
    write_vectors(net, trace, tmp_path)
    (tmp_path / "tb.v").write_text(make_testbench(net, "tiny", len(x)))
    assert simulate([tmp_path / "tb.v", tmp_path / "net.v"], tmp_path).passed


def test_negative_only_accumulator_with_large_shift(tmp_path: Path) -> None:
    """Regression: an accumulator that is never positive (negative bias, weights <= 0 on
    unsigned inputs) with a rounding constant wider than the product range."""
    layer = DenseLayer("fc0", np.array([[-1, 0], [-3, -2]], dtype=np.int64),
                       np.array([-2, -1], dtype=np.int64), np.array([1, 3], dtype=np.int64),
                       np.array([9, 4], dtype=np.int64), in_bits=2, in_signed=False,
                       acc_bits=5, out_bits=8, out_signed=True)
    net = IRNetwork("neg", IRInput(2, 2, False), [layer], Head("raw"))
    x = np.array([[a, b] for a in range(4) for b in range(4)])
    trace = run(net, x)
    (tmp_path / "net.v").write_text(network_verilog(net))
    write_vectors(net, trace, tmp_path)
    (tmp_path / "tb.v").write_text(make_testbench(net, "neg", len(x)))
    assert simulate([tmp_path / "tb.v", tmp_path / "net.v"], tmp_path).passed


@pytest.mark.parametrize("signed", [False, True])
def test_csd_products_every_constant_every_input(tmp_path: Path, signed: bool) -> None:
    """The CSD shift-add form of ``x * c`` for every 8-bit constant c != 0 and every 8-bit
    input x (one neuron per constant, raw outputs): RTL equals the IR reference."""
    consts = np.array([c for c in range(-128, 128) if c], dtype=np.int64)
    n = len(consts)
    layer = DenseLayer("fc0", consts.reshape(-1, 1), np.zeros(n, dtype=np.int64),
                       np.ones(n, dtype=np.int64), np.full(n, 7, dtype=np.int64), in_bits=8,
                       in_signed=signed, acc_bits=17, out_bits=9, out_signed=True)
    net = IRNetwork("csd", IRInput(1, 8, signed), [layer], Head("raw"))
    x = np.arange(-128, 128) if signed else np.arange(256)
    trace = run(net, x.reshape(-1, 1))
    assert np.array_equal(trace.accumulators[0], x[:, None] * consts[None, :])
    source = network_verilog(net, style="csd")
    assert " * " not in source.split("module csd_l0", 1)[1].split("_acc", 1)[0]
    (tmp_path / "net.v").write_text(source)
    write_vectors(net, trace, tmp_path)
    (tmp_path / "tb.v").write_text(make_testbench(net, "csd", len(x)))
    result = simulate([tmp_path / "tb.v", tmp_path / "net.v"], tmp_path)
    assert result.vectors == len(x) and result.passed, result.first_failure()


def test_csd_product_expression() -> None:
    assert csd_product("t", 7) == "(t <<< 3) - t"
    assert csd_product("t", -1) == "-t"
    assert csd_product("t", -128) == "-(t <<< 7)"
    assert csd_product("t", 45) == "(t <<< 6) - (t <<< 4) - (t <<< 2) + t"
    with pytest.raises(ValueError):
        csd_product("t", 0)


def test_fit_accumulator_rules() -> None:
    v = np.array([-300, -257, -256, 0, 255, 256, 300])
    assert fit_accumulator(v, 9, "saturate").tolist() == [-256, -256, -256, 0, 255, 255, 255]
    assert fit_accumulator(v, 9, "wrap").tolist() == [212, 255, -256, 0, 255, -256, -212]


def test_rtl_reports_first_failing_vector_and_layer(tmp_path: Path) -> None:
    net = _tiny()
    x = np.arange(30).reshape(10, 3) % 16
    trace = run(net, x)
    write_vectors(net, trace, tmp_path)
    broken = _tiny()
    broken.layers[0].bias[0] += 40  # the RTL no longer matches the vectors
    (tmp_path / "net.v").write_text(network_verilog(broken, "tiny"))
    (tmp_path / "tb.v").write_text(make_testbench(net, "tiny", len(x)))
    result = simulate([tmp_path / "tb.v", tmp_path / "net.v"], tmp_path)
    assert not result.passed
    first = result.first_failure()
    assert first is not None and first["layer"] == "0"


def test_ir_file_round_trip_and_checksum(tmp_path: Path) -> None:
    net = _tiny()
    path = save_ir(net, tmp_path / "tiny.ir.json")
    back = load_ir(path)
    assert np.array_equal(back.layers[0].weight, net.layers[0].weight)
    assert back.head == net.head and back.input == net.input
    npz = tmp_path / "tiny.ir.npz"
    npz.write_bytes(npz.read_bytes()[:-3] + b"abc")
    with pytest.raises(IRError, match="checksum"):
        load_ir(path)


def test_ir_fingerprint_follows_the_hardware_not_the_file(tmp_path: Path) -> None:
    """Two exports of one network may differ in their npz bytes (zip write times) but have the same
    fingerprint, also after loading; any weight, width or name change alters it; meta
    (where the run lives) does not."""
    from hwnn.ir import ir_fingerprint

    net = _tiny()
    first = load_ir(save_ir(net, tmp_path / "a.ir.json"))
    second = load_ir(save_ir(net, tmp_path / "b.ir.json"))
    assert ir_fingerprint(first) == ir_fingerprint(second) == ir_fingerprint(net)
    moved = _tiny()
    moved.meta["source_run"] = "/elsewhere"
    assert ir_fingerprint(moved) == ir_fingerprint(net)
    changed = []
    for edit in (lambda n: n.layers[0].weight.__setitem__((0, 0), n.layers[0].weight[0, 0] ^ 1),
                 lambda n: setattr(n.layers[0], "acc_bits", n.layers[0].acc_bits + 1),
                 lambda n: setattr(n, "name", n.name + "x")):
        other = _tiny()
        edit(other)
        changed.append(ir_fingerprint(other))
    assert ir_fingerprint(net) not in changed and len(set(changed)) == 3


def test_bad_irs_are_rejected(tmp_path: Path) -> None:
    path = save_ir(_tiny(), tmp_path / "t.ir.json")
    doc = json.loads(path.read_text())
    doc["layers"][0]["kind"] = "conv2d"
    path.write_text(json.dumps(doc))
    with pytest.raises(IRError, match="unsupported layer kind 'conv2d'"):
        load_ir(path)
    net = _tiny()
    net.layers[0].in_bits = 8
    with pytest.raises(IRError, match=r"input is declared uint8 but input produces uint4"):
        net.validate()
    two = _tiny()
    two.layers.append(DenseLayer("fc1", np.ones((2, 3), dtype=np.int64),
                                 np.zeros(2, dtype=np.int64), np.ones(2, dtype=np.int64),
                                 np.zeros(2, dtype=np.int64), 8, True, 12, 8, True))
    with pytest.raises(IRError, match="weight has 3 inputs but layer 0"):
        two.validate()
    bad_w = _tiny()
    bad_w.layers[0].weight[0, 0] = 300
    with pytest.raises(IRError, match="weights must fit int8"):
        bad_w.validate()
    with pytest.raises(IRError, match="not found"):
        load_ir(tmp_path / "missing.ir.json")
    with pytest.raises(IRError, match="input codes must be in"):
        run(_tiny(), np.array([[16, 0, 0]]))


def test_partitioned_verilog_modules() -> None:
    """``partition=True``: one module per neuron (register chain inside), layer modules that
    only instantiate them, the same top module; generic neurons take their contiguous slice
    of the layer's weight bus."""

    net = _tiny()
    source = network_verilog(net, "t", "csd", 1, partition=True)
    assert "module t_l0_n0 (" in source and "module t_l0_n1 (" in source
    layer = source.split("module t_l0 (", 1)[1].split("endmodule", 1)[0]
    assert "always" not in layer and "t_l0_n1 u_n1" in layer
    assert source.split("module t (", 1)[1] == network_verilog(net, "t", "csd", 1).split(
        "module t (", 1)[1]
    generic = network_verilog(net, "t", "generic", partition=True)
    gp = generic_params(net.layers[0])
    widths = generic_neuron_bits(net.layers[0], gp)
    assert sum(widths) == gp.total
    assert f"input wire [{widths[1] - 1}:0] w," in generic.split("module t_l0_n1 (", 1)[1]
    assert f".w(w[{widths[0] + widths[1] - 1}:{widths[0]}])" in generic
    assert generic.split("module t (", 1)[1] == network_verilog(net, "t", "generic").split(
        "module t (", 1)[1]


def test_partition_modules_splits_leaves_from_glue(tmp_path: Path) -> None:
    from hwnn.eda.yosys import partition_modules
    from hwnn.errors import EdaError

    path = tmp_path / "net.v"
    path.write_text(network_verilog(_tiny(), "t", "embedded", partition=True))
    part = partition_modules([path])
    assert sorted(part.leaves) == ["t_head", "t_l0_n0", "t_l0_n1"]
    assert sorted(part.glue) == ["t", "t_l0"]
    assert all(text.startswith("module ") and text.rstrip().endswith("endmodule")
               for text in {**part.leaves, **part.glue}.values())
    path.write_text("// nothing here\n")
    with pytest.raises(EdaError, match="no Verilog module"):
        partition_modules([path])

"""hwnn.eda against the real tools on tiny designs (each test runs in a few seconds).

Tool-free tests (missing-tool message, timeout, VCD parser, liberty scanner) always run; the
others skip when Yosys/OpenSTA/Icarus or the shipped Nangate45 liberty are absent.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from toy import random_ir

from hwnn.eda import (
    EdaError,
    ToolMissingError,
    count_toggles,
    gate_level_activity,
    power_from_activity,
    power_vectorless,
    require_tool,
    run_tool,
    synth_asic,
    synth_fpga,
    timing,
)
from hwnn.eda.activity import module_ports
from hwnn.eda.liberty import cell_models, iter_cells, sequential_cells, strip_cells
from hwnn.eda.sta import tcl_word
from hwnn.eda.yosys import FRAIG_CONFLICT_LIMIT
from hwnn.errors import HwnnError

IN_BITS = 4
CONST_WEIGHTS = (3, -5, 7, 2)
BIAS = 1
PIPE_WEIGHTS = (7, -13, 5, 11, -3, 9, -6, 15)
PERIOD_NS = 2.0

needs_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("yosys", "yosys-abc", "sta", "iverilog", "vvp")),
    reason="EDA tools missing (sudo apt-get install -y yosys opensta iverilog)",
)


# ---------------------------------------------------------------- test designs (Verilog-2005)


def _acc_width(weights: Sequence[int]) -> int:
    bound = sum(abs(w) for w in weights) * ((1 << IN_BITS) - 1) + abs(BIAS)
    return bound.bit_length() + 1


def neuron_rtl(name: str, weights: Sequence[int], *, stages: int = 1,
               weights_as_inputs: bool = False) -> tuple[str, int, int]:
    """A neuron y = sum(w_i * x_i) + BIAS on unsigned IN_BITS inputs, then ``stages`` registers.

    Returns (verilog, in_width, out_width). With ``weights_as_inputs`` the weights are
    signed IN_BITS+1 bit fields of ``x`` above the activations (same arithmetic otherwise).
    """
    n = len(weights)
    acc_w = _acc_width(weights if not weights_as_inputs else [1 << IN_BITS] * n)
    in_w = n * IN_BITS + (n * (IN_BITS + 1) if weights_as_inputs else 0)
    terms = []
    for i, weight in enumerate(weights):
        act = f"$signed({{1'b0, x[{i * IN_BITS + IN_BITS - 1}:{i * IN_BITS}]}})"
        if weights_as_inputs:
            lo = n * IN_BITS + i * (IN_BITS + 1)
            terms.append(f"{act} * $signed(x[{lo + IN_BITS}:{lo}])")
        else:
            terms.append(f"{act} * {weight}")
    regs = "\n".join(f"  reg signed [{acc_w - 1}:0] r{s};" for s in range(stages))
    shifts = " ".join(f"r{s} <= r{s - 1};" for s in range(1, stages))
    out = f"r{stages - 1}" if stages else "acc"
    seq = f"  always @(posedge clk) begin r0 <= acc; {shifts} end\n" if stages else ""
    clk = "input wire clk, " if stages else ""
    text = (
        f"module {name} ({clk}input wire [{in_w - 1}:0] x, output wire [{acc_w - 1}:0] y);\n"
        f"  wire signed [{acc_w - 1}:0] acc = {' + '.join(terms)} + {BIAS};\n"
        f"{regs}\n{seq}  assign y = {out};\nendmodule\n"
    )
    return text, in_w, acc_w


def neuron_ref(weights: Sequence[int], value: int, out_w: int) -> int:
    mask = (1 << IN_BITS) - 1
    acc = sum(w * ((value >> (IN_BITS * i)) & mask) for i, w in enumerate(weights)) + BIAS
    return acc & ((1 << out_w) - 1)


# ------------------------------------------------------------------------ tool-free tests


@pytest.mark.parametrize(
    ("tool", "package"),
    [("yosys", "yosys"), ("yosys-abc", "yosys"), ("sta", "opensta"), ("iverilog", "iverilog"),
     ("vvp", "iverilog"), ("verilator", "verilator")],
)
def test_missing_tool_names_package(tool: str, package: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError) as err:
        require_tool(tool)
    assert isinstance(err.value, EdaError) and isinstance(err.value, HwnnError)
    assert f"sudo apt-get install -y {package}" in str(err.value)
    assert f"'{package}'" in str(err.value)


def test_require_tool_returns_absolute_path(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "yosys"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "bin")
    assert require_tool("yosys") == str(fake)


def test_run_tool_timeout_raises(tmp_path: Path) -> None:
    log = tmp_path / "sleep.log"
    cmd = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"]
    with pytest.raises(EdaError, match=r"timed out after 0\.5 s") as err:
        run_tool(cmd, cwd=tmp_path, log_path=log, timeout_s=0.5)
    assert str(log) in str(err.value)
    assert "started" in log.read_text()


def test_run_tool_failure_quotes_log_tail(tmp_path: Path) -> None:
    script = "import sys\nfor i in range(50): print('line', i)\nsys.exit(3)"
    with pytest.raises(EdaError, match="exit status 3") as err:
        run_tool([sys.executable, "-c", script], cwd=tmp_path, log_path=tmp_path / "f.log",
                 timeout_s=30)
    message = str(err.value)
    assert "line 49" in message and "line 29" not in message


def test_run_tool_caps_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tool call runs under an address-space cap ($HWNN_TOOL_MEMORY_GB): a tool that
    grows past it fails alone with a hint, instead of the whole node running out."""
    grab = [sys.executable, "-c", "x = bytearray(400 * 2**20); print('got it')"]
    monkeypatch.setenv("HWNN_TOOL_MEMORY_GB", "0.2")
    with pytest.raises(EdaError, match=r"out of memory under the 0\.2 GiB cap"):
        run_tool(grab, cwd=tmp_path, log_path=tmp_path / "m.log", timeout_s=30)
    monkeypatch.setenv("HWNN_TOOL_MEMORY_GB", "0")  # no cap
    assert "got it" in run_tool(grab, cwd=tmp_path, log_path=tmp_path / "m.log", timeout_s=30)
    monkeypatch.setenv("HWNN_TOOL_MEMORY_GB", "lots")
    with pytest.raises(EdaError, match="must be a number of GiB"):
        run_tool(grab, cwd=tmp_path, log_path=tmp_path / "m.log", timeout_s=30)


def test_run_tool_raises_the_stack_limit_and_explains_segfaults(tmp_path: Path) -> None:
    """Tools get the hard stack limit (ABC recursion on million-gate netlists); a crash by
    SIGSEGV names the memory cap as the likely cause."""
    import resource

    soft = [sys.executable, "-c",
            "import resource; print('stack', resource.getrlimit(resource.RLIMIT_STACK)[0])"]
    text = run_tool(soft, cwd=tmp_path, log_path=tmp_path / "s.log", timeout_s=30)
    assert f"stack {resource.getrlimit(resource.RLIMIT_STACK)[1]}" in text
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    with pytest.raises(EdaError, match=r"segmentation fault.*HWNN_TOOL_MEMORY_GB"):
        run_tool(crash, cwd=tmp_path, log_path=tmp_path / "c.log", timeout_s=30)


def test_run_tool_writes_log_on_success(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    text = run_tool([sys.executable, "-c", code], cwd=tmp_path, log_path=tmp_path / "ok.log",
                    timeout_s=30)
    assert "out" in text and "err" in text
    assert (tmp_path / "ok.log").read_text() == text


VCD_SNIPPET = r"""$date today $end
$timescale 1ps $end
$scope module hwnn_tb $end
$var reg 1 ! clk $end
$scope module dut $end
$var wire 1 " clk $end
$var wire 4 # x [3:0] $end
$var wire 1 $ \a[3] $end
$var wire 3 % \u0.acc [2:0] $end
$var wire 2 & up [0:1] $end
$scope module inner $end
$var wire 1 ' deep $end
$upscope $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
$dumpvars
0!
0"
b0000 #
x$
bx %
b0 &
0'
$end
#500
1!
1"
b1 #
1$
b101 %
b10 &
1'
#1000
0!
0"
b11 #
0$
1$
b1 %
b10 &
$comment a comment $end
#1500
1!
1"
b1111 #
bx01 %
b1 &
"""


def test_vcd_parser_counts_toggles_per_bit() -> None:
    counts = count_toggles(VCD_SNIPPET.splitlines(), scope="hwnn_tb.dut").toggles
    assert counts["clk"] == 3
    # x: 0000 -> 0001 -> 0011 -> 1111
    assert [counts[f"x[{i}]"] for i in range(4)] == [1, 1, 1, 1]
    # escaped scalar: x -> 1 (not a toggle) -> 0,1 in one time stamp (net value 1: none)
    assert counts["a[3]"] == 0
    # escaped vector, "b1" is zero-extended to 001; x bits never count
    assert [counts[f"u0.acc[{i}]"] for i in range(3)] == [0, 0, 1]
    # ascending range [0:1]: first character is bit 0
    assert counts["up[0]"] == 2 and counts["up[1]"] == 1
    assert "deep" not in counts and "inner.deep" not in counts


def test_vcd_parser_full_names_without_scope() -> None:
    result = count_toggles(VCD_SNIPPET.splitlines())
    assert result.toggles["hwnn_tb.dut.inner.deep"] == 1
    assert result.toggles["hwnn_tb.clk"] == 3
    assert (result.first_time, result.last_time, result.timescale) == (0, 1500, "1ps")


def test_liberty_cell_scanner_skips_comments() -> None:
    text = (
        "library (demo) {\n  /* cell (FAKE) { */\n"
        "  cell (INV_X1) {\n    pin (ZN) { function : \"!A\"; }\n  }\n"
        "  cell (CLKGATE_X1) {\n    clock_gating_integrated_cell : \"latch_posedge\";\n  }\n"
        "  cell (DFF_X1) {\n    ff (\"IQ\", \"IQN\") { next_state : \"D\"; }\n  }\n}\n"
    )
    assert [name for name, _, _ in iter_cells(text)] == ["INV_X1", "CLKGATE_X1", "DFF_X1"]
    stripped = strip_cells(text, lambda name: name.startswith("CLKGATE"))
    assert "CLKGATE" not in stripped and "DFF_X1" in stripped and stripped.count("{") == 6


def test_tcl_word_quotes_names_literally() -> None:
    assert tcl_word("u0.acc[3]") == "{u0.acc[3]}"
    assert tcl_word("a b{") == "a\\ b\\{"


def test_module_ports_parses_yosys_netlist() -> None:
    text = ("module top(clk, x, y);\n  input clk;\n  wire clk;\n  input [15:0] x;\n"
            "  output [9:0] y;\nendmodule\n")
    assert module_ports(text, "top") == {
        "clk": ("input", 1), "x": ("input", 16), "y": ("output", 10)}


# ---------------------------------------------------------------- tests with the real tools


@pytest.fixture(scope="module")
def eda_env(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Path]:
    """Module-wide cache folder (the autouse per-test cache fixture is not active here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HWNN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "hwnn-cache"))
        yield data_dir


@pytest.fixture(scope="module")
def const_neuron(eda_env: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("neuron_const")
    rtl, in_w, out_w = neuron_rtl("neuron_const", CONST_WEIGHTS)
    (work / "neuron_const.v").write_text(rtl)
    result = synth_asic([work / "neuron_const.v"], "neuron_const", work / "asic",
                        data_dir=eda_env)
    return work, result, in_w, out_w


@pytest.fixture(scope="module")
def pipelined(eda_env: Path, tmp_path_factory: pytest.TempPathFactory):
    """8-input neuron followed by 4 register stages (1 + 3 extra), plain and retimed."""
    work = tmp_path_factory.mktemp("pipe8")
    rtl, in_w, out_w = neuron_rtl("pipe8", PIPE_WEIGHTS, stages=4)
    (work / "pipe8.v").write_text(rtl)
    plain = synth_asic([work / "pipe8.v"], "pipe8", work / "plain", data_dir=eda_env)
    retimed = synth_asic([work / "pipe8.v"], "pipe8", work / "retimed", retime=True,
                         data_dir=eda_env)
    return work, plain, retimed, in_w, out_w


@needs_tools
def test_synth_asic_const_weights_smaller_than_weight_ports(
    const_neuron, eda_env: Path, tmp_path: Path
) -> None:
    _, const, _, out_w = const_neuron
    assert const.area_um2 > 0 and const.cell_count > 0
    assert const.flip_flops == out_w
    assert sum(const.cells_by_type.values()) == const.cell_count
    netlist = const.netlist_path.read_text()
    assert "assign" not in netlist  # OpenSTA 2.0.17 cannot parse Yosys' assign {..} = ..
    script = const.abc_script_path.read_text()
    assert "&nf" in script and f"&fraig -x -C {FRAIG_CONFLICT_LIMIT}" in script
    rtl, _, _ = neuron_rtl("neuron_var", CONST_WEIGHTS, weights_as_inputs=True)
    (tmp_path / "neuron_var.v").write_text(rtl)
    var = synth_asic([tmp_path / "neuron_var.v"], "neuron_var", tmp_path / "asic",
                     data_dir=eda_env)
    assert const.area_um2 < 0.7 * var.area_um2


@needs_tools
def test_synth_asic_reports_errors(eda_env: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.v").write_text("module bad (input wire a, output wire y);\n"
                                    "  assign y = a &;\nendmodule\n")
    with pytest.raises(EdaError, match="yosys failed"):
        synth_asic([tmp_path / "bad.v"], "bad", tmp_path / "w", data_dir=eda_env)
    with pytest.raises(EdaError, match="not found"):
        synth_asic([tmp_path / "missing.v"], "bad", tmp_path / "w", data_dir=eda_env)


@needs_tools
def test_synth_asic_timeout_raises(eda_env: Path, tmp_path: Path) -> None:
    rtl, _, _ = neuron_rtl("neuron_t", CONST_WEIGHTS)
    (tmp_path / "n.v").write_text(rtl)
    with pytest.raises(EdaError, match="timed out"):
        synth_asic([tmp_path / "n.v"], "neuron_t", tmp_path / "w", timeout_s=0.05,
                   data_dir=eda_env)


@needs_tools
def test_synth_fpga_counts_luts(const_neuron) -> None:
    work = const_neuron[0]
    result = synth_fpga([work / "neuron_const.v"], "neuron_const", work / "fpga",
                        use_dsp=False)
    assert result.luts > 0 and result.dsp == 0
    assert result.luts == sum(result.lut_by_size.values())
    assert set(result.lut_by_size) == set(range(1, 7))
    assert result.flip_flops == const_neuron[3]
    assert result.carry >= 0 and result.log_path.is_file()


@needs_tools
def test_timing_fmax_sane(const_neuron, eda_env: Path) -> None:
    work, asic, _, _ = const_neuron
    result = timing(asic.netlist_path, "neuron_const", work / "sta", period_ns=PERIOD_NS,
                    data_dir=eda_env)
    assert result.clocked
    assert 0.1 < result.critical_path_ns < PERIOD_NS
    assert result.critical_path_ns == pytest.approx(PERIOD_NS - result.worst_slack_ns)
    assert result.critical_path_ns > result.data_arrival_ns  # setup time included
    assert 500 < result.fmax_mhz < 10000
    assert result.fmax_mhz == pytest.approx(1000 / result.critical_path_ns)
    assert result.startpoint and result.endpoint


@needs_tools
def test_timing_combinational_design(eda_env: Path, tmp_path: Path) -> None:
    rtl, _, _ = neuron_rtl("neuron_comb", CONST_WEIGHTS, stages=0)
    (tmp_path / "comb.v").write_text(rtl)
    asic = synth_asic([tmp_path / "comb.v"], "neuron_comb", tmp_path / "asic",
                      data_dir=eda_env)
    assert asic.flip_flops == 0
    result = timing(asic.netlist_path, "neuron_comb", tmp_path / "sta", period_ns=5.0,
                    data_dir=eda_env)
    assert not result.clocked
    assert result.startpoint.startswith("x[") and result.endpoint.startswith("y[")
    assert result.critical_path_ns == pytest.approx(result.data_arrival_ns, abs=1e-5)
    assert 0.1 < result.critical_path_ns < 5.0
    _, in_w, out_w = neuron_rtl("neuron_comb", CONST_WEIGHTS, stages=0)
    vectors = random.Random(5).sample(range(1 << in_w), 20)
    sim = gate_level_activity(asic.netlist_path, "neuron_comb", tmp_path / "sim",
                              in_width=in_w, vectors=vectors, period_ns=5.0, data_dir=eda_env)
    assert sim.outputs == [neuron_ref(CONST_WEIGHTS, v, out_w) for v in vectors]
    assert "clk" not in sim.activity


@needs_tools
def test_retiming_falls_back_to_dretime_when_abc_aborts(
        pipelined, eda_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ABC that aborts (exit 134, as Yosys 0.23's does on some networks) under
    ``retime -M 4`` makes the flow retry with ``retime -M 4 -o``; the command used is
    recorded."""
    work, plain, retimed, _, _ = pipelined
    assert retimed.retime_command == "retime -M 4" and plain.retime_command is None
    real = shutil.which("yosys-abc")
    fake = tmp_path / "bin" / "yosys-abc"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'script=""; prev=""\n'
        'for a in "$@"; do [ "$prev" = "-f" ] && script="$a"; prev="$a"; done\n'
        'for f in $(sed -n "s/^source \\(.*\\);$/\\1/p" "$script"); do\n'
        '  grep -qx "retime -M 4" "$f" 2>/dev/null && kill -ABRT $$\n'
        "done\n"
        f'exec "{real}" "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    result = synth_asic([work / "pipe8.v"], "pipe8", tmp_path / "fallback", retime=True,
                        data_dir=eda_env)
    assert result.retime_command == "retime -M 4 -o"
    assert "retime -M 4 -o" in (tmp_path / "fallback" / "retime.abc").read_text()
    assert result.flip_flops > plain.flip_flops  # registers were moved into the logic


@needs_tools
def test_retiming_shortens_critical_path_and_simulates(pipelined, eda_env: Path) -> None:
    work, plain, retimed, in_w, out_w = pipelined
    assert plain.flip_flops == 4 * out_w
    assert retimed.retimed and retimed.flip_flops > plain.flip_flops  # registers moved
    t_plain = timing(plain.netlist_path, "pipe8", work / "sta_plain", period_ns=5.0,
                     data_dir=eda_env)
    t_retimed = timing(retimed.netlist_path, "pipe8", work / "sta_retimed", period_ns=5.0,
                       data_dir=eda_env)
    assert t_retimed.critical_path_ns < 0.6 * t_plain.critical_path_ns
    rng = random.Random(7)
    vectors = [rng.randrange(1 << in_w) for _ in range(64)] + [0, (1 << in_w) - 1] * 4
    latency = 4
    for name, asic in (("plain", plain), ("retimed", retimed)):
        sim = gate_level_activity(asic.netlist_path, "pipe8", work / f"sim_{name}",
                                  in_width=in_w, vectors=vectors, period_ns=PERIOD_NS,
                                  data_dir=eda_env)
        expected = [neuron_ref(PIPE_WEIGHTS, v, out_w) for v in vectors]
        assert sim.outputs[latency - 1:] == expected[: len(vectors) - latency + 1], name


@needs_tools
def test_cell_models_simulate_const_neuron(const_neuron, eda_env: Path) -> None:
    work, asic, in_w, out_w = const_neuron
    models = cell_models(eda_env).read_text()
    assert "module DFF_X1" in models and "CLKGATE" not in models
    vectors = [0, (1 << in_w) - 1, *random.Random(3).sample(range(1 << in_w), 30)]
    sim = gate_level_activity(asic.netlist_path, "neuron_const", work / "sim_check",
                              in_width=in_w, vectors=vectors, period_ns=PERIOD_NS,
                              data_dir=eda_env)
    assert sim.cycles == len(vectors)
    assert sim.outputs == [neuron_ref(CONST_WEIGHTS, v, out_w) for v in vectors]
    assert sim.activity["clk"] == pytest.approx(2.0)
    assert all(0.0 <= a <= 2.0 for a in sim.activity.values())


@pytest.fixture(scope="module")
def neuron_activity(const_neuron, eda_env: Path):
    work, asic, in_w, _ = const_neuron
    rng = random.Random(11)
    vectors = [rng.randrange(1 << in_w) for _ in range(200)]
    return gate_level_activity(asic.netlist_path, "neuron_const", work / "sim_power",
                               in_width=in_w, vectors=vectors, period_ns=PERIOD_NS,
                               data_dir=eda_env)


@needs_tools
def test_vector_power_and_vectorless_power(const_neuron, neuron_activity, eda_env: Path) -> None:
    work, asic, _, _ = const_neuron
    vectorless = power_vectorless(asic.netlist_path, "neuron_const", work / "pv",
                                  period_ns=PERIOD_NS, input_activity=0.5, data_dir=eda_env)
    vectors = power_from_activity(asic.netlist_path, "neuron_const", work / "pa",
                                  period_ns=PERIOD_NS, activity=neuron_activity.activity,
                                  data_dir=eda_env)
    for result, mode in ((vectorless, "vectorless"), (vectors, "vectors")):
        assert result.mode == mode
        assert result.total_mw > 0 and result.switching_mw > 0 and result.leakage_mw > 0
        assert result.total_mw == pytest.approx(
            result.internal_mw + result.switching_mw + result.leakage_mw, rel=1e-3)
    assert vectors.unmatched_nets == ()
    assert vectors.annotated_nets >= asic.cell_count  # every cell output net annotated
    assert vectors.leakage_mw == pytest.approx(vectorless.leakage_mw)
    # random uniform inputs toggle ~0.5 per cycle: same ballpark as vectorless at 0.5
    assert 0.5 < vectors.total_mw / vectorless.total_mw < 2.0


@needs_tools
def test_known_activity_changes_power_as_expected(const_neuron, neuron_activity,
                                                  eda_env: Path) -> None:
    work, asic, _, _ = const_neuron
    nets = list(neuron_activity.activity)

    def run(value: float, tag: str):
        return power_from_activity(asic.netlist_path, "neuron_const", work / f"known_{tag}",
                                   period_ns=PERIOD_NS, activity=dict.fromkeys(nets, value),
                                   data_dir=eda_env)

    zero, low, high = run(0.0, "0"), run(0.2, "1"), run(0.4, "2")
    assert zero.switching_mw < 1e-9
    assert zero.total_mw < low.total_mw < high.total_mw
    assert high.switching_mw / low.switching_mw == pytest.approx(2.0, rel=0.02)
    assert zero.leakage_mw == pytest.approx(high.leakage_mw)


@needs_tools
def test_sta_reports_bad_netlist(eda_env: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text("module top (clk, x, y);\n  input clk;\n  input x;\n  output y;\n"
                   "  NO_SUCH_CELL u0 (.A(x), .Z(y));\nendmodule\n")
    with pytest.raises(EdaError, match=r"Creating black box|failed"):
        timing(bad, "top", tmp_path / "sta", period_ns=1.0, data_dir=eda_env)


@needs_tools
def test_sequential_cells_from_liberty(eda_env: Path) -> None:
    from hwnn.eda import liberty_path

    flops = sequential_cells(liberty_path(eda_env))
    assert {"DFF_X1", "DFFR_X1", "SDFF_X1"} <= flops
    assert "DLH_X1" not in flops and "INV_X1" not in flops


def test_synth_design_embedded_vs_generic_with_preloaded_weights(tmp_path: Path,
                                                                 data_dir: Path) -> None:
    """The whole per-design flow on a small IR: both styles map, the generic baseline's
    weight chain is preloaded at gate level, and the synthesized netlists compute exactly
    what the IR reference computes on the power vectors."""
    from hwnn.methods.synth_flow import chain_state, synth_design

    net = random_ir(5, 6, 4, 3)
    x = np.random.default_rng(0).integers(0, 16, size=(120, 6))
    entries = {}
    for style in ("embedded", "generic"):
        e = synth_design(net, tmp_path / style, "asic", style, vectors=x, timeout_s=300)
        assert e["gate_level_vs_ir_mismatches"] == 0
        assert e["power_vectors"] == 120 and e["annotated_nets"] > 0
        assert e["power_vectors_mw"] > 0 and e["power_vectorless_mw"] > 0
        entries[style] = e
    gen, emb = entries["generic"], entries["embedded"]
    assert gen["preloaded_state_bits"] == len(chain_state(net))
    assert gen["unplaced_state_bits"] == 0 and emb["preloaded_state_bits"] == 0
    assert emb["area_um2"] < gen["area_um2"] and emb["flip_flops"] < gen["flip_flops"]
    fpga = synth_design(net, tmp_path / "fpga", "fpga", "embedded")
    assert fpga["luts"] > 0 and fpga["dsp"] == 0


def test_partitioned_synthesis_matches_the_ir(tmp_path: Path, data_dir: Path) -> None:
    """Neuron-by-neuron mapping (retimed, two leaves at a time): one Yosys run per neuron and
    the head, the stitched netlist computes what the IR computes, and the FPGA counts are the
    sums of the leaves' counts."""
    from hwnn.methods.synth_flow import synth_design

    net = random_ir(7, 6, 4, 3)
    x = np.random.default_rng(1).integers(0, 16, size=(80, 6))
    seen: list[tuple[int, int]] = []
    e = synth_design(net, tmp_path / "asic", "asic", "csd", extra_stages=1, retime=True,
                     vectors=x, timeout_s=300, partition=True, jobs=2,
                     progress=lambda done, total, _name: seen.append((done, total)))
    leaves = sum(la.out_features for la in net.layers) + 1
    assert e["partitions"] == leaves and seen[-1] == (leaves, leaves)
    assert e["gate_level_vs_ir_mismatches"] == 0 and e["area_um2"] > 0
    assert len(list((tmp_path / "asic" / "parts").glob("*/netlist.v"))) == leaves
    f = synth_design(net, tmp_path / "fpga", "fpga", "embedded", partition=True)
    parts = [json.loads(p.read_text()) for p in (tmp_path / "fpga" / "parts").glob(
        "*/stat_fpga.json")]
    assert f["partitions"] == leaves == len(parts) and f["luts"] > 0
    assert f["luts"] == sum(n for part in parts for cell, n in
                            part["modules"][next(iter(part["modules"]))][
                                "num_cells_by_type"].items() if cell.startswith("LUT"))
    register_bits = sum(la.out_features * la.out_bits for la in net.layers)
    assert 0 < f["flip_flops"] <= register_bits + net.head.output_bits(net.layers[-1])
    # a re-run reuses every leaf mapped with the same source and options
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "fpga" / "parts").glob("*/*.json")}
    again = synth_design(net, tmp_path / "fpga", "fpga", "embedded", partition=True)
    assert {k: again[k] for k in ("luts", "flip_flops", "carry4")} == {
        k: f[k] for k in ("luts", "flip_flops", "carry4")}
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


def test_partitioned_generic_baseline_matches_the_ir(tmp_path: Path, data_dir: Path) -> None:
    """The generic baseline split per neuron: each leaf takes its slice of the weight chain,
    the chain registers are glue (mapped in the shell), the stitched netlist with the chain
    preloaded computes what the IR computes; the FPGA count includes the chain's flip-flops
    (the leaf-by-leaf flow on it: tests/test_leafwise.py)."""
    from hwnn.methods.synth_flow import chain_state, synth_design

    net = random_ir(11, 5, 3, 2)
    x = np.random.default_rng(2).integers(0, 16, size=(60, 5))
    e = synth_design(net, tmp_path / "asic", "asic", "generic", vectors=x, timeout_s=300,
                     partition=True)
    leaves = sum(la.out_features for la in net.layers) + 1
    assert e["partitions"] == leaves and e["gate_level_vs_ir_mismatches"] == 0
    assert e["preloaded_state_bits"] == len(chain_state(net)) and e["unplaced_state_bits"] == 0
    chain_bits = len(chain_state(net))
    assert e["flip_flops"] >= chain_bits
    f = synth_design(net, tmp_path / "fpga", "fpga", "generic", partition=True)
    assert f["partitions"] == leaves and f["flip_flops"] >= chain_bits


def test_partitioned_fpga_counts_glue_logic(tmp_path: Path) -> None:
    """A glue module with logic (here one register and an AND) is mapped with the leaves as
    black boxes and its cells are added to the leaves'; whole and partitioned agree."""
    (tmp_path / "d.v").write_text(
        "module leaf (input wire clk, input wire [3:0] a, output reg [3:0] y);\n"
        "  always @(posedge clk) y <= a * 4'd3;\nendmodule\n"
        "module d (input wire clk, input wire [3:0] a, input wire [3:0] b, "
        "output reg [3:0] y);\n  wire [3:0] t;\n"
        "  leaf u (.clk(clk), .a(a), .y(t));\n"
        "  always @(posedge clk) y <= t & b;\nendmodule\n")
    part = synth_fpga([tmp_path / "d.v"], "d", tmp_path / "p", partition=True,
                      use_dsp=False)
    whole = synth_fpga([tmp_path / "d.v"], "d", tmp_path / "w", use_dsp=False)
    assert part.partitions == 1
    assert part.flip_flops == whole.flip_flops == 8
    assert part.luts >= whole.luts > 0
    assert "leaf" not in part.cells_by_type
    with pytest.raises(EdaError, match="hold logic"):
        from hwnn.eda.yosys import _fpga_by_leaves

        _fpga_by_leaves([tmp_path / "d.v"], tmp_path / "x", lambda *a: None, "", 1, None)


def test_synth_design_rejects_bad_options(tmp_path: Path) -> None:
    from hwnn.errors import HwnnError
    from hwnn.methods.synth_flow import synth_design

    net = random_ir(1, 3, 2, 2)
    with pytest.raises(HwnnError, match="asic or fpga"):
        synth_design(net, tmp_path, "gpu")  # type: ignore[arg-type]
    with pytest.raises(HwnnError, match="asic target only"):
        synth_design(net, tmp_path, "fpga", retime=True)
    with pytest.raises(HwnnError, match="positive"):
        synth_design(net, tmp_path, "asic", clock_ns=0)
    with open(tmp_path / ".synth.lock", "w") as held:  # as a running synthesis holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(HwnnError, match="another synthesis of this design"):
            synth_design(net, tmp_path, "fpga")
    assert not (tmp_path / "net.v").exists()


@pytest.mark.parametrize("style", ["embedded", "generic"])
def test_fast_gate_sim_matches_icarus(style: str, tmp_path: Path, data_dir: Path) -> None:
    """hwnn.eda.gatesim and Icarus on the cell models agree on a mapped netlist: the same
    outputs every cycle after the pipeline fills, and the same per-net toggle counts up to
    the pipeline fill: registers start at 0 in gatesim and at x in Icarus (x -> 0/1 is not a
    toggle), so a net can differ by at most two toggles per cycle of fill."""
    from hwnn.eda.cyclesim import simulate_compiled
    from hwnn.eda.gatesim import simulate_activity, zero_state
    from hwnn.logic.literals import pack_words
    from hwnn.logic.verilog import latency, network_verilog
    from hwnn.methods.synth_flow import chain_state

    net = random_ir(11, 5, 3, 2)
    (tmp_path / "net.v").write_text(network_verilog(net, "g", style))  # type: ignore[arg-type]
    syn = synth_asic([tmp_path / "net.v"], "g", tmp_path / "syn", timeout_s=300)
    words = pack_words(np.random.default_rng(1).integers(0, 16, size=(150, 5)), 4)
    kw: dict = {}
    if style == "generic":
        kw = {"initial_state": chain_state(net), "hold_inputs": {"w_en": 0, "w_in": 0}}
    fast = simulate_activity(syn.netlist_path, "g", in_width=20, vectors=words, **kw)
    ref = gate_level_activity(syn.netlist_path, "g", tmp_path / "icarus", in_width=20,
                              vectors=words, period_ns=2.0, **kw)
    lat = latency(net)
    assert fast.outputs[lat - 1:] == ref.outputs[lat - 1:]
    common = set(fast.toggles) & set(ref.toggles)
    assert len(common) > 0.95 * len(ref.toggles)
    diffs = [abs(fast.toggles[k] - ref.toggles[k]) for k in common]
    assert max(diffs) <= 2 * lat
    assert sum(d <= 1 for d in diffs) > 0.95 * len(diffs)
    if style == "generic":
        assert fast.preloaded_bits == len(chain_state(net)) - fast.unplaced_state_bits > 0

    # the compiled cycle simulator counts exactly what Icarus counts once every register
    # starts from a known value (here 0, the weight chain from its preload)
    state = [*zero_state(syn.netlist_path, "g"), *kw.get("initial_state", [])]
    held = kw.get("hold_inputs")
    exact = gate_level_activity(syn.netlist_path, "g", tmp_path / "icarus0", in_width=20,
                                vectors=words, period_ns=2.0, initial_state=state,
                                hold_inputs=held)
    comp = simulate_compiled(syn.netlist_path, "g", tmp_path / "compiled", in_width=20,
                             vectors=words, initial_state=state, hold_inputs=held)
    assert comp.outputs == exact.outputs
    assert set(comp.toggles) <= set(exact.toggles)  # Icarus also lists wires no cell uses
    assert {k: exact.toggles[k] for k in comp.toggles} == comp.toggles
    assert not any(exact.toggles[k] for k in set(exact.toggles) - set(comp.toggles))
    assert comp.preloaded_bits == exact.preloaded_bits == len(zero_state(syn.netlist_path, "g"))


def test_fast_gate_sim_rejects_unsupported_netlists(tmp_path: Path, data_dir: Path) -> None:
    from hwnn.eda.cyclesim import simulate_compiled
    from hwnn.eda.gatesim import simulate_activity

    loop = tmp_path / "loop.v"
    loop.write_text("module t(clk, x, y);\n  input clk;\n  input x;\n  output y;\n  wire a;\n"
                    "  XOR2_X1 u0 (\n    .A(x),\n    .B(a),\n    .Z(a)\n  );\n"
                    "  BUF_X1 u1 (\n    .A(a),\n    .Z(y)\n  );\nendmodule\n")
    with pytest.raises(EdaError, match="loop"):
        simulate_activity(loop, "t", in_width=1, vectors=[0, 1])
    with pytest.raises(EdaError, match="port contract"):
        simulate_activity(loop, "t", in_width=3, vectors=[0, 1])
    with pytest.raises(EdaError, match="not found"):
        simulate_activity(loop, "nope", in_width=1, vectors=[0, 1])
    with pytest.raises(EdaError, match="combinational loop"):
        simulate_compiled(loop, "t", tmp_path / "c", in_width=1, vectors=[0, 1])
    with pytest.raises(EdaError, match="port contract"):
        simulate_compiled(loop, "t", tmp_path / "c", in_width=3, vectors=[0, 1])
    other_clock = tmp_path / "clk.v"
    other_clock.write_text("module t(clk, x, y);\n  input clk;\n  input [1:0] x;\n  output y;\n"
                           "  DFF_X1 r (\n    .CK(x[1]),\n    .D(x[0]),\n    .Q(y)\n  );\n"
                           "endmodule\n")
    with pytest.raises(EdaError, match="not by the clock port"):
        simulate_compiled(other_clock, "t", tmp_path / "c", in_width=2, vectors=[0, 1])


def test_instance_groups_take_patterns_or_plain_names() -> None:
    from hwnn.eda.sta import _cell_pattern

    assert _cell_pattern("u_s*.u_o*") == "u_s*.u_o*"
    assert _cell_pattern(["_0815_", "_0816_"]) == "_0815_ _0816_"
    with pytest.raises(EdaError, match="not plain names"):
        _cell_pattern(["u_s0.x[3]"])


def test_liberty_functions_become_c_expressions() -> None:
    from hwnn.eda.cyclesim import c_expression

    ops = {"A1": "v[3]", "A2": "v[4]", "B": "v[7]", "IQ": "s[0]"}
    assert c_expression("!((A1 & A2) | B)", ops, "AOI21") == "(! ( ( v[3] & v[4] ) | v[7] ))"
    assert c_expression("(A1 ^ A2)", ops, "XOR2") == "(( v[3] ^ v[4] ))"
    assert c_expression("IQ", ops, "DFF.Q") == "(s[0])"
    assert c_expression("0", ops, "LOGIC0") == "(0)"
    with pytest.raises(EdaError, match="unknown 'C'"):
        c_expression("A1 & C", ops, "X")
    with pytest.raises(EdaError, match="cannot parse"):
        c_expression("A1 + $", ops, "X")


@needs_tools
def test_annotations_hold_in_the_input_cone(const_neuron, neuron_activity,
                                            eda_env: Path) -> None:
    """Inputs toggling, every other net held still: the design's nets must keep activity 0.

    OpenSTA 2.0.17 re-propagates densities from the primary inputs at every report; before
    the inputs were registered (hwnn.eda.input_registers) the combinational cone of the
    inputs got propagated activities here and a large switching power.
    """
    work, asic, _, _ = const_neuron
    activity = {net: (0.5 if net.startswith("x[") else 0.0) for net in neuron_activity.activity}
    still = power_from_activity(asic.netlist_path, "neuron_const", work / "still",
                                period_ns=PERIOD_NS, activity=activity, data_dir=eda_env)
    moving = power_from_activity(asic.netlist_path, "neuron_const", work / "moving",
                                 period_ns=PERIOD_NS, activity=neuron_activity.activity,
                                 data_dir=eda_env)
    assert still.repropagated_pins == 0 and moving.repropagated_pins == 0
    assert still.input_register_mw > 0  # the added registers were measured and subtracted
    assert still.switching_mw < 1e-6 < moving.switching_mw

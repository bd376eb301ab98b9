"""hwnn.eda.stitch: flattening mapped leaves into one netlist, sharing identical cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnn.eda import timing
from hwnn.eda.gatesim import simulate_activity
from hwnn.eda.stitch import STITCH_VERSION, expression_bits, stitch_netlist
from hwnn.eda.yosys import AsicSynthResult, synth_asic
from hwnn.errors import EdaError

_DESIGN = """
module twin_a (input wire clk, input wire [1:0] x, output wire y);
  reg r;
  always @(posedge clk) r <= x[0] & x[1];
  assign y = r;
endmodule
module twin_b (input wire clk, input wire [1:0] x, output wire y);
  reg r;
  always @(posedge clk) r <= x[0] & x[1];
  assign y = r;
endmodule
module spare (input wire clk, input wire [1:0] x, output wire [1:0] y);
  assign y = {x[0] | x[1], x[0] ^ x[1]};
endmodule
module top (input wire clk, input wire [1:0] x, output wire [2:0] y);
  wire [1:0] s;
  twin_a ua (.clk(clk), .x(x), .y(y[0]));
  twin_b ub (.clk(clk), .x(x), .y(y[1]));
  spare us (.clk(clk), .x(x), .y(s));
  assign y[2] = s[0] & x[1];
endmodule
"""


def _expected(x: int) -> int:
    a, b = x & 1, (x >> 1) & 1
    both = a & b
    return both | both << 1 | ((a ^ b) & b) << 2


@pytest.fixture(scope="module")
def stitched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AsicSynthResult]:
    work = tmp_path_factory.mktemp("stitch")
    (work / "d.v").write_text(_DESIGN)
    result = synth_asic([work / "d.v"], "top", work / "part", partition=True)
    return work, result


def test_identical_leaves_share_cells_and_dead_logic_goes(stitched: tuple[Path, AsicSynthResult]
                                                         ) -> None:
    """twin_b is twin_a gate for gate: its cells are dropped and y[0], y[1] become one net
    (one port keeps it, the other gets a buffer); spare's OR output drives nothing."""
    _, result = stitched
    info = result.stitch
    assert info["version"] == STITCH_VERSION and result.partitions == 3
    assert info["merged_cells"] >= 2 and info["buffers"] == 1 and info["removed_cells"] >= 1
    cells = result.cells_by_type
    assert cells.get("BUF_X1", 0) >= 1 and result.flip_flops == 1


def test_stitched_netlist_computes_the_design(stitched: tuple[Path, AsicSynthResult]) -> None:
    """The flat netlist, simulated gate by gate, gives the design's outputs on every input
    (registered bits one cycle late, as the simulator reads y after the clock edge), and
    OpenSTA reads it without black boxes."""
    work, result = stitched
    netlist = result.netlist_path
    vectors = [0, 1, 2, 3, 3, 1, 0, 2, 3, 0]
    sim = simulate_activity(netlist, "top", in_width=2, vectors=vectors)
    assert sim.outputs == [_expected(v) for v in vectors]
    assert all(name in sim.activity for name in ("x[0]", "y[0]", "y[1]", "y[2]"))
    t = timing(netlist, "top", work / "sta", period_ns=2.0)
    assert 0 < t.critical_path_ns < 2.0


def test_without_sharing_the_stitch_equals_yosys_over_the_leaves(
        stitched: tuple[Path, AsicSynthResult]) -> None:
    """``share=False`` keeps only dead-logic removal: the same logic cells as one Yosys
    ``synth -flatten`` pass over the mapped leaves and the glue (the earlier flow, which
    does not merge liberty cells). Yosys' ``insbuf`` adds buffers where a leaf port and a
    top port were aliases; the stitch connects them directly."""
    work, result = stitched
    parts = work / "part" / "parts"
    leaves = {p.name: p / "netlist.v" for p in parts.iterdir()}
    whole = synth_asic([*leaves.values(), work / "part" / "glue.v"], "top", work / "whole")
    flat = stitch_netlist(work / "part" / "netlist.v", "top", leaves, work / "flat.v",
                          share=False)
    assert flat.merged_cells == 0
    logic = {c: n for c, n in whole.cells_by_type.items() if c != "BUF_X1"}
    assert flat.cells_by_type == logic
    buffer_area = (whole.area_um2 - flat.area_um2) / whole.cells_by_type.get("BUF_X1", 1)
    assert flat.area_um2 <= whole.area_um2 and buffer_area == pytest.approx(0.798)
    assert flat.area_um2 > result.area_um2


@st.composite
def _connections(draw: st.DrawFn) -> tuple[str, dict[str, tuple[int, int] | None], list[str]]:
    """A concatenation of whole nets, bit selects and part selects with its bits."""
    ranges: dict[str, tuple[int, int] | None] = {"s": None}
    for k in range(3):
        lo = draw(st.integers(0, 4))
        hi = lo + draw(st.integers(1, 5))
        ranges[f"v{k}"] = (hi, lo) if draw(st.booleans()) else (lo, hi)
    parts, bits_msb = [], []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(ranges)))
        rng = ranges[name]
        if rng is None:
            parts.append("s")
            bits_msb.append("s")
            continue
        lo, hi = min(rng), max(rng)
        kind = draw(st.sampled_from(["whole", "bit", "part"]))
        if kind == "whole":
            a, b = rng
        elif kind == "bit":
            a = b = draw(st.integers(lo, hi))
        else:
            a, b = sorted((draw(st.integers(lo, hi)), draw(st.integers(lo, hi))),
                          reverse=rng[0] >= rng[1])
        text = name if kind == "whole" else (f"{name}[{a}]" if kind == "bit"
                                             else f"\\{name} [{a}:{b}]")
        parts.append(text)
        step = -1 if a >= b else 1
        bits_msb += [f"{name}[{k}]" for k in range(a, b + step, step)]
    expr = parts[0] if len(parts) == 1 else "{ " + ", ".join(parts) + " }"
    return expr, ranges, bits_msb[::-1]


@given(_connections())
def test_expression_bits_follow_verilog_concatenation(
        case: tuple[str, dict[str, tuple[int, int] | None], list[str]]) -> None:
    expr, ranges, expected = case
    assert expression_bits(expr, ranges) == expected


def test_expression_bits_refuse_constants_and_unknown_nets() -> None:
    with pytest.raises(EdaError, match="tie cells"):
        expression_bits("{ a, 1'h0 }", {"a": None})
    with pytest.raises(EdaError, match="not declared"):
        expression_bits("b[2]", {"a": None})


# Mapped netlists by hand: leaf ``stuck`` has an output bit tied low (a neuron whose register
# Yosys replaced by a constant); leaf ``user`` was mapped without knowing it and holds the
# cone on which OpenSTA 2.0.17's report_power segfaulted in the stitched 2-bit MNIST MLP.
_STUCK = """module stuck(clk, x, y);
  input clk;
  input [1:0] x;
  output [1:0] y;
  DFF_X1 r (.CK(clk), .D(x[0]), .Q(y[0]));
  LOGIC0_X1 t (.Z(y[1]));
endmodule
"""
_USER = """module user(clk, a, x, y);
  input clk;
  input [1:0] a;
  input [3:0] x;
  output [1:0] y;
  wire n109, n324, n326, n347;
  INV_X1 i0 (.A(a[1]), .ZN(n109));
  AOI211_X1 g0 (.A(x[0]), .B(x[1]), .C1(x[2]), .C2(n109), .ZN(n324));
  OAI22_X1 g1 (.A1(x[2]), .A2(n109), .B1(n109), .B2(x[3]), .ZN(n326));
  AOI211_X1 g2 (.A(x[3]), .B(n109), .C1(a[0]), .C2(x[1]), .ZN(n347));
  AOI21_X1 g3 (.A(n347), .B1(n326), .B2(n324), .ZN(y[0]));
  NAND2_X1 g4 (.A1(a[0]), .A2(x[0]), .ZN(y[1]));
endmodule
"""
_SHELL = """module top(clk, x, y);
  input clk;
  input [3:0] x;
  output [2:0] y;
  wire [1:0] s;
  stuck us (.clk(clk), .x(x[1:0]), .y(s));
  user uu (.clk(clk), .a(s), .x(x), .y(y[1:0]));
  INV_X1 g (.A(s[1]), .ZN(y[2]));
endmodule
"""


def _user_expected(x: int, s0: int) -> int:
    """``y`` of the shell above with ``s = {0, s0}``: n109 = 1, so n326 = 0, n347 = 0 and
    y[0] = 1; y[1] = !(s0 & x[0]); y[2] = !s[1] = 1."""
    return 1 | (1 - (s0 & x & 1)) << 1 | 1 << 2


def test_constants_crossing_leaves_are_folded(tmp_path: Path) -> None:
    """The tie-low output of one leaf is propagated through the next leaf's cells: the
    constant cone goes, one tie cell drives what still reads a constant (the top outputs
    y[0] and y[2], both folded to 1: one port takes the tie net, the other a buffer), the
    function is unchanged and OpenSTA's report_power runs on the result."""
    from hwnn.eda import power_vectorless

    for name, text in (("stuck", _STUCK), ("user", _USER), ("shell", _SHELL)):
        (tmp_path / f"{name}.v").write_text(text)
    flat = stitch_netlist(tmp_path / "shell.v", "top",
                          {"stuck": tmp_path / "stuck.v", "user": tmp_path / "user.v"},
                          tmp_path / "flat.v")
    # tie, the inverters of the leaf and the shell, OAI22, the second AOI211, AOI21
    assert flat.folded_cells == 6 and flat.summary()["folded_cells"] == 6
    assert flat.cells_by_type == {"DFF_X1": 1, "NAND2_X1": 1, "LOGIC1_X1": 1, "BUF_X1": 1}
    assert flat.removed_cells == 1  # the first AOI211: its only reader was folded
    vectors = [0, 1, 3, 5, 15, 14, 9, 1, 0]
    sim = simulate_activity(flat.netlist_path, "top", in_width=4, vectors=vectors)
    s0 = [v & 1 for v in vectors]  # the register, read after the clock edge
    assert sim.outputs == [_user_expected(v, r) for v, r in zip(vectors, s0, strict=True)]
    power = power_vectorless(flat.netlist_path, "top", tmp_path / "sta", period_ns=2.0)
    assert power.total_mw > 0


_GATES = ("INV_X1", "NAND2_X1", "NOR2_X1", "XOR2_X1", "AOI21_X1", "OAI22_X1", "AOI211_X1",
          "MUX2_X1", "FA_X1")


@st.composite
def _tied_cones(draw: st.DrawFn) -> tuple[str, list[tuple[str, dict[str, str]]], list[str]]:
    """A random combinational leaf over 3 inputs and the two tie cells (pins may share a
    net, as in the cone that crashed OpenSTA); returns its netlist, cells and output nets."""
    from hwnn.eda.gatesim import library

    lib = library()
    nets = ["x[0]", "x[1]", "x[2]", "c0", "c1"]
    cells: list[tuple[str, dict[str, str]]] = [("LOGIC0_X1", {"Z": "c0"}),
                                               ("LOGIC1_X1", {"Z": "c1"})]
    for k in range(draw(st.integers(2, 12))):
        cell = draw(st.sampled_from(_GATES))
        model = lib[cell]
        pins = {p: draw(st.sampled_from(nets)) for p in model.inputs}
        for p in model.outputs:
            pins[p] = f"n{k}_{p}"
            nets.append(pins[p])
        cells.append((cell, pins))
    # two outputs at least: a one-bit ``y`` would be written ``output y;`` by Yosys
    outs = draw(st.lists(st.sampled_from(nets[5:]), min_size=2, max_size=3, unique=True))
    body = [f"  wire {n};" for n in nets[3:]]
    body += [f"  {cell} g{k} ({', '.join(f'.{p}({n})' for p, n in pins.items())});"
             for k, (cell, pins) in enumerate(cells)]
    body += [f"  BUF_X1 o{k} (.A({n}), .Z(y[{k}]));" for k, n in enumerate(outs)]
    text = "\n".join(["module leaf(x, y);", "  input [2:0] x;",
                      f"  output [{len(outs) - 1}:0] y;", *body, "endmodule", ""])
    return text, cells, outs


@settings(max_examples=25, deadline=None)
@given(_tied_cones())
def test_folding_constants_keeps_the_function(
        case: tuple[str, list[tuple[str, dict[str, str]]], list[str]]) -> None:
    """Whatever cone the tie cells feed, the stitched netlist computes, for every input, what
    the leaf's cells compute (liberty functions evaluated in file order)."""
    import tempfile

    from hwnn.eda.gatesim import library

    text, cells, outs = case
    lib = library()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "leaf.v").write_text(text)
        (work / "shell.v").write_text(
            f"module top(clk, x, y);\n  input clk;\n  input [2:0] x;\n"
            f"  output [{len(outs) - 1}:0] y;\n  leaf u (.x(x), .y(y));\nendmodule\n")
        flat = stitch_netlist(work / "shell.v", "top", {"leaf": work / "leaf.v"},
                              work / "flat.v")
        sim = simulate_activity(flat.netlist_path, "top", in_width=3, vectors=list(range(8)))
    expected = []
    for v in range(8):
        value = {f"x[{i}]": np.bool_((v >> i) & 1) for i in range(3)}
        for cell, pins in cells:
            model = lib[cell]
            env = {"_C0": np.bool_(False), "_C1": np.bool_(True),
                   **{f"v_{p}": value[pins[p]] for p in model.inputs}}
            for p in model.outputs:
                value[pins[p]] = np.bool_(eval(model.outputs[p], {"__builtins__": {}}, env))
        expected.append(sum(int(value[n]) << k for k, n in enumerate(outs)))
    assert sim.outputs == expected

"""hwnn.eda.leafwise: timing, power and the gate-level check of a partitioned design leaf by
leaf, against the flat flow on the same design; its load model and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from toy import random_ir

from hwnn.eda.leafwise import port_loads, read_shell
from hwnn.eda.liberty import default_wire_load, input_capacitances, liberty_path
from hwnn.errors import EdaError, HwnnError
from hwnn.methods.synth_flow import synth_design


def test_wire_load_matches_opensta() -> None:
    """OpenSTA 2.0.17 reported 26.9705 fF of wire on a Nangate45 net with 36 loads (no
    set_load); the table's fanouts are read back exactly."""
    wire = default_wire_load(liberty_path())
    assert wire.name == "5K_hvratio_1_1"
    assert wire.net_capacitance(36) == pytest.approx(26.9705, abs=1e-4)
    assert wire.net_capacitance(1) == pytest.approx(1.7460 * 0.1774)
    assert wire.net_capacitance(0) == 0.0
    assert wire.net_capacitance(10) == pytest.approx((25.4842 + 27.0320) / 2 * 0.1774)


def test_port_loads_count_the_pins_on_each_input() -> None:
    caps = input_capacitances(liberty_path())
    text = """module leaf(clk, x, y);
  input clk;
  input [1:0] x;
  output y;
  wire n;
  NAND2_X1 g0 (.A1(x[0]), .A2(x[1]), .ZN(n));
  XOR2_X1 g1 (.A(x[0]), .B(n), .Z(y));
endmodule
"""
    loads = port_loads(text, "leaf", caps)
    assert loads["x[0]"] == (pytest.approx(caps["NAND2_X1"]["A1"] + caps["XOR2_X1"]["A"]), 2)
    assert loads["x[1]"] == (pytest.approx(caps["NAND2_X1"]["A2"]), 1)
    assert loads["clk"] == (0.0, 0)


def _shell(tmp_path: Path, cells: str) -> Path:
    """A shell ``top(clk, x[1:0], y)`` with wires ``a``, ``b`` and the given cells."""
    path = tmp_path / "shell.v"
    path.write_text("module top(clk, x, y);\n  input clk;\n  input [1:0] x;\n  output y;\n"
                    f"  wire a;\n  wire b;\n{cells}endmodule\n")
    return path


def test_a_shell_with_logic_is_refused(tmp_path: Path) -> None:
    shell = _shell(tmp_path, """  leaf u0 (.clk(clk), .x(x), .y(a));
  INV_X1 g (.A(a), .ZN(y));
""")
    with pytest.raises(EdaError, match=r"INV_X1.*besides the leaves"):
        read_shell(shell, "top", {"leaf"})
    # declaring the cell a leaf fails on its ports instead of passing silently
    with pytest.raises(EdaError, match="expected clk, x, y"):
        read_shell(shell, "top", {"leaf", "INV_X1"})


def _both_flows(tmp_path: Path, net: Any, style: str, n: int, seed: int
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The partitioned design of ``net`` through the flat (stitched) flow and the
    leaf-by-leaf flow, on ``n`` random 4-bit input vectors, 2 ns clock."""
    vectors = np.random.default_rng(seed).integers(0, 16, size=(n, net.input.features))
    return tuple(synth_design(net, tmp_path / name, "asic", style,  # type: ignore[arg-type]
                              vectors=vectors, partition=True, clock_ns=2.0, leafwise=lw)
                 for name, lw in (("flat", False), ("leaf", True)))


def test_leafwise_flow_agrees_with_the_flat_flow(tmp_path: Path) -> None:
    """A two-layer network, one module per neuron: the leaf-by-leaf flow reproduces the flat
    (stitched) flow's fmax within 2 % and its vector power within 3 % (it counts the cells
    the stitch shares across leaves: here +1.2 %), and its gate-level outputs match the IR.
    Measured when written: 322.58 vs 324.94 MHz, 19.47 vs 19.71 mW."""
    net = random_ir(3, 12, 6, 4)
    flat, leaf = _both_flows(tmp_path, net, "embedded", 300, seed=0)
    assert leaf["timing_power_flow"] == "leafwise" and leaf["partitions"] == 11
    assert flat["gate_level_vs_ir_mismatches"] == leaf["gate_level_vs_ir_mismatches"] == 0
    assert leaf["power_vectors_repropagated_pins"] == 0 and leaf["unmatched_nets"] == 0
    assert leaf["cells"] == flat["stitch"]["leaf_cells"]
    assert leaf["fmax_mhz"] == pytest.approx(flat["fmax_mhz"], rel=0.02)
    assert leaf["power_vectors_mw"] == pytest.approx(flat["power_vectors_mw"], rel=0.03)
    assert leaf["critical_path"][1] == flat["critical_path"][1]  # same endpoint register
    with pytest.raises(HwnnError, match="partitioned ASIC"):
        synth_design(net, tmp_path / "x", "fpga", partition=True, leafwise=True)


def test_leafwise_flow_handles_the_generic_weight_chain(tmp_path: Path) -> None:
    """The generic baseline, partitioned: the weight chain is glue (registers preloaded with
    the weights, held by w_en = 0), each neuron reads its slice as a constant input. The
    leaf-by-leaf flow preloads as many chain bits as the flat flow, its outputs match the IR,
    it finds the dead first-layer neuron the stitch drops, and cells, power and fmax are
    close to the flat flow's. Measured when written: 8,025 vs 8,036 cells (the stitch shares
    11), 9.108 vs 9.116 mW, 342.0 vs 327.6 MHz (a first-layer neuron's x now comes from a
    register: clock-to-Q more on its paths)."""
    from hwnn.methods.synth_flow import chain_state

    net = random_ir(11, 5, 3, 2)
    flat, leaf = _both_flows(tmp_path, net, "generic", 200, seed=2)
    assert flat["gate_level_vs_ir_mismatches"] == leaf["gate_level_vs_ir_mismatches"] == 0
    assert leaf["preloaded_state_bits"] == flat["preloaded_state_bits"] == len(chain_state(net))
    assert leaf["unplaced_state_bits"] == 0 and leaf["unmatched_nets"] == 0
    assert leaf["power_vectors_repropagated_pins"] == 0
    glue = leaf["leafwise"]["glue"]
    assert glue["flip_flops"] >= len(chain_state(net)) and glue["power_mw"] > 0
    assert leaf["leafwise"]["dead_leaves"] == ["u_l0.u_n2"]
    assert leaf["flip_flops"] == flat["flip_flops"]
    assert flat["cells"] <= leaf["cells"] <= flat["cells"] * 1.01
    assert leaf["power_vectors_mw"] == pytest.approx(flat["power_vectors_mw"], rel=0.02)
    assert 0.93 * flat["fmax_mhz"] <= leaf["fmax_mhz"] <= flat["fmax_mhz"]


def test_leaves_no_output_depends_on_are_left_out(tmp_path: Path) -> None:
    """A hidden neuron whose outgoing weights were all pruned feeds nothing: the stitch
    drops its cells, so the leaf-by-leaf flow leaves it out too."""
    from hwnn.eda.leafwise import live_leaves

    shell = _shell(tmp_path, """  leaf u0 (.clk(clk), .x(x), .y(a));
  leaf u1 (.clk(clk), .x(x), .y(b));
  leaf u3 (.clk(clk), .x(x), .y());
  leaf2 u2 (.clk(clk), .x({b, a}), .y(y));
""")
    every = read_shell(shell, "top", {"leaf", "leaf2"})
    assert [leaf.name for leaf in every.leaves] == ["u0", "u1", "u3", "u2"]
    assert every.leaves[3].inputs == ("a", "b") and every.inputs == ("x[0]", "x[1]")
    live = {"leaf": {0, 1}, "leaf2": {0, 1}}
    assert [leaf.name for leaf in live_leaves(every, live).leaves] == ["u0", "u1", "u2"]
    # u2 reads only its bit 0 (a): bit 1 (b) feeds a pruned weight, so u1 is dead too
    live["leaf2"] = {0}
    assert [leaf.name for leaf in live_leaves(every, live).leaves] == ["u0", "u2"]


def test_parallel_leaf_analysis_gives_the_same_numbers(tmp_path: Path) -> None:
    """``jobs=2``: the neurons of a layer are analysed in two processes; every number and
    the per-leaf table are those of the one-process run (only the order work is done in
    changes)."""
    import json

    net = random_ir(5, 6, 4, 3)
    vectors = np.random.default_rng(4).integers(0, 16, size=(120, net.input.features))
    one, two = (synth_design(net, tmp_path / f"j{jobs}", "asic", "embedded", vectors=vectors,
                             partition=True, clock_ns=2.0, leafwise=True, jobs=jobs)
                for jobs in (1, 2))
    fields = ("area_um2", "cells", "flip_flops", "fmax_mhz", "critical_path",
              "power_vectors_mw", "gate_level_vs_ir_mismatches")
    assert {f: one[f] for f in fields} == {f: two[f] for f in fields}
    assert one["gate_level_vs_ir_mismatches"] == 0
    tables = [json.loads(Path(run["logs"]["leaves"]).read_text()) for run in (one, two)]
    assert tables[0] == tables[1]


def test_leaves_are_grouped_by_dependency_level(tmp_path: Path) -> None:
    """A leaf's level is one more than its deepest feeder's; top inputs are level -1."""
    from hwnn.eda.leafwise import _levels

    shell = _shell(tmp_path, """  leaf u0 (.clk(clk), .x(x), .y(a));
  leaf u3 (.clk(clk), .x(x), .y());
  leaf u1 (.clk(clk), .x({a, x[0]}), .y(b));
  leaf2 u2 (.clk(clk), .x({b, a}), .y(y));
""")
    levels = _levels(read_shell(shell, "top", {"leaf", "leaf2"}))
    assert [[leaf.name for leaf in level] for level in levels] == [["u0", "u3"], ["u1"], ["u2"]]

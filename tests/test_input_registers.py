"""hwnn.eda.input_registers: the netlist rewrite used by power-from-vectors runs."""

from __future__ import annotations

import pytest

from hwnn.eda.gatesim import parse_netlist
from hwnn.eda.input_registers import register_inputs
from hwnn.errors import EdaError

NETLIST = """module other(a, b);
  input a;
  output b;
  INV_X1 u (.A(a), .ZN(b));
endmodule

module top(clk, x, en, y);
  input clk;
  input [2:0] x;
  input en;
  output y;
  wire n1;
  AND2_X1 g0 (.A1(x[0]), .A2(x[2]), .ZN(n1));
  DFF_X1 r0 (.CK(clk), .D(n1), .Q(y));
endmodule
"""


def test_every_data_input_bit_gets_a_register() -> None:
    text, n = register_inputs(NETLIST, "top")
    assert n == 4  # x[0..2] and en; never the clock
    assert "module top(clk, hwnn_in_x, hwnn_in_en, y);" in text
    assert "input [2:0] hwnn_in_x;" in text and "wire [2:0] x;" in text
    assert "input hwnn_in_en;" in text and "wire en;" in text
    assert "DFF_X1 hwnn_inreg_2 (.CK(clk), .D(hwnn_in_x[2]), .Q(x[2]));" in text
    assert "DFF_X1 hwnn_inreg_3 (.CK(clk), .D(hwnn_in_en), .Q(en));" in text
    assert text.startswith(NETLIST.split("module top")[0])  # other modules untouched
    net = parse_netlist(text, "top")
    assert set(net.inputs) == {"clk", "hwnn_in_x", "hwnn_in_en"}
    assert sum(1 for inst in net.instances if inst.cell == "DFF_X1") == 5


def test_a_clock_is_added_to_combinational_designs() -> None:
    comb = "module top(x, y);\n  input [1:0] x;\n  output y;\n" \
           "  AND2_X1 g (.A1(x[0]), .A2(x[1]), .ZN(y));\nendmodule\n"
    text, n = register_inputs(comb, "top", clock_port="clk")
    assert n == 2
    assert "module top(clk, hwnn_in_x, y);" in text and "input clk;" in text


def test_unknown_module_and_escaped_ports_are_refused() -> None:
    with pytest.raises(EdaError, match="not found"):
        register_inputs(NETLIST, "missing")
    escaped = "module top(\\x.a , y);\n  input \\x.a ;\n  output y;\nendmodule\n"
    with pytest.raises(EdaError, match="plain identifier"):
        register_inputs(escaped, "top")

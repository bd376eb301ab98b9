"""Thin, tested wrappers over the real EDA tools; results parsed into dataclasses.

Flow for one generated design (top ports ``clk``, ``x``, ``y``)::

    asic = synth_asic([rtl], top, work)                          # Yosys + ABC -> Nangate45
    t = timing(asic.netlist_path, top, work, period_ns=2.0)       # OpenSTA
    p0 = power_vectorless(asic.netlist_path, top, work, period_ns=2.0)
    act = gate_level_activity(asic.netlist_path, top, work, in_width=W,
                              vectors=xs, period_ns=2.0)          # Icarus + VCD toggles
    p1 = power_from_activity(asic.netlist_path, top, work, period_ns=2.0,
                             activity=act.activity)
    fpga = synth_fpga([rtl], top, work)                           # synth_xilinx LUT counts

Every tool runs through :func:`run_tool` (log file + timeout); a missing tool raises
:class:`ToolMissingError` naming the Debian package. Nothing here imports torch.
"""

from hwnn.eda.activity import ActivityResult, gate_level_activity
from hwnn.eda.liberty import cell_models, liberty_gz, liberty_path, sequential_cells
from hwnn.eda.sta import (
    POWER_METHOD_VERSION,
    PowerResult,
    TimingResult,
    power_from_activity,
    power_vectorless,
    timing,
)
from hwnn.eda.tools import ToolMissingError, require_tool, run_tool
from hwnn.eda.vcd import VcdToggles, count_toggles, read_vcd
from hwnn.eda.yosys import AsicSynthResult, FpgaSynthResult, synth_asic, synth_fpga
from hwnn.errors import EdaError

__all__ = [
    "POWER_METHOD_VERSION",
    "ActivityResult",
    "AsicSynthResult",
    "EdaError",
    "FpgaSynthResult",
    "PowerResult",
    "TimingResult",
    "ToolMissingError",
    "VcdToggles",
    "cell_models",
    "count_toggles",
    "gate_level_activity",
    "liberty_gz",
    "liberty_path",
    "power_from_activity",
    "power_vectorless",
    "read_vcd",
    "require_tool",
    "run_tool",
    "sequential_cells",
    "synth_asic",
    "synth_fpga",
    "timing",
]

"""Run a self-checking testbench (``hwnn.logic.testbench``) in Icarus Verilog or Verilator
and parse its verdict.

Icarus: ``iverilog -g2005 -o sim.vvp tb.v net.v`` then ``vvp sim.vvp``. Verilator:
``verilator --binary --timing -Wno-fatal --top-module tb tb.v net.v`` then the built binary.
Both run in the folder that holds the vector files; logs are kept there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hwnn.eda.tools import EdaError, require_tool, run_tool

Simulator = Literal["icarus", "verilator"]
_RESULT = re.compile(r"RESULT vectors=(\d+) mismatches=(\d+) layer_mismatches=([\d,]*)")
_MISMATCH = re.compile(r"MISMATCH layer=(\w+) vector=(\d+) got=(\S+) expected=(\S+)")


@dataclass
class SimResult:
    simulator: str
    vectors: int
    mismatches: int
    layer_mismatches: list[int]
    first_failures: list[dict[str, str | int]] = field(default_factory=list)
    log_path: str = ""

    @property
    def passed(self) -> bool:
        return self.mismatches == 0 and not any(self.layer_mismatches)

    def first_failure(self) -> dict[str, str | int] | None:
        """The failing vector with the lowest index, at the earliest layer that fails on it."""
        if not self.first_failures:
            return None

        def order(item: dict[str, str | int]) -> tuple[int, int]:
            layer = item["layer"]
            return int(item["vector"]), (10**6 if layer == "y" else int(layer))

        return min(self.first_failures, key=order)


def available_simulators() -> list[str]:
    out = []
    for name, tool in (("icarus", "iverilog"), ("verilator", "verilator")):
        try:
            require_tool(tool)
            out.append(name)
        except EdaError:
            pass
    return out


def parse_output(text: str, simulator: str, log_path: Path) -> SimResult:
    match = _RESULT.search(text)
    if match is None:
        raise EdaError(f"{simulator}: the testbench printed no RESULT line; see {log_path}")
    layers = [int(v) for v in match.group(3).split(",") if v]
    failures = [{"layer": m.group(1), "vector": int(m.group(2)), "got": m.group(3),
                 "expected": m.group(4)} for m in _MISMATCH.finditer(text)]
    return SimResult(simulator, int(match.group(1)), int(match.group(2)), layers, failures,
                     str(log_path))


_RUN_LOG = {"icarus": "iverilog_run.log", "verilator": "verilator_run.log"}


def simulate(sources: Sequence[Path], workdir: Path, simulator: Simulator = "icarus",
             top: str = "tb", timeout_s: float = 1800) -> SimResult:
    """Compile and run ``sources`` (testbench first) in ``workdir``."""
    workdir = Path(workdir).resolve()  # the tools run in workdir: relative paths would break
    text = compile_and_run(sources, workdir, simulator, top, timeout_s,
                           ("--x-assign", "fast", "--x-initial", "fast"))
    return parse_output(text, simulator, workdir / _RUN_LOG[simulator])


def compile_and_run(sources: Sequence[Path], workdir: Path, simulator: Simulator, top: str,
                    timeout_s: float, verilator_flags: Sequence[str] = ()) -> str:
    """Compile ``sources`` with top module ``top`` and run the simulation in ``workdir``
    (Icarus: ``iverilog -g2005`` + ``vvp -n``; Verilator: ``--binary --timing -O2``);
    returns what the run printed. Logs stay in ``workdir``."""
    workdir = Path(workdir).resolve()
    srcs = [str(Path(s).resolve()) for s in sources]
    if simulator == "icarus":
        run_tool([require_tool("iverilog"), "-g2005", "-s", top, "-o", "sim.vvp", *srcs],
                 workdir, workdir / "iverilog_compile.log", timeout_s)
        return run_tool([require_tool("vvp"), "-n", "sim.vvp"], workdir,
                        workdir / _RUN_LOG[simulator], timeout_s)
    if simulator == "verilator":
        build = workdir / "obj_verilator"
        run_tool([require_tool("verilator"), "--binary", "--timing", "-Wno-fatal", "-Wno-lint",
                  "-Wno-style", "--top-module", top, "-Mdir", str(build), "-O2",
                  *verilator_flags, *srcs],
                 workdir, workdir / "verilator_compile.log", timeout_s)
        return run_tool([str(build / f"V{top}")], workdir, workdir / _RUN_LOG[simulator],
                        timeout_s)
    raise EdaError(f"unknown simulator {simulator!r}; choose icarus or verilator")


def simulate_cycles(sources: Sequence[Path], top: str, words: Sequence[int], x_width: int,
                    y_width: int, workdir: Path, simulator: Simulator = "icarus",
                    timeout_s: float = 1800) -> list[int | None]:
    """Drive module ``top`` (ports ``clk``, ``x``, ``y``) with one ``x`` word per clock cycle
    and return ``y`` at the end of every cycle (None while it holds x/z bits): the
    testbench of :func:`hwnn.eda.activity.write_testbench`, without a VCD. For designs
    whose outputs are a stream (valid flag + data) rather than one result per vector."""
    from hwnn.eda.activity import TB_TOP, parse_outputs, write_testbench

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    digits = (x_width + 3) // 4
    limit = 1 << x_width
    if any(not 0 <= int(w) < limit for w in words):
        raise EdaError(f"an input word does not fit in {x_width} unsigned bits")
    (workdir / "words.hex").write_text("".join(f"{int(w):0{digits}x}\n" for w in words))
    tb = write_testbench(workdir / "tb_cycles.v", top, in_width=x_width,
                         out_width=y_width, n_vectors=len(words), period_ps=1000,
                         clock_port="clk", vectors_file="words.hex",
                         outputs_file="outputs.txt", vcd_file=None)
    compile_and_run([tb, *sources], workdir, simulator, TB_TOP, timeout_s)
    return parse_outputs(workdir / "outputs.txt", len(words))

"""Finding EDA executables and running them with a log file and a timeout.

Every tool call in :mod:`hwnn.eda` goes through :func:`run_tool`: stdout and stderr go to one
log file (written even when the tool fails or hangs), the tool runs in its own process group
so that a timeout also kills its children (Yosys starts ``yosys-abc`` as a child process), and
a failure raises :class:`~hwnn.errors.EdaError` naming the tool and the log.

Measured on the reference machine (Debian bookworm packages): Yosys 0.23, ``yosys-abc``
(a symlink to ``berkeley-abc``, shipped by the ``yosys`` package), OpenSTA 2.0.17 (``sta``,
package ``opensta``), Icarus Verilog 11 (``iverilog``/``vvp``), Verilator 5.006.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from hwnn.errors import EdaError

#: Debian package that provides each executable we call.
DEBIAN_PACKAGES: dict[str, str] = {
    "yosys": "yosys",
    "yosys-abc": "yosys",
    "sta": "opensta",
    "iverilog": "iverilog",
    "vvp": "iverilog",
    "verilator": "verilator",
    "gcc": "gcc",  # hwnn.eda.cyclesim compiles netlists to C
}

#: How many trailing log lines an error message quotes.
LOG_TAIL_LINES = 20

#: Environment variable with the address-space limit (GiB) of every tool call; 0 = none.
MEMORY_ENV = "HWNN_TOOL_MEMORY_GB"
#: Default limit. Measured: Yosys on the embedded MNIST MLP (784-64-32-10, 8-bit constant
#: weights) grew past 17 GB in ``synth`` and Ray's out-of-memory monitor then killed every
#: sweep worker on the node; with a per-tool cap that call fails alone, with a clear error.
#: The limit is per process (RLIMIT_AS): the ABC that Yosys starts gets its own, so one
#: synthesis can hold up to twice it (measured 2026-11-26: Yosys 5.7 GB plus its ABC 5.4 GB
#: on the generic JSC-B ASIC design). Two such calls beside a sweep worker analysing a
#: stitched MNIST netlist (Python, not capped) filled the 24 GiB machine and Ray's monitor
#: killed both workers; run big jobs one or two at a time. The generic OFC-C baseline needs
#: more than 8 GiB in ABC (it segfaults); it was run alone at 16.
DEFAULT_MEMORY_GB = 8.0


def tool_memory_limit_bytes() -> int | None:
    """The per-tool address-space limit from ``$HWNN_TOOL_MEMORY_GB`` (default 8 GiB)."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    try:
        gib = float(text) if text else DEFAULT_MEMORY_GB
    except ValueError:
        raise EdaError(f"${MEMORY_ENV} must be a number of GiB (0 = no limit), got {text!r}")\
            from None
    if gib < 0:
        raise EdaError(f"${MEMORY_ENV} must be >= 0 GiB, got {gib:g}")
    return int(gib * 2**30) if gib > 0 else None


class ToolMissingError(EdaError):
    """An EDA executable is not on ``PATH``; the message says which package to install."""


def install_hint(name: str) -> str:
    """The shell command that installs the Debian package providing ``name``."""
    package = DEBIAN_PACKAGES.get(name, name)
    return f"sudo apt-get install -y {package}"


def require_tool(name: str) -> str:
    """Absolute path of executable ``name``, or raise :class:`ToolMissingError`."""
    found = shutil.which(name)
    if found is None:
        package = DEBIAN_PACKAGES.get(name, name)
        raise ToolMissingError(
            f"EDA tool '{name}' not found on PATH. It is in the Debian package '{package}': "
            f"install it with `{install_hint(name)}`."
        )
    return os.path.abspath(found)


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' if it cannot be read)."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group started for ``proc`` (the tool and its children)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_tool(
    cmd: Sequence[str | os.PathLike[str]],
    cwd: str | os.PathLike[str],
    log_path: str | os.PathLike[str],
    timeout_s: float,
) -> str:
    """Run ``cmd`` in ``cwd``, writing stdout+stderr to ``log_path``; return the log text.

    Raises :class:`EdaError` on a timeout (the whole process group is killed) or a non-zero
    exit status; the message names the tool, the log path and quotes the log's last lines.
    """
    argv = [os.fspath(part) for part in cmd]
    if not argv:
        raise ValueError("run_tool needs a command")
    tool = Path(argv[0]).name
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    limit = tool_memory_limit_bytes()
    # Limits are set by a shell that then execs the tool (no preexec_fn: the callers may be
    # multi-threaded Ray workers). `ulimit -v` caps memory. The stack goes to the hard limit
    # as a precaution for deep recursion on huge netlists. Measured on the generic OFC-C
    # design (1.12M gates into ABC): ABC died with SIGSEGV under the 8 GiB cap, with and
    # without the larger stack, and passed under a 16 GiB cap, so there it was memory.
    prefix = 'ulimit -s "$(ulimit -H -s)" 2>/dev/null; '
    if limit is not None:
        prefix += f"ulimit -v {limit // 1024} && "
    argv = ["/bin/sh", "-c", prefix + 'exec "$@"', tool, *argv]
    started = time.monotonic()
    with log.open("wb") as handle:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=os.fspath(cwd),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            raise EdaError(f"cannot start {tool}: {err}") from err
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise EdaError(
                f"{tool} timed out after {timeout_s:g} s and was killed; "
                f"partial log: {log}"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
    if returncode != 0:
        elapsed = time.monotonic() - started
        tail = log_tail(log)
        hint = ""
        out_of_memory = returncode == -signal.SIGABRT or any(  # bad_alloc aborts Yosys
            word in tail for word in ("bad_alloc", "MemoryError", "out of memory",
                                      "Out of memory", "Cannot allocate memory"))
        if "return code 139" in tail or returncode in (-signal.SIGSEGV, 139):
            hint = (f"\n{tool} (or the ABC it runs) crashed with a segmentation fault; on a "
                    f"very large netlist that usually means memory ran out: raise ${MEMORY_ENV} "
                    "(now " + (f"{limit / 2**30:g} GiB" if limit else "no limit") + ") if the "
                    "machine has room, or make the design smaller")
        elif limit is not None and out_of_memory:
            hint = (f"\n{tool} probably ran out of memory under the {limit / 2**30:g} GiB "
                    f"cap; raise ${MEMORY_ENV} if the machine has room, or make the design "
                    "smaller")
        raise EdaError(
            f"{tool} failed with exit status {returncode} after {elapsed:.1f} s; "
            f"log: {log}\n--- last lines ---\n{tail}{hint}"
        )
    return log.read_text(errors="replace")

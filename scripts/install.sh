#!/usr/bin/env bash
# Install everything hwnn needs on a fresh Debian/Ubuntu machine:
#   1. the EDA tools (yosys+abc, OpenSTA, Icarus Verilog, Verilator, gcc) from the distribution,
#   2. a Python 3.11 virtual environment in .venv with torch==2.13.0 (CPU) and hwnn[dev,plot].
# Safe to rerun: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for tool in yosys:yosys sta:opensta iverilog:iverilog verilator:verilator gcc:gcc; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch first and pinned: the CPU wheel on disk (anything looser pulls a multi-GB CUDA build).
.venv/bin/pip install --quiet torch==2.13.0
.venv/bin/pip install --quiet -e '.[dev,plot]'
echo "hwnn installed in .venv ($(.venv/bin/python -c 'import hwnn; print(hwnn.__version__)'))"

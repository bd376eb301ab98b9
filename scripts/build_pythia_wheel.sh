#!/usr/bin/env bash
# Build the Pythia 8.3 Python wheel (PyPI package pythia8mc, shipped as source only) once,
# keep it in ~/.cache/hwnn/wheels and install it with FastJet into .venv (the jsc extra).
#
# A plain `pip install pythia8mc` compiles its ~180 C++ files one at a time (over 30 min on
# 2 cores); this builds them in parallel (build_ext -j JOBS) and reuses the wheel on every
# later install. Only the JSC generator (hwnn.data.jsc, `hwnn data generate jsc`) needs
# Pythia: training on the shipped JSC data does not.
#
# Usage: bash scripts/build_pythia_wheel.sh [JOBS]     (JOBS defaults to the core count)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

VERSION="8.318.0"
JOBS="${1:-$(nproc)}"
WHEELS="${HWNN_WHEEL_CACHE:-$HOME/.cache/hwnn/wheels}"
PIP=.venv/bin/pip
if [ ! -x "$PIP" ]; then
  echo "no .venv: run bash scripts/install.sh first" >&2
  exit 1
fi
mkdir -p "$WHEELS"
wheel=$(ls "$WHEELS"/pythia8mc-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "building pythia8mc $VERSION with $JOBS parallel compile jobs (log: $work/build.log)"
  "$PIP" download --quiet --no-deps --no-binary :all: "pythia8mc==$VERSION" -d "$work"
  tar xzf "$work/pythia8mc-$VERSION.tar.gz" -C "$work"
  src="$work/pythia8mc-$VERSION"
  "$PIP" install --quiet wheel setuptools
  start=$(date +%s)
  (cd "$src" && "$ROOT/.venv/bin/python" setup.py build_ext -j "$JOBS" bdist_wheel \
      -d "$WHEELS" >"$work/build.log" 2>&1) || { tail -n 30 "$work/build.log" >&2; exit 1; }
  echo "built in $(( $(date +%s) - start )) s"
  wheel=$(ls "$WHEELS"/pythia8mc-"$VERSION"-*.whl | head -n 1)
fi
echo "installing $wheel"
"$PIP" install --quiet "$wheel" "fastjet>=3.4,<4"
.venv/bin/python -c "import pythia8mc, fastjet; print('pythia8mc', pythia8mc.__file__)"

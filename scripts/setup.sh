#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install fst into it.
# Idempotent: a second run only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${FST_VENV:-.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv with $($python --version)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
# torch and torchvision first, pinned together (a mismatched pair fails at import).
"$venv/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
"$venv/bin/python" -m pip install -q -e ".[dev]"
echo "[setup] ready: $("$venv/bin/python" -c 'import torch, fst; print("fst", fst.__version__, "torch", torch.__version__)')"

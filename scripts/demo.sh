#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, then stylize the bundled demo photos (fst/demo/)
# in the shipped style starry_night into outputs/demo/. It runs from the cheapest shipped file that
# holds the style: fst/checkpoints/six_paintings_s2d.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python stylize.py "$@"

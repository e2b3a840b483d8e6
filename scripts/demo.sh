#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, then stylize the bundled demo photos
# (fst/demo/) in the shipped style starry_night (of fst/checkpoints/six_paintings.safetensors) into outputs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python stylize.py "$@"

#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, then stylize the bundled demo photos
# (data/demo/) with the shipped style checkpoints/starry_night.safetensors into outputs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python stylize.py "$@"

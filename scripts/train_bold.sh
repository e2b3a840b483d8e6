#!/usr/bin/env bash
# Issue 21's long CPU run (experiment=six_paintings_bold), resumable across sessions:
#   FST_RUNS=/work/runs bash scripts/train_bold.sh [OVERRIDE ...]
# Resumes exactly from $FST_RUNS/six_paintings/bold/checkpoints/last.ckpt when it exists (same
# machine, next session); otherwise (a new machine) warm-starts from $FST_BOLD_INIT, default the
# shipped file, which is this run's export at +14,750 (weights only: Adam starts afresh).
# Checkpoints and exports every 250 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
export FST_RUNS="${FST_RUNS:-runs}" FST_RUN_ID=bold
last="$FST_RUNS/six_paintings/bold/checkpoints/last.ckpt"
init="${FST_BOLD_INIT:-fst/checkpoints/six_paintings.safetensors}"
if [ -f "$last" ]; then
  echo "[train_bold] resuming from $last"
  exec .venv/bin/python train.py experiment=six_paintings_bold schedule=cpu ckpt_path="$last" "$@"
fi
echo "[train_bold] warm start from $init"
exec .venv/bin/python train.py experiment=six_paintings_bold schedule=cpu module.init_from="$init" "$@"

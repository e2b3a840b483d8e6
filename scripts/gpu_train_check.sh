#!/usr/bin/env bash
# Issue 21's GPU session in one command: training speed, then the six-style continuation.
#
#   here:     python scripts/gpu_data.py pack             # .gpu/: VGG to conv5_1, train_256, Hydra wheels
#   device:   run(command="bash scripts/gpu_train_check.sh", carry=[".gpu"], timeout_s=600)
#   dry run:  FST_GPU_DRY_RUN=1 bash scripts/gpu_train_check.sh   # on a CPU, tiny sizes, same steps
#
# Writes to $OUT (flat: the device tool returns at most 8 files):
#   log.txt           everything printed, including the steps/s tables (256 px, batch 4 and 16,
#                     eager then compiled, bf16 + channels-last)
#   six_paintings.safetensors   the continuation's export (experiment=six_paintings_bold)
#   events.tfevents   its TensorBoard scalars and image grids
#   val_grid.jpg      the demo photos x six styles, stylized by the export
# Stages run in this order, each bounded by `timeout` and none stopping the next: eager speeds,
# the continuation, the grid, compiled speeds (compiling takes the longest and matters least).
# FST_GPU_MINUTES (default 3) bounds the continuation; FST_GPU_INIT the warm start.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/fst_gpu_out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && [ "${FST_GPU_DRY_RUN:-0}" = 1 ] && PY=.venv/bin/python
if ! "$PY" -c "import hydra" 2>/dev/null; then  # the GPU image has no Hydra: its wheels travel in .gpu/
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/fst_site .gpu/wheels/*.whl
  export PYTHONPATH=/tmp/fst_site
fi
vgg=$("$PY" scripts/gpu_data.py unpack --into .gpu | tail -n 1)
data=(paths.vgg_weights="$vgg" paths.train_dir="$PWD/.gpu/train_256" paths.styles="$PWD/.gpu/styles")
init="${FST_GPU_INIT:-fst/checkpoints/six_paintings.safetensors}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU (dry run)"

if [ "${FST_GPU_DRY_RUN:-0}" = 1 ]; then
  trainer=(trainer=cpu data.num_workers=1)
  speed=(--batch-size 4 --steps 2 --warmup 1 --image-size 64)
  budget=(trainer.max_steps=4 data.image_size=64 data.resize_to=64)
  every=2 limit_eager=300 limit_train=400 limit_compiled=300
else
  trainer=(trainer=gpu data.num_workers=12)
  speed=(--batch-size 4 16 --steps 40 --warmup 10 --image-size 256)
  budget=(+trainer.max_time="00:00:${FST_GPU_MINUTES:-3}:00")
  every=2000 limit_eager=100 limit_train=$(( ${FST_GPU_MINUTES:-3} * 60 + 60 )) limit_compiled=170
fi

stage() {  # stage NAME SECONDS COMMAND...: bounded, and a failure does not stop the next stage
  local name=$1 seconds=$2; shift 2
  echo "== $name =="
  timeout "$seconds" "$@" || echo "!! $name failed or timed out (status $?)"
}

stage "training speed, eager" "$limit_eager" "$PY" benchmarks/train_speed.py --compile off "${speed[@]}" \
  experiment=six_paintings_bold "${trainer[@]}" "${data[@]}"

runs="$(mktemp -d)"
stage "continuation from $init" "$limit_train" env FST_RUNS="$runs" FST_RUN_ID=gpu "$PY" train.py \
  experiment=six_paintings_bold "${trainer[@]}" "${data[@]}" module.init_from="$init" "${budget[@]}" \
  trainer.val_check_interval=$every callbacks.checkpoint.every_n_train_steps=$every \
  module.log_images_every_n_steps=$every
run="$runs/six_paintings/gpu"
cp "$run/checkpoints/six_paintings.safetensors" "$OUT/" || echo "!! no export"
cp "$(find "$run/tensorboard" -name 'events.*' | head -n 1)" "$OUT/events.tfevents" || echo "!! no events"

stage "validation grid" 120 bash -c "'$PY' stylize.py fst/demo -c '$OUT/six_paintings.safetensors' -o '$runs/grid' \
  --format jpg --compile off --no-progress && '$PY' scripts/contact_sheet.py fst/demo '$runs/grid' '$OUT/val_grid.jpg' --cell 192"

stage "training speed, compiled" "$limit_compiled" "$PY" benchmarks/train_speed.py --compile on "${speed[@]}" \
  experiment=six_paintings_bold "${trainer[@]}" "${data[@]}"
cat "$OUT"/speed_*.md 2>/dev/null
ls -la "$OUT"

#!/usr/bin/env bash
# Issue 21's GPU session in one command: training speed, then the six-style continuation.
#
#   here:     python scripts/gpu_data.py pack             # .gpu/: VGG to conv5_1, train_256, Hydra wheels
#   device:   run(command="bash scripts/gpu_train_check.sh", carry=[".gpu"], timeout_s=600)
#   dry run:  FST_GPU_DRY_RUN=1 bash scripts/gpu_train_check.sh   # on a CPU, tiny sizes, same steps
#
# Writes to $OUT (flat: the device tool returns at most 8 files):
#   speed.md          steps/s at 256 px, batch 4 and 16, eager and compiled, bf16 + channels-last
#   six_paintings.safetensors   the continuation's export (experiment=six_paintings_bold)
#   events.tfevents   its TensorBoard scalars and image grids
#   val_grid.jpg      the demo photos x six styles, stylized by the export
#   log.txt           everything printed
# FST_GPU_MINUTES (default 5) bounds the continuation; FST_GPU_INIT the warm start.
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
data=(paths.vgg_weights="$vgg" paths.train_dir="$PWD/.gpu/train_256")
init="${FST_GPU_INIT:-fst/checkpoints/six_paintings.safetensors}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU (dry run)"

if [ "${FST_GPU_DRY_RUN:-0}" = 1 ]; then
  trainer=(trainer=cpu data.num_workers=1)
  speed=(--batch-size 4 --compile off --steps 2 --warmup 1 --image-size 64)
  budget=(trainer.max_steps=4 +trainer.max_time=00:00:05:00 data.image_size=64 data.resize_to=64)
  every=2
else
  trainer=(trainer=gpu data.num_workers=12)
  speed=(--batch-size 4 16 --compile off on --steps 50 --warmup 15 --image-size 256)
  budget=(+trainer.max_time="00:00:${FST_GPU_MINUTES:-5}:00")
  every=2000
fi

echo "== training speed (experiment=six_paintings_bold) =="
"$PY" benchmarks/train_speed.py "${speed[@]}" experiment=six_paintings_bold "${trainer[@]}" "${data[@]}" \
  | tee "$OUT/speed.md"

echo "== continuation from $init =="
runs="$(mktemp -d)"
FST_RUNS="$runs" FST_RUN_ID=gpu "$PY" train.py experiment=six_paintings_bold "${trainer[@]}" "${data[@]}" \
  module.init_from="$init" "${budget[@]}" trainer.val_check_interval=$every \
  callbacks.checkpoint.every_n_train_steps=$every module.log_images_every_n_steps=$every
run="$runs/six_paintings/gpu"
cp "$run/checkpoints/six_paintings.safetensors" "$OUT/"
cp "$(find "$run/tensorboard" -name 'events.*' | head -n 1)" "$OUT/events.tfevents"

echo "== validation grid =="
"$PY" stylize.py fst/demo -c "$OUT/six_paintings.safetensors" -o "$runs/grid" --format jpg --no-progress
"$PY" scripts/contact_sheet.py fst/demo "$runs/grid" "$OUT/val_grid.jpg" --cell 192
ls -la "$OUT"

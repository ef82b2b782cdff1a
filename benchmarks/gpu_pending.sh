#!/usr/bin/env bash
# Every pending GPU benchmark in one call, shortest first, each under its own time limit, for a
# lent GPU machine: the device tool runs this in a copy of the
# checkout, with the CIFAR-10 subset carried in .data/cifar-10 (git-ignored; copy it there first:
# cp -r ../shared/data/cifar-10 .data/). Results land in benchmarks/results/ and, when $OUT is set,
# are copied there too. Records the GPU model in every JSON.
#   bash benchmarks/gpu_pending.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
DATA=${DATA:-.data/cifar-10}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
run() { local limit=$1; shift; echo "== $* (limit ${limit}s)"; timeout "$limit" "$@" || echo "== exit $? for: $*"; }
run 240 $PY benchmarks/gpu_batch1.py --budget 0.5
run 360 $PY benchmarks/latency_gpu.py --budget 0.5
run 60 $PY benchmarks/batched_crop.py --device cuda
run 60 $PY benchmarks/batched_crop.py --device cuda --batch 256 --size 64 --out benchmarks/results/batched_crop_cuda_64px.json
run 300 $PY benchmarks/train_throughput.py --device cuda --data "$DATA" --train-images 0 --epochs 2 --profile
run 420 $PY benchmarks/search_throughput.py --device cuda --data "$DATA" --workers 1,2,4,8 --n-trials 16 \
    --train-images 0 --epochs 8
if [ -n "${OUT:-}" ]; then cp -r benchmarks/results "$OUT/"; fi

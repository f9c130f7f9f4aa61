#!/usr/bin/env bash
# Every CUDA path of kdssm once, on the first machine with a GPU (benchmarks/gpu_check.py says which paths):
# at most 10 minutes, one line per path, JSON into OUT_DIR (default: $OUT where set, else the repo root).
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# Needs a Python whose torch has CUDA and kdssm installed over it (`pip install -e .` after torch); a GPU
# machine without the registries gets kdssm's dependencies as wheels (see the device notes in README).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-.}}"
python="${PYTHON:-python3}"
"$python" -c "import kdssm, torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
PYTHONUNBUFFERED=1 timeout 600 "$python" benchmarks/gpu_check.py --out "$out"

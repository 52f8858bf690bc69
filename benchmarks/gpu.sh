#!/usr/bin/env bash
# GPU figures at NSD size in one run (decoder fit, encoding fit, SD v1.4-shaped img2img
# and diffusion-feature throughput; see benchmarks/gpu.py). Within 9 minutes on one
# H100. Run from the repository root on a CUDA machine where the project is installed;
# on a machine without network, put the wheels of diffusers and himalaya in .whl/ first.
set -euo pipefail
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 560 "${PYTHON:-python3}" benchmarks/gpu.py --out "${OUT:-benchmarks}/gpu_results.md" "$@"

#!/usr/bin/env bash
# Tries scripts/gpu_measurements.sh (SMOKE=1, on the CPU) in a Python that holds only what the GPU machine's image
# holds that this project uses (torch, transformers 5.17, numpy, pillow, OpenCV, pandas, pyarrow, SciPy, numba,
# huggingface_hub 1.x, ...) plus the wheels docs/hardware.md says to carry, and nothing of the project's own
# environment: a package the run needs and neither brings fails here, not in the GPU machine's few minutes.
# Then runs gpu-check's other parts (env, describe, guard, lora) at smoke sizes the same way.
# Needs uv (the project's .venv has it), an index to install from, and make demo's models and photos.
# VENV (default /tmp/desclm-device-like) is made afresh; OUT (default /tmp/desclm-device-like-out) gets the results.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/tmp/desclm-device-like}
OUT=${OUT:-/tmp/desclm-device-like-out}
UV=${UV:-.venv/bin/uv}
rm -rf "$VENV" "$OUT"
"$UV" venv -q -p "$(command -v python3)" "$VENV"
# the GPU machine's image (docs: .library/device/KINDS.md), the versions this project pins where it has one
"$UV" pip install -q --python "$VENV/bin/python" torch==2.14.1 torchvision==0.29.1 transformers==5.17.0 \
  numpy pillow opencv-python-headless pandas pyarrow scipy numba matplotlib psutil pyyaml requests tqdm \
  "huggingface-hub<2" safetensors tokenizers sentencepiece accelerate peft regex filelock fsspec jinja2 \
  packaging xxhash markdown-it-py rich
# the wheels docs/hardware.md ("The GPU check") carries there
"$UV" pip install -q --python "$VENV/bin/python" --no-deps ctranslate2==4.8.5 ultralytics==8.4.190 \
  ultralytics-thop==2.2.3 ensemble-boxes==1.0.9 inflect==7.6.0 typeguard more-itertools jaraco.functools
PATH="$VENV/bin:$PATH" SMOKE=1 OUT="$OUT" bash scripts/gpu_measurements.sh
PYTHONPATH=$PWD "$VENV/bin/python" -m helpers gpu-check --smoke --parts env,describe,guard,lora \
  --describer models/description_llm --output "$OUT/other_parts.jsonl"
echo "device-like smoke: done; results in $OUT"

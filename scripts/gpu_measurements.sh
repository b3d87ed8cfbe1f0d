#!/usr/bin/env bash
# Issue 31's GPU measurements in one run, for a GPU machine with a Python that has torch and
# transformers but no network (the project's device machine). Writes into $OUT (default ./gpu_out):
#   gpu_check.jsonl             every gpu-check part (env, train with the auto batch, describe, guard, extract)
#   bench_extract_demo.json     make demo's models on the demo photos: library vs tensor pipelines (fp16),
#                               the forward-only ceiling, and the fp16 tensor records against fp32 library ones
#   gpu_check_table.md          the README's table from gpu_check.jsonl
#   describe_engine_host.json   desclm describe's Python around the model on this host's cores, every core
#                               but one as workers (docs/measurements/describe_engine.py)
#
# Needs, beside the checkout: wheels/ (py3.12 wheels of what the machine lacks, see docs/hardware.md,
# "The GPU check"), models/demo, models/description_llm and data/demo from `make demo`.
# SMOKE=1 runs it at tiny sizes on the CPU, to try the script before the GPU run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
if [ -d wheels ] && ls wheels/*.whl >/dev/null 2>&1; then
  python -m pip install -q --no-index --no-deps --target /tmp/desclm-site wheels/*.whl
  export PYTHONPATH=/tmp/desclm-site:$PWD
else
  export PYTHONPATH=$PWD
fi
smoke=() count=96 parts=env,train,describe,guard,extract
if [ "${SMOKE:-0}" = 1 ]; then smoke=(--smoke) count=8 parts=train,extract; fi
status=0
python -m helpers gpu-check "${smoke[@]}" --parts "$parts" --describer models/description_llm \
  --output "$OUT/gpu_check.jsonl" || status=1
python -m helpers bench extract --images data/demo/data.yaml --yolo_weights models/demo/yolo_detector.pt \
  --hf_model models/demo/rtdetr --scene_weights models/demo/scene_classifier.pt \
  --ensemble_weights_file models/demo/ensemble.json --count "$count" --batch_size 32 --repeats 2 \
  --save "$OUT/bench_extract_demo.json" || status=1
python -m helpers gpu-check --table "$OUT/gpu_check.jsonl" > "$OUT/gpu_check_table.md" || status=1
engine_sizes=()
if [ "${SMOKE:-0}" = 1 ]; then engine_sizes=(--records 32 --copies 2 --batch_size 16 --real_records 16 --repeats 1); fi
python docs/measurements/describe_engine.py --workers $(( $(nproc) > 1 ? $(nproc) - 1 : 1 )) "${engine_sizes[@]}" \
  --out "$OUT/describe_engine_host.json" || status=1
exit $status

"""`desclm export`: described photos as a Hugging Face dataset, WebDataset shards, LLaVA JSON, COCO captions or
detections, a YOLO dataset, GeoJSON (the photos, or the items where they lie) or CSV (`helpers.describer.exports`).

desclm export described.jsonl --format hf --cv cv.jsonl --images photos/ --output out/dataset
desclm export described.jsonl --format hf --images photos/ --chat --output out/vlm_sft  # TRL's SFTTrainer
desclm export described.jsonl --format hf --cv cv.jsonl --images photos/ --objects --output out/boxes  # a detector
desclm export described.jsonl --format webdataset --images photos/ --max_side 768 --output out/wds  # img2dataset-like
desclm export described.jsonl --format coco_instances --cv cv.jsonl --output instances.json
desclm export described.jsonl --format coco_instances --cv cv.jsonl --splits train=0.9,val=0.1 --output instances.json
desclm export described.jsonl --format label_studio --cv cv.jsonl --images photos/ --output tasks.json
desclm export described.jsonl --format yolo --cv cv.jsonl --images photos/ --output pseudo_labels/
desclm export described.jsonl --format geojson --cv cv.jsonl --output litter.geojson
desclm export described.jsonl --format geojson_items --cv cv.jsonl --output items.geojson
desclm export described.jsonl --format openai_batch --images photos/ --model Qwen/Qwen2.5-VL-7B-Instruct \
    --max_side 768 --output requests.jsonl   # vllm run-batch -i requests.jsonl ...; then desclm check
desclm export described.jsonl --format gemini_batch --images photos/ --max_side 768 --output requests.jsonl
desclm export described.jsonl --format anthropic_batch --images photos/ --model claude-sonnet-4-5 --max_tokens 300 \
    --max_side 1568 --image_format jpeg --output requests.jsonl
"""

from __future__ import annotations

import json
import logging

from helpers.commands.parsing import SettingsParser
from helpers.describer.options import ExportOptions

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm export") -> int:
    parser = SettingsParser(
        ExportOptions,
        prog=prog,
        description="Export described photos for the tools that train or read captions (datasets, WebDataset, LLaVA, "
        "COCO, YOLO, GeoJSON).",
    )
    options, _ = parser.parse(argv)
    from helpers.core.device import worker_processes
    from helpers.core.paths import require_file, require_photos, resolve
    from helpers.describer.exports import export

    try:
        counts = export(
            options.format,
            require_file(options.described, "Described rows", kind="file"),
            resolve(options.output),
            require_file(options.cv, "CV records (--cv)", kind="file") if options.cv else None,
            require_photos(
                options.images, "Photos (--images: a folder, a Hugging Face dataset, or s3://... in storage)"
            )
            if options.images
            else None,
            prompt=options.conversation_prompt,
            image_column=options.image_column,
            key_column=options.key_column,
            image_folder=resolve(options.image_folder) if options.image_folder else None,
            policy=options.policy,
            strip_location=options.strip_location,
            below_takeoff_m=options.ground_below_takeoff_m,
            chat=options.chat,
            rewrite=options.rewrite,
            workers=worker_processes(options.workers),
            url_prefix=options.url_prefix,
            sample=options.sample,
            selection=options.selection,
            parquet_only=options.parquet_only,
            splits=options.split_plan,
            license=options.license,
            objects=options.objects,
            tasks=options.florence_tasks,
            boxes=options.boxes,
            requests=options.requests,
            boxes_from=options.boxes_from,
        )
    except (OSError, ValueError) as error:
        parser.error(str(error))
    logger.info("export: %s", json.dumps(counts))
    return 1 if counts["problems"] else 0

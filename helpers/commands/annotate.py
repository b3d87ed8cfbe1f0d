"""`desclm annotate`: photos to CV records to descriptions, streamed in one run (`helpers.engine.annotate`).

    desclm annotate --images photos/ --yolo_weights best.pt --scene_weights scene.pt \
        --describer models/description_llm --output data/cv.jsonl --described data/described.jsonl
    desclm annotate ... --engine ray --address auto --concurrency 4 --describe_concurrency 2
"""

from __future__ import annotations

import json
import logging

from helpers.commands.parsing import SettingsParser, notebook_sections
from helpers.cv.config import ExtractConfig
from helpers.engine.annotate import AnnotateOptions
from helpers.engine.options import EngineOptions

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm annotate") -> int:
    parser = SettingsParser(
        [ExtractConfig, AnnotateOptions, EngineOptions],
        prog=prog,
        description="Extract and describe photos in one streamed run: CV records and one sentence per photo.",
        params_sections=notebook_sections("01"),
    )
    config, options, engine_options, _ = parser.parse(argv)
    from helpers.engine.annotate import annotate

    try:  # every input, both outputs and both models are checked before anything is written
        summary = annotate(config, options, engine_options)
        if engine_options.format == "parquet":
            from helpers.core.parquet import write_parquet

            for output in (summary["output"], summary["described"]):
                logger.info("Parquet: %s", write_parquet(output))
    except (OSError, ValueError) as error:
        parser.error(str(error))
    keys = ("output", "described", "processed", "already_done", "failed", "described_counts", "images_per_second")
    logger.info("annotate: %s", json.dumps({k: summary[k] for k in keys}, default=str))
    errors = summary["failed"] + summary["described_counts"].get("error", 0)
    return 1 if errors else 0

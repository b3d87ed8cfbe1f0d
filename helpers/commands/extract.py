"""`desclm extract`: stage 01, CV outputs from photos (`helpers.cv.extract`); `desclm extract merge` joins shards.

desclm extract --images photos/ --yolo_weights best.pt [--hf_model rtdetr/] [--scene_weights scene.pt]
desclm extract --params run.yaml                         # the same settings from a file
desclm extract --images photos/ ... --engine ray [--address auto] [--concurrency 4]   # on a Ray cluster
desclm extract merge cv.jsonl cv.shard-0of4.jsonl ...    # after --num_shards 4 --shard_index 0..3
"""

from __future__ import annotations

import json
import logging

from helpers.commands.parsing import SettingsParser, notebook_sections
from helpers.commands.shards import merge_command
from helpers.cv.config import ExtractConfig
from helpers.engine.options import EngineOptions

logger = logging.getLogger(__name__)


def merge(argv: list[str], prog: str) -> int:
    from helpers.cv.files import merge_shards

    return merge_command(argv, prog, "Join the shards of one extraction (and their error files).", merge_shards)


def main(argv: list[str], prog: str = "desclm extract") -> int:
    if argv[:1] == ["merge"]:
        return merge(argv[1:], f"{prog} merge")
    parser = SettingsParser(
        [ExtractConfig, EngineOptions],
        prog=prog,
        description="CV outputs (detections, scene) from photos, one JSON line per photo; resumes where it stopped.",
        params_sections=notebook_sections("01"),
        epilog=f"`{prog} merge OUTPUT SHARD...` joins the outputs of --num_shards runs.",
    )
    config, engine_options, _ = parser.parse(argv[1:] if argv[:1] == ["run"] else argv)
    from helpers.cv.extract import run_extraction

    try:  # run_extraction checks every input, then loads the models, before it writes anything
        engine = None
        if engine_options.engine == "ray":
            from helpers.engine.ray_data import RayEngine

            engine = RayEngine(engine_options)
        summary = run_extraction(config, engine=engine)
        if engine_options.format == "parquet":
            from helpers.core.parquet import write_parquet

            logger.info("Parquet: %s", write_parquet(summary["output"]))
    except (OSError, ValueError) as error:
        parser.error(str(error))
    keys = ("output", "processed", "already_done", "failed", "images_per_second")
    logger.info("extraction: %s", json.dumps({k: summary[k] for k in keys}, default=str))
    return 1 if summary["failed"] else 0

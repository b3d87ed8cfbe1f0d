"""`desclm describe`: stage 04, one guarded sentence per CV record (`helpers.describer`).

    desclm describe MODEL_DIR --input cv.jsonl --output described.jsonl [--backend ct2] [--no_guard]
    desclm describe merge described.jsonl described.shard-*of4.jsonl   # after --num_shards 4 --shard_index 0..3

Each output line is {"id", "description", "source"} or {"id", "error"}; a line that cannot be
described costs that line only (exit status 1). When more than --max_grammar_share of the lines
were written by the grammar because every model sentence failed the guard, the command warns and
exits with status 3: the output is faithful, but the model is not doing the work.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from helpers.commands.parsing import SettingsParser
from helpers.commands.shards import merge_command
from helpers.describer.options import FALLBACK_EXIT_STATUS, DescribeOptions
from helpers.engine.options import EngineOptions

logger = logging.getLogger(__name__)


def merge(argv: list[str], prog: str) -> int:
    from helpers.core.shards import merge_described

    return merge_command(argv, prog, "Join the shards of one describe run, in input order.", merge_described)


def main(argv: list[str], prog: str = "desclm describe") -> int:
    if argv[:1] == ["merge"]:
        return merge(argv[1:], f"{prog} merge")
    parser = SettingsParser(
        [DescribeOptions, EngineOptions],
        prog=prog,
        description="Describe CV output records (JSONL) in one faithful sentence each.",
        params_sections=("describe",),
        epilog=f"`{prog} merge OUTPUT SHARD...` joins the outputs of --num_shards runs.",
    )
    options, engine_options, _ = parser.parse(argv)
    from helpers.core.contract import load_model_settings
    from helpers.core.outputs import OutputBusyError, check_writable
    from helpers.core.paths import require_file, resolve
    from helpers.core.records import check_output
    from helpers.core.shards import shard_path

    output_path = resolve(options.output)
    try:  # everything that can be checked is checked before the model loads
        input_path = Path("-") if options.input == "-" else require_file(options.input, "Input records", kind="file")
        check_writable(shard_path(output_path, options.num_shards, options.shard_index))
        check_output(input_path, shard_path(output_path, options.num_shards, options.shard_index))
        model_dir = require_file(options.model_dir, "Describer model folder (`desclm train`'s output)", kind="folder")
        load_model_settings(model_dir)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    from helpers.core.cuda_libs import CudaLibraryError
    from helpers.core.device import cpu_cores
    from helpers.describer.describe import Describer
    from helpers.describer.run import describe_file

    load = {  # Describer.load's settings, here and in each Ray actor
        "backend": options.backend,
        "guard": options.guard,
        "compute_type": options.compute_type,
        "dtype": options.dtype,
        "style": options.style or None,
        "top_p": options.top_p,
        "num_beams": options.num_beams,
        "num_captions": options.num_captions,
        "guard_workers": options.guard_workers,
    }
    # on Ray the actors describe: this copy checks the folder and gives the settings the output records,
    # without loading the weights
    on_ray = engine_options.engine == "ray"
    try:
        describer = Describer.load(
            model_dir, device=options.device, inter_threads=cpu_cores(), with_model=not on_ray, **load
        )
    except (OSError, ValueError, CudaLibraryError) as error:
        parser.error(str(error))
    except Exception as error:  # noqa: BLE001 - a weights file the library cannot read: one line, not a traceback
        parser.error(f"{model_dir} could not be loaded as a describer: {type(error).__name__}: {error}")
    try:
        engine = None
        if on_ray:
            from helpers.engine.ray_data import RayDescribeEngine

            engine = RayDescribeEngine(engine_options, str(model_dir), load, options.batch_size)
        counts = describe_file(
            describer,
            input_path,
            output_path,
            options.batch_size,
            num_shards=options.num_shards,
            shard_index=options.shard_index,
            engine=engine,
        )
        if engine_options.format == "parquet":
            from helpers.core.parquet import write_parquet

            logger.info("Parquet: %s", write_parquet(shard_path(output_path, options.num_shards, options.shard_index)))
    except OutputBusyError as error:
        parser.error(str(error))
    except (OSError, ValueError) as error:  # a full disk, a folder gone read-only: one line, and the work kept
        parser.error(f"{error}; the lines already written are kept beside the output, and a rerun resumes after them")
    logger.info("described %s -> %s: %s", input_path, output_path, json.dumps(dict(counts)))
    if counts["error"]:
        logger.warning("%d line(s) could not be described; see their 'error' entries", counts["error"])
    described = sum(counts.values()) - counts["error"]
    grammar_share = counts["grammar"] / described if described else 0.0
    if options.guard and grammar_share > options.max_grammar_share:
        logger.warning(
            "the grammar wrote %d of %d sentences (%.0f%%, more than --max_grammar_share %.0f%%): every sentence "
            "the model wrote for them failed the guard. The output is faithful, but the model is not doing the "
            "work: train it longer or on more pairs (desclm train), or check that it fits these records",
            counts["grammar"],
            described,
            100 * grammar_share,
            100 * options.max_grammar_share,
        )
        return FALLBACK_EXIT_STATUS
    return 1 if counts["error"] else 0

"""`desclm check`: are captions written elsewhere true to the detections? (`helpers.describer.check`).

desclm check --input cv.jsonl --captions captions.jsonl --output verdicts.jsonl [--lexicon words.yaml]
"""

from __future__ import annotations

import json
import logging

from helpers.commands.parsing import SettingsParser
from helpers.describer.options import CheckOptions

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm check") -> int:
    parser = SettingsParser(
        CheckOptions,
        prog=prog,
        description="Check captions (from a VLM, a captioning model, people) against their CV records.",
    )
    options, _ = parser.parse(argv)
    from helpers.core.paths import require_file, resolve
    from helpers.describer.check import check_file, summary_path
    from helpers.text.lexicon import load_lexicon

    output = resolve(options.output)
    try:
        summary = check_file(
            require_file(options.input, "CV records (--input)", kind="file"),
            require_file(options.captions, "Captions (--captions: a file, or a folder of Parquet files)"),
            output,
            options.caption_field,
            options.policy,
            load_lexicon(options.lexicon) if options.lexicon else None,
            options.captions_format,
            options.workers,
            resolve(options.examples) if options.examples else None,
            options.units,
        )
    except (OSError, ValueError) as error:
        parser.error(str(error))
    logger.info("checked -> %s (summary %s): %s", output, summary_path(output), json.dumps(summary))
    return 1 if summary["errors"] else 0

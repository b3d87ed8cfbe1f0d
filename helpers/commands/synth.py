"""`desclm synth`: the grammar's sentence for each CV record, no model (`helpers.pairs.synth.describe_file`).

desclm synth --input cv.jsonl --output described.jsonl [--style "varied digits"] [--seed 0]
"""

from __future__ import annotations

import logging
from pathlib import Path

from helpers.commands.parsing import SettingsParser
from helpers.pairs.config import SynthOptions

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm synth") -> int:
    parser = SettingsParser(SynthOptions, prog=prog, description="Describe CV output records with the grammar alone.")
    options, _ = parser.parse(argv)
    from helpers.core.paths import require_file, resolve
    from helpers.pairs.synth import describe_file

    output_path = resolve(options.output)
    try:
        input_path = Path("-") if options.input == "-" else require_file(options.input, "Input records", kind="file")
        failures = describe_file(
            input_path,
            output_path,
            options.seed,
            options.policy,
            options.wording,
            options.worker_count,
            num_captions=options.num_captions,
        )
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if failures:
        logger.warning("%d invalid line(s); see the 'error' entries in %s", failures, output_path)
    return 1 if failures else 0

"""`desclm pairs`: stage 02, training pairs (CV output -> sentence) from CV outputs (`helpers.pairs.synth`).

desclm pairs --cv_outputs data/cv_outputs.jsonl --output_dir data/pairs [--styles "plain words, varied digits"]
"""

from __future__ import annotations

import logging

from helpers.commands.parsing import SettingsParser, notebook_sections
from helpers.pairs.config import SynthConfig

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm pairs") -> int:
    parser = SettingsParser(
        SynthConfig,
        prog=prog,
        description="Training pairs from CV outputs: the grammar's sentences, split by image, plus generated records.",
        params_sections=notebook_sections("02"),
    )
    config, _ = parser.parse(argv)
    from helpers.core.paths import require_file

    try:
        require_file(config.cv_outputs, "CV outputs (`desclm extract`'s JSONL)", kind="file")
        if config.extra_pairs:
            require_file(config.extra_pairs, "Extra pairs (JSONL of {cv, output})", kind="file")
    except OSError as error:
        parser.error(str(error))
    from helpers.pairs.synth import build_pairs

    result = build_pairs(config)
    logger.info(
        "pairs in %s: %s; %d error(s)%s",
        result.files["train"].parent,
        {split: len(items) for split, items in result.pairs.items()},
        len(result.errors),
        f" (see {result.files['errors']})" if result.errors else "",
    )
    return 1 if result.errors else 0

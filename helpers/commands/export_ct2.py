"""`desclm export-ct2`: a trained describer exported to CTranslate2 (`MODEL_DIR/ct2`), for `describe --backend ct2`.

desclm export-ct2 models/description_llm [--quantization int8]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from helpers.commands.parsing import SettingsParser
from helpers.core.settings import setting

logger = logging.getLogger(__name__)


@dataclass
class ExportOptions:
    """The CTranslate2 export's settings."""

    model_dir: str = setting(help="trained describer folder (`desclm train`'s output)", positional=True)
    quantization: str = setting("", 'weights on disk: "" (as trained), int8, float16, bfloat16, int8_float16, ...')


def main(argv: list[str], prog: str = "desclm export-ct2") -> int:
    parser = SettingsParser(ExportOptions, prog=prog, description="Export a describer to CTranslate2 (MODEL_DIR/ct2).")
    options, _ = parser.parse(argv)
    from helpers.core.contract import load_model_settings
    from helpers.core.paths import require_file

    try:
        load_model_settings(require_file(options.model_dir, "Describer model folder", kind="folder"))
    except (OSError, ValueError) as error:
        parser.error(str(error))
    from helpers.describer.export_ct2 import export

    try:
        logger.info("CTranslate2 export written to %s", export(options.model_dir, options.quantization or None))
    except ValueError as error:
        parser.error(str(error))
    return 0

"""`desclm train`: stage 03, the T5 describer trained on the pairs (`helpers.training.train`).

desclm train --pairs_dir data/pairs --output_dir models/description_llm
desclm train --params run.yaml                                     # the same settings from a file
torchrun --nproc_per_node 2 -m helpers train --params run.yaml      # data parallel (DDP)
"""

from __future__ import annotations

import json
import logging

from helpers.commands.parsing import SettingsParser, notebook_sections
from helpers.training.config import TrainConfig

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm train") -> int:
    parser = SettingsParser(
        TrainConfig,
        prog=prog,
        description="Train the T5 describer on 02's pairs; resumes from its last checkpoint.",
        params_sections=notebook_sections("03"),
    )
    config, _ = parser.parse(argv)
    from helpers.core.offline import model_source
    from helpers.core.paths import require_file

    try:
        pairs = require_file(config.pairs_dir, "Pairs folder (`desclm pairs`' output)", kind="folder")
        for split in ("train", "val"):
            require_file(pairs / f"{split}.jsonl", f"{split} pairs", "run `desclm pairs` first", kind="file")
        if config.base_model != "scratch":
            model_source(config.base_model, "T5 base model (base_model)")
    except (OSError, ValueError) as error:
        parser.error(str(error))
    from helpers.training.train import train

    summary = train(config)
    keys = ("global_step", "world_size", "val_faithfulness", "output_dir")
    logger.info("finished: %s", json.dumps({key: summary[key] for key in keys}))
    return 0

"""`desclm extract merge` and `desclm describe merge`: one shape, each stage's own merge."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from helpers.commands.parsing import SettingsParser
from helpers.core.settings import setting

logger = logging.getLogger(__name__)


@dataclass
class MergeOptions:
    """Settings of a merge of shard outputs."""

    output: str = setting(help="merged JSONL to write", positional=True)
    shards: list[str] = setting(help="every shard's output (<stem>.shard-KofN.jsonl), once each", positional=True)


def merge_command(argv: list[str], prog: str, description: str, merge: Callable[[list[str], str], dict]) -> int:
    """Parses `OUTPUT SHARD...`, runs `merge(shards, output)` and logs its counts; its refusal is one line, status 2."""
    parser = SettingsParser(MergeOptions, prog=prog, description=description)
    options, _ = parser.parse(argv)
    try:
        logger.info("merged: %s", json.dumps(merge(options.shards, options.output)))
    except (OSError, ValueError) as error:
        parser.error(str(error))
    return 0

"""`desclm summarize`: a counted paragraph per group of photos (a folder, a day, a site) from 01's records,
for a report (`helpers.describer.rollup`).

desclm summarize runs/cv.jsonl                               # a paragraph per folder, to standard output
desclm summarize runs/cv.jsonl --by day --output report.md   # a table and the paragraphs; .json, .csv
desclm summarize runs/cv.jsonl --items items.geojson         # and each distinct item of the videos, on a map
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections import Counter

from helpers.commands.parsing import SettingsParser
from helpers.describer.options import SummarizeOptions

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm summarize") -> int:
    parser = SettingsParser(
        SummarizeOptions,
        prog=prog,
        description="A counted paragraph per group of photos (folder, day, site) from CV records, for a report.",
    )
    options, _ = parser.parse(argv)
    from helpers.core.figures import png_bytes
    from helpers.core.io import atomic_write_bytes, atomic_write_text, iter_jsonl, write_problems
    from helpers.core.outputs import check_writes
    from helpers.core.paths import require_file, resolve
    from helpers.describer.rollup import (
        items_pieces,
        rollup_csv,
        rollup_items_map,
        rollup_map,
        rollup_markdown,
        summarize_file,
    )

    items = staged = None
    staging = None  # the staged items' file, once this run has opened it
    try:
        cv = require_file(options.cv, "CV records", kind="file")
        output = resolve(options.output) if options.output else None
        errors = output.with_name(f"{output.name}.errors.jsonl") if output else None
        picture = output.with_name(f"{output.stem}.map.png") if output else None  # beside a .md report
        items_picture = output.with_name(f"{output.stem}.items.png") if output else None
        items = resolve(options.items) if options.items else None
        staged = items.with_name(f"{items.name}.partial.jsonl") if items else None  # the items as their videos close
        check_writes([path for path in (output, errors, picture, items_picture, items, staged) if path], [cv])
        images_root = resolve(options.images_root) if options.images_root else None
        with open(staged, "w", encoding="utf-8") if staged else contextlib.nullcontext() as staging:
            sink = (lambda found: staging.writelines(json.dumps(item) + "\n" for item in found)) if staging else None
            rolled = summarize_file(
                cv,
                options.by,
                options.policy,
                options.top,
                images_root,
                options.seed,
                options.matching,
                sink,
            )
    except (OSError, ValueError) as error:
        if staging is not None:  # only what this run wrote
            staged.unlink(missing_ok=True)
        parser.error(str(error))
    if items is not None:
        placed = Counter()
        listed = (line.record for line in iter_jsonl(staged))
        atomic_write_text(items, items_pieces(listed, items.suffix.lower(), placed))
        staged.unlink()
        logger.info("distinct items: %s%s", items, f" ({dict(placed)})" if placed else "")
    for problem in rolled.problems[:3]:
        logger.warning("%s: line %d not counted: %s", options.cv, problem["line"], problem["error"])
    if len(rolled.problems) > 3:
        logger.warning("%s: %d lines not counted in all", options.cv, len(rolled.problems))
    if output is None:
        sys.stdout.write("".join(summary["paragraph"] + "\n" for summary in rolled.summaries))
        return 1 if rolled.problems else 0
    suffix = output.suffix.lower()
    if suffix == ".md":
        figure, items_figure = rollup_map(rolled), rollup_items_map(rolled)
        if figure is not None:
            atomic_write_bytes(picture, png_bytes(figure))
        if items_figure is not None:
            atomic_write_bytes(items_picture, png_bytes(items_figure))
        title = options.title or f"{cv.name}, by {options.by}"
        maps = (picture.name if figure else "", items_picture.name if items_figure else "")
        atomic_write_text(output, rollup_markdown(rolled.summaries, title, *maps))
    elif suffix == ".csv":
        atomic_write_text(output, rollup_csv(rolled.summaries))
    else:
        numbers = {"cv": str(cv), "by": options.by, "records": rolled.records, "groups": rolled.summaries}
        atomic_write_text(output, json.dumps(numbers, indent=2, ensure_ascii=False) + "\n")
    write_problems(errors, rolled.problems, "lines not counted")
    logger.info("%d groups of %d photos: %s", len(rolled.summaries), rolled.records, output)
    return 1 if rolled.problems else 0

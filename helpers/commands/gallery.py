"""`desclm gallery`: one page to look through described photos (`helpers.describer.gallery`).

desclm gallery described.jsonl --images photos/ --cv cv.jsonl --output gallery.html
"""

from __future__ import annotations

import json
import logging

from helpers.commands.parsing import SettingsParser
from helpers.describer.options import GalleryOptions

logger = logging.getLogger(__name__)


def main(argv: list[str], prog: str = "desclm gallery") -> int:
    parser = SettingsParser(
        GalleryOptions, prog=prog, description="Write an HTML page (and thumbnails) to look through described photos."
    )
    options, _ = parser.parse(argv)
    from helpers.core.paths import require_file, require_photos, resolve
    from helpers.describer.gallery import write_gallery

    try:
        counts = write_gallery(
            require_file(options.described, "Described rows", kind="file"),
            resolve(options.output),
            require_photos(
                options.images, "Photos (--images: a folder, a Hugging Face dataset, or s3://... in storage)"
            )
            if options.images
            else None,
            require_file(options.cv, "CV records (--cv)", kind="file") if options.cv else None,
            options.title,
            options.thumb_size,
            options.page_size,
            image_column=options.image_column,
            key_column=options.key_column,
            max_photos=options.max_photos,
            seed=options.seed,
            selection=options.selection,
            verdict=options.verdict,
        )
    except (OSError, ValueError) as error:
        parser.error(str(error))
    logger.info("gallery: %s", json.dumps(counts))
    return 1 if counts["problems"] else 0

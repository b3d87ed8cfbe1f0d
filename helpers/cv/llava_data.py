"""The photos a LLaVA-style training set names, as 01's images: its conversations' JSON array
(`[{"id", "image", "conversations"}, ...]`, as LLaVA, ShareGPT4V and LLaVA-OneVision write it).

    desclm extract --images llava_train.json --image_root /data/images ...

Each entry's `image` (a path, or a list of paths for an entry about several photos) is a photo,
relative to `image_root` (LLaVA's `--image_folder`), default the JSON's folder; its key is that path,
so the records join the entries by `image` again (`desclm check --captions llava_train.json`, a
LLaVA export). A photo named by several entries is listed once. Entries without a photo (text-only
conversations, which such sets mix in) are passed over and counted, as are entries whose `image` is
not a path. The file is read as a stream (`ijson`): 10^6 entries need not fit in memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from helpers.core.io import json_opening

logger = logging.getLogger(__name__)


def llava_images(path: Path, image_root: str | Path | None = None) -> tuple[Path, list[Path]]:
    """(the photos' root, each photo's path under it, in the entries' order, each once).

    Raises:
        ValueError: The file is not a JSON array of entries, or not valid JSON (naming where it stops).
    """
    import ijson

    if json_opening(path) != b"[":
        raise ValueError(f"{path}: not a JSON array of LLaVA entries")
    root = Path(image_root).resolve() if image_root else path.parent.resolve()
    try:
        named = _named(path, ijson, use_float=True)
    except ijson.JSONError:
        # the C parser stops at an integer beyond 64 bits or a float beyond a double (JSON that
        # json.loads reads): the file is read again with numbers as Decimal
        named = _named(path, ijson, use_float=False)
    if named.text_only:
        logger.info("%s: %d entries without a photo (text only) passed over", path, named.text_only)
    if named.not_paths:
        logger.warning(
            "%s: %d entries whose image is not a path passed over (the first: entry %d)",
            path,
            len(named.not_paths),
            named.not_paths[0],
        )
    return root, [Path(name) if Path(name).is_absolute() else root / name for name in dict.fromkeys(named.images)]


@dataclass
class _Named:
    images: list[str] = field(default_factory=list)  # each entry's photos, in order
    text_only: int = 0  # entries without a photo
    not_paths: list[int] = field(default_factory=list)  # entries whose `image` is not a path


def _named(path: Path, ijson, use_float: bool) -> _Named:
    """The file's entries' photos (see `llava_images`).

    Raises:
        ijson.JSONError: The C parser stopped (`use_float`).
        ValueError: Not valid JSON, naming the last entry read.
    """
    named, number = _Named(), 0
    with path.open("rb") as file:
        try:
            for number, entry in enumerate(ijson.items(file, "item", use_float=use_float), start=1):
                image = entry.get("image") if isinstance(entry, dict) else None
                paths = image if isinstance(image, list) else [image]
                if image is None:
                    named.text_only += 1
                elif all(isinstance(one, str) and one.strip() for one in paths):
                    named.images.extend(paths)
                else:
                    named.not_paths.append(number)
        except ijson.JSONError as error:
            if use_float:
                raise
            raise ValueError(f"{path}: not valid JSON after entry {number}: {error}") from None
    return named

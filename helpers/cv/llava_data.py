"""The photos a LLaVA-style training set names, as 01's images: its conversations' JSON array
(`[{"id", "image", "conversations"}, ...]`, as LLaVA, ShareGPT4V and LLaVA-OneVision write it), or
the same entries one per line (`.jsonl`).

    desclm extract --images llava_train.json --image_root /data/images ...

Entries in LLaMA-Factory's, ms-swift's and TRL's shape (`images`, a list, and `messages`), or naming their photos in
their turns (`{"type": "image", "image": "a.jpg"}`), are read alike (`helpers.core.chat_entries`).

Each entry's `image` (a path, or a list of paths for an entry about several photos) is a photo,
relative to `image_root` (LLaVA's `--image_folder`), default the JSON's folder; its key is that path,
so the records join the entries by `image` again (`desclm check --captions llava_train.json`, a
LLaVA export). A photo named by several entries is listed once. Entries without a photo (text-only
conversations, which such sets mix in) are passed over and counted, as are entries whose `image` is
not a path (or, in JSONL, a line that is not a JSON object). The file is read as a stream (`ijson`):
10^6 entries need not fit in memory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers.core.chat_entries import named_photos
from helpers.core.io import iter_jsonl, json_array_items, json_opening
from helpers.core.paths import key_under, photos_root
from helpers.core.remote import is_remote

logger = logging.getLogger(__name__)


def llava_images(path: Path, image_root: str | Path | None = None) -> tuple[Path, list[str]]:
    """(the photos' root, each photo's key: its path relative to the root, or absolute when outside
    it, in the entries' order, each once), from a JSON array of entries or a JSONL file of one entry
    per line. Keys are strings (no `Path` a photo: 10^6 entries would hold ~600 MB of them)."""
    root, names = _llava_names(path, image_root)
    if is_remote(root):  # photos in object storage: keys below the root; a photo outside it passed over, counted
        keys = [key for key in (key_under(str(root), name) for name in names) if key is not None]
        if len(keys) < len(names):
            logger.warning("%s: %d photos outside image_root %s passed over", path, len(names) - len(keys), root)
        return root, list(dict.fromkeys(keys))
    base = os.path.join(str(root), "")  # ends with the separator
    keys = []
    for name in names:
        absolute = os.path.abspath(os.path.join(base, name))  # as `Path(root, name)` resolved lexically
        inside = absolute.startswith(base)
        keys.append((absolute[len(base) :] if inside else absolute).replace(os.sep, "/"))
    return root, list(dict.fromkeys(keys))


def _llava_names(path: Path, image_root: str | Path | None) -> tuple[Path, list[str]]:
    """(the root, the entries' `image` paths as written, in order).

    Raises:
        ValueError: A `.json` file that is not a JSON array of entries, or not valid JSON (naming where
            it stops). In JSONL a line that cannot be read is passed over and counted, as a text-only one.
    """
    root = photos_root(image_root, path.parent)
    named = _Named()
    if path.suffix.lower() == ".jsonl":
        for line in iter_jsonl(path):
            if line.error is None:
                named.add(line.record, f"line {line.line_number}")
            else:
                named.passed_over.append(line.error)
    else:
        named = _named_array(path)
    if named.text_only:
        logger.info("%s: %d entries without a photo (text only) passed over", path, named.text_only)
    if named.passed_over:
        logger.warning(
            "%s: %d entries passed over, their image no path or unreadable (the first: %s)",
            path,
            len(named.passed_over),
            named.passed_over[0],
        )
    return root, named.images


@dataclass
class _Named:
    """What a file's entries name: their photos in order, and the entries passed over."""

    images: list[str] = field(default_factory=list)
    text_only: int = 0  # entries without a photo
    passed_over: list[str] = field(default_factory=list)  # entries whose `image` is no path, or unreadable

    def add(self, entry, where: str) -> None:
        image = named_photos(entry)[1] if isinstance(entry, dict) else None
        paths = image if isinstance(image, list) else [image]
        if image is None:
            self.text_only += 1
        elif all(isinstance(one, str) and one.strip() for one in paths):
            self.images.extend(paths)
        else:
            self.passed_over.append(f"{where}: its image is not a path")


def _named_array(path: Path) -> _Named:
    """The entries of a JSON array (`json_array_items`: read as a stream, numbers beyond the C parser's as Decimal).

    Raises:
        ValueError: Not a JSON array, or not valid JSON, naming the last entry read.
    """
    if json_opening(path) != b"[":
        raise ValueError(f"{path}: not a JSON array of LLaVA entries")
    named = _Named()
    for number, entry in enumerate(json_array_items(path), start=1):
        named.add(entry, f"entry {number}")
    return named

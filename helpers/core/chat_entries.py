"""What a vision-language training entry holds, however its tool names it: LLaVA's `image` and `conversations`
(`{"from": "gpt", "value": ...}` turns), or the `images` and `messages` of LLaMA-Factory's, ms-swift's and TRL's
files (`{"role": "assistant", "content": ...}` turns). Read by the photo lister (`helpers.cv.llava_data`) and by
`desclm check` (`helpers.describer.check`), so an entry is the same photo and caption to both."""

from __future__ import annotations

PHOTO_FIELDS = ("image", "images")  # LLaVA's (a path, or a list), then LLaMA-Factory's and ms-swift's (a list)
TURN_FIELDS = ("conversations", "messages")  # LLaVA's and ShareGPT's, then the chat format's


def photo_field(entry: dict) -> str | None:
    """The field naming the entry's photos (`PHOTO_FIELDS`, the first it has), None where it has neither (a
    text-only conversation)."""
    return next((name for name in PHOTO_FIELDS if name in entry), None)


def conversation(entry: dict):
    """The entry's turns (`TURN_FIELDS`, the first it has), None where it has neither."""
    return next((entry[name] for name in TURN_FIELDS if name in entry), None)

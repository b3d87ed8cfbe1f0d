"""What a vision-language training entry holds, however its tool names it: LLaVA's `image` and `conversations`
(`{"from": "gpt", "value": ...}` turns), the `images` and `messages` of LLaMA-Factory's, ms-swift's and TRL's
files (`{"role": "assistant", "content": ...}` turns), or photos named inside the turns as content parts
(`{"type": "image", "image": "a.jpg"}`, the form Qwen-VL's `process_vision_info` and Hugging Face chat templates
read). Read by the photo lister (`helpers.cv.llava_data`) and by `desclm check` (`helpers.describer.check`), so an
entry is the same photos and caption to both. An answer in ms-swift's grounding layout (`desclm export --format
grounded`) reads as its sentence (`grounded_text`); a grounding model's own answer (Qwen2-VL's tags, what a model
trained on that export writes; InternVL's, DeepSeek-VL2's, Kosmos-2's) reads as its sentence and each phrase's boxes
(`model_grounding`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PHOTO_FIELDS = ("image", "images")  # LLaVA's (a path, or a list), then LLaMA-Factory's and ms-swift's (a list)
TURN_FIELDS = ("conversations", "messages")  # LLaVA's and ShareGPT's, then the chat format's
PART_PHOTO_KEYS = ("image", "url", "path")  # where an image content part names its photo


def conversation(entry: dict):
    """The entry's turns (`TURN_FIELDS`, the first it has), None where it has neither."""
    return next((entry[name] for name in TURN_FIELDS if name in entry), None)


def named_photos(entry: dict) -> tuple[bool, object]:
    """(whether the entry names photos, what names them): its `PHOTO_FIELDS` value (the first it has: a path, a
    list, or whatever stands there), else the photos its turns' image parts name (a list: each part's path, or the
    part itself where it names none). (False, None): neither, or an empty list: a text-only conversation."""
    field = next((name for name in PHOTO_FIELDS if name in entry), None)
    if field is not None:
        return (False, None) if entry[field] == [] else (True, entry[field])
    turns = conversation(entry)
    contents = [turn.get("content") for turn in turns if isinstance(turn, dict)] if isinstance(turns, list) else []
    parts = [
        part
        for content in contents
        if isinstance(content, list)
        for part in content
        if isinstance(part, dict) and part.get("type") == "image"
    ]
    if not parts:
        return False, None
    return True, [
        next((part[key] for key in PART_PHOTO_KEYS if isinstance(part.get(key), str)), part) for part in parts
    ]


GROUNDING_REF, GROUNDING_BOX = "<ref-object>", "<bbox>"  # ms-swift's grounding tags, `objects` their phrases and boxes


def grounded_text(text: str, objects) -> str:
    """An answer in ms-swift's grounding layout as it reads: each `<ref-object>` its phrase (`objects["ref"]`, in
    order, as ms-swift's template writes them) and each `<bbox>` gone. An entry without `objects` phrases keeps its
    text as it is, and a tag past the last phrase stays (ms-swift leaves it too)."""
    refs = objects.get("ref") if isinstance(objects, dict) else None
    if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
        return text
    pieces = text.split(GROUNDING_REF)
    read = [pieces[0].replace(GROUNDING_BOX, "")]
    for number, piece in enumerate(pieces[1:]):
        read.append((refs[number] if number < len(refs) else GROUNDING_REF) + piece.replace(GROUNDING_BOX, ""))
    return "".join(read)


# A grounding model's own tags, as it writes them and ms-swift trains it from the grounded export: a phrase, then
# each of its boxes' corners in thousandths of the photo. Qwen2-VL's:
# `<|object_ref_start|>two cans<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`, a box a tag; InternVL's:
# `<ref>two cans</ref><box>[[x1, y1, x2, y2], [x1, y1, x2, y2]]</box>`, its boxes in one tag (Qwen-VL's the same
# tags, a box a tag, `(x1,y1),(x2,y2)`); DeepSeek-VL2's: `<|ref|>two cans<|/ref|><|det|>[[x1, y1, x2, y2],
# ...]<|/det|>`, its corners in 999ths (as its own drawing code and supervision read them); Kosmos-2's: `<phrase> two
# cans</phrase><object><patch_index_0044><patch_index_0863></object>`, a box its top-left and bottom-right cells of a
# 32 x 32 grid (boxes split by `</delimiter_of_multi_objects/>`), as transformers' Kosmos-2 processor reads them
MODEL_REF = re.compile(
    r"<\|object_ref_start\|>(.*?)<\|object_ref_end\|>|<ref>(.*?)</ref>|<\|ref\|>(.*?)<\|/ref\|>"
    r"|<phrase>([^<]*)</phrase>",
    re.DOTALL,
)
MODEL_BOX = re.compile(
    r"<\|box_start\|>(.*?)<\|box_end\|>|<box>(.*?)</box>|<\|det\|>(.*?)<\|/det\|>|<object>(.*?)</object>", re.DOTALL
)
KOSMOS_CELLS = 32  # Kosmos-2's grid: cells along each side
KOSMOS_CELL = re.compile(r"<patch_index_(\d+)>")
KOSMOS_START = "<grounding>"  # the prompt's token, left at the start of a decoded answer
MODEL_TAGS = ("<|object_ref_start|>", "<|box_start|>", "<ref>", "<box>", "<|ref|>", "<|det|>", "<phrase>", "<object>")
MODEL_TAGS += (KOSMOS_START,)
MODEL_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
MODEL_SCALE = 1000  # the boxes' corners: thousandths of the photo's width and height
DEEPSEEK_SCALE = 999  # DeepSeek-VL2's `<|det|>` corners: 0 .. 999 across the photo
DEEPSEEK_END = "<|end▁of▁sentence|>"  # DeepSeek's end token, left in a decoded answer


@dataclass(frozen=True)
class GroundedPhrase:
    """A phrase of a grounding model's answer and the boxes it gives it."""

    span: tuple[int, int]  # its characters in the sentence the tags stand in
    boxes: tuple[tuple[float, ...], ...]  # [x1, y1, x2, y2] in 0..1 of the photo, in the order written


def kosmos_box(top_left: int, bottom_right: int) -> tuple[float, float, float, float]:
    """A Kosmos-2 box from its top-left and bottom-right cells (`KOSMOS_CELLS` a side): from cell edge to cell edge
    where the two share a row or a column (or are one cell), else from cell middle to cell middle, as transformers'
    `patch_index_to_coordinate` reads them."""
    size = 1.0 / KOSMOS_CELLS
    left, top = top_left % KOSMOS_CELLS, top_left // KOSMOS_CELLS
    right, bottom = bottom_right % KOSMOS_CELLS, bottom_right // KOSMOS_CELLS
    if top_left == bottom_right or left == right or top == bottom:
        return left * size, top * size, right * size + size, bottom * size + size
    return left * size + size / 2, top * size + size / 2, right * size + size / 2, bottom * size + size / 2


def model_grounding(text: str) -> tuple[str, tuple[GroundedPhrase, ...]]:
    """A grounding model's answer (`MODEL_REF`, `MODEL_BOX`: Qwen2-VL's, InternVL's, DeepSeek-VL2's or Kosmos-2's
    tags) as the sentence it reads as (each phrase's tags gone, the phrase kept; the boxes gone) and each tagged
    phrase with the boxes written after it (four numbers a box, in thousandths, DeepSeek-VL2's in 999ths; a box tag
    whose numbers are no multiple of four gives its last box as read, too few; Kosmos-2's two cells a box,
    `kosmos_box`). Text without the tags is its own sentence, with no phrase."""
    if not any(tag in text for tag in MODEL_TAGS):
        return text, ()
    text = text.replace(DEEPSEEK_END, "").replace(KOSMOS_START, "")
    sentence, phrases, position = [], [], 0
    length = 0  # of the sentence so far
    for match in MODEL_REF.finditer(text):
        before = MODEL_BOX.sub("", text[position : match.start()])
        phrase = next(group for group in match.groups() if group is not None)
        sentence += [before, phrase]
        start, length = length + len(before), length + len(before) + len(phrase)
        boxes, position = [], match.end()
        while box := MODEL_BOX.match(text, position):
            inside = next(group for group in box.groups() if group is not None)
            position = box.end()
            if box.group(4) is not None:  # Kosmos-2's cells
                cells = [int(value) for value in KOSMOS_CELL.findall(inside)]
                boxes += [kosmos_box(*cells[i : i + 2]) for i in range(0, len(cells) - 1, 2)] or [()]
                continue
            scale = DEEPSEEK_SCALE if box.group(3) is not None else MODEL_SCALE
            numbers = [float(value) / scale for value in MODEL_NUMBER.findall(inside)]
            boxes += [tuple(numbers[i : i + 4]) for i in range(0, len(numbers), 4)] or [()]
        phrases.append(GroundedPhrase((start, length), tuple(boxes)))
    sentence.append(MODEL_BOX.sub("", text[position:]))
    return "".join(sentence), tuple(phrases)

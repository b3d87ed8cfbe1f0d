"""`desclm check`: captions written anywhere, checked against their CV records (`helpers.text.check`).

    desclm check --input cv.jsonl --captions captions.jsonl --output verdicts.jsonl [--lexicon words.yaml]
    desclm check --input cv.jsonl --captions llava.json --output verdicts.jsonl     # LLaVA conversations
    desclm check --input cv.jsonl --captions captions_coco.json --output verdicts.jsonl  # COCO captions

The captions come as they are kept (`captions_format`, by default told from the file):
- **jsonl**: one JSON object per line, its `caption_field` the caption (a conversation's answer where the
  field holds turns: `completion`), joined by its `id`, else its `image`; a line with `messages` and no such
  field is a chat conversation (TRL's, OpenAI's), read as a LLaVA entry (its `image`, or `images`); a line with
  `custom_id` and `response` (or `result`) is a request's result in the output file of OpenAI's Batch API or vLLM's
  `run-batch` (or Anthropic's Message Batches' results: a `custom_id` that is `anthropic_id`'s digest joined by
  digesting the records' ids), one with `key` and `response` (or `error`, `status`) in the
  Gemini Batch API's: each choice's message (each candidate's text) is a caption, joined by the `custom_id` (the
  `key`; `is_batch_output`; a failed request its error; one the server stopped at its token limit checked as it
  stands, its verdict saying `token_limit`);
- **llava**: LLaVA-style conversations (a JSON array, or one entry per line; LLaMA-Factory's, ms-swift's and
  TRL's `messages` and `images` alike, `helpers.core.chat_entries`): each entry's first
  answer (`from: gpt`, or `role: assistant`) is the caption, joined by the entry's `image` (or, when
  no record has that name, by it without its extension: the key of a dataset photo `desclm export
  --image_folder` wrote as `train/17.png`); an entry with `data` and `annotations` is a Label Studio task
  (its JSON export, after people reviewed `desclm export --format label_studio`'s tasks): each annotation's
  description (its `textarea` result) is a caption, joined by the task's `data.photo_id` (else `data.id`,
  `data.image`), a cancelled annotation passed over, a task no annotation describes a line saying so
  (`unreviewed`); an entry of its JSON-MIN export (each annotation's data and results merged, with its
  `annotation_id`) likewise, its `description` joined by its `photo_id`;
- **coco**: COCO captions (`images` with `file_name`, `annotations` with `image_id` and
  `caption`): each annotation's caption, joined by its photo's `file_name`;
- **csv**: a `.csv` (or tab-separated `.tsv`) with a header: each row's `caption_field` column, joined by its
  `id` column, else `image`; Label Studio's CSV export is read as its JSON-MIN export;
- **webdataset**: tar shards (a `.tar`, or a folder of them: `helpers.core.tar_photos`): each
  sample's `.txt`, joined by its `.json`'s `id` (`desclm export --format webdataset`), else by its
  photo's key as 01 names a photo in a shard (`00000.tar/000000042.jpg`);
- **parquet**: a Parquet file or a folder of them (a Hugging Face dataset's shards, `desclm export
  --format hf`'s `parquet/`): each row's `caption_field` (a list's first caption, a conversation's answer:
  `--caption_field completion` on `desclm export --chat`'s shards), joined by its `id`, else its `image` (a
  photo column's stored path, as 01 named the photos it read from such a dataset).
JSON files are read as a stream (`ijson`), Parquet a record batch at a time, CSV a row: never whole.

A caption in a grounding model's own tags (Qwen2-VL's, as a model trained on `desclm export --format grounded`
answers: `<|object_ref_start|>two cans<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>...`; InternVL's
`<ref>two cans</ref><box>[[x1, y1, x2, y2], ...]</box>`; boxes in thousandths; DeepSeek-VL2's and Kosmos-2's:
`helpers.core.chat_entries.model_grounding`) is checked as the sentence they stand in, and each phrase's boxes against
the detections it speaks for (`misplaced_box`, `box_count`: `helpers.text.check`); its verdict counts its `boxes` and
lists them (`given`: each with its phrase's category and the detection it lies on, `item`, null where misplaced),
and the summary the grounded captions' boxes, how many were placed and how many of their records' items were boxed
(`grounded`; per category, `by_category`'s `box_precision` and `box_recall`). An answer listing boxes or points
(Florence-2's or PaliGemma's location tokens, Molmo's points, Gemini's JSON, Qwen's JSON: `[{"bbox_2d": [...],
"label": ...}]`, its corners in `units`: `helpers.core.answer_boxes`) is checked by its labels' counts and its boxes
(`helpers.text.check.check_listed`), its verdict's `caption` the sentence that lists them; one that cannot be read (an
entry without four numbers or a label, pixels of a photo whose record has no size) is its error line; JSON cut short
(a list that ends before it closes: a token limit) is checked by its whole entries, its verdict saying `cut_short`
(one cut before its first whole entry is its error line).

Each caption gets one output line, in order: {"id", "faithful", "findings", "caption"} (each finding with its
kind, category, the record's and the caption's value, and its characters in `caption`, the sentence checked;
`entry`: the LLaVA entry's or COCO annotation's id: `desclm gallery` shows such a file's captions with their
findings), or {"id", "error"} when the line or entry cannot be read, has no caption,
or no CV record has its id, or {"id", "skipped"} for a LLaVA entry without `image` (nor `images`, or with an
empty list: a text-only conversation, about no photo, counted as `text_only`, no error) or with several
(LLaVA-OneVision's multi-image conversations: a CV record is one photo's, counted as `multi_image`; a list of one
is that photo); a JSON file broken part-way ends
with one error line saying after which entry. A labelled photo's caption (its record's `ground_truth`) is also
compared with its labels (`_against_labels`: its verdict's `labels`, as 04's truth report compares). A summary (how
many faithful, findings per kind, and per category of the records: `CategoryTally`; of labelled photos, how many
captions are true to their labels) goes to `<output stem>.summary.json`. The CV records are joined
by their `id`, else their `image` (01's records), as `desclm describe` names its output lines.
Neither file is held in memory: the CV records' ids and where each line starts go to an SQLite table
in a temporary folder beside the output (removed after, `helpers.core.lines`), and the verdicts
are written as they come, so 10^7 captions check in flat memory, in any order against the records.
The captions are checked on worker processes (`workers`, `check_workers`), blocks of `CHECK_BLOCK`
in order, and a stopped run (killed, a full disk) resumes after the lines it wrote when run again
with the same inputs and settings (`helpers.core.records.ResumableOutput`).
"""

from __future__ import annotations

import csv
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from itertools import islice
from pathlib import Path, PurePosixPath

from helpers.core.answer_boxes import (
    BOX_UNITS,
    JSON_BOX,
    JSON_POINT,
    AnswerError,
    AnswerUnits,
    cut_short,
    is_listed_answer,
    listed_boxes,
    lists_boxes,
    record_size,
)
from helpers.core.chat_entries import conversation, grounded_text, model_grounding, named_photos
from helpers.core.contract import Policy
from helpers.core.device import worker_processes
from helpers.core.io import atomic_write_text, json_opening
from helpers.core.label_studio_exports import MIN_COLUMNS, is_min_entry
from helpers.core.lines import LineIndex
from helpers.core.logs import progress
from helpers.core.outputs import check_writes, lock_path, partial_paths
from helpers.core.photo_datasets import IMAGE_SUFFIXES
from helpers.core.records import (
    ResumableOutput,
    chunks,
    file_stamp,
    input_line,
    is_stream,
    json_line,
    json_safe,
    read_lines,
)
from helpers.core.tar_photos import is_tar_shards, keyed_shards, read_member, sample_of, shard_files, shard_members
from helpers.core.workers import WorkerPool
from helpers.describer.batch_requests import HASHED_ID, anthropic_id, id_text
from helpers.describer.options import CAPTION_FORMATS, DEFAULT_CHECK_WORKERS
from helpers.describer.truth import LABELS_UNREADABLE, compare, truth_facts
from helpers.text.check import FINDINGS, CaptionCheck, check_caption, check_listed
from helpers.text.grammar import RecordError

logger = logging.getLogger(__name__)


def summary_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.summary.json")


class RecordIndex:
    """The CV records by id, not held in memory (`helpers.core.lines`): each caption reads its
    record with one seek, in any order, several captions per record or none. Unreadable lines and
    repeated ids are counted, not joined (a repeated id joins its first record)."""

    def __init__(self, path: Path, scratch: Path) -> None:
        self.index, self.problems = LineIndex(scratch), Counter()
        self.path, self.scratch, self.digests = path, scratch, None  # digests: the ids' `anthropic_id`s, when asked
        try:
            added = self.index.add(path, self._key)
        except BaseException:  # a read error, an interrupt: nothing left open for the collector
            self.close()
            raise
        self.records = added.lines
        if added.repeated:
            self.problems["repeated CV ids"] = added.repeated

    def _key(self, number: int, raw: bytes) -> str | None:
        line = input_line(number, raw)
        if line.error:
            self.problems["unreadable CV lines"] += 1
            return None
        return json.dumps(line.id)

    def get(self, key: str) -> dict | None:
        raw = self.index.get(key)
        return None if raw is None else input_line(0, raw).record

    def joined(self, key, stem: str | None = None) -> dict | None:
        """The CV record a caption is about: by its key, else by `stem`, its photo's name without the extension."""
        record = self.get(json.dumps(key))
        if record is None and stem is not None:
            record = self.get(json.dumps(stem))
        return record

    def hashed(self, custom_id: str) -> tuple[object, dict] | None:
        """The id and record whose id Anthropic's custom_id `custom_id` is the digest of (`anthropic_id`), or None;
        the records' digests are indexed the first time one is asked for (one more pass over them)."""
        if self.digests is None:
            logger.info("indexing %s by its ids' digests, as anthropic_batch requests name them", self.path.name)
            (self.scratch / "digests").mkdir()
            self.digests = LineIndex(self.scratch / "digests")
            self.digests.add(self.path, _digest_key)
        raw = self.digests.get(custom_id)
        if raw is None:
            return None
        line = input_line(0, raw)
        return line.id, line.record

    def close(self) -> None:
        self.index.close()
        if self.digests is not None:
            self.digests.close()


def _digest_key(number: int, raw: bytes) -> str | None:
    """A CV line's key in `RecordIndex.hashed`'s index: the digest its id's request names (`anthropic_id`)."""
    line = input_line(number, raw)
    return None if line.error else anthropic_id(id_text(line.id))


ANSWERING = ("gpt", "assistant")  # who answers in a LLaVA (`from`) or chat (`role`) conversation
TEXT_ONLY = "text only: the entry names no photo"  # a LLaVA entry without `image`: passed over, counted
MULTI_IMAGE = "several photos: a record is one photo's"  # a LLaVA entry with a list of images: passed over, counted
UNREVIEWED = "not reviewed: no annotation of the task writes a description"  # a Label Studio task: counted
SKIPPED = {TEXT_ONLY: "text_only", MULTI_IMAGE: "multi_image", UNREVIEWED: "unreviewed"}  # the summary's counts
DESCRIPTION = "description"  # the text control `desclm export --format label_studio`'s config names


@dataclass(frozen=True)
class CaptionLine:
    """One caption to check: its text and the id of the CV record it is about, or why it cannot be read."""

    where: str  # "line 3", "entry 3", "annotation 3": for messages
    text: str | None
    key: object  # the CV record's id (or image) it is joined by; the output line's id
    error: str | None = None
    entry: object = None  # a LLaVA entry's or COCO annotation's own id, for the output line
    # tried when `key` joins nothing: a photo file's name without its extension (the key of a dataset photo that
    # `desclm export --image_folder` wrote as a file: `train/17` -> `train/17.png`), a CSV cell's number
    stem: object = None
    skipped: str | None = None  # why it is no caption of a photo (a LLaVA entry without one: text only)
    token_limit: bool = False  # the server stopped its answer at the token limit (a batch output's finish_reason)


def photo_stem(name: str) -> str | None:
    """A photo's name without its extension, the key of a dataset's photo an export wrote as a file (`train/17.png`
    for the key `train/17`), else None."""
    stem = str(PurePosixPath(name).with_suffix("")) if PurePosixPath(name).suffix else None
    return stem if stem != name else None


def captions_format(path: Path) -> str:
    """The format of a captions file: tar shards (a `.tar`, or a folder of them) are WebDataset; a
    folder of `.jsonl` files is JSONL (`jsonl_parts`: a batch's output files), another folder or a `.parquet` file is
    Parquet; a `.csv` or `.tsv` file CSV; a `.json` file opening
    with `[` is LLaVA, with `{` COCO captions; anything else JSONL (whose LLaVA entries are read as
    such, line by line)."""
    if is_tar_shards(path, IMAGE_SUFFIXES):  # before Parquet: img2dataset puts Parquet beside its shards
        return "webdataset"
    if path.is_dir() and jsonl_parts(path) and not any(path.rglob("*.parquet")):  # a batch's output files
        return "jsonl"
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return "parquet"
    if path.suffix.lower() in (".csv", ".tsv"):
        return "csv"
    if path.suffix.lower() != ".json":
        return "jsonl"
    return "coco" if json_opening(path) == b"{" else "llava"


def _answer(conversation) -> str | None:
    """A LLaVA entry's first answer: `{"from": "gpt", "value": ...}` or `{"role": "assistant", "content": ...}`
    (the content a text, or a list of parts whose `text` parts are joined)."""
    for turn in conversation if isinstance(conversation, list) else []:
        if isinstance(turn, dict) and (turn.get("from") or turn.get("role")) in ANSWERING:
            said = turn.get("value", turn.get("content"))
            if isinstance(said, list):
                said = " ".join(p["text"] for p in said if isinstance(p, dict) and isinstance(p.get("text"), str))
            return said if isinstance(said, str) else None
    return None


def _text(value) -> str | None:
    """A caption field's text: a text; a list of captions' first (`desclm export`'s `captions`); a conversation's
    answer (`_answer`: `desclm export --chat`'s `completion`, a chat's `messages`); boxes kept as JSON (Qwen's or
    Gemini's entries, Florence-2's post-processed answer: `helpers.core.answer_boxes`) as their JSON text."""
    if lists_boxes(value):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and value and all(isinstance(turn, dict) for turn in value):
        return _answer(value)
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, str) else None


def _llava_line(where: str, number: int, entry) -> CaptionLine:
    """One LLaVA entry's caption (`number`: its place, the id of an entry that has none to give)."""
    if not isinstance(entry, dict):
        return CaptionLine(where, None, number, f"{where}: not a JSON object")
    name = json_safe(entry.get("id"))
    named, image = named_photos(entry)  # `image`, `images` (LLaMA-Factory's, ms-swift's), or in the turns
    if not named:  # a text-only conversation, which LLaVA sets mix in: about no photo
        return CaptionLine(where, None, number if name is None else name, None, name, skipped=TEXT_ONLY)
    if isinstance(image, list) and len(image) > 1 and all(isinstance(one, str) and one for one in image):
        return CaptionLine(where, None, number if name is None else name, None, name, skipped=MULTI_IMAGE)
    if isinstance(image, list) and len(image) == 1:
        image = image[0]
    if not isinstance(image, str) or not image:
        return CaptionLine(where, None, number if name is None else name, f"{where}: no 'image' naming one photo", name)
    text = _answer(conversation(entry))
    if text is None:
        return CaptionLine(where, None, image, f"{where}: no answer (from gpt) in its conversations", name)
    text = grounded_text(text, entry.get("objects"))  # ms-swift's grounding tags: the sentence they stand in
    return CaptionLine(where, text, image, None, name, photo_stem(image))


def _is_task(entry) -> bool:
    """Whether a JSON entry is a Label Studio task: its `data`, with its annotations (its JSON export) or only
    predictions (the tasks as imported, none reviewed)."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("data"), dict)
        and any(isinstance(entry.get(name), list) for name in ("annotations", "predictions"))
    )


def _task_lines(where: str, number: int, task: dict) -> Iterator[CaptionLine]:
    """A Label Studio task's captions: each annotation's description (its `textarea` result named `description`,
    else its only one; lines of one result joined by a space), joined by `data.photo_id` (`desclm export`'s tasks;
    older ones: `data.id`), else `data.image`; the entry of each the annotation's id. Cancelled annotations are
    passed over; a task none describes is `UNREVIEWED`."""
    data = task["data"]
    key = json_safe(next((data[name] for name in ("photo_id", "id", "image") if data.get(name) is not None), None))
    if key is None:
        yield CaptionLine(where, None, number, f"{where}: no data.photo_id (or data.id, data.image) naming its photo")
        return
    said = False
    annotations = task.get("annotations")
    for place, annotation in enumerate(annotations if isinstance(annotations, list) else [], start=1):
        if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
            continue
        texts = [r for r in annotation.get("result") or [] if isinstance(r, dict) and r.get("type") == "textarea"]
        named = [r for r in texts if r.get("from_name") == DESCRIPTION] or (texts if len(texts) == 1 else [])
        if not named:
            continue
        said = True
        text = (named[0].get("value") or {}).get("text")
        name = json_safe(annotation.get("id", place))
        if isinstance(text, list) and text and all(isinstance(line, str) for line in text):
            yield CaptionLine(f"{where}, annotation {name}", " ".join(text), key, None, name, photo_stem(str(key)))
        else:
            yield CaptionLine(where, None, key, f"{where}, annotation {name}: its description holds no text", name)
    if not said:
        yield CaptionLine(where, None, key, None, None, skipped=UNREVIEWED)


def _min_line(where: str, number: int, entry: dict, cells: bool = False) -> CaptionLine:
    """One annotation of a Label Studio JSON-MIN export (`cells`: a CSV export's row, every value text): its
    `description` the caption, joined by `photo_id` (the task's data as `desclm export` writes it; these exports
    write Label Studio's own task id as `id`), the entry its `annotation_id`; a task no one annotated (no
    annotation id), or an annotation without a description, is `UNREVIEWED`."""
    name = json_safe(entry.get("annotation_id"))
    name = None if name == "" else name
    key = json_safe(entry.get("photo_id"))
    if key is None or key == "":
        problem = (
            f"{where}: no photo_id naming its photo (Label Studio's JSON-MIN and CSV exports write its own task id as "
            "`id`, in place of older desclm tasks' data.id): export the project as JSON"
        )
        return CaptionLine(where, None, number, problem, name)
    other = _as_number(key) if cells else None
    value = entry.get(DESCRIPTION)
    if cells and isinstance(value, str) and value.startswith(("{", "[")):
        try:  # a description of several lines (or results) is a JSON cell: {"text": [...]}
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, list) and value:
        value = value[0]  # several description results: the first, as the JSON export's reading takes
    if isinstance(value, dict) and isinstance(value.get("text"), list):
        value = " ".join(line for line in value["text"] if isinstance(line, str))
    if name is None or value is None or value == "":
        return CaptionLine(where, None, key, None, name, other, skipped=UNREVIEWED)
    if not isinstance(value, str):
        return CaptionLine(where, None, key, f"{where}: its description holds no text", name)
    return CaptionLine(f"{where}, annotation {name}", value, key, None, name, other)


def _as_number(cell) -> int | None:
    """A CSV cell's id as the number it writes, None if none: a cell is text, and a record whose id is a number
    joins by that number."""
    return int(cell) if isinstance(cell, str) and cell.isascii() and cell.isdigit() else None


def _csv_captions(path: Path, caption_field: str) -> Iterator[CaptionLine]:
    """Each CSV (`.tsv`: tab-separated) row's caption, its `caption_field` column, joined by its `id`, else its
    `image` column (a number's text joins a record whose id is that number too); Label Studio's CSV export (its
    `annotation_id` and `lead_time` columns) is read as its JSON-MIN export is (`_min_line`). Read a row at a
    time; a row the CSV reader cannot read ends the file with one error line.

    Raises:
        ValueError: A header without the caption column, nor Label Studio's (checked before any work).
    """
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # a cell of many boxes outgrows the 128 KB default
    try:
        header = next(csv.reader(_text_lines(path), delimiter=delimiter), [])
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: its header is not readable as CSV: {error}") from None
    studio = all(name in header for name in MIN_COLUMNS)
    if not studio and caption_field not in header:
        raise ValueError(f"{path}: no column {caption_field!r} (caption_field); it has {header}")

    def lines() -> Iterator[CaptionLine]:
        number = 0
        rows = csv.DictReader(_text_lines(path), delimiter=delimiter)
        try:
            for number, row in enumerate(rows, start=1):
                yield _csv_line(number, row, caption_field, studio)
        except (csv.Error, UnicodeDecodeError) as error:
            problem = f"{path}: not readable as CSV after row {number}: {error}; the rest is not read"
            yield CaptionLine(f"row {number + 1}", None, None, problem)

    return lines()


def _text_lines(path: Path) -> Iterator[str]:
    """A UTF-8 file's lines (a byte order mark dropped), each decoded alone: a byte that is no UTF-8 fails at
    its own line, not at the text buffered before it."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")


def _csv_line(number: int, row: dict, caption_field: str, studio: bool) -> CaptionLine:
    where = f"row {number}"
    if studio:
        return _min_line(where, number, row, cells=True)
    key = next((row[name] for name in ("id", "image") if row.get(name)), number)
    other = _as_number(key)
    text = row.get(caption_field)
    if not text:
        return CaptionLine(where, None, key, f"{where}: no {caption_field!r} text", None, other)
    return CaptionLine(where, text, key, None, None, other)


def is_batch_output(entry) -> bool:
    """Whether a JSON line is a request's result in a batch's output file: the OpenAI Batch API's (or error file's),
    as OpenAI's Batch API, vLLM's `run-batch` and other servers of that API write them (its `custom_id`, and its
    `response` or `error`), Anthropic's Message Batches' results (its `custom_id` and `result`), or the Gemini Batch
    API's output file (`is_gemini_output`)."""
    keyed = isinstance(entry, dict) and isinstance(entry.get("custom_id"), str)
    return (keyed and any(name in entry for name in ("response", "error", "result"))) or is_gemini_output(entry)


def is_gemini_output(entry) -> bool:
    """Whether a JSON line is a request's result in the Gemini Batch API's output file: its request's `key`, and its
    `response` (a `GenerateContentResponse`) or why none (`error`; or `status`, a google.rpc.Status, or a text as
    Vertex AI's batch output says why); a line echoing its `request` without a `key` is one too, joined to none."""
    keyed = isinstance(entry, dict) and (isinstance(entry.get("key"), str) or "request" in entry)
    return keyed and any(name in entry for name in ("response", "error", "status"))


def _failure(entry: dict) -> str | None:
    """Why a batch request gave no answer (its `error`, its response's error or HTTP status), or None."""
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    body = response.get("body") if isinstance(response.get("body"), dict) else {}
    error = entry.get("error") or body.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else None
        return str(message or error)
    if not response:
        return "no response"
    status = response.get("status_code", 200)
    return None if status == 200 else f"HTTP status {status}"


def _batch_lines(where: str, entry: dict) -> Iterator[CaptionLine]:
    """A batch request's captions (`is_batch_output`): its response's choices' messages (several with `n`), joined by
    its `custom_id` (the id of its photo's record: a photo's key, or an id's JSON text, `17`, tried as that id); a
    failed request, or a choice without a text, is its error line naming why."""
    key = entry["custom_id"] if isinstance(entry.get("custom_id"), str) else entry.get("key")
    if not isinstance(key, str):  # a batch output echoing its requests, whose key was not kept
        yield CaptionLine(where, None, None, f"{where}: a batch result without its request's key: joined to no record")
        return
    try:
        parsed = json.loads(key)
    except ValueError:
        parsed = None
    stem = parsed if parsed is not None and not isinstance(parsed, str) else photo_stem(key)
    if "custom_id" not in entry:  # Gemini's: its candidates, or why none
        yield from _gemini_lines(where, key, stem, entry)
        return
    if "result" in entry:  # Anthropic's: one message, or why none
        yield _message_line(where, key, stem, entry["result"])
        return
    if why := _failure(entry):
        yield CaptionLine(where, None, key, f"{where}: the request gave no answer: {why}", stem=stem)
        return
    choices = (entry["response"].get("body") or {}).get("choices")
    if not isinstance(choices, list) or not choices:
        yield CaptionLine(where, None, key, f"{where}: its response holds no choices", stem=stem)
        return
    for number, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        text = _answer([{"role": "assistant", **message}]) if isinstance(message, dict) else None
        entry_id = f"choice {number}" if len(choices) > 1 else None
        if not isinstance(text, str):
            refused = message.get("refusal") if isinstance(message, dict) else None
            why = f"the model refused: {refused}" if isinstance(refused, str) else "no message text"
            yield CaptionLine(where, None, key, f"{where}: choice {number}: {why}", entry_id, stem)
        else:
            stopped = choice.get("finish_reason") == "length"  # at the request's max tokens: the rest not said
            yield CaptionLine(where, text, key, None, entry_id, stem, token_limit=stopped)


def _message_line(where: str, key: str, stem, result) -> CaptionLine:
    """An Anthropic Message Batches result's caption: its message's text blocks joined (`_answer`), stopped at the
    request's `max_tokens` or not; a result that did not succeed (errored, canceled, expired) its error line."""
    result = result if isinstance(result, dict) else {}
    if result.get("type") != "succeeded":
        error = result.get("error") if isinstance(result.get("error"), dict) else {}
        inner = error.get("error") if isinstance(error.get("error"), dict) else error
        why = inner.get("message") or result.get("type") or "no result type"
        return CaptionLine(where, None, key, f"{where}: the request gave no answer: {why}", stem=stem)
    message = result.get("message") if isinstance(result.get("message"), dict) else {}
    text = _answer([{"role": "assistant", "content": message.get("content")}])
    if not isinstance(text, str):
        return CaptionLine(where, None, key, f"{where}: its message holds no text", stem=stem)
    return CaptionLine(where, text, key, stem=stem, token_limit=message.get("stop_reason") == "max_tokens")


GEMINI_ANSWERED = ("STOP", "MAX_TOKENS")  # a Gemini candidate's finishReasons that leave its answer as said


def _camel(entry: dict, name: str):
    """A Gemini response's field by its JSON name (`finishReason`) or the Python SDK's dump of it (`finish_reason`)."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return entry.get(name, entry.get(snake))


def _gemini_lines(where: str, key: str, stem, entry: dict) -> Iterator[CaptionLine]:
    """A Gemini Batch API result's captions (`is_gemini_output`): each candidate's text parts joined (a thought part
    aside; several candidates with `candidateCount`, `entry: "candidate n"`), one stopped at `maxOutputTokens`
    checked as it stands; a failed request (its `error` or `status`), a blocked prompt, or a candidate stopped for
    another reason (SAFETY, RECITATION, ...) or without text its error line naming why."""
    status = entry.get("error") or entry.get("status")  # a google.rpc.Status, or Vertex AI's text (empty: fine)
    why = (status.get("message") or status.get("code")) if isinstance(status, dict) else status  # (code 0: OK)
    if why:
        yield CaptionLine(where, None, key, f"{where}: the request gave no answer: {why}", stem=stem)
        return
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    blocked = _camel(_camel(response, "promptFeedback") or {}, "blockReason")
    if blocked:
        why = f"its prompt was blocked ({blocked})"
        yield CaptionLine(where, None, key, f"{where}: the request gave no answer: {why}", stem=stem)
        return
    candidates = response.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        yield CaptionLine(where, None, key, f"{where}: its response holds no candidates", stem=stem)
        return
    for number, candidate in enumerate(candidates):
        candidate = candidate if isinstance(candidate, dict) else {}
        parts = (candidate.get("content") or {}).get("parts") if isinstance(candidate.get("content"), dict) else None
        said = [p["text"] for p in parts or () if isinstance(p, dict) and isinstance(p.get("text"), str)
                and not p.get("thought")]  # fmt: skip
        reason = _camel(candidate, "finishReason")
        entry_id = f"candidate {number}" if len(candidates) > 1 else None
        if reason not in (None, *GEMINI_ANSWERED) or not said:
            why = f"stopped for {reason}" if reason not in (None, *GEMINI_ANSWERED) else "no text"
            yield CaptionLine(where, None, key, f"{where}: candidate {number}: {why}", entry_id, stem)
        else:
            yield CaptionLine(where, "".join(said), key, None, entry_id, stem, token_limit=reason == "MAX_TOKENS")


def jsonl_parts(folder: Path) -> list[Path]:
    """A folder's `.jsonl` files, in name order (a batch's output files, one per part: `requests-00000.jsonl`, ...)."""
    return sorted(folder.glob("*.jsonl"))


def _jsonl_captions(path: Path, caption_field: str) -> Iterator[CaptionLine]:
    """The captions of a JSONL file, or of a folder's JSONL files one after another (`jsonl_parts`: each line named by
    its file)."""
    if path.is_dir():
        for part in jsonl_parts(path):
            yield from _jsonl_file_captions(part, caption_field, f"{part.name} ")
        return
    yield from _jsonl_file_captions(path, caption_field)


def _jsonl_file_captions(path: Path, caption_field: str, named: str = "") -> Iterator[CaptionLine]:
    for line in read_lines(path):
        where = f"{named}line {line.number}"
        if line.error:
            yield CaptionLine(where, None, line.id, line.error)
        elif caption_field not in line.record and is_batch_output(line.record):  # OpenAI's, vLLM's, Anthropic's...
            yield from _batch_lines(where, line.record)
        elif caption_field not in line.record and _is_task(line.record):  # a Label Studio task per line
            yield from _task_lines(where, line.number, line.record)
        elif caption_field not in line.record and is_min_entry(line.record):  # a JSON-MIN annotation per line
            yield _min_line(where, line.number, line.record)
        elif caption_field not in line.record and conversation(line.record) is not None:  # LLaVA's, a chat's
            yield _llava_line(where, line.number, line.record)
        elif not isinstance(text := _text(line.record.get(caption_field)), str):
            yield CaptionLine(where, None, line.id, f"{where}: no {caption_field!r} text")
        else:
            yield CaptionLine(where, text, line.id)


def _json_items(path: Path, prefix: str, what: str) -> Iterator[tuple[str, int, object]]:
    """(`what` and its number, the number, item) for the items under `prefix` of a JSON file, read as a
    stream; a file broken part-way ends with a ValueError as the item, naming the last one read.

    The C parser's floats are fast, but it stops at an integer beyond 64 bits or a float beyond a
    double's range (1e400), JSON that `json.loads` reads: where the read stops, the file is read
    again with numbers as Decimal, then float (`_with_floats`: 0.55x to 0.69x as fast,
    docs/measurements/check_json_numbers_cpu.json), from the item after the last one given."""
    import ijson

    given = 0  # items given so far
    for use_float in (True, False):
        number = 0
        with path.open("rb") as file:
            try:
                for number, item in enumerate(ijson.items(file, prefix, use_float=use_float), start=1):
                    if number > given:
                        yield f"{what} {number}", number, item if use_float else _with_floats(item)
                        given = number
                return
            except ijson.JSONError as error:
                if use_float:
                    continue  # read again with Decimals: the error is said if it is not the C parser's range
                problem = f"{path}: not valid JSON after {what} {number}: {error}; the rest is not read"
                yield f"{what} {number + 1}", number + 1, ValueError(problem)


def _with_floats(item):
    """The item with each Decimal in it a float, as `json.loads` reads numbers (1e400 is inf), in place;
    a loop, not recursion: an item may nest deeper than Python recurses."""
    if isinstance(item, Decimal):
        return float(item)
    nested = [item]
    while nested:
        value = nested.pop()
        pairs = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, inner in pairs:
            if isinstance(inner, Decimal):
                value[key] = float(inner)  # a value replaced, no key added: the walk goes on
            elif isinstance(inner, dict | list):
                nested.append(inner)
    return item


def _llava_captions(path: Path) -> Iterator[CaptionLine]:
    for where, number, entry in _json_items(path, "item", "entry"):
        if isinstance(entry, ValueError):
            yield CaptionLine(where, None, None, str(entry))
        elif _is_task(entry):
            yield from _task_lines(where, number, entry)
        elif is_min_entry(entry):
            yield _min_line(where, number, entry)
        else:
            yield _llava_line(where, number, entry)


def _webdataset_captions(path: Path) -> Iterator[CaptionLine]:
    """Each sample's `.txt` caption, in shard and member order, joined by its `.json`'s `id` (as
    `desclm export --format webdataset` writes it), else by its photo's key as 01 names a photo in a
    shard (`00000.tar/000000042.jpg`: records extracted from the same shards, an img2dataset download's
    alt-texts checked against them). A sample without a caption, or with nothing to join by, is one
    error line; a shard cut short, its samples up to the cut checked and one line saying so."""
    for shard, prefix in keyed_shards(path):
        members, problem = shard_members(shard)
        samples: dict[str, dict[str, tuple[str, int]]] = {}  # sample key -> extension -> (member, offset)
        for name, offset in members:
            key, extension = sample_of(name)
            samples.setdefault(key, {})[extension.lower()] = (name, offset)
        for key, files in samples.items():
            yield _webdataset_line(shard, f"{prefix}/{key}", prefix, files)
        if problem:
            yield CaptionLine(prefix, None, prefix, f"{shard}: not read past its {len(samples)} samples: {problem}")


def _webdataset_line(shard: Path, where: str, prefix: str, files: dict[str, tuple[str, int]]) -> CaptionLine:
    """One sample's caption line (see `_webdataset_captions`)."""
    photo = next((name for extension, (name, _) in files.items() if f".{extension}" in IMAGE_SUFFIXES), None)
    key = f"{prefix}/{photo}" if photo else None
    try:
        about = json.loads(read_member(shard, files["json"][1])) if "json" in files else None
        if isinstance(about, dict) and about.get("id") is not None:
            key = json_safe(about["id"])
        if "txt" not in files:
            return CaptionLine(where, None, key or where, f"{where}: no .txt caption", where)
        text = read_member(shard, files["txt"][1]).decode("utf-8")
    except (OSError, ValueError) as error:  # a cut member, a .json or .txt that is not what it says
        return CaptionLine(where, None, key or where, f"{where}: {type(error).__name__}: {error}", where)
    if key is None:
        return CaptionLine(where, None, where, f"{where}: no photo, and no .json id, to join a record by", where)
    return CaptionLine(where, text, key, None, where)


def _coco_captions(path: Path) -> Iterator[CaptionLine]:
    """The annotations' captions, each keyed by its photo's `file_name` (the images are read first)."""
    names: dict = {}
    for where, _, image in _json_items(path, "images.item", "image"):
        if isinstance(image, ValueError):
            yield CaptionLine(where, None, None, str(image))
            return
        if isinstance(image, dict) and image.get("id") is not None and isinstance(image.get("file_name"), str):
            names[json_safe(image["id"])] = image["file_name"]
    for where, number, annotation in _json_items(path, "annotations.item", "annotation"):
        if isinstance(annotation, ValueError) or not isinstance(annotation, dict):
            problem = str(annotation) if isinstance(annotation, ValueError) else f"{where}: not a JSON object"
            yield CaptionLine(where, None, None if isinstance(annotation, ValueError) else number, problem)
            continue
        name, photo = json_safe(annotation.get("id")), names.get(json_safe(annotation.get("image_id")))
        if photo is None:
            problem = f"{where}: image_id {annotation.get('image_id')!r} is no image's"
            yield CaptionLine(where, None, name, problem, name)
        elif not isinstance(annotation.get("caption"), str):
            yield CaptionLine(where, None, photo, f"{where}: no 'caption' text", name)
        else:
            yield CaptionLine(where, annotation["caption"], photo, None, name, photo_stem(photo))


def _parquet_captions(path: Path, caption_field: str) -> Iterator[CaptionLine]:
    """Each Parquet row's caption, keyed by its `id`, else its `image` (a photo column's stored path).

    Raises:
        ValueError: No Parquet file, or the first has no `caption_field` column (checked before any work).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no Parquet files in this folder")
    try:
        names = pq.read_schema(files[0]).names
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{files[0]}: not readable as Parquet: {error}") from None
    if caption_field not in names:
        raise ValueError(f"{files[0]}: no column {caption_field!r} (caption_field); it has {names}")

    def lines() -> Iterator[CaptionLine]:
        number = 0
        for file in files:
            try:
                parquet = pq.ParquetFile(file)
                columns = _caption_columns(parquet.schema_arrow, caption_field)
                for batch in parquet.iter_batches(columns=columns):
                    for row in batch.to_pylist():
                        number += 1
                        yield _parquet_line(number, row, caption_field)
            except (pa.ArrowException, OSError) as error:  # a damaged shard: one line, then the next
                number += 1
                yield CaptionLine(
                    f"row {number}", None, None, f"{file}: not read: {error}; its other rows are not checked"
                )

    return lines()


def _caption_columns(schema, caption_field: str) -> list[str]:
    """The columns a caption row needs: the caption, `id`, and of a photo column only its stored path
    (`image.path`: the photos' bytes are not read)."""
    import pyarrow as pa

    if caption_field not in schema.names:
        raise OSError(f"no column {caption_field!r} (caption_field)")
    columns = [caption_field] + (["id"] if "id" in schema.names else [])
    if "image" in schema.names:
        image = schema.field("image").type
        if pa.types.is_struct(image) and image.get_field_index("path") >= 0:
            columns.append("image.path")
        elif pa.types.is_string(image) or pa.types.is_large_string(image):
            columns.append("image")
    return columns


def _parquet_line(number: int, row: dict, caption_field: str) -> CaptionLine:
    where = f"row {number}"
    image = row.get("image")
    image = image.get("path") if isinstance(image, dict) else image  # an `Image` column: its stored path
    key = next((json_safe(v) for v in (row.get("id"), image) if v is not None and v != ""), number)
    text = _text(row.get(caption_field))
    if not isinstance(text, str):
        return CaptionLine(where, None, key, f"{where}: no {caption_field!r} text")
    return CaptionLine(where, text, key)


def read_captions(path: Path, fmt: str = "auto", caption_field: str = "caption") -> Iterator[CaptionLine]:
    """The captions of `path` in `fmt` (see the module docstring), in order, bad ones included.

    Raises:
        ValueError: An unknown format.
    """
    if fmt not in CAPTION_FORMATS:
        raise ValueError(f"captions_format must be one of {', '.join(CAPTION_FORMATS)}, got {fmt!r}")
    fmt = captions_format(path) if fmt == "auto" else fmt
    if fmt == "parquet":
        return _parquet_captions(path, caption_field)
    if fmt == "coco":
        return _coco_captions(path)
    if fmt == "webdataset":
        return _webdataset_captions(path)
    if fmt == "csv":
        return _csv_captions(path, caption_field)
    if fmt == "llava" and json_opening(path) == b"[":
        return _llava_captions(path)
    return _jsonl_captions(path, caption_field)  # LLaVA entries one per line are read as such


CHECK_BLOCK = 256  # captions a worker checks at a time
WRITE_BLOCK = 64  # output lines written (and synced) at a time


@dataclass(frozen=True)
class CaptionWork:
    """Checking captions against their records a block at a time: picklable, for worker processes
    (`helpers.core.workers.WorkerPool`), which import the text layer only."""

    policy: Policy
    lexicon: dict | None
    units: AnswerUnits = AnswerUnits()

    def rows(self, block: list) -> list[dict]:
        """The block's output rows: each entry is a row already made (a caption that cannot be checked)
        or (the row's names, where the caption is, its record, its text) to check; a caption the
        checker fails on gets its error row, the others are checked."""
        rows = []
        for entry in block:
            if isinstance(entry, dict):
                rows.append(entry)
                continue
            named, where, record, text, probe = entry
            try:
                answer, (text, verdict, boxes) = text, self._verdict_of(record, text)
                if probe and "boxes" in boxes:  # Qwen's JSON boxes: how many each reading of their units places
                    boxes |= {"units_probe": self._units_probe(record, answer)}
            except RecordError as error:
                rows.append({**named, "error": str(error)})
            except AnswerError as error:
                rows.append({**named, "error": f"{where}: {error}"})
            except Exception as error:  # noqa: BLE001 - one caption must not cost the others
                rows.append({**named, "error": f"{where}: {type(error).__name__}: {error}"})
            else:  # with the sentence its findings' characters are of (a grounded answer's, without its tags)
                rows.append(
                    {**named, **verdict.to_dict(), "caption": text, **boxes, **_against_labels(record, verdict)}
                )
        return rows

    def _verdict_of(self, record: dict, text: str) -> tuple[str, CaptionCheck, dict]:
        """(the sentence checked, the verdict, the boxes given where any were): a listed answer's (`listed_boxes`,
        `check_listed`), a grounding model's tags' (`model_grounding`) or a caption's."""
        listed = listed_boxes(text, self.units, record_size(record))
        if listed == () and cut_short(text):  # it said nothing whole: no "nothing" to check
            raise AnswerError("its JSON ends before its first whole entry (the model's token limit?)")
        if listed is not None:
            sentence, verdict = check_listed(record, listed, self.policy, self.lexicon)
            given = _boxes_given([box for entry in listed for box in entry.boxes])
            return sentence, verdict, given | ({"cut_short": True} if cut_short(text) else {})
        sentence, grounding = model_grounding(text)  # a grounding model's tags: its sentence, each phrase's boxes
        verdict = check_caption(record, sentence, self.policy, self.lexicon, grounding)
        boxes = [box for phrase in grounding for box in phrase.boxes]
        return sentence, verdict, _boxes_given(boxes) if grounding else {}

    def _units_probe(self, record: dict, text: str) -> dict[str, list[int]]:
        """A listed answer's boxes read in each of `BOX_UNITS`, in pixels also of the photo shrunk to each of
        `SENT_SIDES` where `units` reads the photo as stored (`desclm export --max_side`): {reading (`reading_name`):
        [boxes placed on an item of their label, boxes]} (a reading that cannot be made, pixels of a record of no size,
        left out). Boxes in other units than read mostly miss their items: `units_warning`."""
        readings = [replace(self.units, units=units) for units in BOX_UNITS]
        if not self.units.max_side:
            readings += [replace(self.units, units=units, max_side=side) for side in SENT_SIDES for units in PIXELS]
        placed = {}
        for units in readings:
            try:
                listed = listed_boxes(text, units, record_size(record))
                given = check_listed(record, listed, self.policy, self.lexicon)[1].given
            except AnswerError:
                continue
            placed[reading_name(units)] = [sum(box.item is not None for box in given), len(given)]
        return placed


def _against_labels(record: dict, verdict: CaptionCheck) -> dict:
    """A labelled photo's caption (01's `ground_truth`) against its labels as well as its detections, as 04's truth
    report compares (`helpers.describer.truth.compare`): `labels` {true, missed, invented, count_error}; a caption
    faithful to detectors that missed an item is untrue to the photo. Labels that cannot be read: `labels_error`."""
    try:
        truth = truth_facts(record)
    except LABELS_UNREADABLE as error:
        return {"labels_error": f"{type(error).__name__}: {error}"}
    if truth is None:
        return {}
    compared = compare(verdict.said, truth)
    return {"labels": {name: compared[name] for name in ("true", "missed", "invented", "count_error")}}


OUTSIDE_WARNING = (
    "%d of the %d boxes the captions gave lie partly off the photo (a corner beyond 0..1 of it): are they in other "
    "units than read (--box_units %s)? Qwen2.5-VL writes pixels of the photo as its processor resized it "
    "(--box_units qwen2.5-vl); Qwen3-VL, Qwen2-VL and InternVL thousandths"
)


CUT_SHORT_WARNING = (
    "%d answers' JSON lists end before they close (the model stopped at its token limit?): their whole entries were "
    "checked, the rest is missing from them (`cut_short` in their verdicts)"
)


TOKEN_LIMIT_WARNING = (
    "%d of the %d answers checked stopped at their request's token limit (finish_reason length, stop_reason "
    "max_tokens, finishReason MAX_TOKENS): what they would "
    "have said after it is missing from them (`token_limit` in their verdicts); ask again with more tokens "
    "(desclm export <verdicts> --verdict token_limit --format openai_batch --max_tokens ...)"
)


def _boxes_given(boxes: list[tuple[float, ...]]) -> dict:
    """A verdict's count of the boxes its caption gave, and of those with a corner off the photo (beyond 0..1 of
    it: most often boxes in other units than read, `--box_units`), where any."""
    outside = sum(any(not 0 <= value <= 1 for value in box) for box in boxes)
    return {"boxes": len(boxes)} | ({"boxes_outside": outside} if outside else {})


def check_workers(setting: int | str) -> int:
    """Worker processes for a `workers` setting: a whole number (0: every caption checked in this
    process), or "auto": one per core, none on one core. This process, reading, joining and writing,
    mostly waits on them: on 2 cores 2 workers checked 1.37x as fast as this process alone, 1 worker
    0.92x (docs/measurements/check_workers_cpu.json).

    Raises:
        ValueError: Neither "auto" nor a whole number >= 0.
    """
    return worker_processes(setting)


UNITS_PROBE = 50  # the answers of Qwen's JSON boxes read in each units too (`CaptionWork._units_probe`): the first
SENT_SIDES = (512, 768, 1024, 1280, 1568, 2048)  # the longer sides photos are often sent at (`--max_side`)
PIXELS = ("pixels", "qwen2.5-vl")  # the units of photos' pixels


def reading_name(units: AnswerUnits) -> str:
    """A reading of Qwen's JSON boxes as the options that ask it: `--box_units pixels --max_side 768`."""
    return f"--box_units {units.units}" + (
        f" --max_side {units.max_side}" if units.max_side and units.units in PIXELS else ""
    )


UNITS_MORE, UNITS_GAIN = 2.0, 0.2  # another reading placing twice the share of boxes, 20 points more: `units_warning`


def _entries(lines: Iterable[CaptionLine], records: RecordIndex, input_name: str) -> Iterator[dict | tuple]:
    """`CaptionWork.rows`' entries: each caption joined to its record (the first `UNITS_PROBE` that may hold Qwen's
    JSON boxes to be read in each units too), or its error row."""
    probed = 0
    for line in lines:
        named = {"id": line.key} | ({"entry": line.entry} if line.entry is not None else {})
        named |= {"token_limit": True} if line.token_limit else {}
        if line.error and isinstance(line.key, str):  # a request that gave no answer: named by its photo's record
            named["id"] = _record_of(line, records)[0]  # (a digest's, a number's), for `--verdict error` to ask again
        if line.error or line.skipped:
            yield {**named, "error": line.error} if line.error else {**named, "skipped": line.skipped}
            continue
        named["id"], record = _record_of(line, records)
        if record is None:
            yield {**named, "error": f"{line.where}: no CV record in {input_name} has id {line.key!r}"}
            continue
        probe = probed < UNITS_PROBE and (JSON_BOX in line.text or JSON_POINT in line.text)
        probed += probe
        yield named, line.where, record, line.text, probe


def _record_of(line: CaptionLine, records: RecordIndex) -> tuple[object, dict | None]:
    """The id and CV record a caption is about (`RecordIndex.joined`; an anthropic_batch request's digest of its
    photo's id, `RecordIndex.hashed`), or its key and None. Joined by a number its key spells (a custom_id `17`, a CSV
    cell), the id is the record's, the number: what exports of the verdicts join to the records by."""
    record = records.joined(line.key)
    if record is None and line.stem is not None:
        record = records.joined(line.stem)
        if record is not None and not isinstance(line.stem, str):
            return line.stem, record
    if record is None and isinstance(line.key, str) and HASHED_ID.fullmatch(line.key):
        return records.hashed(line.key) or (line.key, None)
    return line.key, record


def _examples(captions: Iterable[CaptionLine], verdicts: Iterable, records: RecordIndex, count: Counter):
    """House style examples (`helpers.text.house`) as JSONL lines: each faithful caption with its record, the
    captions read again beside their verdicts (one each, in order); `count["examples"]` counts them."""
    for line, verdict in zip(captions, verdicts, strict=True):
        if verdict.record.get("faithful") is True and not is_listed_answer(line.text):  # boxes: no prose
            count["examples"] += 1
            sentence = model_grounding(line.text)[0]  # a grounding model's answer without its tags
            yield json_line({"record": _record_of(line, records)[1], "sentence": sentence})


def _checked(entries: Iterable, work: CaptionWork, workers: int) -> Iterator[list[dict]]:
    """Blocks of output rows in order, the blocks checked on `workers` processes (at most 2 x workers
    waiting: memory holds a few blocks, whatever the files hold), or one caption at a time in this
    process with none."""
    pool = WorkerPool(work, workers)
    try:
        yield from pool.ordered(
            "rows", ((block,) for block in chunks(entries, CHECK_BLOCK if workers else 1)), 2 * workers
        )
    finally:
        pool.close()


CATEGORY_FINDINGS = ("missed_category", "wrong_count", "vague_count", "misplaced_box", "box_count", "misplaced_point")
INVENTED_SHOWN = 50  # the summary's categories said and not detected: the most frequent, the rest counted


BOX_FIELDS = ("grounded_items", "boxes", "boxes_placed")  # a category's boxes, in the grounded captions


class CategoryTally:
    """Per category of the records, over the checked captions (the summary's `by_category`): in how many captions'
    records it is stated, how many items, in how many the caption has no finding about it (`right`), and each
    finding about it (`CATEGORY_FINDINGS`); and the categories captions said that their records do not state
    (`invented`: in how many captions each, the `INVENTED_SHOWN` most frequent). A model's weak categories, from
    the verdicts' own `expected` counts and findings. Of the grounded captions (a detection answer's), per
    category: the items their records state (`grounded_items`), the boxes (and points) their phrases of it gave
    (`boxes`) and those placed on an item of it (`boxes_placed`, each item once): `box_precision` (placed of
    given) and `box_recall` (items boxed of stated), each box matched to one item at an IoU of `BOX_IOU` or more,
    best overlaps first (a point inside it: `helpers.text.check`)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}
        self.invented: Counter = Counter()

    def add(self, row: dict) -> None:
        about: dict[str, Counter] = {}
        for finding in row["findings"]:
            about.setdefault(finding["label"], Counter())[finding["kind"]] += 1
        expected = row["expected"]["counts"]
        for label, count in expected.items():
            counts = self.counts.setdefault(label, Counter())
            counts.update(captions=1, items=count, right=int(label not in about))
            counts.update(about.get(label, Counter()))
            if "boxes" in row:  # a grounded caption
                counts["grounded_items"] += count
        for box in row.get("given", ()):
            if box["label"] in expected:  # (a box of a category not stated is an invented category's)
                self.counts[box["label"]].update(boxes=1, boxes_placed=int(box["item"] is not None))
        self.invented.update(finding["label"] for finding in row["findings"] if finding["kind"] == "invented_category")

    def as_dict(self) -> dict:
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1]["items"], item[0]))
        fields = ("captions", "items", "right", *CATEGORY_FINDINGS, *BOX_FIELDS)
        by_category = {
            label: {field: counts[field] for field in fields} | _box_shares(counts) for label, counts in ordered
        }
        shown = dict(self.invented.most_common(INVENTED_SHOWN))
        return {
            "by_category": by_category,
            "invented": shown,
            "invented_other": sum(self.invented.values()) - sum(shown.values()),
        }


def _box_shares(counts: Counter) -> dict:
    """Placed boxes of those given (`box_precision`) and of the items stated (`box_recall`); None of none."""
    placed = counts["boxes_placed"]
    return {
        "box_precision": placed / counts["boxes"] if counts["boxes"] else None,
        "box_recall": placed / counts["grounded_items"] if counts["grounded_items"] else None,
    }


def _labels_summary(tally: Counter) -> dict:
    """The captions of labelled photos checked (`_against_labels`), how many are true to their labels and their share;
    the photos whose labels could not be read."""
    labelled = tally["labelled"]
    true = tally["true_to_labels"]
    return {
        "captions": labelled,
        "true": true,
        "true_share": true / labelled if labelled else None,
        "unreadable": tally["labels_unreadable"],
    }


def _tally(rows: Iterable[dict], tally: Counter, kinds: Counter, categories: CategoryTally) -> None:
    """Counts rows into `tally` (checked, faithful, errors, and `SKIPPED`'s counts), their findings into
    `kinds`, and both per category into `categories`."""
    for row in rows:
        if "skipped" in row:
            tally[SKIPPED[row["skipped"]]] += 1
            continue
        if "error" in row:
            tally["errors"] += 1
            continue
        tally["checked"] += 1
        tally["faithful"] += bool(row["faithful"])
        if isinstance(row.get("labels"), dict):  # a labelled photo's caption, against its labels too
            tally["labelled"] += 1
            tally["true_to_labels"] += bool(row["labels"].get("true"))
        tally["labels_unreadable"] += "labels_error" in row
        tally["token_limit"] += row.get("token_limit", False)
        kinds.update(finding["kind"] for finding in row["findings"])
        categories.add(row)
        if "boxes" in row:  # a grounded caption, and the boxes it gives
            probe = row.pop("units_probe", None)  # (not written: the summary's)
            tally["probe_answers"] += probe is not None
            for units, (placed, boxes) in (probe or {}).items():
                tally[f"probe_placed {units}"] += placed
                tally[f"probe_boxes {units}"] += boxes
            tally["grounded"] += 1
            tally["boxes"] += row["boxes"]
            tally["grounded_items"] += sum(row["expected"]["counts"].values())
            tally["boxes_outside"] += row.get("boxes_outside", 0)
            tally["cut_short"] += row.get("cut_short", False)


def _grounded_summary(tally: Counter, kinds: Counter) -> dict:
    """The grounded captions' boxes (and points): how many were given, and placed (where an item of their phrase is,
    each item once: the share a detection metric calls precision), and of the items their records state, the share
    boxed (recall)."""
    placed = tally["boxes"] - kinds["misplaced_box"] - kinds["misplaced_point"]  # (points counted as boxes)
    items = tally["grounded_items"]  # the items their records state: each placed box is on one of its own
    return {
        "captions": tally["grounded"],
        "boxes": tally["boxes"],
        "boxes_placed": placed,
        "placed_share": placed / tally["boxes"] if tally["boxes"] else None,
        "items": items,
        "items_boxed_share": placed / items if items else None,
        "boxes_outside": tally["boxes_outside"],
        "cut_short": tally["cut_short"],  # JSON answers whose list ends before it closes: their whole entries read
        **({"units_probe": units_probe(tally)} if tally["probe_answers"] else {}),
    }


def units_probe(tally: Counter) -> dict:
    """Of the answers of Qwen's JSON boxes read in each units too (`CaptionWork._units_probe`): how many, and the
    share of their boxes each reading (`reading_name`) places on an item of their label."""
    readings = [key.removeprefix("probe_boxes ") for key in tally if key.startswith("probe_boxes ")]
    shares = {
        name: tally[f"probe_placed {name}"] / tally[f"probe_boxes {name}"]
        for name in readings
        if tally[f"probe_boxes {name}"]
    }
    return {"answers": tally["probe_answers"], "placed_share": dict(sorted(shares.items()))}


def units_warning(probe: dict, read_as: AnswerUnits) -> str | None:
    """What to say when Qwen's JSON boxes read otherwise than `read_as` would lie on their items far more often
    (`UNITS_MORE` times as often, `UNITS_GAIN` more of them): they are most likely in those units; None otherwise."""
    shares, name = probe["placed_share"], reading_name(read_as)
    read = shares.get(name)
    best = max((share for other, share in shares.items() if other != name), default=None)
    if read is None or best is None or best < max(UNITS_MORE * read, read + UNITS_GAIN):
        return None
    alike = [other for other, share in shares.items() if other != name and share == best]  # (Qwen's pixels and plain)
    return (
        f"Qwen's JSON boxes read as {name}: {read:.0%} of them lie on an item of their label; read as {alike[0]}"
        + "".join(f" (or {other})" for other in alike[1:])
        + f", {best:.0%} would (the first {probe['answers']:,} such answers): they are most likely so, and their "
        f"misplaced_box findings false: check again with {alike[0]}"
    )


def _captions_stamp(path: Path) -> dict | list:
    """`file_stamp` of the captions, or of each Parquet file, tar shard or JSONL part of a folder of them."""
    if path.is_dir():
        parts = [*path.rglob("*.parquet"), *shard_files(path), *jsonl_parts(path)]
        return [file_stamp(part) for part in sorted(parts)]
    return file_stamp(path)


def check_file(
    input_path: Path,
    captions_path: Path,
    output_path: Path,
    caption_field: str = "caption",
    policy: Policy = Policy(),
    lexicon: dict | None = None,
    captions_format: str = "auto",
    workers: int | str = DEFAULT_CHECK_WORKERS,
    examples: Path | None = None,
    units: AnswerUnits = AnswerUnits(),
) -> dict:
    """The command's work (see the module docstring); returns the summary it writes. `units`: what Qwen's JSON
    boxes count (`helpers.core.answer_boxes.AnswerUnits`). `workers`:
    processes checking the captions (`check_workers`) while this one reads, joins and writes them.
    `examples`: where the faithful captions go as a house style's examples (`{"record", "sentence"}` lines,
    `helpers.text.house`), written once every caption is checked: people's reviewed descriptions teach the
    describer their wording (02's `house_styles`).

    Raises:
        ValueError: An output is one of the inputs, another run is writing it, an unknown format, or examples
            asked of captions read from a stream (they are read twice).
    """
    captions = read_captions(captions_path, captions_format, caption_field)
    summary_file = summary_path(output_path)
    outputs = [output_path, *partial_paths(output_path), summary_file, lock_path(output_path)]
    check_writes(outputs + ([examples] if examples else []), [input_path, captions_path])
    workers = check_workers(workers)
    output_path.parent.mkdir(parents=True, exist_ok=True)  # the ids' scratch folder goes beside the output
    stamp = {
        "input": file_stamp(input_path),
        "captions": _captions_stamp(captions_path),
        "settings": [caption_field, captions_format, asdict(policy), lexicon]
        + ([asdict(units)] if units != AnswerUnits() else []),  # (a run from before the setting resumes)
    }
    streamed = is_stream(input_path) or (not captions_path.is_dir() and is_stream(captions_path))
    if examples is not None and streamed:
        raise ValueError("examples: the captions and records are read again to write them; give files, not a stream")
    tally, kinds, categories = Counter(), Counter(), CategoryTally()
    # The lock comes first (a second run on this output refuses); a killed run's lines are kept and counted
    with ResumableOutput(output_path, stamp, resume=not streamed) as output:
        if output.done:
            logger.info("resuming %s after %d captions", output_path, output.done)
            _tally((line.record for line in read_lines(output.partial)), tally, kinds, categories)
        with tempfile.TemporaryDirectory(prefix=".check-", dir=output_path.parent) as scratch:
            records = RecordIndex(input_path, Path(scratch))
            try:
                todo = progress(islice(captions, output.done, None), initial=output.done, desc="check", unit="caption")
                entries = _entries(todo, records, input_path.name)

                def lines() -> Iterator[str]:
                    for rows in _checked(entries, CaptionWork(policy, lexicon, units), workers):
                        _tally(rows, tally, kinds, categories)
                        yield from (json_line(row) for row in rows)

                for block in chunks(lines(), WRITE_BLOCK):
                    output.write_lines(block)
                if examples is not None:
                    again = read_captions(captions_path, captions_format, caption_field)
                    atomic_write_text(examples, _examples(again, read_lines(output.partial), records, tally))
            finally:
                records.close()
        output.finish()
        checked = tally["checked"]
        summary = {
            "captions": checked + tally["errors"],
            "checked": checked,
            "faithful": tally["faithful"],
            "faithful_share": tally["faithful"] / checked if checked else None,
            "errors": tally["errors"],
            "text_only": tally["text_only"],  # LLaVA entries about no photo: a line each, no caption to check
            "multi_image": tally["multi_image"],  # LLaVA entries about several photos: a line each, not checked
            "unreviewed": tally["unreviewed"],  # Label Studio tasks no annotation describes: a line each
            "token_limit": tally["token_limit"],  # answers a server stopped at their token limit (`finish_reason`)
            **({"examples": tally["examples"]} if examples is not None else {}),  # faithful captions written as such
            "findings": {kind: kinds[kind] for kind in FINDINGS},
            **({"grounded": _grounded_summary(tally, kinds)} if tally["grounded"] else {}),
            **({"labels": _labels_summary(tally)} if tally["labelled"] or tally["labels_unreadable"] else {}),
            **categories.as_dict(),
            "cv_records": records.records,
            "cv_problems": dict(records.problems),
        }
        if tally["boxes_outside"]:
            logger.warning(OUTSIDE_WARNING, tally["boxes_outside"], tally["boxes"], units.units)
        if tally["probe_answers"] and (misread := units_warning(units_probe(tally), units)):
            logger.warning(misread)
        if tally["labelled"]:
            true, labelled = tally["true_to_labels"], tally["labelled"]
            logger.info("%d of the %d captions of labelled photos are true to their labels (%.0f%%)", true, labelled,
                        100 * true / labelled)  # fmt: skip
        if tally["cut_short"]:
            logger.warning(CUT_SHORT_WARNING, tally["cut_short"])
        if tally["token_limit"]:
            logger.warning(TOKEN_LIMIT_WARNING, tally["token_limit"], checked)
        atomic_write_text(summary_file, json.dumps(summary, indent=2) + "\n")
    return summary

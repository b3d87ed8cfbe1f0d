"""Exports of described photos in the formats their users' tools read (`desclm export`).

    desclm export --format hf    described.jsonl --cv cv.jsonl --images photos/ --output out/litter_ds
    desclm export --format hf    described.jsonl --images photos/ --chat --output out/vlm_sft
    desclm export --format webdataset described.jsonl --cv cv.jsonl --images photos/ --output out/litter_wds
    desclm export --format llava described.jsonl --images photos/ --output llava.json
    desclm export --format coco  described.jsonl --cv cv.jsonl --output captions_coco.json
    desclm export --format csv   described.jsonl --cv cv.jsonl --output described.csv
    desclm export --format geojson described.jsonl --cv cv.jsonl --output litter.geojson

Each described row (`desclm describe`'s output: `id`, `description`, `captions` with
`--num_captions`) is joined with the CV record it came from (`--cv`: by the record's `id`, else
its `image`, else its line number, as `describe` names its rows) and with its photo (`--images`:
the folder the records' `image` paths are relative to, or the Hugging Face dataset 01 read them
from, `helpers.core.photo_datasets`). `desclm check`'s verdicts come in as rows too, a photo's captions one after
another a row (`photo_rows`), `--verdict faithful` keeping a vision-language model's captions that agree with the
detections (training data) and `--verdict unfaithful` those that do not (to review, or to ask about again: the batch
requests, a request a photo); the exports that write each photo's detections once (`ONCE_A_PHOTO`, `--answer boxes`,
`--objects`) take described rows only:

- **hf**: a Hugging Face dataset (`id`, `image` as the `datasets.Image` feature with the photo's
  bytes, `description`, `captions`, `source`, `detections`, `scene`, `taken`: time, latitude,
  longitude, altitude, and a drone's relative_altitude, camera_yaw, camera_pitch, camera_roll, focal_35mm,
  None where unknown), saved with `save_to_disk`
  (`datasets.load_from_disk(out)`) and as Parquet shards in `out/parquet/`
  (`load_dataset("parquet", data_files="out/parquet/*.parquet")`); with `--chat` (and `--images`) also
  `prompt` and `completion`, each photo's conversation as TRL's `SFTTrainer` trains a vision-language model
  on it (`chat_turns`); with `--objects` (and `--cv`, `--images`) also `image_id`, `width`, `height` and
  `objects`, the boxes the descriptions state in the Hugging Face object-detection layout transformers trains a
  detector on (`DetectionColumns`);
- **webdataset**: tar shards (`00000.tar`, ...) as WebDataset, OpenCLIP and img2dataset read them: per
  photo `<key>.jpg` (its bytes, its format's extension), `<key>.txt` (the description) and `<key>.json`
  (id, image, description, captions, source, detections, scene, taken), `helpers.describer.webdataset`;
  `datasets.load_dataset("webdataset", data_files="out/*.tar")` reads them too;
- **llava**: LLaVA-style conversations, one entry per caption (`id`, `image`, `conversations`:
  human `<image>` + `prompt`, gpt the caption); with `boxes` (`--answer boxes`, `--cv` needed) one per photo, gpt
  its stated boxes as Qwen-VL's grounding answer (`box_entries`);
- **grounded**: the captions grounded, in ms-swift's grounding layout (`--cv` needed; `grounded_entries`): an entry
  per caption (`id`, `messages`, `images`, `objects`), each phrase that counts items written `<ref-object>` and a
  `<bbox>` per item, `objects` the phrases as written and the items' boxes (0..1), which ms-swift's template writes
  as its model's own grounding;
- **florence2**: Florence-2's fine-tuning entries, JSON Lines in the layout Roboflow's maestro reads (`image`,
  `prefix`, `suffix`; `helpers.describer.florence`): per photo `--tasks`' entries, a caption's (`<CAPTION>` -> the
  description), the stated boxes' (`<OD>` -> `plastic<loc_x1><loc_y1><loc_x2><loc_y2>...`) and a grounded caption's
  (`<CAPTION_TO_PHRASE_GROUNDING>` and the caption -> each phrase that counts items, followed by its items' boxes);
- **coco**: COCO captions (`images`, `annotations` with `image_id` and `caption`), as
  `pycocotools.coco.COCO` loads them;
- **coco_instances**: the records' detections as COCO object detection (`--cv` needed): an image per
  photo (with its `description`), an annotation per detection (`bbox` [x, y, width, height] in pixels,
  `score` its confidence, its category the label as given), categories in the order labels first appear;
  what CVAT imports as pre-annotations to review (Label Studio: the label_studio export), FiftyOne's
  `COCODetectionDataset`, and
  `pycocotools` (`COCO`, `loadRes`) read;
- **label_studio**: Label Studio tasks to review (`--cv` needed; `helpers.describer.label_studio`): a task per
  photo, its image URL `--url_prefix` + its key (by default Label Studio's local files by the photos' folder name;
  with `--image_folder`, the copies'), its pre-annotations a box per detection its description states (at the
  describer's threshold, `policy.min_confidence`; in percent, the label as given, its confidence as score) and
  the description as text; the project's labeling config beside
  (`<output stem>.label_config.xml`);
- **yolo**: a YOLO detection dataset of the records' boxes (pseudo-labels; `--cv` and `--images`
  needed): `images/` (each photo's file as stored, named by its key), a label file per photo where
  Ultralytics looks for it (`images` -> `labels` in its path: `labels/north/p1.txt`), a `class x_center
  y_center width height` line per box the description states (at or above `--min_confidence`, the
  describer's threshold; an empty file for a photo without litter: a background image), and `data.yaml`
  (names: the labels as given, in the order they first appear; train and val both all the photos, or with
  `--splits` each split's folder, `images/<split>/`: a validation split to validate on);
  `yolo train data=out/data.yaml` trains on it, e.g. one fast detector on what the ensemble saw; another export
  into the folder first removes what the earlier one wrote there (`prepare_yolo_folder`);
- **geojson**: the photos on a map (`--cv` needed): a GeoJSON FeatureCollection (RFC 7946) of a point per
  photo where it was taken (its record's `taken`, from the photo's EXIF GPS), with its id, image, time,
  altitude, scene, `items` (how many a description states: at `--min_confidence`, the describer's threshold,
  as the yolo export's boxes), description and a count column per label as given;
  QGIS, geopandas (`geopandas.read_file`), kepler.gl and GDAL read it (an output named `.geojsonl`: a
  feature a line, GDAL's GeoJSONSeq, for millions of photos). Photos without a position are
  left off, counted (`without_position`) and said in the log, not listed as errors (no fault of theirs);
- **geojson_items**: the items on the ground (`--cv` needed): a point per box a description states (at
  `--min_confidence`, as the yolo export's) where it lies, placed from the photo's position, the drone's
  height above its take-off point and the camera's angles and focal length (01 reads them from DJI's XMP and
  EXIF, or a flight record; `helpers.core.ground`: flat ground, a pinhole camera), with the photo's id,
  image and time, the item's label as given, confidence, `width_m` and `length_m` (its box on the ground)
  and `distance_m` (from right below the camera): a litter map whose points are the items, not the drone (a
  point per sighting: an item in several overlapping photos is a point in each; `desclm summarize --items
  items.geojson` maps each item once).
  Photos whose record lacks a position or pose are left off and counted (`without_pose`), as are boxes
  too near the horizon to place (`items_unplaced`); a `.geojsonl` output is a feature a line;
- **csv**: one row per photo for spreadsheets (UTF-8 with a byte-order mark, which Excel needs):
  id, image, scene, the counts, time, latitude, longitude (where some record says when or where), source,
  description, caption_1..k;
- **openai_batch**, **gemini_batch**, **anthropic_batch**: a request per photo in the OpenAI Batch API's input file
  (vLLM's `run-batch` reads it too), the Gemini Batch API's or Anthropic's Message Batches', asking a
  vision-language model `--prompt` about the photo, sent as its bytes or by URL (`helpers.describer.batch_requests`,
  `write_batch_file`), of described rows, of 01's CV records as they are (`is_cv_records`; `--category`, `--scene`,
  `--min_items` choose them by what their detectors saw: `selection.stated`), or of the photos whose captions a check
  chose (to ask again: `--verdict unfaithful`, `error`, `token_limit`); `desclm check` reads the output file back.

`--max_side`, `--image_format` (hf, webdataset): the embedded photos written smaller or in another format, as
img2dataset writes a training set's (`helpers.core.photo_rewrite`: upright, without EXIF; the others as stored), on
`--workers` processes while this one reads and writes the shards, in order; the llava (`--image_folder`) and yolo
exports' photo files so too (`PhotoFolder`, on the workers as the first pass copies them).

The hf and webdataset folders hold a dataset card, `README.md` (`helpers.describer.dataset_card`): the shards
named for the Hub (and for `load_dataset(folder)` of a webdataset folder), the numbers of what was written.
`--parquet_only` (hf): its Parquet shards alone. `--splits` (hf, webdataset): a folder of shards per split, each
photo's by a seeded hash of it or its folder, or its record's own (`SplitPlan`, `export_splits`), one card; (llava,
grounded, coco, coco_instances) a file per split beside the output's name, `instances_train.json`
(`write_json_files`).

`--category`, `--scene`, `--min_items`: only the photos whose sentence says so (`helpers.describer.selection`);
`--max_photos`, `--seed`: a seeded random sample of them (`sampled_lines`), the same photos in every format.

`--strip_location`, to publish a dataset: the photos embedded or copied (hf, webdataset, yolo,
`--image_folder`) lose their GPS position and XMP (`helpers.core.strip_location`: a JPEG's other bytes, its
compressed pixels included, as stored; a PNG written again, the same pixels; another format that says a
place is its row's error), and the records' `taken` its latitude, longitude and altitude (hf, webdataset,
csv); the geojson maps refuse it.

`--image_folder` (llava, grounded, coco, coco_instances) copies each exported photo's file into one folder, named as
the JSON names it (`PhotoFolder`): LLaVA's `--image_folder` and a COCO image folder, and the way to photo files
when the photos are in a Hugging Face dataset.

A row that cannot be exported (an error row of `describe`, an unreadable line, a record or photo
not found) costs that row: it is listed in `<output>.errors.jsonl` and counted, the rest are
written. Outputs are written atomically and never over an input. Both files are read as the rows
are written (CSV and the geojson map twice, the hf and webdataset exports with `--splits` once a split; the llava
and COCO exports once, their split files filled side by side, a COCO file's annotations waiting in a temporary
file beside it while its images are written: `write_json_files`): described rows in the CV file's order, as
`describe` writes them, hold nothing but the records of error rows, so 10^7 photos export in flat memory. A
photo listed twice takes its records in order (each row the record it was described from).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import cached_property, partial
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import IO

from helpers.core.answer_boxes import AnswerUnits, qwen_answer, record_size
from helpers.core.chat_entries import GROUNDING_BOX, GROUNDING_REF
from helpers.core.contract import Policy
from helpers.core.figures import is_number, position_of
from helpers.core.ground import POSE_FIELDS, POSE_LIMITS, CameraPose, box_on_ground, pose_problem
from helpers.core.io import (
    AtomicFiles,
    JsonArrayWriter,
    atomic_write_bytes,
    atomic_write_text,
    excel_csv,
    feature_collection,
    iter_jsonl,
    json_array,
    point_feature,
    replace_dir,
    write_problems,
)
from helpers.core.logs import progress
from helpers.core.markdown import markdown_text
from helpers.core.outputs import OutputLock, check_writes, lock_path
from helpers.core.photo_datasets import (
    IMAGE_SUFFIXES,
    PhotoKeys,
    photo_file_name,
    photo_suffix,
    photos_for,
    photos_of_cv_output,
    seen_size,
)
from helpers.core.photo_rewrite import TURNED_WARNING, PhotoRewrite, stored_turned
from helpers.core.records import file_stamp, record_id
from helpers.core.remote import is_remote
from helpers.core.sampling import sample_stream
from helpers.core.strip_location import without_location
from helpers.core.tar_photos import is_tar_shards
from helpers.core.workers import WorkerPool
from helpers.describer import label_studio
from helpers.describer.batch_output import CHECKPOINT_ROWS, ResumableRequests, partial_files
from helpers.describer.batch_requests import (
    BATCH_APIS,
    BatchRequests,
    batch_request,
    encoded_photo,
    id_text,
    limits_warning,
    url_photo,
)
from helpers.describer.check import RecordIndex, photo_stem, summary_path
from helpers.describer.dataset_card import CardCounts, dataset_card
from helpers.describer.florence import FLORENCE_TASKS, florence2_entries, florence_problem
from helpers.describer.hf_dataset import ShardedDatasetWriter
from helpers.describer.label_studio import image_url, import_limits_warning, label_config, local_files_prefix
from helpers.describer.options import CAPTION_PROMPT, MAP_FORMATS, SPLIT_FORMATS, check_license
from helpers.describer.options import EXPORT_FORMATS as FORMATS
from helpers.describer.provenance import provenance
from helpers.describer.selection import CHECKED, RECORD_SPLITS, Selection, SplitPlan, said
from helpers.describer.shard_writer import SHARD_BYTES, file_state
from helpers.describer.truth import truth_line
from helpers.describer.webdataset import WebDatasetWriter
from helpers.text.check import finding_line
from helpers.text.grammar import RecordError, facts, validate_record

logger = logging.getLogger(__name__)

LLAVA_PROMPT = CAPTION_PROMPT
# the exports naming photo files (`--image_folder`)
COPYING_FORMATS = ("llava", "grounded", "florence2", "coco", "coco_instances", "label_studio")
FOLDER_FORMATS = ("hf", "webdataset")  # the exports written as a folder of shards, resumable
# the exports whose photos may be written again (`PhotoRewrite`)
REWRITING_FORMATS = (*FOLDER_FORMATS, "llava", "grounded", "florence2", "yolo", *BATCH_APIS)
# the exports whose trainers open the copied photos without their EXIF orientation (`TURNED_WARNING`)
EXIF_BLIND_LOADERS = {
    "llava": "LLaVA's loader (PIL without exif_transpose)",
    "grounded": "ms-swift's load_image",
    "florence2": "maestro's JSONLDataset (PIL without exif_transpose)",
}
FOLDER_OUTPUTS = (*FOLDER_FORMATS, "yolo")  # the exports whose output is a folder
# the one-file exports written a file per split (`--splits`)
SPLIT_FILE_FORMATS = ("llava", "grounded", "florence2", "coco", "coco_instances")
# the exports of the CV records' detections (--cv needed)
DETECTION_FORMATS = ("grounded", "coco_instances", "label_studio", "yolo", "geojson", "geojson_items")
# the exports that write each photo's detections once (not from `desclm check`'s verdicts, a row a caption)
ONCE_A_PHOTO = ("grounded", "coco_instances", "yolo", "geojson", "geojson_items", "florence2")


@dataclass
class ExportRow:
    """One described photo, joined with its CV record."""

    id: object
    captions: list[str]  # the description first
    source: str
    record: dict | None = None  # the CV record (`--cv`), or None
    image: str | None = None  # the record's `image` (relative to the images root), else the row's id
    file: str | None = None  # its photo's file name in the export's image folder (`PhotoFolder`)
    line: int = 0  # its line in the described file
    findings: list | None = None  # a caption `desclm check` read (`verdict_rows`): its findings
    given: list | None = None  # and a grounded caption's boxes, where the check placed them (its verdict's `given`)
    checked: list | None = None  # a photo's captions `desclm check` read (`photo_rows`): each one's findings
    lines: tuple[int, ...] = ()  # and the verdicts' lines they are of (`line` the last)
    token_limit: bool = False  # a checked answer its server stopped at its token limit (its verdict's `token_limit`)
    unchecked: str | None = None  # a verdict's line the check could not check (`--verdict error`): why, no caption

    @property
    def description(self) -> str:
        return self.captions[0]

    @property
    def photo_name(self) -> str | None:
        """How an export names the photo: its file in the image folder, else its key."""
        return self.file or self.image


def _key(value) -> str:
    """A join key: ids compare as their JSON text ("7" and 7 are different ids)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class _CvRecords:
    """The CV records by id, read from the file only as far as a row needs: each row takes the next
    record of its id not taken yet. Rows in the CV file's order (as `desclm describe` writes them)
    keep only the records of error rows in memory; rows in another order keep those read ahead."""

    def __init__(self, path: Path) -> None:
        self.lines = iter_jsonl(path)
        self.ahead: dict[str, deque] = {}

    def take(self, key: str) -> dict | None:
        waiting = self.ahead.get(key)
        if waiting:
            record = waiting.popleft()
            if not waiting:
                del self.ahead[key]
            return record
        for line in self.lines:
            if line.record is None:
                continue
            found = _key(record_id(line.record, line.line_number))
            if found == key:
                return line.record
            self.ahead.setdefault(found, deque()).append(line.record)
        return None


PLACE = ("latitude", "longitude", "altitude")  # what `strip_location` leaves out of a record's `taken`


class LocationFreePhotos:
    """`PhotoKeys` whose photos' bytes come without where they were taken (`without_location`)."""

    def __init__(self, photos: PhotoKeys) -> None:
        self.photos = photos

    def __getattr__(self, name: str):
        return getattr(self.photos, name)

    def read_bytes(self, key: str) -> bytes:
        return without_location(self.photos.read_bytes(key))


def _described(row) -> bool:
    """Whether a described file's line is a described photo (not an error row, not broken)."""
    return isinstance(row, dict) and "error" not in row and isinstance(row.get("description"), str)


def sampled_lines(
    described: Path, size: int, seed: int, cv: Path | None = None, selection: Selection = Selection()
) -> set[int] | None:
    """The lines of a seeded uniform sample of at most `size` of the described photos (`sample_stream`, the file
    read once, memory the sample's), of those `selection` chooses (their sentences read with `cv`'s records'
    labels, `said`; of `desclm check`'s verdicts, each photo's captions it chooses, `photo_rows`, drawn together);
    None for `size` 0: every line (a selection then chooses as the rows are read, `joined_rows`)."""
    if not size:
        return None
    unread: list[dict] = []  # lines not joined or not chosen: of those drawn, the export says them; of the rest, here
    if is_verdicts(described):  # a photo's chosen captions' lines, drawn together
        photos = (row.lines for row in joined_rows(described, cv, unread, selection=selection))
    elif selection.asked:
        photos = (row.line for row in joined_rows(described, cv, unread, selection=selection))
    else:
        wanted = _cv_record if is_cv_records(described) else _described  # (a batch export of CV records)
        photos = (line.line_number for line in iter_jsonl(described) if wanted(line.record))
    sample, count = sample_stream(photos, size, seed)
    chosen = f" chosen by {selection}" if selection.asked else ""
    whole = "photos' CV records" if is_cv_records(described) else "described photos"
    logger.info("a sample of %d of the %d %s%s (seed %d)", len(sample), count, whole, chosen, seed)
    if unread:
        first = unread[0]
        logger.warning(
            "%s: %d lines could not be joined or chosen, so none is in the sample (line %s: %s, ...)",
            described,
            len(unread),
            first.get("line"),
            first.get("error"),
        )
    return {line for drawn in sample for line in drawn} if is_verdicts(described) else set(sample)


def chosen_lines(
    described: Path, cv: Path | None, sample: tuple[int, int], selection: Selection
) -> tuple[set[int] | None, Selection]:
    """What `joined_rows` takes to export the photos `selection` chooses, or a sample of them (size, seed): a
    sample's lines (`sampled_lines`: chosen before the sample is drawn), or every line and the selection to
    choose by as the rows are read."""
    lines = sampled_lines(described, *sample, cv, selection)
    if selection.asked and lines is None:
        logger.info("only the described photos chosen by %s", selection)
    return lines, selection if lines is None else Selection()


def chosen_note(sample: tuple[int, int], selection: Selection) -> str:
    """Which of the described photos an export holds, as its dataset card says it ("" for all of them)."""
    size, seed = sample
    parts = []
    if selection.asked:
        by = ["desclm check's verdicts on them"] if selection.verdict else []
        by += ["what their descriptions count and state"] if selection.states and not selection.truth else []
        boxes = selection.truth in ("missed", "false")
        by += ["how their detections' boxes agree with the photos' labels"] if boxes else []
        by += ["how true their descriptions are to the photos' labels"] if selection.truth and not boxes else []
        parts.append(f"those chosen by {markdown_text(selection)} (by {' and '.join(by)})")
    if size:
        parts.append(f"a seeded random sample of at most {size:,} of {'them' if parts else 'all'} (seed {seed})")
    return f"It holds part of the described photos: {', '.join(parts)}." if parts else ""


def joined_rows(
    described: Path,
    cv: Path | None,
    problems: list[dict],
    strip_location: bool = False,
    lines: set[int] | None = None,
    selection: Selection = Selection(),
    keep: Callable[[ExportRow], bool] | None = None,
) -> Iterator[ExportRow]:
    """The described rows (and their CV records, with `cv`) in the described file's order, both files
    read as the rows are used; a row that cannot be joined is appended to `problems` instead. Of `desclm check`'s
    verdicts (`is_verdicts`), a row a photo of its captions one after another (`verdict_rows`, `photo_rows`), each
    caption chosen alone. With
    `strip_location`, the records' `taken` without `PLACE`; with `lines` (`sampled_lines`), only those lines'
    rows, the others' records read past (not held) and their problems not said; with `selection`, only the
    joined rows it chooses (by their verdicts, and by what their sentences state: `said`), and with `keep`, only
    those it keeps (a split's), the others passed over without a word."""
    if is_verdicts(described):  # a row a photo of its captions the selection chooses, each chosen alone
        chooses, unchecked = selection.chooses, selection.verdict == "error"  # (the lines not checked: their photos)
        verdicts = verdict_rows(described, cv, problems, lines=lines, unchecked=unchecked)
        rows = photo_rows(row for row in verdicts if _chosen(chooses, row, problems))
        selection = Selection()  # (chosen above)
    else:
        rows = _described_rows(described, cv, problems, lines)
    for joined in rows:
        if selection.asked and not _chosen(selection.chooses, joined, problems):  # read with the record's labels
            continue
        if keep is not None and not keep(joined):
            continue
        record = joined.record
        if strip_location and isinstance((record or {}).get("taken"), dict):
            joined.record = record | {"taken": {k: v for k, v in record["taken"].items() if k not in PLACE}}
        yield joined


def _chosen(chooses: Callable[[ExportRow], bool], row: ExportRow, problems: list[dict]) -> bool:
    """Whether a `Selection` `chooses` a row; a row without a caption whose CV record the grammar cannot read (to tell
    what it states: `selection.stated`) is not, its line's problem."""
    try:
        return chooses(row)
    except RecordError as error:
        problems.append({"line": row.line, "id": row.id, "error": f"cannot be chosen: {error}"})
        return False


def _described_rows(
    described: Path, cv: Path | None, problems: list[dict], lines: set[int] | None
) -> Iterator[ExportRow]:
    """`joined_rows`' rows of a described file (`desclm describe`'s), before any choice; of a file of CV records
    (`is_cv_records`: the batch requests' input), a row a record, without a description."""
    records = _CvRecords(cv) if cv is not None else None
    cv_records = is_cv_records(described)
    for line in iter_jsonl(described):
        row, chosen = line.record, lines is None or line.line_number in lines
        if row is None:
            if chosen:
                problems.append({"line": line.line_number, "error": line.error})
            continue
        if cv_records and _cv_record(row):
            key = record_id(row, line.line_number)
            image = row.get("image") or (key if isinstance(key, str) else None)
            if chosen:
                yield ExportRow(key, [], "", row, image, line=line.line_number)
            continue
        if not _described(row):
            why = row.get("error") or "no 'description' (not a row of desclm describe?)"
            if chosen:
                problems.append({"line": line.line_number, "id": row.get("id"), "error": f"not described: {why}"})
            continue
        record = records.take(_key(row.get("id"))) if records is not None else None
        if not chosen:
            continue
        given = [str(c) for c in row["captions"]] if isinstance(row.get("captions"), list) else []
        captions = [row["description"], *(c for c in given if c != row["description"])]  # the description first
        if records is not None and record is None:
            problems.append(
                {"line": line.line_number, "id": row.get("id"), "error": f"no CV record with this id in {cv}"}
            )
            continue
        image = (record or {}).get("image") or (row["id"] if isinstance(row.get("id"), str) else None)
        yield ExportRow(row.get("id"), captions, row.get("source", ""), record, image, line=line.line_number)


def photo_rows(captions: Iterable[ExportRow]) -> Iterator[ExportRow]:
    """Checked captions (`verdict_rows`) as a row a photo: each run of captions of one photo, one after another
    (a model's several answers about it), one row, its captions in order (the first its description, its findings
    and boxes the row's), each one's findings in `checked`, its verdicts' lines in `lines`; a photo's captions
    apart in the file are rows apart."""
    row: ExportRow | None = None
    for caption in captions:
        if row is not None and (caption.id, caption.image) == (row.id, row.image):
            row.captions.extend(caption.captions)  # (none, of a line the check could not check)
            row.checked.append(caption.findings)
            row.lines += (caption.line,)
            row.line = caption.line
            continue
        if row is not None:
            yield row
        row = replace(caption, captions=list(caption.captions), checked=[caption.findings], lines=(caption.line,))
    if row is not None:
        yield row


def is_cv_records(path: Path) -> bool:
    """Whether a file holds CV records (01's: `detections`, no `description`), not described rows or verdicts: by its
    first line that says (an error row says neither)."""
    for line in iter_jsonl(path):
        row = line.record
        if isinstance(row, dict) and any(name in row for name in ("description", "faithful", "skipped")):
            return False
        if isinstance(row, dict) and isinstance(row.get("detections"), list):
            return True
    return False


def _cv_record(row) -> bool:
    """Whether a line of a file of CV records (`is_cv_records`) is one (not an error row, not broken)."""
    return isinstance(row, dict) and "error" not in row and isinstance(row.get("detections"), list)


def is_verdicts(path: Path) -> bool:
    """Whether a file holds `desclm check`'s verdicts (a caption and what the check found), not described rows: by its
    first line that says (an error row says neither), else (every line an error: a batch whose requests all failed)
    by the check's summary beside it (`summary_path`)."""
    for line in iter_jsonl(path):
        row = line.record
        if isinstance(row, dict) and isinstance(row.get("description"), str):
            return False
        if isinstance(row, dict) and ("faithful" in row or "skipped" in row):
            return True
    try:
        return "faithful_share" in json.loads(summary_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def verdict_rows(
    verdicts: Path,
    cv: Path | None,
    problems: list[dict],
    scratch: Path | None = None,
    lines: set[int] | None = None,
    unchecked: bool = False,
) -> Iterator[ExportRow]:
    """The captions of a `desclm check` verdicts file as rows (a caption its description, source `CHECKED`, with its
    findings), each joined to its CV record as the check joined it: by its id, else its photo's name without the
    extension (`photo_stem`), any number of captions a record, the records indexed in `scratch` (`RecordIndex`: not
    held in memory; None: a temporary folder, `TMPDIR`). A line the check could not check (with `unchecked`, a row
    without a caption, `unchecked` saying why: to ask again), or without a record, is a problem; with `lines`, only
    those lines are read (the others' problems not said)."""
    with contextlib.ExitStack() as stack:
        if cv is not None and scratch is None:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".desclm-verdicts-")))
        records = RecordIndex(cv, scratch) if cv is not None else None
        if records is not None:
            stack.callback(records.close)
        for line in iter_jsonl(verdicts):
            row = line.record
            if lines is not None and line.line_number not in lines:
                continue
            if row is None:
                problems.append({"line": line.line_number, "error": line.error})
                continue
            key = row.get("id")
            error = row.get("error") if unchecked and isinstance(row.get("error"), str) else None
            if error is None and not (isinstance(row.get("caption"), str) and isinstance(row.get("findings"), list)):
                why = row.get("error") or row.get("skipped") or "no caption and findings (not a line of desclm check?)"
                problems.append({"line": line.line_number, "id": key, "error": f"not checked: {why}"})
                continue
            record = None
            if records is not None:
                record = records.joined(key, photo_stem(key) if isinstance(key, str) else None)
                if record is None:
                    problems.append(
                        {"line": line.line_number, "id": key, "error": f"no CV record with this id in {cv}"}
                    )
                    continue
            image = (record or {}).get("image") or (key if isinstance(key, str) else None)
            given = row.get("given") if isinstance(row.get("given"), list) else None
            if error is not None:  # no caption: its photo, to ask again
                yield ExportRow(key, [], CHECKED, record, image, line=line.line_number, unchecked=error)
                continue
            yield ExportRow(
                key,
                [row["caption"]],
                CHECKED,
                record,
                image,
                line=line.line_number,
                findings=row["findings"],
                given=given,
                token_limit=row.get("token_limit") is True,
            )


def _detections(record: dict | None) -> list[dict]:
    return [
        {
            "label": str(d.get("label")),
            "confidence": float(d.get("confidence")),
            "bbox": [float(v) for v in d["bbox"]] if d.get("bbox") is not None else None,
        }
        for d in (record or {}).get("detections") or []
    ]


def _labelled_boxes(record: dict | None) -> list[dict]:
    """A record's labelled boxes (its `ground_truth`, `labels_problem` checked) as `_detections` gives detections."""
    truth = (record or {}).get("ground_truth") or {}
    return [
        {"label": str(d["label"]), "confidence": 1.0, "bbox": [float(v) for v in d["bbox"]]}
        for d in truth.get("detections") or []
    ]


def labels_problem(row: ExportRow) -> str | None:
    """Why a row's labelled boxes (its record's `ground_truth`) cannot be written, else None: none, or a box that is
    not a label and four numbers in 0..1."""
    truth = (row.record or {}).get("ground_truth")
    if not isinstance(truth, dict) or not isinstance(truth.get("detections"), list):
        return (
            "no labels (ground_truth) in its CV record to write: 01 reads them from a labelled source (data.yaml, COCO)"
        )
    for index, box in enumerate(truth["detections"]):
        corners = box.get("bbox") if isinstance(box, dict) else None
        if not isinstance(box, dict) or not isinstance(box.get("label"), str) or not box["label"].strip():
            return f"ground_truth.detections[{index}] has no label"
        if not (isinstance(corners, list) and len(corners) == 4 and all(is_number(v) and 0 <= v <= 1 for v in corners)):
            return f"ground_truth.detections[{index}].bbox is not four numbers in 0..1: {corners!r}"
    return None


def _scene(record: dict | None) -> dict | None:
    scene = (record or {}).get("scene")
    if not isinstance(scene, dict) or scene.get("class") is None:
        return None
    confidence = scene.get("confidence")
    return {"class": str(scene["class"]), "confidence": float(confidence) if confidence is not None else None}


def _taken(record: dict | None) -> dict | None:
    """The record's `taken` as the hf and webdataset exports hold it: `time` (ISO 8601 text), `latitude`
    and `longitude` (when a place on Earth), `altitude` (metres, with a place), and the drone's height and
    camera's view (`POSE_LIMITS`' fields, each within its range); None when it says none of them."""
    taken = (record or {}).get("taken")
    if not isinstance(taken, dict):
        return None
    place, altitude = position_of(taken), taken.get("altitude")
    fields = {
        "time": taken.get("time") if isinstance(taken.get("time"), str) else None,
        "latitude": float(place[1]) if place else None,
        "longitude": float(place[0]) if place else None,
        "altitude": float(altitude) if place and is_number(altitude) else None,
    }
    for name, (low, high) in POSE_LIMITS.items():
        value = taken.get(name)
        fields[name] = float(value) if is_number(value) and low <= value <= high else None
    return fields if any(value is not None for value in fields.values()) else None


def _hf_features(
    with_images: bool, with_records: bool, with_chat: bool = False, categories: tuple[str, ...] | None = None
):
    from datasets import ClassLabel, Features, Image, List, Value

    features = {"id": Value("string")}
    if categories is not None:  # the object-detection columns (`DetectionColumns`), as the Hub's detection sets
        features |= {"image_id": Value("int64"), "width": Value("int32"), "height": Value("int32")}
    if with_images:
        features["image"] = Image()
    features |= {"description": Value("string"), "captions": List(Value("string")), "source": Value("string")}
    if with_chat:  # TRL's conversational prompt-completion columns (`chat_turns`)
        turns = List({"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})})
        features |= {"prompt": turns, "completion": turns}
    if with_records:
        box = {"label": Value("string"), "confidence": Value("float64"), "bbox": List(Value("float64"))}
        features |= {"detections": List(box), "scene": {"class": Value("string"), "confidence": Value("float64")}}
        place = {name: Value("float64") for name in ("latitude", "longitude", "altitude", *POSE_LIMITS)}
        features["taken"] = {"time": Value("string")} | place  # 01's `taken`: when, where, how (None: unknown)
    if categories is not None:
        features["objects"] = {
            "id": List(Value("int64")),
            "area": List(Value("float32")),
            "bbox": List(List(Value("float32"), length=4)),
            "category": List(ClassLabel(names=list(categories))),
        }
    return Features(features)


def detection_categories(cv: Path, min_confidence: float) -> tuple[str, ...]:
    """The labels, as given, of the CV records' detections at or above `min_confidence`, in the order they first
    appear: the object-detection columns' categories (a `ClassLabel` is named before the first shard, and alike in
    every split). A record that does not read (`validate_record`) names none: its row is an error of the export."""
    labels: dict[str, None] = {}
    for line in progress(iter_jsonl(cv), desc="detection labels", unit="record"):
        try:
            validate_record(line.record, "CV record")
        except ValueError:
            continue
        labels |= {d["label"]: None for d in _detections(line.record) if d["confidence"] >= min_confidence}
    return tuple(labels)


def coco_box(corners: list[float], width: int, height: int) -> list[float]:
    """A record's box ([x1, y1, x2, y2] in 0..1) as COCO writes one: [x, y, width, height] in the photo's pixels, to a
    hundredth (the coco_instances export's and the hf export's detection columns)."""
    x1, y1, x2, y2 = corners
    return [round(x1 * width, 2), round(y1 * height, 2), round((x2 - x1) * width, 2), round((y2 - y1) * height, 2)]


@dataclass(frozen=True)
class DetectionColumns:
    """The hf export's object-detection columns (`--objects`), in the Hugging Face layout transformers'
    object-detection examples train on: `image_id`, the photo's upright `width` and `height` (as `datasets` decodes
    it) and `objects`, the detections at or above `min_confidence` (those the description states), `category` a
    `ClassLabel` of `categories` (`detection_categories`)."""

    categories: tuple[str, ...]
    min_confidence: float

    @cached_property
    def _numbers(self) -> dict[str, int]:
        return {label: number for number, label in enumerate(self.categories)}

    def of(self, row: ExportRow, photo: bytes) -> dict:
        """A row's columns: `image_id` the row's line in the described file (unique, the same when the export is run
        again); per box its index in the record's `detections` (`id`), its `area` and `bbox` [x, y, width, height]
        in pixels (`coco_box`, clipped to the photo) and its `category`, the label's number in `categories`. The
        row's record is checked first (`record_problem`, `boxes_problem`: a detection without a box cannot be placed).

        Raises:
            ValueError: The photo cannot be read for its size.
        """
        from PIL import Image

        try:
            with Image.open(io.BytesIO(photo)) as image:
                width, height = seen_size(image)
        except (OSError, SyntaxError, Image.DecompressionBombError) as error:
            raise ValueError(f"photo not readable for its size, which its boxes' pixels need: {error}") from error
        objects: dict[str, list] = {"id": [], "area": [], "bbox": [], "category": []}
        for index, detection in enumerate(_detections(row.record)):
            if detection["confidence"] < self.min_confidence:
                continue
            box = coco_box([min(max(value, 0.0), 1.0) for value in detection["bbox"]], width, height)
            objects["id"].append(index)
            objects["area"].append(round(box[2] * box[3], 2))
            objects["bbox"].append(box)
            objects["category"].append(self._numbers[detection["label"]])
        return {"image_id": row.line, "width": width, "height": height, "objects": objects}


def _photo(row: ExportRow, photos: PhotoKeys, problems: list[dict]) -> bytes | None:
    """The row's photo's bytes as stored, or None (its problem appended to `problems`)."""
    try:
        if not row.image:
            raise OSError("the row names no photo")
        return photos.read_bytes(row.image)
    except (OSError, ValueError) as error:
        where = photos.name(row.image) if row.image else photos.images
        problems.append({"id": row.id, "error": f"photo not read: {where}: {error}"})
        return None


def _record_fields(row: ExportRow, problems: list[dict]) -> dict | None:
    """The row's `detections`, `scene` and `taken` (none without a CV record), or None (its problem appended)."""
    if row.record is None:
        return {}
    try:
        return {"detections": _detections(row.record), "scene": _scene(row.record), "taken": _taken(row.record)}
    except (TypeError, ValueError, KeyError) as error:  # a record the describer never took
        problems.append({"id": row.id, "error": f"CV record not readable: {type(error).__name__}: {error}"})
        return None


def chat_turns(prompt: str, description: str) -> dict:
    """A photo's conversation as TRL's SFTTrainer trains a vision-language model on it (its conversational
    prompt-completion form, the loss on the completion only): the user's turn the photo and `prompt`, the
    assistant's the description. The photo is a placeholder (`{"type": "image"}`) its trainer fills with the
    example's `image`, as each model's chat template marks a photo its own way."""
    return {
        "prompt": [{"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": prompt}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": description}]}],
    }


@dataclass(frozen=True)
class PhotoBytes:
    """A row's photo as an export holds it: its bytes as stored, or written again (`PhotoRewrite`)."""

    data: bytes
    rewritten: bool = False

    def name(self, key: str) -> str:
        """The photo's file name: its key's, with its format's extension where it was written again (and where
        the key has none)."""
        if self.rewritten:
            return str(PurePosixPath(photo_file_name(key, self.data)).with_suffix(photo_suffix(self.data)))
        return photo_file_name(key, self.data)


def _hf_example(
    row: ExportRow,
    photo: PhotoBytes | None,
    problems: list[dict],
    chat_prompt: str | None = None,
    objects: DetectionColumns | None = None,
    boxes: tuple[AnswerUnits, Policy] | None = None,
) -> dict | None:
    """The row as a dataset example (with its `photo`; with `chat_prompt`: and its `chat_turns`, the answer the
    description, or with `boxes` (units, policy) its stated boxes, `boxes_answer`; with `objects`: and its
    object-detection columns, for which its `photo` is needed), or None (its problem appended to `problems`)."""
    example = {"id": id_text(row.id)}
    if photo is not None:
        example["image"] = {"bytes": photo.data, "path": photo.name(row.image) if photo.rewritten else row.image}
    if (fields := _record_fields(row, problems)) is None:
        return None
    if objects is not None:
        try:
            if problem := record_problem(row) or boxes_problem(row):
                raise ValueError(problem)
            example |= objects.of(row, photo.data)
        except ValueError as error:
            problems.append({"id": row.id, "error": str(error)})
            return None
        except KeyError as error:  # a label the CV file did not hold when its categories were read
            problems.append({"id": row.id, "error": f"label {error} not among the categories read before the export"})
            return None
    example |= {"description": row.description, "captions": row.captions, "source": row.source} | fields
    if chat_prompt is None:
        return example
    if boxes is not None and (problem := boxes_answer_problem(row, boxes[0])):
        problems.append({"id": row.id, "error": problem})
        return None
    answer = row.description if boxes is None else boxes_answer(row, boxes[1], boxes[0])
    return example | chat_turns(chat_prompt, answer)


def _webdataset_sample(row: ExportRow, photo: PhotoBytes | None, problems: list[dict]) -> dict | None:
    """The row's WebDataset files by extension (`helpers.describer.webdataset`; with its `photo`), or None (its
    problem appended to `problems`)."""
    files: dict = {}
    if photo is not None:
        try:
            extension = Path(photo.name(row.image)).suffix.lower().lstrip(".")
        except ValueError as error:
            problems.append({"id": row.id, "error": f"photo not read: {row.image}: {error}"})
            return None
        files[extension] = photo.data
    if (fields := _record_fields(row, problems)) is None:
        return None
    about = {"id": row.id, "image": row.image, "description": row.description, "captions": row.captions}
    return files | {"txt": row.description, "json": about | {"source": row.source} | fields}


def export_sharded(
    fmt: str,
    described: Path,
    cv: Path | None,
    output: Path,
    images: Path | None,
    columns: tuple[str, str] = ("", ""),
    shard_bytes: int = SHARD_BYTES,
    strip_location: bool = False,
    chat_prompt: str | None = None,
    rewrite: PhotoRewrite = PhotoRewrite(),
    workers: int = 0,
    sample: tuple[int, int] = (0, 0),
    selection: Selection = Selection(),
    parquet_only: bool = False,
    splits: SplitPlan = SplitPlan(),
    license: str = "",
    objects: DetectionColumns | None = None,
) -> tuple[int, int, list[dict]]:
    """The rows as a folder of shards, written a shard at a time as the files are read: "hf", a Hugging
    Face dataset in `output` (`save_to_disk`'s layout) and as Parquet shards in `output/parquet`
    (`ShardedDatasetWriter`); "webdataset", tar shards (`WebDatasetWriter`). A killed export resumes
    after its last complete shard. Returns the rows joined, the examples written and the problems (the
    join's first). `images`: a folder or a Hugging Face dataset (`columns`: its image and key columns,
    see `helpers.core.photo_datasets`); `strip_location`: the photos and records without where they were
    taken (`PhotoRewrite.strip_location`, `joined_rows`); `chat_prompt` (hf, with `images`): each example's
    conversation too (`chat_turns`); `rewrite`: the photos written smaller or in another format
    (`helpers.core.photo_rewrite`), on `workers` processes (0: in this one) while this one reads and writes;
    `sample` (size, seed): only a seeded random sample of the described photos (`sampled_lines`; size 0: all), of
    those `selection` chooses; `parquet_only` (hf): the Parquet shards alone, no Arrow files; `splits`: a folder
    of shards per split (`export_splits`); `license`: the licence the dataset card states; `objects` (hf, with
    `images` and `cv`): the object-detection columns too (`DetectionColumns`)."""
    job = ShardedJob(fmt, described, cv, output, images, columns, shard_bytes, license=license, objects=objects)
    job = replace(job, strip_location=strip_location, chat_prompt=chat_prompt, rewrite=rewrite, workers=workers)
    job = replace(job, sample=sample, selection=selection, parquet_only=parquet_only)
    return export_splits(job, splits)[:3] if splits.asked else _export_shards(job)[:3]


@dataclass(frozen=True)
class ShardedJob:
    """What a sharded export writes and from what (`export_sharded`'s arguments, which say what each is)."""

    fmt: str
    described: Path
    cv: Path | None
    output: Path
    images: Path | None
    columns: tuple[str, str] = ("", "")
    shard_bytes: int = SHARD_BYTES
    strip_location: bool = False
    chat_prompt: str | None = None
    rewrite: PhotoRewrite = PhotoRewrite()
    workers: int = 0
    sample: tuple[int, int] = (0, 0)
    selection: Selection = Selection()
    parquet_only: bool = False
    license: str = ""
    objects: DetectionColumns | None = None
    boxes: tuple[AnswerUnits, Policy] | None = None  # (hf with chat_prompt) the answers the boxes, not descriptions


NO_SPLIT = f"its CV record names no split of {', '.join(RECORD_SPLITS)} (--splits records)"


def split_key(row: ExportRow) -> str:
    """What a row's split is decided by (`SplitPlan.split_of`): its photo's key, else its id."""
    return row.image or _key(row.id)


def split_of_row(plan: SplitPlan, row: ExportRow) -> str | None:
    """A row's split: by its photo's key (else its id) and its record's own split (`SplitPlan.split_of`)."""
    return plan.split_of(split_key(row), (row.record or {}).get("split"))


def _in_split(name: str, plan: SplitPlan, problems: list[dict], row: ExportRow) -> bool:
    """Whether a row is of split `name`; one whose record names no split (`--splits records`) is in none, a join
    problem of its line (said once, as the others are)."""
    chosen = split_of_row(plan, row)
    if chosen is None:
        problems.append({"line": row.line, "id": row.id, "error": NO_SPLIT})
    return chosen == name


def export_identity(described: Path, cv: Path | None, images: Path | None, **settings) -> dict:
    """What an export's output depends on, to tell the same export run again (one killed part way) from another:
    its inputs (path, size, time), the photos' place and `settings`, as read back from JSON (tuples as lists)."""
    identity = {
        "described": file_state(described),
        "cv": file_state(cv),
        "images": str(images.resolve()) if images is not None else None,
        **settings,
    }
    return json.loads(json.dumps(identity))


def export_splits(job: ShardedJob, splits: SplitPlan) -> tuple[int, int, list[dict], dict[str, int]]:
    """`export_sharded` with a folder of shards per split (and each split's photo count, a split without any 0): each
    split written in its turn (the files read once a split, only its photos), resumable (a killed export goes on in
    the split it stopped in, the splits before it kept: `splits.json` in the work folder), then the hf export's
    `dataset_dict.json` (`load_from_disk` reads a DatasetDict) and one card for them all; put in place of `output`
    when all are done. The join's problems (lines not described, without a CV record) are said once."""
    fmt, output, images, sample, selection = job.fmt, job.output, job.images, job.sample, job.selection
    work = output.with_name(f".{output.name}.splits")
    identity = export_identity(
        job.described,
        job.cv,
        images,
        format=fmt,
        settings=[list(job.columns), job.strip_location, job.chat_prompt, repr(job.rewrite), sample],
        selection=selection.as_dict(),
        parquet_only=job.parquet_only,
        splits=splits.as_dict(),
        objects=[list(job.objects.categories), job.objects.min_confidence] if job.objects else None,
        chat_boxes=[asdict(job.boxes[0]), job.boxes[1].min_confidence] if job.boxes else None,
    )
    state_path = work / "splits.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if state is None or state.get("identity") != identity:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        state = {"identity": identity, "done": {}}
    for name in splits.names:
        if name in state["done"]:
            logger.info("%s: split %s already written, kept", output, name)
            continue
        logger.info("%s: writing split %s", output, name)
        rows, written, problems, counts, data_bytes = _export_shards(replace(job, output=work / name), (name, splits))
        state["done"][name] = [rows, written, problems, counts.as_dict(), data_bytes]
        atomic_write_text(state_path, json.dumps(state))
    done = [state["done"][name] for name in splits.names]
    joined = [problem for problem in done[0][2] if "line" in problem]  # alike in every split's pass
    problems = joined + [problem for part in done for problem in part[2] if "line" not in problem]
    counts = CardCounts.merged([part[3] for part in done])
    parts = {
        name: (part[3]["photos"], part[4]) for name, part in zip(splits.names, done, strict=True) if part[3]["photos"]
    }
    for name in (name for name in splits.names if name not in parts):  # `load_dataset` refuses a split of nothing
        logger.warning("%s: no photo fell in split %s: left out", output, name)
        shutil.rmtree(work / name)
    held = ", ".join(
        f"{name} {part[3]['photos'] / max(counts.photos, 1):.1%}" for name, part in zip(splits.names, done)
    )
    logger.info("%s: the splits hold %s of the photos (asked: %s)", output, held, dict(splits.shares) or "records")
    with_chat = job.chat_prompt is not None
    categories = job.objects.categories if job.objects else None
    features = _hf_features(images is not None, job.cv is not None, with_chat, categories) if fmt == "hf" else None
    if fmt == "hf" and not job.parquet_only:
        atomic_write_text(work / "dataset_dict.json", json.dumps({"splits": list(parts)}))
    shares = ", ".join(f"{name} {share:g}" for name, share in splits.shares)
    decided = "its folder" if splits.by == "folder" else "the photo"
    note = f"Split {shares}: each photo's split decided by a hash of {decided} and seed {splits.seed}"
    note += ", so a folder's photos share one split." if splits.by == "folder" else "."
    if splits.by == "records":
        note = "Split as the photos' CV records say (their `split`: a labelled dataset's own train, val and test)."
    card = dataset_card(
        fmt,
        counts,
        len(problems),
        features,
        sum(size for _, size in parts.values()),
        job.chat_prompt,
        job.strip_location,
        job.rewrite,
        chosen_note(sample, selection),
        job.parquet_only,
        parts,
        markdown_text(note),
        job.license,
        job.boxes[0] if job.boxes else None,
    )
    atomic_write_text(work / "README.md", card)
    state_path.unlink()
    replace_dir(work, output)
    by_split = {name: part[3]["photos"] for name, part in zip(splits.names, done, strict=True)}
    return sum(part[0] for part in done), sum(part[1] for part in done), problems, by_split


def _export_shards(
    job: ShardedJob, split: tuple[str, SplitPlan] | None = None
) -> tuple[int, int, list[dict], CardCounts, int]:
    """`export_sharded`'s work for one folder of shards: all the photos, or with `split` (its name, the plan) one
    split's, without a card (the splits' is written once). Returns the rows joined, the examples written, the
    problems (the join's first), the card's counts and the data's bytes (hf)."""
    fmt, described, cv, output, images, columns = job.fmt, job.described, job.cv, job.output, job.images, job.columns
    strip_location, chat_prompt, rewrite, sample = job.strip_location, job.chat_prompt, job.rewrite, job.sample
    selection, parquet_only, shard_bytes, workers = job.selection, job.parquet_only, job.shard_bytes, job.workers
    if chat_prompt is not None and (fmt != "hf" or images is None):
        raise ValueError("the chat columns are the hf export's, with its photos (--images)")
    objects = job.objects
    if objects is not None and (fmt != "hf" or images is None or cv is None):
        raise ValueError("the object-detection columns are the hf export's, with its photos and CV records")
    settings = {
        "described": file_state(described),
        "cv": file_state(cv),
        "images": str(images.resolve()) if images is not None else None,
        "columns": list(columns),
    } | ({"strip_location": True} if strip_location else {})
    rewrite = replace(rewrite, strip_location=strip_location)  # photos kept as stored are stripped there
    if rewrite.rewrites:  # (older exports, which had no such setting, resume)
        settings["rewrite"] = [rewrite.max_side, rewrite.image_format, rewrite.quality]
    if sample[0]:  # another sample is another export
        settings["sample"] = list(sample)
    if selection.asked:  # and so is another choice
        settings["selection"] = selection.as_dict()
    if parquet_only:  # and another layout (an export from before the setting has both, as the default)
        settings["parquet_only"] = True
    if split is not None:  # and another split, or plan
        settings["split"] = [split[0], split[1].as_dict()]
    if objects is not None:  # and other boxes (the categories are in the features)
        settings["objects_min_confidence"] = objects.min_confidence
    if job.boxes is not None:  # and other answers
        settings["chat_boxes"] = [asdict(job.boxes[0]), job.boxes[1].min_confidence]
    chosen = chosen_note(sample, selection)  # the card says which photos
    if fmt == "hf":
        categories = objects.categories if objects is not None else None
        features = _hf_features(images is not None, cv is not None, chat_prompt is not None, categories)
        settings["features"] = features.to_dict()  # a partial export of other columns starts over

        def example_of(row: ExportRow, photo: PhotoBytes | None, problems: list[dict]) -> dict | None:
            return _hf_example(row, photo, problems, chat_prompt, objects, job.boxes)

        name = split[0] if split is not None else "train"
        writer = ShardedDatasetWriter(output, features, settings, shard_bytes, parquet_only, name)
    else:
        features, writer, example_of = None, WebDatasetWriter(output, settings, shard_bytes), _webdataset_sample
    counts = CardCounts(writer.progress.get("card"))  # the examples' in the complete shards (the card's numbers)
    start = writer.progress["line"]  # the lines up to it are in the complete shards
    rows, kept = writer.progress["rows"], writer.progress["problems"]
    join_problems, problems = [], []  # of the lines after `start`

    def so_far(upto: float = float("inf")) -> list[dict]:
        """The problems of the lines up to `upto` (the rows read ahead for the photo workers are not yet)."""
        joined_later = [problem for problem in join_problems if start < problem["line"] <= upto]
        return [*kept, *joined_later, *problems]

    photos = PhotoKeys(images, *columns) if images is not None else None
    line = start
    lines, selection = chosen_lines(described, cv, sample, selection)
    keep = None if split is None else partial(_in_split, *split, join_problems)
    rows_read = joined_rows(described, cv, join_problems, strip_location, lines, selection, keep)
    held: deque[tuple[ExportRow, list[dict]]] = deque()  # the rows whose photos are being written, in order

    def photo_calls() -> Iterator[tuple[bytes | None]]:
        for row in rows_read:
            if row.line > start:
                row_problems: list[dict] = []  # kept with its row: counted once the row is (`so_far`)
                held.append((row, row_problems))
                yield (_photo(row, photos, row_problems) if photos is not None else None,)

    pool = WorkerPool(rewrite, workers if rewrite.rewrites and photos is not None else 0)
    turned = 0  # photos kept as stored that readers ignoring EXIF see on their side (WebDataset's decoders)
    try:
        photos_written = pool.ordered("photo", photo_calls(), 2 * pool.workers)
        for data, rewritten, error in progress(photos_written, desc=f"export {fmt}", unit="photo"):
            turned += fmt == "webdataset" and data is not None and not rewritten and stored_turned(data)
            row, row_problems = held.popleft()
            rows, line = rows + 1, row.line
            problems.extend(row_problems)
            if error is not None:
                problems.append({"id": row.id, "error": f"photo not written: {photos.name(row.image)}: {error}"})
            if row_problems or error is not None:
                continue
            example = example_of(row, PhotoBytes(data, rewritten) if data is not None else None, problems)
            if example is not None:
                writer.add(example)
                counts.add(example if fmt == "hf" else example["json"])
                if writer.shard_full:
                    writer.progress["card"] = counts.as_dict()
                    writer.close_shard(line, rows, so_far(line))
    finally:
        pool.close()
    writer.progress["card"] = counts.as_dict()
    writer.close_shard(line, rows, so_far())
    if turned:
        logger.warning(TURNED_WARNING, turned, "WebDataset's decoders (OpenCLIP's loader)")
    found = so_far()
    data_bytes = writer.data_bytes() if fmt == "hf" else 0  # the complete shards'
    if split is None:
        arguments = (fmt, counts, len(found), features, data_bytes, chat_prompt, strip_location, rewrite, chosen)
        chat_boxes = job.boxes[0] if job.boxes else None
        card = dataset_card(*arguments, parquet_only, license=job.license, chat_boxes=chat_boxes)
        atomic_write_text(writer.dataset / "README.md", card)
    writer.finish()
    joined = [problem for problem in found if "line" in problem]
    written = rows - (len(found) - len(joined))
    return rows, written, joined + [problem for problem in found if "line" not in problem], counts, data_bytes


def entry_id(row: ExportRow, index: int) -> str:
    """The id of a row's entry for caption `index`: `<id>` for one caption, `<id>-<k>` for more."""
    base = id_text(row.id)
    return base if len(row.captions) == 1 else f"{base}-{index}"


def llava_entries(row: ExportRow, prompt: str = LLAVA_PROMPT) -> list[dict]:
    """A row's LLaVA-style entries: one per caption (`entry_id`)."""
    return [
        {
            "id": entry_id(row, index),
            "image": row.photo_name,
            "conversations": [{"from": "human", "value": f"<image>\n{prompt}"}, {"from": "gpt", "value": caption}],
        }
        for index, caption in enumerate(row.captions)
    ]


def box_entries(row: ExportRow, prompt: str, policy: Policy, units: AnswerUnits) -> list[dict]:
    """A row's LLaVA-style entry whose answer is its boxes (`llava --answer boxes`): the detections its description
    states (at `policy`'s threshold, with their boxes), labels as given, in the form Qwen-VL answers grounding in
    (`qwen_answer`, corners in `units`; pixels of the record's photo size, as `desclm check` reads them back); one
    entry a photo, `[]` for a photo with none. Rows are checked first (`boxes_answer_problem`)."""
    turns = [
        {"from": "human", "value": f"<image>\n{prompt}"},
        {"from": "gpt", "value": boxes_answer(row, policy, units)},
    ]
    return [{"id": id_text(row.id), "image": row.photo_name, "conversations": turns}]


def boxes_answer(row: ExportRow, policy: Policy, units: AnswerUnits) -> str:
    """A row's stated boxes (at `policy`'s threshold) as Qwen-VL's grounding answer (`qwen_answer`), labels as
    given, corners in `units` (pixels of the record's photo size)."""
    stated = [d for d in (row.record or {}).get("detections") or [] if d["confidence"] >= policy.min_confidence]
    return qwen_answer([(d["label"], d["bbox"]) for d in stated], units, record_size(row.record))


def boxes_answer_problem(row: ExportRow, units: AnswerUnits) -> str | None:
    """Why a row's boxes cannot be its answer (`box_entries`): its record unreadable, a detection without a box, or
    pixels asked of a photo whose record has no size; else None."""
    problem = record_problem(row) or boxes_problem(row)
    if problem is None and units.units != "thousandths" and record_size(row.record) is None:
        return "no width and height in its CV record: its boxes have no pixels"
    return problem


def grounded_entries(row: ExportRow, prompt: str = LLAVA_PROMPT, policy: Policy = Policy()) -> list[dict]:
    """A row's grounded conversations in ms-swift's grounding layout, one per caption (`entry_id`):
    each phrase of the caption that counts items ("two plastic items": `provenance`, the items it speaks for) is
    written `<ref-object>` and a `<bbox>` per item, the phrase as written in `objects.ref` and the items' boxes in
    `objects.bbox` ([x1, y1, x2, y2] from 0 to 1, `bbox_type` norm1), in the order the tags stand; ms-swift's
    template writes them in its model's own grounding (Qwen2-VL: `<|object_ref_start|>two plastic
    items<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`, each box in thousandths). The sentence is the
    guarded one, so each phrase is the boxes it names. Rows are checked first (`boxes_problem`)."""
    detections = (row.record or {}).get("detections") or []
    entries = []
    for index, caption in enumerate(row.captions):
        pieces, refs, boxes, position = [], [], [], 0
        for phrase in provenance(caption, {"detections": detections}, policy):
            if phrase.count is None or not phrase.detections:
                continue  # the scene's phrase: no box
            pieces.append(caption[position : phrase.start] + GROUNDING_REF + GROUNDING_BOX * len(phrase.detections))
            refs.append(caption[phrase.start : phrase.end])
            boxes += [[float(value) for value in detections[number]["bbox"]] for number in phrase.detections]
            position = phrase.end
        pieces.append(caption[position:])
        entries.append(
            {
                "id": entry_id(row, index),
                "messages": [
                    {"role": "user", "content": f"<image>{prompt}"},
                    {"role": "assistant", "content": "".join(pieces)},
                ],
                "images": [row.photo_name],
                "objects": {"ref": refs, "bbox": boxes, "bbox_type": "norm1"},
            }
        )
    return entries


LLAVA_LINES = ".jsonl"  # a llava output named so holds an entry a line


def _size(row: ExportRow, photos: PhotoKeys | None) -> tuple[int, int] | None:
    """(width, height) as a person sees the photo (the boxes' frame): the CV record's, else read from the photo's
    header and turned as its EXIF says (`seen_size`), else None."""
    record = row.record or {}
    if isinstance(record.get("width"), int) and isinstance(record.get("height"), int):
        return record["width"], record["height"]
    if photos is not None and row.image and photos.exists(row.image):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(photos.read_bytes(row.image))) as image:
                return seen_size(image)
        except (OSError, ValueError):
            return None
    return None


def grounding_problem(row: ExportRow) -> str | None:
    """Why a row's captions cannot be grounded (a caption holding one of ms-swift's grounding tags as text, which
    would take the next phrase's or box's place), else None."""
    for caption in row.captions:
        if tag := next((tag for tag in (GROUNDING_REF, GROUNDING_BOX) if tag in caption), None):
            return f"a caption holds {tag}, ms-swift's grounding tag: its phrases and boxes would be read out of place"
    return None


def record_problem(row: ExportRow) -> str | None:
    """Why the row's CV record cannot be read as the describer reads one (a detection without a label, a confidence
    that is no number: `validate_record`), else None: the exports that read its detections leave that row out, where
    it stopped the export (the geojson maps ask it in `position_problem`). A row without a record has none to read."""
    if row.record is None:
        return None
    try:
        validate_record(row.record, "CV record")
    except ValueError as error:
        return str(error)
    return None


def boxes_problem(row: ExportRow) -> str | None:
    """Why a row's detections cannot be placed (one without a box), else None."""
    for index, detection in enumerate((row.record or {}).get("detections") or []):
        box = detection.get("bbox") if isinstance(detection, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            return f"detections[{index}] has no bbox [x1, y1, x2, y2] to place"
    return None


def instances_problem(row: ExportRow, photos: PhotoKeys | None) -> str | None:
    """Why a row cannot be a COCO instances image (its boxes need its size in pixels), else None."""
    if _size(row, photos) is None:
        return "no width and height in its CV record, nor a photo to read them from: its boxes have no pixels"
    return boxes_problem(row)


YOLO_SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}  # a split -> data.yaml's key
YOLO_STATE = ".desclm_export.json"  # in a yolo export's folder: which export wrote it (`prepare_yolo_folder`)
YOLO_WRITTEN = ("images", "labels", "data.yaml")  # what a yolo export writes in its folder


def yolo_identity(job: ExportJob) -> dict:
    """What a yolo export's photos and labels depend on (`export_identity`)."""
    settings = [repr(job.rewrite), job.sample, job.selection.as_dict(), job.splits.as_dict(), job.strip_location]
    settings += [job.boxes_from] if job.boxes_from != "detections" else []  # (an export from before it: the same)
    images = job.photos.images if job.photos else None
    return export_identity(job.described, job.cv, images, settings=settings + [job.policy.min_confidence])


def prepare_yolo_folder(output: Path, identity: dict) -> None:
    """Readies a yolo export's folder: the same export run again (`identity`, kept in `YOLO_STATE`: one killed part
    way) keeps the photos it copied; before another, what an earlier one wrote (`YOLO_WRITTEN`) is removed, so no
    photo of an earlier run (of another split, or no longer chosen) stays where Ultralytics trains or validates.

    Raises:
        ValueError: The folder holds images/, labels/ or data.yaml that no desclm export wrote (no `YOLO_STATE`).
    """
    state = output / YOLO_STATE
    try:
        before = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = None
    if before == identity:
        return
    written = [output / name for name in YOLO_WRITTEN if (output / name).exists()]
    if written and not state.exists():
        raise ValueError(
            f"{output} holds {written[0].name} that no desclm export wrote (no {YOLO_STATE}; or an earlier desclm's): "
            "remove it, or choose an empty folder"
        )
    for path in written:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(state, json.dumps(identity))


def write_yolo_dataset(
    rows, output: Path, min_confidence: float, splits: SplitPlan = SplitPlan(), from_labels: bool = False
) -> dict[str, int] | None:
    """The rows (their photos already copied to `output/images` by the first pass, with `splits` into
    `images/<split>/`) as a YOLO detection dataset: a label file per photo where Ultralytics looks for it, then
    `data.yaml` with the names and each split's folder (without a validation split, val is train's); each photo's
    boxes its detections at `min_confidence`, or with `from_labels` its labelled boxes, every one (`labels_problem`
    checked them). Returns each split's photo count (None without `splits`)."""
    import yaml
    from ultralytics.data.utils import img2label_paths

    names: dict[str, int] = {}
    by_split: Counter = Counter()
    for row in rows():
        by_split[PurePosixPath(row.file).parts[0]] += 1  # with splits, its split's folder
        image = output / "images" / row.file
        lines = []
        boxes = _detections(row.record) if not from_labels else _labelled_boxes(row.record)
        for detection in boxes:
            if detection["confidence"] < min_confidence and not from_labels:
                continue  # the description states it not (the describer's threshold)
            x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in detection["bbox"])
            number = names.setdefault(detection["label"], len(names))
            lines.append(f"{number} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}\n")
        label = Path(img2label_paths([str(image)])[0])  # `images` -> `labels`, as Ultralytics reads it
        label.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(label, "".join(lines))
    held = [name for name in splits.names if (output / "images" / name).is_dir()]  # a split no photo fell in: none
    folders = {YOLO_SPLITS[name]: f"images/{name}" for name in held} if splits.asked else {"train": "images"}
    spec = {"train": folders.get("train", "images"), "val": folders.get("val", folders.get("train", "images"))}
    spec |= {"test": folders["test"]} if "test" in folders else {}
    spec["names"] = {number: name for name, number in names.items()}
    atomic_write_text(output / "data.yaml", yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    return {name: by_split[name] for name in splits.names} if splits.asked else None


GEOJSON_FIELDS = ("id", "image", "time", "altitude", "scene", "items", "description")  # a feature's own properties


def split_output(output: Path, name: str) -> Path:
    """Where a one-file export writes split `name`: beside `output`, `instances.json` -> `instances_train.json`."""
    return output.with_name(f"{output.stem}_{name}{output.suffix}")


class _EntriesFile:
    """A llava or grounded file filled a row at a time: the row's entries (`entries(row)`) as one array, or with
    `lines` one entry a line (JSON Lines, which `datasets`' JSON reader, and so LLaMA-Factory's and ms-swift's,
    reads a block at a time, where an array is parsed whole in memory)."""

    def __init__(self, file: IO[str], entries: Callable[[ExportRow], list[dict]], lines: bool) -> None:
        self.file, self.entries_of = file, entries
        self.entries = None if lines else JsonArrayWriter(file, indent=1)

    def add(self, row: ExportRow) -> None:
        for entry in self.entries_of(row):
            if self.entries is None:
                self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            else:
                self.entries.add(entry)

    def end(self) -> None:
        if self.entries is not None:
            self.entries.end()
            self.file.write("\n")


class _CocoFile:
    """A COCO file filled a row at a time: its images (ids 1..N in row order, `desclm_id` the row's id) written
    to the file as they come, its annotations to a spool (a temporary file beside it) copied in after them, so
    one pass over the rows writes it and no list of either is held. Captions (`categories` None): an annotation
    per caption, the image's size where known; consecutive rows of one photo (`desclm check`'s verdicts, a caption
    each) one image. Instances: an image with its size and `description`, an annotation
    per detection (its box in pixels), `categories` giving each label its id as it is first met, listed whole at
    the end: each split's file of one pass the same."""

    def __init__(self, path: Path, file: IO[str], photos: PhotoKeys | None, categories: dict[str, int] | None) -> None:
        self.file, self.photos, self.categories = file, photos, categories
        description = "desclm captions" if categories is None else "desclm detections"
        info = json.dumps({"description": description, "version": "1.0"}, ensure_ascii=False)
        file.write(f'{{"info": {info}, "licenses": [], "images": ')
        self.images = JsonArrayWriter(file)
        self.spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=path.parent)
        self.annotations = JsonArrayWriter(self.spool)
        self.image_count = self.annotation_count = 0
        self.last: tuple | None = None  # the last image's (row id, file name): a caption of it next joins it

    def add(self, row: ExportRow) -> None:
        if self.categories is None and (row.id, row.photo_name) == self.last:  # a photo's next caption (verdicts')
            self._captions(row)
            return
        self.image_count += 1
        self.last = (row.id, row.photo_name)
        size = _size(row, self.photos)
        image = {"id": self.image_count, "file_name": row.photo_name}
        if self.categories is None:
            self.images.add(image | {"desclm_id": row.id} | ({"width": size[0], "height": size[1]} if size else {}))
            self._captions(row)
            return
        width, height = size  # `instances_problem` left out the rows without one
        self.images.add(image | {"width": width, "height": height, "desclm_id": row.id, "description": row.description})
        for detection in _detections(row.record):
            box = coco_box(detection["bbox"], width, height)
            self.annotation_count += 1
            self.annotations.add(
                {
                    "id": self.annotation_count,
                    "image_id": self.image_count,
                    "category_id": self.categories.setdefault(detection["label"], len(self.categories) + 1),
                    "bbox": box,
                    "segmentation": [],  # a box without an outline, as CVAT writes one (Datumaro warns on none)
                    "area": round(box[2] * box[3], 2),
                    "iscrowd": 0,
                    "score": detection["confidence"],
                }
            )

    def _captions(self, row: ExportRow) -> None:
        for caption in row.captions:
            self.annotation_count += 1
            self.annotations.add({"id": self.annotation_count, "image_id": self.image_count, "caption": caption})

    def end(self) -> None:
        self.images.end()
        self.file.write(', "annotations": ')
        self.annotations.end()
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, self.file)
        self.spool.close()
        if self.categories is not None:  # after the annotations, which give the labels their ids as they meet them
            self.file.write(', "categories": ')
            named = ({"id": number, "name": name, "supercategory": ""} for name, number in self.categories.items())
            self.file.writelines(json_array(named))
        self.file.write("}\n")


def write_json_files(
    fmt: str,
    rows,
    outputs: dict[str | None, Path],
    split_of: Callable,
    photos: PhotoKeys | None,
    prompt: str,
    policy: Policy = Policy(),
    tasks: tuple[str, ...] = FLORENCE_TASKS,
    boxes: AnswerUnits | None = None,
) -> dict[str | None, int]:
    """The llava, grounded, florence2, coco or coco_instances export in one pass over `rows`: each row in the file of
    its split (`outputs` by split name, `split_output`; None the one file of an export without splits), every file
    written atomically and renamed into place once all are written (`AtomicFiles`). Every split's coco_instances file
    gives a label the same category id (a detector trains on one and validates on another). A split no photo fell in
    gets a file of none (warned), so no file an earlier run wrote stays beside the others as if it were this run's.

    Returns:
        Each split's photo count, in `outputs`' order.
    """
    held: Counter = Counter()
    categories: dict[str, int] | None = {} if fmt == "coco_instances" else None
    with AtomicFiles(outputs.values()) as files:
        if fmt in ("llava", "grounded", "florence2"):
            entries = {
                "llava": partial(llava_entries, prompt=prompt)
                if boxes is None
                else partial(box_entries, prompt=prompt, policy=policy, units=boxes),
                "grounded": partial(grounded_entries, prompt=prompt, policy=policy),
                "florence2": partial(florence2_entries, tasks=tasks, policy=policy),
            }[fmt]
            writers = {  # maestro reads Florence-2's entries as JSON Lines only
                name: _EntriesFile(files[path], entries, fmt == "florence2" or path.suffix.lower() == LLAVA_LINES)
                for name, path in outputs.items()
            }
        else:
            writers = {name: _CocoFile(path, files[path], photos, categories) for name, path in outputs.items()}
        for row in rows():
            name = split_of(row)
            held[name] += 1
            writers[name].add(row)
        for writer in writers.values():
            writer.end()
    for name, path in outputs.items():
        if name is not None and not held[name]:
            logger.warning("%s: no photo fell in split %s: its file holds none", path, name)
    return {name: held[name] for name in outputs}


def label_config_path(output: Path) -> Path:
    """Where the label_studio export writes its project's labeling config: beside its tasks."""
    return output.with_name(f"{output.stem}.label_config.xml")


def label_studio_task(
    row: ExportRow,
    photos: PhotoKeys | None,
    url_prefix: str,
    labels: dict,
    min_confidence: float = 0.0,
    truth: bool = False,
) -> dict:
    """The row's Label Studio task (`helpers.describer.label_studio`): its boxes those at or above `min_confidence`
    (the describer's threshold: the boxes its description states, so that the boxes and the sentence people
    review tell one story), every detection's label added to `labels` (the config offers them all); with `truth`
    (photos chosen by how true their descriptions are to their labels), its labels and that, in words (`truth_line`).
    Rows are checked first (`instances_problem`)."""
    detections = _detections(row.record)
    labels.update(dict.fromkeys(detection["label"] for detection in detections))
    stated = [detection for detection in detections if detection["confidence"] >= min_confidence]
    url = image_url(url_prefix, row.photo_name)
    findings = None  # captions desclm check read: what it found in each, in words (the config shows them)
    if row.findings is not None:
        checked = row.checked or [row.findings]
        lines = [
            "\n".join(finding_line(f, caption) for f in found) or "nothing: faithful"
            for caption, found in zip(row.captions, checked, strict=True)
        ]
        findings = lines[0] if len(lines) == 1 else "\n".join(f"caption {n}: {text}" for n, text in enumerate(lines, 1))
    told = truth_line(said(row), row.record or {}, min_confidence) if truth else None
    return label_studio.task(row.id, url, _size(row, photos), stated, row.description, row.captions, findings, told)


def without_position(row: ExportRow) -> bool:
    """Whether a row's CV record gives no position (its photo's EXIF has none, or 01 ran with
    `read_exif` false): no point on a map, and no fault."""
    taken = (row.record or {}).get("taken")
    return not isinstance(taken, dict) or taken.get("latitude") is None or taken.get("longitude") is None


def position_problem(row: ExportRow) -> str | None:
    """Why a row with a position cannot be a point on a map (a position that is no place, a record the
    description's facts cannot be read from), else None."""
    latitude, longitude = row.record["taken"]["latitude"], row.record["taken"]["longitude"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude)):
        return f"taken: latitude {latitude!r}, longitude {longitude!r} are not numbers"
    if not (abs(latitude) <= 90 and abs(longitude) <= 180):
        return f"taken: latitude {latitude}, longitude {longitude} is no place on Earth"
    return record_problem(row)


GEOJSON_LINES = (".geojsonl", ".geojsons")  # an output named so is a GeoJSON text sequence (GDAL's GeoJSONSeq)


def geojson_pieces(rows, policy: Policy, lines: bool = False) -> Iterator[str]:
    """The rows as a GeoJSON FeatureCollection (RFC 7946) in text pieces: a point per photo where it was
    taken (longitude, latitude), its properties `GEOJSON_FIELDS` (`altitude`: metres above sea level as the
    camera wrote it, a property: a GeoJSON point's third number is height above the ellipsoid; `items`: how
    many a description states at `policy`'s threshold) and a count column per label as given (0 where the
    photo has none: every feature has every column, as GIS tools' tables want). With `lines`, one feature a
    line instead (a GeoJSON text sequence, which GDAL and geopandas read as it streams: 10^7 photos need no
    3 GB document). `rows()` gives the rows afresh: a first pass finds the labels (checked rows only:
    `position_problem`)."""
    labels = list(dict.fromkeys(label for row in rows() for label in facts(row.record, policy).counts))
    # a label that is also a property's name (or GIS tools' geometry column) gets its own column all the same
    taken_names = (*GEOJSON_FIELDS, "geometry")
    columns = {label: f"{label} items" if label in taken_names else label for label in labels}

    def features() -> Iterator[dict]:
        for row in rows():
            taken, fact = row.record["taken"], facts(row.record, policy)
            properties = {
                "id": row.id,
                "image": row.image,
                "time": taken.get("time"),
                "altitude": taken.get("altitude"),
                "scene": fact.scene,
                "items": sum(fact.counts.values()),
                "description": row.description,
            }
            properties |= {column: fact.counts.get(label, 0) for label, column in columns.items()}
            yield point_feature(taken["longitude"], taken["latitude"], properties)

    yield from feature_collection(features(), lines)


GEOJSON_ITEM_FIELDS = ("id", "image", "label", "confidence", "time", "width_m", "length_m", "distance_m")


def without_pose(row: ExportRow) -> bool:
    """Whether a row's CV record lacks what places its boxes on the ground (a position, the drone's height,
    the camera's angles and focal length: older drones' and phones' photos say less): no fault."""
    taken = (row.record or {}).get("taken")
    return without_position(row) or any(taken.get(name) is None for name in POSE_FIELDS)


def pose_row_problem(row: ExportRow, photos: PhotoKeys | None, below_takeoff_m: float = 0.0) -> str | None:
    """Why a row with a pose cannot place its boxes on the ground (`below_takeoff_m` below the take-off
    point), else None."""
    if why := position_problem(row) or pose_problem(row.record["taken"]):
        return why
    if CameraPose.of(row.record["taken"], below_takeoff_m) is None:
        height = row.record["taken"]["relative_altitude"]
        return f"taken: relative_altitude {height} (ground {below_takeoff_m:g} m below take-off): not above the ground"
    return instances_problem(row, photos)


def geojson_items_pieces(
    rows, policy: Policy, photos: PhotoKeys | None, tally: Counter, lines: bool = False, below_takeoff_m: float = 0.0
):
    """The boxes the rows' descriptions state (at `policy`'s threshold) as GeoJSON points where they lie on
    the ground (`below_takeoff_m` below the take-off point; `GEOJSON_ITEM_FIELDS`; `lines`: a feature a line),
    counting in `tally` those placed ("items") and those too near the horizon to place ("items_unplaced").
    Rows are checked (`pose_row_problem`)."""

    def features() -> Iterator[dict]:
        for row in rows():
            taken = row.record["taken"]
            pose, (width, height) = CameraPose.of(taken, below_takeoff_m), _size(row, photos)
            for detection in _detections(row.record):
                if detection["confidence"] < policy.min_confidence:
                    continue  # the description states it not (the describer's threshold)
                box = [min(max(v, 0.0), 1.0) for v in detection["bbox"]]
                placed = box_on_ground(pose, box, width, height)
                tally["items" if placed else "items_unplaced"] += 1
                if placed is None:
                    continue
                said = {"id": row.id, "image": row.image, "confidence": detection["confidence"]} | placed
                said |= {"label": detection["label"], "time": taken.get("time")}
                properties = {name: said[name] for name in GEOJSON_ITEM_FIELDS}
                yield point_feature(placed["longitude"], placed["latitude"], properties)

    yield from feature_collection(features(), lines)


TAKEN_COLUMNS = ("time", "latitude", "longitude")  # the csv export's when and where (01's `taken`)


def _when_where(record: dict | None) -> dict:
    """The record's `taken` time and position (those it has), {} when none."""
    taken = (record or {}).get("taken")
    return (
        {name: taken[name] for name in TAKEN_COLUMNS if taken.get(name) is not None} if isinstance(taken, dict) else {}
    )


def _counts(record: dict | None) -> str:
    labels = Counter(str(d.get("label")) for d in (record or {}).get("detections") or [])
    return "; ".join(f"{n} × {label}" for label, n in labels.most_common())


def csv_pieces(rows) -> Iterator[str]:
    """A spreadsheet of the rows as text pieces: one photo per row, a column per caption, and when and
    where each was taken where some record says (`taken`: time, latitude, longitude, each a column when
    some record has it; `rows()` gives the rows afresh: a first pass finds the most captions and what the
    records say of when and where)."""
    width, said = 1, set()
    for row in rows():
        width = max(width, len(row.captions))
        said.update(_when_where(row.record))
    taken_columns = [name for name in TAKEN_COLUMNS if name in said]
    columns = ["id", "image", "scene", "detections", *taken_columns, "source", "description"]
    columns += [f"caption_{k}" for k in range(1, width + 1)] if width > 1 else []

    def lines() -> Iterator[list]:
        yield columns
        for row in rows():
            scene = _scene(row.record)
            cells = [row.id, row.image or "", scene["class"] if scene else "", _counts(row.record)]
            cells += [_when_where(row.record).get(name, "") for name in taken_columns]
            cells.append(row.source)
            cells += [row.description] + (row.captions + [""] * (width - len(row.captions)) if width > 1 else [])
            yield cells

    yield from excel_csv(lines())


class PhotoFolder:
    """The exported photos' files in one folder, each named by `photo_file_name` (its key, with its
    format's extension when the key has none: `train/17.png`) and written as stored, never re-encoded, unless
    `rewrite` writes it again (smaller, in another format: `PhotoBytes.name`; on `_Passes`' workers).

    A file already there with the same bytes is kept (a rerun, or a photo listed twice); one with
    other bytes is replaced when an earlier run wrote it, and is another photo's name clash when this
    run did (that row's error: no entry points at the wrong photo)."""

    def __init__(self, photos: PhotoKeys, folder: Path, rewrite: PhotoRewrite = PhotoRewrite()) -> None:
        self.photos, self.folder, self.rewrite = photos, folder, rewrite
        self.started_ns = time.time_ns()
        self.written = self.kept = self.turned = 0  # turned: kept as stored, turned by their EXIF orientation

    def read(self, key: str | None) -> bytes:
        """The photo `key`'s bytes as stored.

        Raises:
            OSError, ValueError: The row names no photo, or it cannot be read.
        """
        if not key:
            raise ValueError("the row names no photo")
        return self.photos.read_bytes(key)

    def store(self, key: str, data: bytes | None, rewritten: bool, error: str | None) -> str:
        """Writes the photo `key`'s file (unless it is there), its bytes as `PhotoRewrite.photo` gave them;
        returns its name in the folder.

        Raises:
            ValueError: The photo could not be written (`error`: not read, not written again, its place not
                removable), or its name is another photo's.
        """
        if error is not None:
            raise ValueError(error)
        self.turned += not rewritten and stored_turned(data)
        name = PhotoBytes(data, rewritten).name(key) if rewritten else photo_file_name(key, data)
        target = self.folder / name
        try:
            there = target.stat()
        except FileNotFoundError:
            there = None
        if there is not None:
            if there.st_size == len(data) and target.read_bytes() == data:
                self.kept += 1
                return name
            if there.st_mtime_ns >= self.started_ns:
                raise ValueError(f"its file name {name} is another photo's in this export")
        atomic_write_bytes(target, data, sync=False)  # an empty file after a power cut differs, so is rewritten
        self.written += 1
        return name


class _Passes:
    """The joined rows streamed from the files afresh for each pass (10^7 photos need not fit in
    memory); the first pass counts them, collects the problems, leaves out a row `check` says is
    unfit (its reason) and, with a `PhotoFolder`, copies each row's photo (`file` names it there; a row
    whose photo fails is left out of every pass). A row `passes_over` says the format does not hold
    (a photo without a position, on a map) is left out of every pass and counted, not listed: it is
    no fault, and a dataset may have 10^7 of them (the test is cheap, so each pass asks it again)."""

    def __init__(
        self,
        described: Path,
        cv: Path | None,
        photo_folder: PhotoFolder | None = None,
        check=None,
        passes_over=None,
        strip_location: bool = False,
        workers: int = 0,
        lines: set[int] | None = None,
        selection: Selection = Selection(),
        folder_of: Callable[[ExportRow], str] | None = None,
    ) -> None:
        self.described, self.cv, self.photo_folder, self.check = described, cv, photo_folder, check
        self.folder_of = folder_of  # the folder of the photo folder each row's photo goes to (a split's), None: its top
        self.lines = lines  # the sampled lines (`sampled_lines`), None: all
        self.selection = selection  # the photos chosen as the rows are read (`chosen_lines`)
        self.workers = workers  # processes writing the photos again (`PhotoFolder.rewrite`), while this one copies
        self.strip_location = strip_location  # the records' `taken` without where (`joined_rows`)
        self.passes_over = passes_over or (lambda row: False)
        self.problems: list[dict] = []
        self.count = self.passes = self.passed_over = 0
        self.left_out: set[int] = set()  # rows (in joined order) whose photo was not copied

    def __call__(self) -> Iterator[ExportRow]:
        self.passes += 1
        return self._first() if self.passes == 1 else self._again()

    def _first(self) -> Iterator[ExportRow]:
        rows = joined_rows(self.described, self.cv, self.problems, self.strip_location, self.lines, self.selection)
        if self.photo_folder is not None:
            rows = progress(rows, desc=f"copy photos to {self.photo_folder.folder}", unit="photo")
        for index, (row, photo) in enumerate(self._photos(rows)):
            self.count += 1
            if self.passes_over(row):
                self.passed_over += 1
                continue
            if self.check is not None and (why := self.check(row)):
                self.problems.append({"id": row.id, "error": why})
                self.left_out.add(index)
                continue
            if self.photo_folder is not None:
                try:
                    if isinstance(photo, Exception):
                        raise photo
                    key = row.image if self.folder_of is None or not row.image else f"{self.folder_of(row)}/{row.image}"
                    row.file = self.photo_folder.store(key, *photo)
                except (OSError, ValueError) as error:
                    where = self.photo_folder.photos.name(row.image) if row.image else self.photo_folder.photos.images
                    self.problems.append({"id": row.id, "error": f"photo not copied: {where}: {error}"})
                    self.left_out.add(index)
                    continue
            yield row

    def _wanted(self, row: ExportRow) -> bool:
        """Whether the first pass copies the row's photo."""
        return not self.passes_over(row) and not (self.check is not None and self.check(row))

    def _photos(self, rows: Iterable[ExportRow]) -> Iterator[tuple[ExportRow, tuple | Exception | None]]:
        """Each row with its photo as `PhotoRewrite.photo` gives it (or why it could not be read; None: not
        copied): read here, written again on the workers (`WorkerPool.ordered`), the rows in order."""
        if self.photo_folder is None:
            yield from ((row, None) for row in rows)
            return
        held: deque[tuple[ExportRow, Exception | None]] = deque()

        def calls() -> Iterator[tuple[bytes | None]]:
            for row in rows:
                data, failed = None, None
                if self._wanted(row):
                    try:
                        data = self.photo_folder.read(row.image)
                    except (OSError, ValueError) as error:
                        failed = error
                held.append((row, failed))
                yield (data,)

        rewrite = self.photo_folder.rewrite
        pool = WorkerPool(rewrite, self.workers if rewrite.rewrites else 0)
        try:
            for photo in pool.ordered("photo", calls(), 2 * pool.workers):
                row, failed = held.popleft()
                yield row, failed if failed is not None else photo
        finally:
            pool.close()

    def _again(self) -> Iterator[ExportRow]:
        again = joined_rows(self.described, self.cv, [], self.strip_location, self.lines, self.selection)
        for index, row in enumerate(again):
            if index not in self.left_out and not self.passes_over(row):
                yield row


def errors_path(output: Path) -> Path:
    return output.with_name(f"{output.name}.errors.jsonl")


def export(
    fmt: str,
    described: Path,
    output: Path,
    cv: Path | None = None,
    images: Path | None = None,
    *,
    prompt: str = LLAVA_PROMPT,
    image_column: str = "",
    key_column: str = "",
    image_folder: Path | None = None,
    policy: Policy = Policy(),
    strip_location: bool = False,
    below_takeoff_m: float = 0.0,
    chat: bool = False,
    rewrite: PhotoRewrite = PhotoRewrite(),
    workers: int = 0,
    url_prefix: str = "",
    sample: tuple[int, int] = (0, 0),
    selection: Selection = Selection(),
    parquet_only: bool = False,
    splits: SplitPlan = SplitPlan(),
    license: str = "",
    objects: bool = False,
    tasks: tuple[str, ...] = FLORENCE_TASKS,
    boxes: AnswerUnits | None = None,
    requests: BatchRequests | None = None,
    boxes_from: str = "detections",
) -> dict:
    """Writes one export (see the module docstring); returns its counts. `images`: a folder or a
    Hugging Face dataset (`image_column`, `key_column`: as extraction read it), or the data.yaml, COCO
    .json or list 01 read (its root from `cv`'s manifest, `photos_for`); without it, the exports that cannot go
    without the photos (label_studio, yolo, the batch requests) take those `cv`'s manifest names; `image_folder` (llava,
    coco): where the exported photos' files are copied (`PhotoFolder`); `policy`: the describer's thresholds,
    by which the yolo and geojson exports state boxes, counts and scene as the descriptions do;
    `strip_location`: the photos embedded or copied and the records written without where the photos were
    taken (`helpers.core.strip_location`; a photo whose place cannot be removed is its row's error);
    `below_takeoff_m`: geojson_items' ground, metres below the drones' take-off point; `chat` (hf, with
    `images`): each example's conversation too, `prompt` the user's turn (`chat_turns`); `rewrite` (hf,
    webdataset): the photos written smaller or in another format, on `workers` processes (`export_sharded`);
    `url_prefix` (label_studio): what goes before each photo's name in its task's URL ("": Label Studio's local
    files, by the name of the folder the photos are in, `served_prefix`); `selection`: only the photos whose
    sentence it chooses (by category, scene, count); `sample` (size, seed): only a seeded random sample of at most
    `size` of those (`sampled_lines`; 0: all of them); `parquet_only` (hf): its Parquet shards alone; `splits`
    (hf, webdataset): a folder of shards per split (`export_splits`); (yolo) a folder of photos per split; (llava,
    coco, coco_instances) a file per split beside `output` (`write_json_files`), the photos in one `image_folder`;
    `license` (hf, webdataset): the licence the dataset card states; `objects` (hf, with `cv` and `images`): the
    object-detection columns too, the boxes the descriptions state (`DetectionColumns`, at `policy.min_confidence`);
    `tasks` (florence2): each photo's entries (`helpers.describer.florence`); `boxes` (llava, hf with `chat`; with
    `cv`): each photo's conversation answers with its stated boxes in these units (`boxes_answer`), not a caption;
    `requests` (openai_batch): the model each photo's request asks `prompt`, its photo a data URL (`rewrite` as
    the photos are sent) or `url_prefix` then its key (`write_batch_file`); `boxes_from` (yolo): "detections", each
    photo's detections at `policy.min_confidence`, or "labels", its labelled boxes (its record's `ground_truth`).

    Returns:
        {"format", "rows", "exported", "problems", "output"} (with `image_folder`: "photos_written",
        "photos_kept"; with `splits`: "splits", each one's photo count); problems are also written to
        `<output>.errors.jsonl` (an old one is removed when there are none).

    Raises:
        ValueError: An unknown format, an output over an input (or a folder holding one), an output
            folder/file of the wrong kind, an `image_folder` without `images`, for another format or
            overlapping the photos; checked before any work.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    if parquet_only and fmt != "hf":
        raise ValueError(f"parquet_only: the hf export's layout, not {fmt}'s")
    if license and fmt not in FOLDER_FORMATS:
        raise ValueError(f"license: the {' and '.join(FOLDER_FORMATS)} exports' dataset card states one, not {fmt}'s")
    check_license(license)
    if splits.asked and fmt not in SPLIT_FORMATS:
        raise ValueError(f"splits: the {', '.join(SPLIT_FORMATS)} exports' splits, not {fmt}'s")
    keys = [YOLO_SPLITS.get(name) for name in splits.names]  # data.yaml's, one split each
    if splits.asked and fmt == "yolo" and ("train" not in keys or None in keys or len(set(keys)) < len(keys)):
        raise ValueError(f"splits: the yolo export's are train and one of val or validation, test; got {splits.names}")
    if fmt == "florence2" and cv is None and set(tasks) - {"caption"}:
        raise ValueError(
            "the florence2 export's detection and grounding entries hold the CV records' boxes: give them (--cv)"
        )
    if boxes is not None and (not (fmt == "llava" or (fmt == "hf" and chat)) or cv is None):
        raise ValueError(
            "the boxes answers are the llava export's or the hf export's chat, of the CV records' detections: give "
            "them (--cv)"
        )
    if boxes_from not in ("detections", "labels"):
        raise ValueError(f"boxes_from: detections or labels, got {boxes_from!r}")
    if boxes_from == "labels" and (fmt != "yolo" or cv is None):
        raise ValueError("boxes_from labels: the yolo export's label files, of the CV records' labels (cv)")
    if fmt in DETECTION_FORMATS and cv is None:
        raise ValueError(f"the {fmt} export writes the CV records' detections: give them (--cv)")
    if (fmt in BATCH_APIS) != (requests is not None and requests.api == fmt):
        raise ValueError(f"requests: the {', '.join(BATCH_APIS)} exports', and they need theirs (what each asks)")
    records_in = is_cv_records(described)  # the batch requests ask about photos not yet described
    if records_in and fmt not in BATCH_APIS:
        raise ValueError(
            f"{described} holds CV records, not described rows: the {fmt} export writes their descriptions: describe "
            f"them first (desclm describe; desclm synth, the grammar's); the batch requests ({', '.join(BATCH_APIS)}) "
            "take CV records as they are"
        )
    if records_in and (cv is not None or selection.verdict):
        raise ValueError(f"{described} holds CV records: leave out cv (they are the records) and verdict")
    verdicts = is_verdicts(described)
    if selection.verdict and not verdicts:
        raise ValueError(f"verdict: {described} holds described rows, not desclm check's verdicts")
    if selection.truth and cv is None and not records_in:
        raise ValueError("truth: the labels are the CV records' ground_truth: give them (cv)")
    if selection.verdict == "error" and selection.states and cv is None:
        raise ValueError(
            "verdict error with category, scene or min_items: the lines the check could not check have no caption, "
            "they are chosen by what their CV records state: give them (cv)"
        )
    if selection.verdict == "error" and fmt not in BATCH_APIS:
        raise ValueError(
            f"verdict error: the lines the check could not check have no caption for the {fmt} export: the batch "
            f"requests ({', '.join(BATCH_APIS)}) ask again about their photos"
        )
    if verdicts and (fmt in ONCE_A_PHOTO or boxes is not None or objects):
        what = "--answer boxes" if boxes is not None else "--objects" if objects else f"the {fmt} export"
        raise ValueError(
            f"{described} holds desclm check's verdicts, a row a caption (several a photo): {what} writes each "
            "photo's CV detections, once a photo: export the described rows (desclm describe's)"
        )
    if strip_location and fmt in MAP_FORMATS:
        raise ValueError(f"strip_location: the {fmt} export is a map of where the photos were taken")
    records = cv if cv is not None else described if records_in else None  # (whose manifest names the photos)
    photos = photos_for(images, image_column, key_column, records)
    # the exports that cannot go without the photos find them where the records' manifest says, as the gallery does
    needs_photos = fmt == "yolo" or (
        (fmt in BATCH_APIS or (fmt == "label_studio" and image_folder is None)) and not url_prefix
    )
    if photos is None and needs_photos and records is not None and (photos := photos_of_cv_output(records)):
        logger.info("photos: %s, as %s's manifest records", photos.images, records)
    if chat and (fmt != "hf" or photos is None):
        raise ValueError("the chat columns are the hf export's conversation about each photo: give --images")
    if objects and (fmt != "hf" or photos is None or cv is None):
        raise ValueError(
            "the object-detection columns are the hf export's boxes in each photo's pixels: give --cv and --images"
        )
    if rewrite.rewrites and fmt not in REWRITING_FORMATS:
        raise ValueError(
            f"max_side, image_format: the photos of the {', '.join(REWRITING_FORMATS)} exports, not {fmt}'s (a COCO "
            "file states each photo's size)"
        )
    if rewrite.rewrites and fmt in ("llava", "grounded", "florence2") and image_folder is None:
        raise ValueError(f"max_side, image_format: the {fmt} export writes photos only with image_folder")
    if fmt in BATCH_APIS and photos is None and not url_prefix:
        raise ValueError(f"the {fmt} requests send each photo: give them (--images), or their URLs (--url_prefix)")
    if fmt == "yolo":
        if photos is None:
            raise ValueError("the yolo export copies the photos into its images/ folder: give them (--images)")
        if image_folder is not None:
            raise ValueError("the yolo export copies the photos into its own images/ folder: leave image_folder out")
        image_folder = output / "images"
        _check_apart(image_folder, photos)
    elif image_folder is not None:
        _check_image_folder(fmt, image_folder, photos)
    served = None  # the folder of photo files the label_studio tasks name as Label Studio's local files
    if fmt == "label_studio" and not url_prefix:
        url_prefix, served = served_prefix(photos, image_folder)
    inputs = [path for path in (described, cv) if path is not None]
    errors = errors_path(output)
    if fmt in FOLDER_OUTPUTS or (fmt in BATCH_APIS and output.suffix.lower() != ".jsonl"):
        if output.exists() and not output.is_dir():
            raise ValueError(f"{output} is a file: the {fmt} export writes a folder")
        inside = [
            p
            for p in inputs + ([photos.images] if photos and not is_remote(photos.images) else [])
            if p.resolve().is_relative_to(output.resolve())
        ]
        if inside:
            raise ValueError(
                f"{output} holds the input {inside[0]}: the export would replace it; choose another folder"
            )
        partial = partial_files(output)[1:] if fmt in BATCH_APIS else []  # (the parts' folder checked with the output)
        check_writes([errors, lock_path(output), *partial], inputs)
    else:
        split_files = splits.asked and fmt in SPLIT_FILE_FORMATS
        files = [split_output(output, name) for name in splits.names] if split_files else [output]
        files += partial_files(output) if fmt in BATCH_APIS else []  # (the requests as they are written)
        check_writes([*files, errors, lock_path(output), label_config_path(output)], inputs)
    job = ExportJob(fmt, described, output, errors, cv, photos, prompt, image_folder, policy)
    job = replace(job, strip_location=strip_location, below_takeoff_m=below_takeoff_m, chat=chat, rewrite=rewrite)
    job = replace(job, workers=workers, url_prefix=url_prefix, served=served, sample=sample, selection=selection)
    job = replace(job, parquet_only=parquet_only, splits=splits, license=license, objects=objects, tasks=tasks)
    job = replace(job, boxes=boxes, requests=requests, boxes_from=boxes_from)
    with OutputLock(output):  # a second export to this output refuses, naming this one
        return _export(job)


def write_batch_file(
    rows: _Passes,
    output: Path,
    photos: PhotoKeys | None,
    prompt: str,
    settings: BatchRequests,
    url_prefix: str,
    rewrite: PhotoRewrite,
    workers: int,
    stamp: dict,
) -> int:
    """The batch requests' exports (`helpers.describer.batch_requests`): a request a row, in order, its photo its bytes
    as `rewrite` writes them (read here, written again on `workers` processes), or with `url_prefix` that then its key
    (no photo read; gemini_batch: its media type told by its name). A photo that cannot be read, written or (by URL,
    gemini_batch) typed is its row's problem. `output`: one `.jsonl` file, or else a folder of parts, each one the API
    takes, written as the rows are read (`helpers.describer.batch_output.ResumableRequests`: a killed export run again
    with the same `stamp`, its inputs and settings, resumes at its last checkpoint), in place when all are. Of
    `desclm check`'s verdicts (the photos whose captions it chose: to ask again), a request a photo. Returns how many
    rows were not sent (a photo asked about already among them)."""
    api = BATCH_APIS[settings.api]
    written = ResumableRequests(output, stamp, api)
    resumed = written.rows  # rows passed over, their photos not read: written before the export was stopped
    rows.problems.extend(written.problems)
    held: deque[tuple[int, ExportRow, list[dict]]] = deque()  # each row sent to the pool: its place, its problems
    # failed: rows not sent; others: photos in a format the API does not take; large: too big for it; turned: by EXIF;
    # again: photos asked about already (one request a photo)
    counts = Counter({"failed": 0, "others": 0, "large": 0, "turned": 0} | written.counts)
    counts["again"] = 0  # (counted afresh each run: every row is read again, resumed or not)
    # the photos asked about (their ids' 64-bit digests: 70 MB a million, tracemalloc), of verdicts (several a photo) or
    # of CV records (an id repeated: shards merged twice): a batch's custom_ids are unique; described rows' are
    asked: set[int] | None = set() if is_verdicts(rows.described) or is_cv_records(rows.described) else None

    def photo_calls() -> Iterator[tuple[bytes | None]]:
        for index, row in enumerate(rows()):
            if asked is not None:
                key = id_text(row.id).encode("utf-8", "surrogatepass")
                digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest())
                if digest in asked:
                    counts["again"] += 1
                    continue
                asked.add(digest)
            if index >= resumed:
                held.append((index, row, []))
                yield (None if url_prefix else _photo(row, photos, held[-1][2]),)

    pool = WorkerPool(rewrite, workers if rewrite.rewrites and not url_prefix else 0)
    try:
        unsent = list(written.problems)  # the problems of photos not sent (checkpoints keep them)
        checked_at = resumed  # the rows read at the last checkpoint
        for data, rewritten, error in pool.ordered("photo", photo_calls(), 2 * pool.workers):
            index, row, problems = held.popleft()
            done = index + 1  # rows read (a photo asked about again passed over)
            why = error  # why it is not sent (None with no data: not read, its problem said)
            if url_prefix:
                photo = url_photo(image_url(url_prefix, row.photo_name))
                if not photo.media and not api.names_model:  # Gemini's file_data names its media type
                    why = f"its media type is not told by its name ({row.photo_name})"
            elif data is not None:
                try:
                    photo = encoded_photo(data)
                except ValueError as unknown:  # no photo Pillow knows
                    why = str(unknown)
            if (data is None and not url_prefix) or why is not None:
                if why is not None:
                    name = row.photo_name if url_prefix else photos.name(row.image)
                    problems.append({"id": row.id, "error": f"photo not sent: {name}: {why}"})
                rows.problems.extend(problems)
                unsent.extend(problems)
                counts["failed"] += 1
            else:
                if not url_prefix:
                    counts["others"] += photo.media not in api.takes
                    counts["large"] += bool(api.most_photo_bytes) and len(photo.data) > api.most_photo_bytes
                    counts["turned"] += not rewritten and stored_turned(data)
                written.write(
                    json.dumps(batch_request(id_text(row.id), photo, prompt, settings), ensure_ascii=False) + "\n"
                )
            if done - checked_at >= CHECKPOINT_ROWS:
                written.checkpoint(done, dict(counts), unsent)
                checked_at = done
        written.finish()
    finally:
        pool.close()
        written.close()
    if counts["again"]:
        logger.warning(
            "%d rows were of photos asked about already (a photo's captions apart in the verdicts, a CV record's id "
            "repeated): a request a photo",
            counts["again"],
        )
    if not written.in_parts:
        sent = rows.count - len(rows.left_out) - rows.passed_over - counts["failed"] - counts["again"]
        if too_many := limits_warning(api, sent, output.stat().st_size):
            logger.warning("%s: %s", output, too_many)
    if counts["turned"]:
        warned = "vision-language model servers that open photos without their EXIF"
        logger.warning(TURNED_WARNING, counts["turned"], warned)
    if counts["others"]:
        takes = ", ".join(media.removeprefix("image/").upper() for media in api.takes)
        logger.warning(
            "%d photos are sent in a format %s does not take (it takes %s): --image_format jpeg sends them as JPEG",
            counts["others"],
            api.name,
            takes,
        )
    if counts["large"]:
        logger.warning(
            "%d photos are larger than %s takes (%.0f MiB an image, its base64 text): it may refuse their requests; "
            "--max_side 1568 --image_format jpeg sends them smaller",
            counts["large"],
            api.name,
            api.most_photo_bytes / 2**20,
        )
    return counts["failed"] + counts["again"]


def served_prefix(photos: PhotoKeys | None, image_folder: Path | None) -> tuple[str, Path | None]:
    """The label_studio tasks' URL prefix by default, Label Studio's local files (`local_files_prefix`): that of
    `image_folder` (its copies), else of the photos' own folder, which is returned too (its rows' photos must be
    files there).

    Raises:
        ValueError: No photos, or photos that are no files (in a Hugging Face dataset, in tar shards).
    """
    if image_folder is not None:
        return local_files_prefix(image_folder), None
    if photos is None:
        raise ValueError(
            "the label_studio tasks name each photo by the URL Label Studio serves it at: give the photos (--images) "
            "for Label Studio's local files, or --url_prefix where they are served"
        )
    if photos.dataset is not None or is_tar_shards(photos.images, IMAGE_SUFFIXES):  # (in a bucket too)
        raise ValueError(
            f"{photos.images}: photos in a Hugging Face dataset or tar shards are no files Label Studio can serve: "
            "copy them out with --image_folder (or give --url_prefix where they are served)"
        )
    if is_remote(photos.images):  # Label Studio's cloud storage serves them by their URLs (s3://bucket/key)
        return f"{photos.images}/", None
    return local_files_prefix(photos.images), photos.images


def _served_problem(row: ExportRow, folder: Path) -> str | None:
    """Why a row's photo is no file Label Studio serves from `folder` (a video's frame, a photo gone, a photo a list
    named elsewhere), else None."""
    if row.image and (PurePosixPath(row.image).is_absolute() or ".." in PurePosixPath(row.image).parts):
        return f"photo {row.image} lies outside {folder}, which Label Studio serves: export with --image_folder"
    if row.image and not (folder / row.image).is_file():
        where = f"photo not a file in {folder} for Label Studio to serve"
        return f"{where} (a video's frame, a photo gone): export with --image_folder"
    return None


@dataclass(frozen=True)
class ExportJob:
    """What one export writes and from what, once `export` has checked it and locked its output: `export`'s
    arguments (which say what each is), `photos` as `photos_for` found them, `errors` the problems' file and
    `served` the folder Label Studio serves the photos from (`served_prefix`)."""

    fmt: str
    described: Path
    output: Path
    errors: Path
    cv: Path | None
    photos: PhotoKeys | None
    prompt: str
    image_folder: Path | None
    policy: Policy
    strip_location: bool = False
    below_takeoff_m: float = 0.0
    chat: bool = False
    rewrite: PhotoRewrite = PhotoRewrite()
    workers: int = 0
    url_prefix: str = ""
    served: Path | None = None
    sample: tuple[int, int] = (0, 0)
    selection: Selection = Selection()
    parquet_only: bool = False
    splits: SplitPlan = SplitPlan()
    license: str = ""
    objects: bool = False
    tasks: tuple[str, ...] = FLORENCE_TASKS
    boxes: AnswerUnits | None = None
    requests: BatchRequests | None = None
    boxes_from: str = "detections"


def _export(job: ExportJob) -> dict:
    """`export`'s work, its output checked and locked."""
    fmt, described, output, cv, photos, prompt = job.fmt, job.described, job.output, job.cv, job.photos, job.prompt
    image_folder, policy, strip_location, rewrite = job.image_folder, job.policy, job.strip_location, job.rewrite
    workers, sample, selection, splits = job.workers, job.sample, job.selection, job.splits
    from_labels = job.boxes_from == "labels"  # (yolo) the labelled boxes, not the detections
    split_counts = None  # with splits: each one's photos
    if fmt in FOLDER_FORMATS:
        sharded = ShardedJob(
            fmt,
            described,
            cv,
            output,
            photos.images if photos else None,
            (photos.image_column, photos.key_column) if photos else ("", ""),
            strip_location=strip_location,
            chat_prompt=prompt if job.chat else None,
            rewrite=rewrite,
            workers=workers,
            sample=sample,
            selection=selection,
            parquet_only=job.parquet_only,
            license=job.license,
            boxes=(job.boxes, policy) if job.boxes is not None and job.chat else None,
        )
        if job.objects:  # the categories named before the first shard, alike in every split
            categories = detection_categories(cv, policy.min_confidence)
            sharded = replace(sharded, objects=DetectionColumns(categories, policy.min_confidence))
        if splits.asked:
            joined, exported, problems, split_counts = export_splits(sharded, splits)
        else:
            joined, exported, problems = _export_shards(sharded)[:3]
        passed_over = 0
    else:
        if fmt == "yolo":
            prepare_yolo_folder(output, yolo_identity(job))
        rewrite = replace(rewrite, strip_location=strip_location)
        folder = PhotoFolder(photos, image_folder, rewrite) if image_folder is not None else None  # strips them
        if photos is not None and strip_location:
            photos = LocationFreePhotos(photos)  # as the other readers of the photos see them
        checks = {
            "coco_instances": lambda row: record_problem(row) or instances_problem(row, photos),
            "label_studio": lambda row: (
                record_problem(row)
                or instances_problem(row, photos)
                or (job.served and _served_problem(row, job.served))
            ),
            "yolo": lambda row: record_problem(row) or (labels_problem(row) if from_labels else boxes_problem(row)),
            "grounded": lambda row: record_problem(row) or boxes_problem(row) or grounding_problem(row),
            "florence2": lambda row: (  # the caption entries alone read no record
                (set(job.tasks) - {"caption"} and (record_problem(row) or boxes_problem(row)))
                or florence_problem(row, job.tasks, policy)
            ),
            "llava": (lambda row: boxes_answer_problem(row, job.boxes)) if job.boxes else None,
            "geojson": position_problem,
            "geojson_items": lambda row: pose_row_problem(row, photos, job.below_takeoff_m),
        }
        passes_over = {"geojson": without_position, "geojson_items": without_pose}.get(fmt)
        split_of = partial(split_of_row, splits) if splits.asked else None
        if split_of is not None:
            check = checks.get(fmt)
            checks[fmt] = lambda row: (check and check(row)) or (None if split_of(row) else NO_SPLIT)
        lines, selection = chosen_lines(described, cv, sample, selection)
        arguments = (described, cv, folder, checks.get(fmt), passes_over, strip_location, workers, lines, selection)
        rows = _Passes(*arguments, split_of if fmt == "yolo" else None)  # yolo: a folder of photos a split
        items: Counter = Counter()
        unsent = 0  # (the batch requests) rows whose photo could not be sent
        if fmt in SPLIT_FILE_FORMATS and split_of is not None:
            outputs = {name: split_output(output, name) for name in splits.names}
            arguments = (photos, prompt, policy, job.tasks, job.boxes)
            split_counts = write_json_files(fmt, rows, outputs, split_of, *arguments)
        elif fmt in SPLIT_FILE_FORMATS:
            write_json_files(fmt, rows, {None: output}, lambda row: None, photos, prompt, policy, job.tasks, job.boxes)
        elif fmt == "label_studio":
            labels: dict[str, None] = {}  # as the tasks meet them
            truth = bool(job.selection.truth)  # the photos' labels shown: a review of how true the sentences are
            arguments = (photos, job.url_prefix, labels, policy.min_confidence, truth)
            tasks = (label_studio_task(row, *arguments) for row in rows())
            atomic_write_text(output, chain(json_array(tasks, indent=1), ["\n"]))
            config = label_config(list(labels), findings=is_verdicts(described), truth=truth)
            atomic_write_text(label_config_path(output), config)
            written = rows.count - len(rows.left_out) - rows.passed_over
            if too_many := import_limits_warning(written, output.stat().st_size):
                logger.warning("%s: %s", output, too_many)
        elif fmt == "yolo":
            split_counts = write_yolo_dataset(rows, output, policy.min_confidence, splits, from_labels)
        elif fmt in BATCH_APIS:
            stamp = {  # what the requests are made of: a partial export of others starts over
                "inputs": [file_stamp(path) if path is not None else None for path in (described, cv)],
                "photos": [str(photos.images), photos.image_column, photos.key_column] if photos else None,
                "asked": [prompt, asdict(job.requests), job.url_prefix, asdict(rewrite)],
                "rows": [job.sample, asdict(selection), policy],
            }
            arguments = (photos, prompt, job.requests, job.url_prefix, rewrite, workers, stamp)
            unsent = write_batch_file(rows, output, *arguments)
        elif fmt == "geojson":
            atomic_write_text(output, geojson_pieces(rows, policy, lines=output.suffix.lower() in GEOJSON_LINES))
        elif fmt == "geojson_items":
            lines = output.suffix.lower() in GEOJSON_LINES
            pieces = geojson_items_pieces(rows, policy, photos, items, lines, job.below_takeoff_m)
            atomic_write_text(output, pieces)
        else:
            atomic_write_text(output, csv_pieces(rows))
        joined, passed_over, problems = rows.count, rows.passed_over, rows.problems
        exported = joined - len(rows.left_out) - passed_over - unsent
    join_problems = sum(1 for problem in problems if "line" in problem)
    write_problems(job.errors, problems, "rows not exported")
    if passed_over and fmt == "geojson":
        logger.warning("%d photos have no GPS position (their records' `taken`): left off the map", passed_over)
    elif passed_over:
        logger.warning(
            "%d photos lack a position, height or camera pose (their records' `taken`: %s): their items are left "
            "off the map",
            passed_over,
            ", ".join(POSE_FIELDS),
        )
    split_files = split_counts is not None and fmt in SPLIT_FILE_FORMATS
    written_to = split_output(output, "*") if split_files else output
    logger.info("%s export: %d photos written to %s", fmt, exported, written_to)
    total = joined + join_problems
    counts = {"format": fmt, "rows": total, "exported": exported, "problems": len(problems), "output": str(output)}
    if split_counts is not None:
        counts["splits"] = split_counts
    if split_files:  # (the sharded exports' `export_splits` says its own)
        whole = max(sum(split_counts.values()), 1)
        held = ", ".join(f"{name} {count} ({count / whole:.1%})" for name, count in split_counts.items())
        asked = dict(splits.shares) or "records"
        logger.info("%s: the photos by split: %s (asked: %s)", written_to, held, asked)
    if fmt == "geojson":
        counts["without_position"] = passed_over
    elif fmt == "geojson_items":
        counts |= {"without_pose": passed_over, "items": items["items"], "items_unplaced": items["items_unplaced"]}
        if items["items_unplaced"]:
            logger.warning("%d boxes lie too near the horizon to place: left off the map", items["items_unplaced"])
    if image_folder is not None:
        copies = rows.photo_folder
        counts |= {"photos_written": copies.written, "photos_kept": copies.kept}
        if fmt in EXIF_BLIND_LOADERS and copies.turned:  # a grounded photo's boxes then miss what they name
            logger.warning(TURNED_WARNING, copies.turned, EXIF_BLIND_LOADERS[fmt])
        logger.info("%s: %d photo files written, %d already there", image_folder, copies.written, copies.kept)
    return counts


def _check_image_folder(fmt: str, image_folder: Path, photos: PhotoKeys | None) -> None:
    if fmt not in COPYING_FORMATS:
        why = "embeds the photos" if fmt in FOLDER_FORMATS else "names photos by key"
        raise ValueError(f"image_folder is for the {' and '.join(COPYING_FORMATS)} exports (the {fmt} export {why})")
    if photos is None:
        raise ValueError("image_folder copies the photos from images: give the photos (--images) too")
    _check_apart(image_folder, photos)


def _check_apart(image_folder: Path, photos: PhotoKeys) -> None:
    if is_remote(photos.images):  # in object storage: no folder here overlaps them
        return
    folder, source = image_folder.resolve(), photos.images.resolve()
    if folder.is_relative_to(source) or source.is_relative_to(folder):
        raise ValueError(f"image_folder {image_folder} and the photos {photos.images} overlap: choose another folder")

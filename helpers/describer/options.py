"""The describe and check commands' settings (light to import: `--help` loads no model library)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from helpers.core.answer_boxes import BOX_UNITS, QWEN_MAX_PIXELS, QWEN_MIN_PIXELS, AnswerUnits
from helpers.core.contract import Policy
from helpers.core.device import worker_processes
from helpers.core.figures import MAP_POINTS
from helpers.core.photo_datasets import image_column_setting, key_column_setting
from helpers.core.photo_rewrite import PhotoRewrite
from helpers.core.settings import setting
from helpers.core.shards import check_shard
from helpers.describer.batch_requests import BATCH_APIS, BatchRequests
from helpers.describer.selection import (
    Selection,
    SplitPlan,
    category_setting,
    check_verdict,
    min_items_setting,
    scene_setting,
    split_by_setting,
    splits_setting,
    truth_setting,
    verdict_setting,
)

BACKENDS = ("hf", "ct2")  # transformers, CTranslate2


# `desclm export --format`
def ground_below_takeoff_setting():
    """How far the ground the items lie on is below the drones' take-off point (summarize, export)."""
    return setting(
        0.0,
        "metres the surveyed ground lies below the drone's take-off point (negative: above it), where items are "
        "placed on the ground: a beach surveyed from the cliff top the drone took off from",
    )


MAP_FORMATS = ("geojson", "geojson_items")  # the exports that are where the photos were taken
EXPORT_FORMATS = (
    "hf",
    "webdataset",
    "llava",
    "grounded",
    "florence2",
    "coco",
    "coco_instances",
    "label_studio",
    "yolo",
    "geojson",
    "geojson_items",
    "csv",
    *BATCH_APIS,  # openai_batch, gemini_batch, anthropic_batch
)
FLORENCE_TASKS = ("caption", "detection", "grounding")  # the florence2 export's entries (helpers.describer.florence)
SPLIT_FORMATS = (
    "hf",
    "webdataset",
    "yolo",
    "llava",
    "grounded",
    "florence2",
    "coco",
    "coco_instances",
)  # the exports `--splits` splits
LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")  # a licence as the Hub's card metadata names one: cc-by-4.0
CAPTION_FORMATS = ("auto", "jsonl", "llava", "coco", "parquet", "webdataset", "csv")  # `desclm check --captions_format`
DEFAULT_GUARD_WORKERS = "auto"  # the guard's worker processes (helpers.describer.guard.guard_workers)
DEFAULT_CHECK_WORKERS = "auto"  # `desclm check`'s worker processes (helpers.describer.check.check_workers)
FOLDER = "folder"  # the roll-up's default groups: each photo's folder (helpers.describer.rollup)
TRACK_LOST_S = 5.0  # a video's item unseen this long (seconds) counts as a new one when seen again (VideoItems)
# photos' items placed on the ground this close (metres) in different photos are one item (SurveyItems); simulated
# surveys (docs/measurements/survey_items_sim.json): a consumer drone's pose errors want 3 to 4, RTK's about 2
GROUND_RADIUS_M = 3.0
# a fixed camera's boxes in different photos overlapping this much (intersection over union) are one item (FixedItems)
FIXED_MIN_IOU = 0.3


def check_license(license: str) -> None:
    """Raises ValueError for a licence the Hub would not take as an id (`LICENSE_ID`; "": none)."""
    if license and not LICENSE_ID.match(license):
        raise ValueError(f"license: an id as the Hub names licences (cc-by-4.0, odc-by, other), got {license!r}")


@dataclass(frozen=True)
class Matching:
    """How the roll-up counts an item seen again once: a video's frames (`VideoItems`), a survey's photos
    placed on the ground (`SurveyItems`), a fixed camera's photos (`FixedItems`)."""

    lost_s: float = TRACK_LOST_S  # a video's item unseen this long (seconds) counts as a new one when seen again
    radius_m: float = GROUND_RADIUS_M  # photos' items placed on the ground this close (metres) are one item
    below_takeoff_m: float = 0.0  # the ground lies this far below the drones' take-off point (metres; -: above)
    fixed_min_iou: float | None = None  # a group's other photos are one fixed camera's, boxes this alike one item


FALLBACK_EXIT_STATUS = 3  # more lines than max_grammar_share fell back to the grammar: the model is not doing the work


@dataclass
class DescribeOptions:
    """The describe command's settings."""

    model_dir: str = setting(help="trained describer folder (`desclm train`'s output)", positional=True)
    input: str = setting(help="CV output records, one JSON object per line (- : standard input; a pipe works too)")
    output: str = setting(help='JSONL to write: {"id", "description", "source"} or {"id", "error"} per input line')
    backend: str = setting("hf", "hf (transformers) or ct2 (CTranslate2; run `desclm export-ct2 MODEL_DIR` first)")
    batch_size: int = setting(
        0,
        "records per generation batch; 0 (auto): 64 on the CPU, on a GPU (hf) up to 1024 as generation's measured "
        "memory allows",
    )
    guard: bool = setting(True, "check every sentence against its record and repair it (--no_guard: the top beam)")
    device: str = setting("auto", "auto (CUDA when available), cpu or cuda")
    num_shards: int = setting(1, "split the input's lines into this many contiguous shards ...")
    shard_index: int = setting(0, "... and describe this one into <stem>.shard-KofN.jsonl (then `describe merge`)")
    compute_type: str = setting("default", "ct2 only: default (as exported), int8, float32; GPU: float16, ...")
    dtype: str = setting("float32", "hf only: float32, float16 or bfloat16 (half precision on a GPU)")
    style: str = setting("", 'a wording it learned: "plain words", "varied digits", house:<name> ("": its default)')
    top_p: float = setting(0.0, "0: beam search; above 0: nucleus sampling (more varied wording, still guarded)")
    num_beams: int = setting(0, "0: as the model was saved; more: the guard chooses among that many sentences")
    num_captions: int = setting(
        1, "distinct checked sentences per record: rows then carry 'captions' (the description first)"
    )
    guard_workers: str = setting(
        DEFAULT_GUARD_WORKERS,
        "processes reading, checking and writing lines while the model writes the next batch (0: none, all in "
        "this process; auto: cores - 1 on a GPU, 0 on the CPU)",
    )
    max_grammar_share: float = setting(
        0.5,
        f"share of lines the grammar may write (model sentences failed the guard) before exit status "
        f"{FALLBACK_EXIT_STATUS} and a warning: above it, the model is not doing the work",
    )

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.batch_size < 0:
            raise ValueError(f"batch_size must be >= 1, or 0 for auto, got {self.batch_size}")
        if not 0.0 <= self.max_grammar_share <= 1.0:
            raise ValueError(f"max_grammar_share must be in [0, 1], got {self.max_grammar_share}")
        check_shard(self.num_shards, self.shard_index)
        if self.guard_workers != "auto" and not self.guard_workers.isdigit():
            raise ValueError(f"guard_workers must be 'auto' or a whole number >= 0, got {self.guard_workers!r}")


CAPTION_PROMPT = "Describe the litter in this photo."  # a conversation's question, its answer the description
BOXES_PROMPT = "Locate every item of litter in this photo and report its bbox coordinates and label in JSON format."


def box_units_setting(lead: str):
    """The `box_units` setting of a command, its help opening with `lead` (which boxes it is about)."""
    return setting(
        "thousandths",
        f"{lead}: thousandths of the photo (Qwen3-VL), pixels of the photo (its CV record's width and height), or "
        "qwen2.5-vl: pixels of the photo as Qwen2.5-VL's processor resizes it (--min_pixels, --max_pixels: as the "
        "model runs)",
    )


@dataclass
class CheckOptions:
    """The check command's settings: captions written anywhere, checked against their CV records."""

    input: str = setting(help="CV output records, one JSON object per line (joined to captions by `id`, else `image`)")
    captions: str = setting(
        help='captions: JSONL {"id", "caption"} (see --caption_field), the output file of OpenAI\'s Batch API or '
        "vLLM's run-batch (each choice's message, joined by custom_id; a folder of them, one per part), "
        "Anthropic's Message Batches results or the Gemini Batch API's output (each candidate's text, joined by "
        "key), LLaVA "
        "conversations or COCO captions JSON, "
        "Label Studio's JSON, JSON-MIN or CSV export (each annotation's description), Parquet (a file or a folder of "
        "shards), WebDataset tar shards, or CSV"
    )
    output: str = setting(help='JSONL to write: {"id", "faithful", "findings"} or {"id", "error"} per caption line')
    caption_field: str = setting(
        "caption", "JSONL, Parquet: the captions' text field (`desclm describe` writes 'description')"
    )
    captions_format: Literal[CAPTION_FORMATS] = setting(
        "auto",
        "auto: a .json opening with [ is LLaVA (each entry's first gpt answer, joined by its image; a Label Studio "
        "task's annotations' descriptions, joined by data.photo_id; a JSON-MIN entry's, by photo_id), with { COCO "
        "captions (joined by file_name); tar shards (a .tar or a folder of them) are WebDataset (each sample's "
        ".txt, joined by its .json id, else its photo's key); a folder or .parquet is Parquet (joined by id, else "
        "image); a .csv or .tsv is CSV (the caption_field column, joined by id, else image; Label Studio's CSV "
        "export as its JSON-MIN); else JSONL",
    )
    lexicon: str = setting("", "YAML of your words for labels (bottle: plastic), read beside the built-in ones")
    min_confidence: float = setting(Policy.min_confidence, "detections below this are not expected in a caption")
    scene_min_confidence: float = setting(
        Policy.scene_min_confidence, "a scene below this is unsure: a caption that states it is flagged"
    )
    workers: str = setting(
        DEFAULT_CHECK_WORKERS,
        "processes checking captions while this one reads, joins and writes them (0: none, all in this "
        "process; auto: one per core, none on one core)",
    )
    examples: str = setting(
        "",
        "also write each faithful caption with its CV record here, as a house style's examples (JSONL {record, "
        "sentence}: 02's examples_dir/<name>.jsonl): reviewers' descriptions teach the describer their wording",
    )
    box_units: Literal[BOX_UNITS] = box_units_setting("the units of Qwen's JSON boxes (bbox_2d; point_2d alike)")
    min_pixels: int = setting(QWEN_MIN_PIXELS, "qwen2.5-vl boxes: the processor's min_pixels")
    max_pixels: int = setting(QWEN_MAX_PIXELS, "qwen2.5-vl boxes: the processor's max_pixels")
    max_side: int = setting(
        0,
        "boxes in pixels (pixels, qwen2.5-vl; Florence-2's post-processed): the model saw the photos shrunk to this "
        "longer side (desclm export --max_side, as the batch requests sent them); 0: as their records' size",
    )

    @property
    def policy(self) -> Policy:
        return Policy(self.min_confidence, self.scene_min_confidence)

    @property
    def units(self) -> AnswerUnits:
        return AnswerUnits(self.box_units, self.min_pixels, self.max_pixels, self.max_side)

    def __post_init__(self) -> None:
        self.policy  # noqa: B018 - Policy checks the thresholds
        self.units  # noqa: B018 - and AnswerUnits the pixels
        if self.workers != "auto" and not self.workers.isdigit():
            raise ValueError(f"workers must be 'auto' or a whole number >= 0, got {self.workers!r}")


def parse_tasks(text: str) -> tuple[str, ...]:
    """The tasks a comma-separated setting names, in `FLORENCE_TASKS`' order.

    Raises:
        ValueError: None named, or one Florence-2's export does not write.
    """
    named = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in named if name not in FLORENCE_TASKS]
    if unknown or not named:
        raise ValueError(f"tasks: a comma-separated list of {', '.join(FLORENCE_TASKS)}, got {text!r}")
    return tuple(task for task in FLORENCE_TASKS if task in named)


@dataclass
class ExportOptions:
    """The export command's settings: described photos in the formats other tools read."""

    described: str = setting(
        help="`desclm describe`'s output (JSONL: id, description, captions), or `desclm check`'s verdicts (a photo's "
        "captions one after another a row: hf, webdataset, llava, coco, label_studio, csv; --verdict faithful: a "
        "vision-language model's captions that agree with the detections), or (the batch requests) 01's CV records "
        "as they are, their photos as its manifest says unless --images",
        positional=True,
    )
    format: Literal[EXPORT_FORMATS] = setting(
        help="hf: a Hugging Face dataset (save_to_disk + Parquet); webdataset: tar shards (photo, .txt, .json); llava: "
        "LLaVA conversations JSON (.jsonl: an entry a line); grounded: the descriptions grounded, each phrase that "
        "counts items with their boxes, in ms-swift's grounding layout (with --cv; .jsonl: an entry a line); "
        "florence2: Florence-2's fine-tuning JSONL in maestro's layout (image, prefix, suffix): --tasks' entries per "
        "photo (with --cv for detection and grounding); coco: COCO captions JSON; coco_instances: the detections as "
        "COCO object detection JSON (with --cv; CVAT, FiftyOne, pycocotools); label_studio: Label Studio tasks whose "
        "pre-annotations, the boxes and the description, are there to review (with --cv; and its labeling config); "
        "yolo: a YOLO dataset of the boxes the descriptions state (with --cv, --images: a folder to train a detector "
        "on); geojson: the photos as points where they were taken, with their counts and descriptions (with --cv; "
        "QGIS, geopandas); geojson_items: each stated item as a point where it lies on the ground (with --cv; drone "
        "photos with their height and camera angles); csv: a spreadsheet; openai_batch: a request per photo in the "
        "OpenAI Batch API's input file, asking --model --prompt about the photo (vLLM's run-batch reads it too); "
        "gemini_batch: the same in the Gemini Batch API's input file (the model named when the "
        "batch is created); anthropic_batch: the same as Anthropic's Message Batches take them (--model, "
        "--max_tokens); desclm check reads their output files back"
    )
    output: str = setting(
        help="file to write (hf, webdataset, yolo: a folder; the batch requests: a .jsonl, or else a folder "
        "of parts as large as the API takes: 50,000 requests and 200 MB for OpenAI's, 2 GB for Gemini's, 100,000 "
        "requests and 256 MB for Anthropic's)"
    )
    cv: str = setting("", "the CV records the rows were described from (adds detections and scene; 01's output)")
    images: str = setting(
        "",
        "folder the records' `image` paths are relative to (tar shards too), the Hugging Face dataset they name, or "
        "the data.yaml, COCO or LLaVA .json or list 01 read (with --cv) (hf, webdataset: embeds the photos)",
    )
    image_column: str = image_column_setting()
    key_column: str = key_column_setting()
    prompt: str = setting(
        "",
        f"llava: the human turn after <image>; hf with --chat, the batch requests: the user's turn (default: "
        f"{CAPTION_PROMPT!r}; --answer boxes: {BOXES_PROMPT!r})",
    )
    model: str = setting("", "openai_batch, anthropic_batch: the model each request names (the served model's name)")
    max_tokens: int = setting(
        0,
        "the batch requests: each one's max_completion_tokens (max_output_tokens, max_tokens; 0: the server's "
        "default; anthropic_batch needs one)",
    )
    num_answers: int = setting(
        1,
        "the batch requests: answers a request (OpenAI's n, Gemini's candidate_count; Anthropic's: 1): several, at a "
        "temperature above 0, are several captions a photo, of which desclm check tells the faithful",
    )
    temperature: float = setting(-1.0, "the batch requests: each one's sampling temperature (negative: the server's)")
    system_prompt: str = setting("", 'the batch requests: a system prompt before each user turn (none: "")')
    boxes_from: Literal["detections", "labels"] = setting(
        "detections",
        "yolo: each photo's label file from its detections at --min_confidence (what its description states), or "
        "labels: its labelled boxes (its CV record's ground_truth), every one; with --truth missed, the photos the "
        "detectors missed an item in, a dataset to train them on (yolo train data=<output>/data.yaml)",
    )
    answer: Literal["caption", "boxes"] = setting(
        "caption",
        "llava, hf --chat: each conversation's answer: caption (the description; llava: an entry per caption) or "
        "boxes (the boxes the description states, labels as given, in the form Qwen-VL answers grounding in, a "
        "fenced JSON list of {bbox_2d, label}, which desclm check reads back; an entry per photo, with --cv)",
    )
    box_units: Literal[BOX_UNITS] = box_units_setting("--answer boxes: the units of the boxes written")
    min_pixels: int = setting(QWEN_MIN_PIXELS, "qwen2.5-vl boxes: the processor's min_pixels")
    max_pixels: int = setting(QWEN_MAX_PIXELS, "qwen2.5-vl boxes: the processor's max_pixels")
    tasks: str = setting(
        ",".join(FLORENCE_TASKS),
        "florence2: each photo's entries, Florence-2's tasks: caption (<CAPTION>: the description), detection (<OD>: "
        "the boxes the description states, labels as given), grounding (<CAPTION_TO_PHRASE_GROUNDING> and the "
        "caption: each phrase that counts items, with its items' boxes)",
    )
    chat: bool = setting(
        False,
        "hf (with --images): add `prompt` and `completion` columns, each photo's conversation (the user's turn the "
        "photo and --prompt, the assistant's the description) in the form TRL's SFTTrainer trains a vision-language "
        "model on",
    )
    objects: bool = setting(
        False,
        "hf (with --cv, --images): add the object-detection columns transformers' object-detection examples train a "
        "detector on: image_id, width, height and objects (per box its bbox [x, y, width, height] in pixels, area, "
        "category: a ClassLabel of the labels as given), the boxes the descriptions state (--min_confidence)",
    )
    parquet_only: bool = setting(
        False,
        "hf: write the Parquet shards alone (the Hub's layout: load_dataset reads the folder by its name), not also "
        "the Arrow files load_from_disk reads: the photos, the bulk of a dataset, on disk once",
    )
    license: str = setting(
        "",
        "hf, webdataset: the licence the dataset card states, as the Hub names licences (cc-by-4.0, cc0-1.0, odc-by, "
        "other, ...): the photos' and captions' terms, kept when the export is run again; default: none stated",
    )
    url_prefix: str = setting(
        "",
        "label_studio: what goes before each photo's key (or name in --image_folder) in its task's image URL, e.g. "
        "s3://bucket/photos/ with cloud storage; default: Label Studio's local files, /data/local-files/?d=<the "
        "photos' folder name>/, served with LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT the folder holding it; "
        "openai_batch: each request's image URL is this then the photo's key (https://..., or file:///data/photos/ "
        "with vLLM's --allowed-local-media-path /data/photos); gemini_batch: its file_uri so, "
        "its media type told by the key's extension; anthropic_batch: its url source so; default: the photo "
        "itself, its bytes",
    )
    image_folder: str = setting(
        "",
        "llava, grounded, florence2, coco, coco_instances, label_studio: copy each exported photo's file here, named "
        "as the JSON names it (LLaVA's --image_folder); the way to photo files when --images is a Hugging Face "
        "dataset or tar shards",
    )
    min_confidence: float = setting(
        Policy.min_confidence,
        "yolo, label_studio, hf --objects, florence2, geojson, geojson_items: the boxes and counts the descriptions "
        "state, at the describer's threshold (0: every detection); the batch requests of CV records: the detections "
        "--category and --min_items count",
    )
    scene_min_confidence: float = setting(
        Policy.scene_min_confidence,
        "geojson: the scene stated, at the describer's scene threshold; the batch requests of CV records: the scene "
        "--scene reads",
    )
    ground_below_takeoff_m: float = ground_below_takeoff_setting()
    strip_location: bool = setting(
        False,
        "leave out where the photos were taken, to publish them: the GPS position (and XMP) of the photos embedded "
        "or copied (hf, webdataset, yolo, --image_folder; JPEG and PNG without re-encoding) and the records' "
        "latitude, longitude and altitude (hf, webdataset, csv); not for the geojson maps",
    )
    max_side: int = setting(
        PhotoRewrite.max_side,
        "hf, webdataset, llava, grounded and florence2 (--image_folder), yolo: photos whose longer side is larger "
        "(pixels) are shrunk to it, keeping their shape, and, with those stored on their side, written again upright "
        "and without EXIF (img2dataset's image_size with keep_ratio; the boxes, in 0..1, still fit); 0: as stored",
    )
    image_format: Literal["same", "jpeg", "png", "webp"] = setting(
        PhotoRewrite.image_format,
        "hf, webdataset, llava, grounded and florence2 (--image_folder), yolo: the format photos are written in "
        "(jpeg: HEIC and others converted, readable anywhere); same: each photo's own, a shrunk one's JPEG where its "
        "own is not JPEG, PNG or WebP",
    )
    image_quality: int = setting(PhotoRewrite.quality, "JPEG and WebP quality (1..100) of photos written again")
    workers: str = setting(
        "auto",
        "hf, webdataset, llava, grounded, florence2, yolo: processes writing photos again (--max_side, "
        "--image_format) while this one reads and writes the rest (0: none, all in this process; auto: one per core, "
        "none on one core)",
    )
    max_photos: int = setting(
        0,
        "export a seeded random sample of at most this many of the described photos (0: all of them), of those "
        "--category, --scene, --min_items and --verdict choose: a set to review in Label Studio, a quick look; "
        "chosen reading the files once, in flat memory",
    )
    seed: int = setting(0, "the seed of the sample and of the splits (same seed, same photos)")
    category: str = category_setting()
    scene: str = scene_setting()
    min_items: int = min_items_setting()
    verdict: str = verdict_setting()
    truth: str = truth_setting()
    splits: str = splits_setting()
    split_by: Literal["photo", "folder"] = split_by_setting()

    @property
    def policy(self) -> Policy:
        return Policy(self.min_confidence, self.scene_min_confidence)

    @property
    def sample(self) -> tuple[int, int]:
        return self.max_photos, self.seed

    @property
    def split_plan(self) -> SplitPlan:
        return SplitPlan.parse(self.splits, self.split_by, self.seed)

    @property
    def selection(self) -> Selection:
        return Selection(self.category, self.scene, self.min_items, self.verdict, self.policy, self.truth)

    @property
    def florence_tasks(self) -> tuple[str, ...]:
        return parse_tasks(self.tasks)

    @property
    def boxes(self) -> AnswerUnits | None:
        """The units of the llava entries' box answers (--answer boxes), None for captions."""
        units = AnswerUnits(self.box_units, self.min_pixels, self.max_pixels, self.max_side)  # (of the photos written)
        return units if self.answer == "boxes" else None

    @property
    def requests(self) -> BatchRequests | None:
        """The batch exports' request settings (`BatchRequests`), None for another format."""
        if self.format not in BATCH_APIS:
            return None
        asked = (
            self.model.strip(),
            self.max_tokens,
            self.format,
            self.num_answers,
            self.temperature,
            self.system_prompt,
        )
        return BatchRequests(*asked)

    @property
    def conversation_prompt(self) -> str:
        return self.prompt or (BOXES_PROMPT if self.answer == "boxes" else CAPTION_PROMPT)

    @property
    def rewrite(self) -> PhotoRewrite:
        return PhotoRewrite(self.max_side, self.image_format, self.image_quality, self.strip_location)

    def __post_init__(self) -> None:
        if self.max_photos < 0:
            raise ValueError(f"max_photos must be >= 0 (0: all), got {self.max_photos}")
        self.selection  # noqa: B018 - Selection checks min_items
        check_verdict(self.verdict)
        if self.format not in EXPORT_FORMATS:
            raise ValueError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {self.format!r}")
        if self.chat and self.format != "hf":
            raise ValueError(f"--chat: the conversation columns are the hf export's, not {self.format}'s")
        if self.objects and self.format != "hf":
            raise ValueError(f"--objects: the object-detection columns are the hf export's, not {self.format}'s")
        if self.tasks != ExportOptions.tasks and self.format != "florence2":
            raise ValueError(f"--tasks: the florence2 export's entries, not {self.format}'s")
        self.florence_tasks  # noqa: B018 - parse_tasks checks the names
        if self.answer == "boxes" and not (self.format == "llava" or (self.format == "hf" and self.chat)):
            raise ValueError(
                f"--answer boxes: the llava export's entries or the hf export's --chat, not {self.format}'s"
            )
        asked_units = (self.box_units, self.min_pixels, self.max_pixels) != (
            "thousandths",
            QWEN_MIN_PIXELS,
            QWEN_MAX_PIXELS,
        )
        if asked_units and self.answer != "boxes":
            raise ValueError("--box_units, --min_pixels, --max_pixels: the units of --answer boxes")
        AnswerUnits(self.box_units, self.min_pixels, self.max_pixels)
        if self.parquet_only and self.format != "hf":
            raise ValueError(f"--parquet_only: the hf export's layout, not {self.format}'s")
        if self.license and self.format not in ("hf", "webdataset"):
            raise ValueError(f"--license: the hf and webdataset exports' dataset card states one, not {self.format}'s")
        check_license(self.license)
        if self.split_plan.asked and self.format not in SPLIT_FORMATS:
            raise ValueError(f"--splits: the {', '.join(SPLIT_FORMATS)} exports' splits, not {self.format}'s")
        if self.strip_location and self.format in MAP_FORMATS:
            raise ValueError(f"--strip_location: the {self.format} export is a map of where the photos were taken")
        rewriting = ("hf", "webdataset", "llava", "grounded", "florence2", "yolo", *BATCH_APIS)
        if self.rewrite.rewrites and self.format not in rewriting:
            raise ValueError(
                f"--max_side, --image_format: the {', '.join(rewriting)} exports' photos, not {self.format}'s"
            )
        asked_of = (self.num_answers, self.temperature, self.system_prompt)
        batch_asked = asked_of != (ExportOptions.num_answers, ExportOptions.temperature, ExportOptions.system_prompt)
        if (self.model or self.max_tokens or batch_asked) and self.format not in BATCH_APIS:
            raise ValueError(
                "--model, --max_tokens, --num_answers, --temperature, --system_prompt: the batch exports' requests, "
                f"not {self.format}'s"
            )
        self.requests  # noqa: B018 - BatchRequests checks num_answers
        names_model = self.format in BATCH_APIS and BATCH_APIS[self.format].names_model
        if names_model and not self.model.strip():
            raise ValueError(f"--model: each {self.format} request names the model to ask (the served model's name)")
        if self.model and self.format in BATCH_APIS and not names_model:
            raise ValueError(
                f"--model: a {self.format} request names no model: it is named when the batch is created "
                "(client.batches.create(model=...))"
            )
        if self.format == "anthropic_batch" and not self.max_tokens:
            raise ValueError(
                "--max_tokens: each anthropic_batch request says its max_tokens (Anthropic's API needs it)"
            )
        if self.max_tokens < 0:
            raise ValueError(f"--max_tokens must be >= 0 (0: the server's default), got {self.max_tokens}")
        worker_processes(self.workers)
        self.policy  # noqa: B018 - Policy checks the thresholds


ROLLUP_OUTPUTS = (".md", ".json", ".csv")  # `desclm summarize --output`, by its suffix
ITEM_OUTPUTS = (".jsonl", ".csv", ".geojson")  # `desclm summarize --items`: a line, a row or a map point per item


@dataclass
class SummarizeOptions:
    """The summarize command's settings: a counted paragraph per group of photos, for a report."""

    cv: str = setting(help="CV records (01's output, JSONL)", positional=True)
    by: str = setting(
        FOLDER,
        'the groups: "folder" of each photo, "day" or "month" it was taken (its EXIF), or a record field ("site", '
        '"split")',
    )
    output: str = setting(
        "",
        "file to write: .md (a map of where the photos were taken, when they say, beside it as <stem>.map.png, and "
        "of where the distinct items lie, when placed on the ground, as <stem>.items.png; a table; the paragraphs), "
        '.json (every number), .csv (a row per group); "": the paragraphs to standard output',
    )
    items: str = setting(
        "",
        "file to write each distinct item to (a video's, followed across frames; a survey's photos', placed on the "
        "ground): .jsonl a line, .csv a row, .geojson a point where it lies on the ground (with the camera's pose), "
        'else where its best frame was taken; "": none',
    )
    images_root: str = setting("", "the folder the records' photos are under (\"\": the one 01's manifest names)")
    title: str = setting("", "the .md report's title (\"\": the records' file name and the groups)")
    top: int = setting(3, "photos named under 'Most items' in each group")
    seed: int = setting(0, f"which photos the .md report's map draws, of more than {MAP_POINTS:,} with a position")
    min_confidence: float = setting(Policy.min_confidence, "detections below this are not counted (as not described)")
    scene_min_confidence: float = setting(Policy.scene_min_confidence, "a scene below this is counted as not stated")
    track_lost_s: float = setting(
        TRACK_LOST_S,
        "a video's item followed across frames and unseen this long (seconds: out of view, or missed) counts as a new "
        "one when seen again",
    )
    fixed_cameras: bool = setting(
        False,
        "each group's photos (not placed on the ground) are one fixed camera's, a trail camera's: an item whose "
        "boxes overlap in several photos counts once (group by folder: a folder a camera)",
    )
    fixed_min_iou: float = setting(
        FIXED_MIN_IOU,
        "--fixed_cameras: boxes in two photos overlapping this much (intersection over union) are one item",
    )
    ground_below_takeoff_m: float = ground_below_takeoff_setting()
    ground_radius_m: float = setting(
        GROUND_RADIUS_M,
        "photos' items placed on the ground (their records say the drone's height and camera's view) this close "
        "(metres) in different photos count as one item seen again (overlapping survey photos)",
    )

    @property
    def policy(self) -> Policy:
        return Policy(self.min_confidence, self.scene_min_confidence)

    @property
    def matching(self) -> Matching:
        """How the roll-up counts an item seen again once, as these settings say."""
        fixed = self.fixed_min_iou if self.fixed_cameras else None
        return Matching(self.track_lost_s, self.ground_radius_m, self.ground_below_takeoff_m, fixed)

    def __post_init__(self) -> None:
        self.policy  # noqa: B018 - Policy checks the thresholds
        if not self.track_lost_s > 0:
            raise ValueError(f"--track_lost_s must be > 0 seconds, got {self.track_lost_s}")
        if not 0 < self.fixed_min_iou <= 1:
            raise ValueError(f"--fixed_min_iou must be in (0, 1], got {self.fixed_min_iou}")
        if not self.ground_radius_m > 0:
            raise ValueError(f"--ground_radius_m must be > 0 metres, got {self.ground_radius_m}")
        if self.output and not self.output.lower().endswith(ROLLUP_OUTPUTS):
            raise ValueError(f"--output must end in {', '.join(ROLLUP_OUTPUTS)} (its format), got {self.output!r}")
        if self.top < 0:
            raise ValueError(f"--top must be >= 0, got {self.top}")
        if self.items and not self.items.lower().endswith(ITEM_OUTPUTS):
            raise ValueError(f"--items must end in {', '.join(ITEM_OUTPUTS)} (its format), got {self.items!r}")


@dataclass
class GalleryOptions:
    """The gallery command's settings: one page to look through described photos."""

    described: str = setting(
        help="`desclm describe`'s output (JSONL: id, description, captions), `desclm check`'s verdicts (each "
        "caption shown with what the check found), or 01's CV records (their detections, before any description: "
        "counted at --min_confidence, boxes under it dashed)",
        positional=True,
    )
    output: str = setting("gallery.html", "the page to write; thumbnails go to <stem>_thumbs/ beside it")
    images: str = setting(
        "",
        "folder the records' `image` paths are relative to (tar shards too), the Hugging Face dataset they name, or "
        "the data.yaml, COCO or LLaVA .json or list 01 read (default: the photos --cv's manifest names, or the CV "
        "records' own; none: cards without pictures)",
    )
    image_column: str = image_column_setting()
    key_column: str = key_column_setting()
    cv: str = setting("", "the CV records the rows were described from: boxes drawn, labels read as given")
    title: str = setting("", "the page's title (default: the described file's name)")
    thumb_size: int = setting(320, "longest side of a thumbnail, pixels")
    page_size: int = setting(60, "cards per page")
    max_photos: int = setting(
        100_000, "most cards on the page (a browser's comfortable limit): of more photos, a random sample this size"
    )
    seed: int = setting(0, "the sample's seed (same seed, same photos)")
    category: str = category_setting()
    scene: str = scene_setting()
    min_items: int = min_items_setting()
    verdict: str = verdict_setting()
    truth: str = truth_setting()
    min_confidence: float = setting(
        Policy.min_confidence,
        "the describer's threshold: of CV records, the detections a description would state (counted, chosen by); "
        "of labelled photos, the detections matched to the labels box by box",
    )
    scene_min_confidence: float = setting(
        Policy.scene_min_confidence, "CV records: the scene a description would state"
    )

    def __post_init__(self) -> None:
        check_verdict(self.verdict)
        if self.thumb_size < 16 or self.page_size < 1:
            raise ValueError(f"thumb_size must be >= 16 and page_size >= 1, got {self.thumb_size}, {self.page_size}")
        if self.max_photos < 1:
            raise ValueError(f"max_photos must be >= 1, got {self.max_photos}")
        self.selection  # noqa: B018 - Selection checks min_items

    @property
    def selection(self) -> Selection:
        policy = Policy(self.min_confidence, self.scene_min_confidence)
        return Selection(self.category, self.scene, self.min_items, policy=policy, truth=self.truth)

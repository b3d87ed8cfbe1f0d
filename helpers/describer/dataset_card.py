"""The dataset card (`README.md`) an hf or webdataset export writes beside its shards, as the Hugging Face Hub
shows a dataset: YAML metadata, then what the dataset holds, in numbers counted from the rows written.

- The metadata names the data files (`configs`: the Parquet shards, or the tar shards), so `load_dataset(folder)`
  and the Hub (after `hf upload`) read the export as it is; an hf export's also gives its columns and count
  (`dataset_info`, as `push_to_hub` writes it), `task_categories: image-to-text` and a size category.
- The text counts the photos, captions and sentences by their source (the model's, checked; the grammar's), the
  detections the records hold per label as given, the scenes, how many photos say when and where they were
  taken (with a warning to strip the places before publishing), the rows not exported; how to load the
  dataset, with `--chat` how TRL trains a vision-language model on it, with `--objects` what its detection columns
  hold.

The counts cover the examples in the complete shards: a resumed export carries them in its progress file
(`CardCounts.as_dict`), so a killed and resumed export writes the card an uninterrupted one writes.
"""

from __future__ import annotations

from collections import Counter

from helpers.core.answer_boxes import AnswerUnits
from helpers.core.markdown import markdown_row, markdown_text
from helpers.core.photo_rewrite import PhotoRewrite
from helpers.describer.selection import CHECKED

LISTED = 30  # labels and scenes listed by name; the rest are summed in one row
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (10**6, "100K<n<1M"))
SIZE_CATEGORIES += ((10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"))


class CardCounts:
    """What the card counts, an example at a time (`add`), kept across a resumed export (`as_dict`)."""

    def __init__(self, saved: dict | None = None) -> None:
        saved = saved or {}
        self.photos: int = saved.get("photos", 0)
        self.captions: int = saved.get("captions", 0)
        self.sources = Counter(saved.get("sources", {}))
        self.labels = Counter(saved.get("labels", {}))  # detections per label as given
        self.photos_with_detections: int = saved.get("photos_with_detections", 0)
        self.scenes = Counter(saved.get("scenes", {}))
        self.with_time: int = saved.get("with_time", 0)
        self.with_position: int = saved.get("with_position", 0)
        self.with_pose: int = saved.get("with_pose", 0)

    def add(self, fields: dict) -> None:
        """One written example's fields: `source`, `captions`, and with the CV records `detections`, `scene`
        and `taken` (as the exports hold them)."""
        self.photos += 1
        self.captions += len(fields["captions"])
        self.sources[fields["source"]] += 1
        detections = fields.get("detections") or []
        self.labels.update(detection["label"] for detection in detections)
        self.photos_with_detections += bool(detections)
        if (scene := fields.get("scene")) is not None:
            self.scenes[scene["class"]] += 1
        taken = fields.get("taken") or {}
        self.with_time += taken.get("time") is not None
        self.with_position += taken.get("latitude") is not None
        self.with_pose += taken.get("camera_pitch") is not None

    @classmethod
    def merged(cls, saved: list[dict]) -> CardCounts:
        """The counts of several parts (each `as_dict`), added: a dataset's, from its splits'."""
        whole = cls()
        for part in map(cls, saved):
            for name, value in vars(part).items():
                setattr(whole, name, getattr(whole, name) + value)  # numbers add, and Counters too
        return whole

    def as_dict(self) -> dict:
        """The counts as JSON values (`CardCounts(saved)` reads them back)."""
        return {
            "photos": self.photos,
            "captions": self.captions,
            "sources": dict(self.sources),
            "labels": dict(self.labels),
            "photos_with_detections": self.photos_with_detections,
            "scenes": dict(self.scenes),
            "with_time": self.with_time,
            "with_position": self.with_position,
            "with_pose": self.with_pose,
        }


def size_category(count: int) -> str:
    """The Hub's size category for `count` examples (`1K<n<10K`)."""
    return next((name for limit, name in SIZE_CATEGORIES if count < limit), "n>1T")


def _metadata(
    fmt: str, counts: CardCounts, features, data_bytes: int, splits: dict | None = None, license: str = ""
) -> str:
    """The card's YAML: its licence when given, its data files by split (`splits`: each split's folder of shards),
    and the hf export's columns and counts."""
    from huggingface_hub import DatasetCardData

    files = "parquet/*.parquet" if fmt == "hf" else "*.tar"
    parts = splits or {"train": (counts.photos, data_bytes)}
    data = DatasetCardData(task_categories=["image-to-text"], size_categories=[size_category(counts.photos)])
    data.license = license or None  # None: left out of the YAML
    data.tags = ["litter", "desclm", "synthetic-captions"]
    paths = [{"split": name, "path": f"{name}/{files}" if splits else files} for name in parts]
    data.configs = [{"config_name": "default", "data_files": paths}]  # as the Hub reads them
    if features is not None:  # the hf export's columns, as `push_to_hub` writes them (`datasets` is loaded there)
        from datasets import DatasetInfo, SplitDict, SplitInfo
        from datasets.info import DatasetInfosDict

        infos = SplitDict()
        for name, (photos, size) in parts.items():
            infos.add(SplitInfo(name=name, num_bytes=size, num_examples=photos))
        DatasetInfosDict({"default": DatasetInfo(features=features, splits=infos)}).to_dataset_card_data(data)
    return data.to_yaml()


def _share(part: int, whole: int) -> str:
    return f"{part:,} ({100 * part / whole:.1f}%)" if whole else f"{part:,}"


def _counted_table(title: str, counter: Counter, whole: int) -> list[str]:
    """A two-column table of the most common names (as given) with their counts, the rest in one row."""
    rows = [markdown_row([title, "count"]), "| --- | ---: |"]
    rows += [markdown_row([name, _share(count, whole)]) for name, count in counter.most_common(LISTED)]
    if len(counter) > LISTED:
        rest = counter.most_common()[LISTED:]
        rows.append(markdown_row([f"{len(rest):,} other names", _share(sum(count for _, count in rest), whole)]))
    return rows


def dataset_card(
    fmt: str,
    counts: CardCounts,
    problems: int,
    features=None,
    data_bytes: int = 0,
    chat_prompt: str | None = None,
    strip_location: bool = False,
    rewrite: PhotoRewrite = PhotoRewrite(),
    chosen: str = "",
    parquet_only: bool = False,
    splits: dict[str, tuple[int, int]] | None = None,
    split_note: str = "",
    license: str = "",
    chat_boxes: AnswerUnits | None = None,
) -> str:
    """The card's text (see the module docstring): `fmt` "hf" or "webdataset"; `problems` the rows not exported
    (listed in the export's `.errors.jsonl`); `features` the hf export's columns and `data_bytes` its
    Arrow files' size; `chat_prompt` its conversation's user turn; `rewrite` how its photos were written;
    `chosen` which of the described photos it holds, when not all (Markdown, a sentence); `parquet_only` (hf): its
    Parquet shards alone, no Arrow files to `load_from_disk`; `splits`: each split's photos and data bytes, a
    folder each, `split_note` how the photos were split (a sentence); `chat_boxes`: the conversation's answers are the
    boxes, in these units, not the description; `license` the licence its metadata states
    (the Hub's id; "": none)."""
    whole = counts.photos
    lines = [
        "---",
        _metadata(fmt, counts, features, data_bytes, splits, license).rstrip("\n"),
        "---",
        "",
        "# Described litter photos",
        "",
    ]
    opening = (
        "Photos described by desclm: each photo's `description` is one English "
        "sentence stating what litter detectors found in it (counted, the labels as the detectors give them), "
        "checked against the photo's detections before it was kept, or written by the grammar the checks trust "
        "where the model's sentence was not faithful; `captions` holds the description first, then any other "
        "wordings asked for."
    )
    if counts.sources and set(counts.sources) == {CHECKED}:
        opening = (
            "Captions written elsewhere (a vision-language model's, people's), each read by `desclm check` against "
            "its photo's detections: an example a photo, `captions` its captions kept (a model's several answers "
            "about it, one after another in the verdicts), the first its `description`."
        )
    lines += [
        opening,
        *(["", chosen] if chosen else []),
        "",
        markdown_row(["", "count"]),
        "| --- | ---: |",
        markdown_row(["photos", f"{whole:,}"]),
        markdown_row(["captions", f"{counts.captions:,}"]),
    ]
    lines += [
        markdown_row([f"descriptions written by: {source}", _share(n, whole)])
        for source, n in sorted(counts.sources.items())
    ]
    lines.append(
        markdown_row(
            ["rows not exported", f"{problems:,}" + (" (listed in the export's .errors.jsonl)" if problems else "")]
        )
    )
    if splits:
        lines += ["", split_note, "", markdown_row(["split", "photos"]), "| --- | ---: |"]
        lines += [markdown_row([name, _share(photos, whole)]) for name, (photos, _) in splits.items()]
    if rewrite.rewrites:
        size = f"at most {rewrite.max_side} pixels on their longer side" if rewrite.max_side else "at their size"
        own = "their own format (JPEG where not JPEG, PNG or WebP)"
        kind = own if rewrite.image_format == "same" else rewrite.image_format.upper()
        lines += [
            "",
            f"Photos larger than asked or in another format were written again: {size}, as {kind} (JPEG and WebP "
            f"quality {rewrite.quality}), upright, without their EXIF and XMP; the boxes, in 0..1 of the photo, fit "
            "them.",
        ]
    if counts.labels or counts.scenes or counts.with_time or counts.with_position:
        lines += ["", "## What the detectors found", ""]
        lines += [
            f"{_share(counts.photos_with_detections, whole)} photos hold detections; {sum(counts.labels.values()):,} "
            "detections in all, at any confidence (a description states those at or above its describer's "
            "threshold). Labels as given:",
            "",
            *(_counted_table("label", counts.labels, sum(counts.labels.values())) if counts.labels else []),
        ]
        if counts.scenes:
            lines += ["", "Scenes (the scene classifier's class, at any confidence):", ""]
            lines += _counted_table("scene", counts.scenes, whole)
        lines += ["", "## When and where", ""]
        lines.append(
            f"{_share(counts.with_time, whole)} photos say when they were taken, {_share(counts.with_position, whole)} "
            f"where (`taken`), {_share(counts.with_pose, whole)} the drone's height and camera angles."
        )
        if strip_location:
            lines.append("Exported with `--strip_location`: the photos and records hold no GPS position.")
        elif counts.with_position:
            lines.append(
                "**The photos' GPS positions are in `taken`, and in the metadata of photos kept as stored**: "
                "export with `--strip_location` before publishing where they were taken is unwanted."
            )
    lines += ["", "## Loading", "", "```python"]
    if splits:
        first, arrow = next(iter(splits)), fmt == "hf" and not parquet_only
        lines += ["from datasets import load_dataset" + (", load_from_disk" if arrow else ""), ""]
        if arrow:
            lines.append(f'dataset = load_from_disk("path/to/this/folder")  # a DatasetDict: dataset["{first}"], ...')
        lines += [
            'dataset = load_dataset("path/to/this/folder")  # a DatasetDict of the splits this card\'s `configs` name',
            "```",
            "",
            "On the Hugging Face Hub: upload this card and each split's "
            + ("Parquet shards" if fmt == "hf" else "tar shards")
            + ' (`hf upload <user>/<name> path/to/this/folder . --repo-type dataset --include README.md --include "'
            + ("*/parquet/*" if fmt == "hf" else "*/*.tar")
            + '"`); `load_dataset("<user>/<name>")` then reads them.',
        ]
    elif fmt == "hf" and parquet_only:
        lines += [
            "from datasets import load_dataset",
            "",
            'dataset = load_dataset("path/to/this/folder", split="train")  # the Parquet shards this card names',
            "```",
            "",
            "Written as Parquet shards alone (no Arrow files for `load_from_disk`). On the Hugging Face Hub: "
            "`hf upload <user>/<name> path/to/this/folder . --repo-type dataset`; "
            '`load_dataset("<user>/<name>", split="train")` then reads the shards this card\'s `configs` name.',
        ]
    elif fmt == "hf":
        lines += [
            "from datasets import load_dataset, load_from_disk",
            "",
            'dataset = load_from_disk("path/to/this/folder")  # the Arrow files, memory-mapped',
            'dataset = load_dataset("parquet", data_files="path/to/this/folder/parquet/*.parquet", split="train")',
            "```",
            "",
            "On the Hugging Face Hub: upload this card and the Parquet shards (the Arrow files hold the same rows), "
            "`hf upload <user>/<name> path/to/this/folder . --repo-type dataset --include README.md "
            '--include "parquet/*"`'
            '; `load_dataset("<user>/<name>", split="train")` then reads the shards this card\'s `configs` name.',
        ]
    else:
        lines += [
            "from datasets import load_dataset",
            "",
            'dataset = load_dataset("path/to/this/folder", split="train")  # or webdataset.WebDataset(its .tar files)',
            "```",
        ]
    if chat_prompt is not None:
        answer = "the description"
        if chat_boxes is not None:
            units = {"thousandths": "thousandths of the photo", "pixels": "pixels of the photo"}
            answer = (
                "the boxes its description states, labels as given, in the form Qwen-VL answers grounding in (a "
                "fenced JSON list of `bbox_2d` and `label`, corners in "
                f"{units.get(chat_boxes.units, 'pixels of the photo as Qwen2.5-VL resizes it')})"
            )
        lines += [
            "",
            "## Training a vision-language model",
            "",
            "`prompt` and `completion` are each photo's conversation in TRL's conversational prompt-completion "
            f"form: the user's turn the photo and \u201c{markdown_text(chat_prompt)}\u201d, the assistant's "
            f"{answer}. `SFTTrainer(model=..., train_dataset=dataset, processing_class=processor)` trains on it "
            "as it stands, the loss on the answer only.",
        ]
    if features is not None and "objects" in features:
        names = features["objects"]["category"].feature.names
        lines += [
            "",
            "## Training a detector",
            "",
            "`objects` holds each photo's boxes its description states (at or above the describer's threshold) in the "
            "Hugging Face object-detection layout: `bbox` [x, y, width, height] in pixels of the upright photo "
            "(`width`, `height`), `area`, `category` one of "
            f'{len(names):,} labels as given (a `ClassLabel`: `features["objects"]["category"].feature.names`) '
            "and `id` the box's place in its record's `detections`; `image_id` is the row's line in the described "
            "file. transformers' object-detection recipe (albumentations with `format=\"coco\"`, the model's image "
            "processor with COCO annotations, `Trainer`) trains a detector on it as it stands.",
        ]
    return "\n".join(lines) + "\n"

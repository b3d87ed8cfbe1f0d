"""A page to look through described photos (`desclm gallery`).

    desclm gallery described.jsonl --images photos/ --cv cv.jsonl --output gallery.html
    desclm gallery verdicts.jsonl --images photos/ --cv cv.jsonl --output review.html   # captions `check` read

Writes one self-contained HTML file (data, style and script inline; no network) and a folder of
thumbnails beside it (`gallery_thumbs/`). Each photo is a card: its thumbnail with the detector
boxes drawn (with `--cv`; each phrase of the description that counts items and the boxes it speaks for in one
colour, `provenance`, a box it does not state dashed grey), its sentence(s), counts and scene, and when and where
it was taken (its record's `taken`: the time, its place as a link to OpenStreetMap; the page itself needs no
network); a video's frame links to its video from the page, playing from that moment (`clip.mp4#t=12.5`).
Filters narrow the cards by category, scene and number of items, a search box by words of the
sentences and the times (`2026-05-01` finds that day's photos); an order puts the most items first,
or the earliest or latest taken (as each camera's clock wrote it); the page shows
`page_size` cards at a time, so 100,000 photos stay usable. Of more (`max_photos`; 10^7 photos
would make a page no browser opens), the page shows a uniform random sample (`seed`; reservoir
sampling as the files are read, so memory holds the sample only) and says so. `category`, `scene`
and `min_items` choose the photos before the sample (all the photos with a tire among 10^7, not
the tires of a sample), read from the sentences as the page's filters are (`helpers.describer.selection`).
Of a `desclm check` verdicts file (captions a vision-language model or people wrote, each with what the check
found), each card is a caption with its findings listed under it (the characters they are about quoted), a grounding
model's box that lies where no item of its phrase is (`misplaced_box`) drawn dashed where the caption put it (a point,
`misplaced_point`, a dot), those placed on their items outlined black and white over them (the verdict's `given`),
and a filter shows the unfaithful ones, or those of one kind of finding; each caption joins its record as the check
joined it (`verdict_rows`: by id, else its photo's name without the extension; several captions a photo); `verdict`
chooses the unfaithful ones (or those of one kind of finding) before the sample, a model's mistakes among all its
captions; `verdict` error, the photos whose lines the check could not check (a failed request, a refusal, an answer
it could not read), each card its record's and why.
Of 01's CV records (`is_cv_records`: right after extraction, before any description), each card is a record as the
detectors saw it: its boxes (those under `min_confidence`, which no description would state, dashed), its counts and
scene as a faithful description would state them (`selection.stated`), its categories searched, chosen as above.
Where the records hold labels (01's `ground_truth`), each card draws the labelled boxes (dotted) and says whether its
sentence is true to them (`helpers.describer.truth.compare`, as 04's truth report counts), or what it missed or
invented, and box by box the labelled items no stated detection found (yellow) and the stated detections on no label
(dashed; matched one to one by category at an IoU of 0.5, `truth.unmatched_boxes`); filters show the untrue ones, or
those with an item not found or a detection on no label, and the selection's `truth` chooses them before the sample.
The filter state is kept in the URL fragment
(`gallery.html#category=plastic&scene=grass&q=bottle&sort=items&page=2`): a view can be bookmarked or sent.

Categories, counts and scene are read back from each description (`selection.said`: `helpers.text.facts`, with
the record's labels when `--cv` is given), so the filters agree with the text shown. The photos are a
folder (the records' `image` paths under it) or a Hugging Face dataset (`helpers.core.photo_datasets`:
a `save_to_disk` folder or Parquet files, such as 01 read them from). Thumbnails are
made in threads, drafted from JPEG at a fraction of full size, each written atomically and named
by the photo's path, size and time: a rerun makes only the missing ones. A photo that cannot be
read is a card without a picture, listed in `<output>.errors.jsonl`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.figures import is_number, position_of
from helpers.core.io import atomic_write_text, write_jsonl, write_problems
from helpers.core.logs import progress
from helpers.core.outputs import check_writes
from helpers.core.photo_datasets import PhotoKeys, photos_for, photos_of_cv_output
from helpers.core.remote import is_remote
from helpers.core.sampling import sample_stream
from helpers.core.video_frames import split_frame_key
from helpers.describer.exports import ExportRow, is_cv_records, is_verdicts, joined_rows, verdict_rows
from helpers.describer.options import GalleryOptions
from helpers.describer.provenance import provenance
from helpers.describer.selection import Selection, kept_by_verdict, stated
from helpers.describer.truth import LABELS_UNREADABLE, boxed, compare, truth_facts, unmatched_boxes
from helpers.text.grammar import RecordError

logger = logging.getLogger(__name__)

THUMB_SIZE = GalleryOptions.thumb_size
PAGE_SIZE = GalleryOptions.page_size
MAX_PHOTOS = GalleryOptions.max_photos


def thumbs_dir(output: Path) -> Path:
    return output.with_name(f"{output.stem}_thumbs")


def _thumb_name(version: str, size: int) -> str:
    return hashlib.sha1(f"{version}|{size}".encode("utf-8", "surrogateescape")).hexdigest()[:20] + ".jpg"


def make_thumbnail(photos: PhotoKeys, key: str, folder: Path, size: int = THUMB_SIZE) -> str:
    """The thumbnail's file name in `folder`, made unless it exists; raises OSError or ValueError for an
    unreadable photo. Named by the photo's path, size and time (`PhotoKeys.version`): a changed
    photo gets a new one."""
    from PIL import Image, ImageOps

    name = _thumb_name(photos.version(key), size)
    target = folder / name
    if target.is_file():
        return name
    if photos.is_video_frame(key):
        image = photos.image(key)  # the frame as decoded: no JPEG of it made and read back
    else:
        with Image.open(io.BytesIO(photos.read_bytes(key))) as opened:
            opened.draft("RGB", (size, size))  # JPEG: decode at 1/2..1/8 scale, far less work than full size
            image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((size, size))
    temporary = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"  # two rows may name one photo
    try:
        image.save(temporary, "JPEG", quality=82)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return name


def _card(row: ExportRow, thumb: str | None, statement=None, policy: Policy = Policy()) -> dict:
    """What the page shows of one photo (short keys: 100,000 cards are inlined); `statement`: `stated(row, policy)`,
    what its sentence (a CV record without one: its record at `policy`'s thresholds) states, when already read (the
    page's categories, counts and scene)."""
    record = row.record or {}
    statement = stated(row, policy) if statement is None else statement
    boxes, box_of, below = [], {}, []  # box_of: a detection's place in `boxes`; below: those under the threshold
    for index, d in enumerate(record.get("detections") or []):
        if isinstance(d.get("bbox"), list) and len(d["bbox"]) == 4:
            box_of[index] = len(boxes)
            if not row.captions and float(d.get("confidence")) < policy.min_confidence:
                below.append(len(boxes))  # a CV record's: a description would not state it
            boxes.append(
                [str(d.get("label")), round(float(d.get("confidence")), 3), [round(float(v), 4) for v in d["bbox"]]]
            )
    card = {
        "id": row.id if isinstance(row.id, str) else json.dumps(row.id),
        "img": row.image,
        "t": thumb,
        "c": row.captions,
        "src": row.source,
        "n": statement.counts,
        "s": statement.scene or "",
        "b": boxes,
    }
    if row.captions and (phrases := _phrases(row, box_of)):
        card["p"] = phrases
    if below:
        card["u"] = below
    if when_where := _taken(record):
        card["w"] = when_where
    if row.findings is not None:  # a caption `desclm check` checked: its findings (none: faithful)
        card["f"] = [_finding(finding) for finding in row.findings]
    if row.unchecked is not None:  # a line the check could not check (`verdict` error): why
        card["x"] = row.unchecked
    if placed := _placed(row.given or []):
        card["g"] = placed
    return card


def _truth(record: dict, statement, policy: Policy = Policy()) -> dict | None:
    """What a labelled photo's card holds of its ground truth (01's `ground_truth`: a data.yaml's, a COCO file's
    labels): its boxes [label, [x1, y1, x2, y2]], counts and scene, and its statement (the sentence's, a CV record's)
    compared with them (`helpers.describer.truth.compare`, as 04's truth report compares): true or not, the categories
    missed and invented, the count error; and box by box (`unmatched_boxes`), the labelled boxes no stated detection
    found and the stated detections on no labelled box. None without ground truth.

    Raises:
        LABELS_UNREADABLE's errors: The ground truth cannot be read (the card is shown without it).
    """
    truth = truth_facts(record)
    if truth is None:
        return None
    compared = compare(statement, truth)
    labelled = [[str(d["label"]), [round(float(v), 4) for v in d["bbox"]]] for d in boxed(record["ground_truth"])]
    missed, false = unmatched_boxes(record, policy.min_confidence)
    return {
        "b": labelled,
        "n": truth.counts,
        "s": truth.scene or "",
        "ok": compared["true"],
        "m": compared["missed"],
        "i": compared["invented"],
        "e": compared["count_error"],
        "sc": compared["scene"],
        "fn": missed,
        "fp": false,
    }


def _chosen_statement(selection: Selection, row: ExportRow, problems: list[dict]):
    """What a row states (`stated`) where `selection` keeps it, else None; a CV record the grammar cannot read (to tell
    what it states) is the row's problem."""
    try:
        statement = stated(row, selection.policy)
    except RecordError as error:
        problems.append({"id": row.id, "error": f"CV record not readable: {error}"})
        return None
    try:
        return statement if selection.chooses_statement(row, statement) else None
    except RecordError as error:
        problems.append({"id": row.id, "error": f"not chosen: {error}"})
        return None


def _placed(given: list) -> list:
    """A grounded caption's boxes (and points) the check placed on an item (its verdict's `given`), as the card holds
    them: [x1, y1, x2, y2] or [x, y] in 0..1 (the misplaced ones are drawn from their findings)."""
    placed = []
    for box in given:
        corners = box.get("box") if isinstance(box, dict) and box.get("item") is not None else None
        if isinstance(corners, list) and len(corners) in (2, 4) and all(is_number(v) for v in corners):
            placed.append([round(float(v), 4) for v in corners])
    return placed


def _finding(finding) -> list:
    """A check's finding as the card holds it: [kind, category, the record's value, the caption's, start, end] (no
    characters: None, None)."""
    finding = finding if isinstance(finding, dict) else {}
    span = finding.get("span")
    start, end = span if isinstance(span, list | tuple) and len(span) == 2 else (None, None)
    return [str(finding.get("kind")), finding.get("label"), finding.get("expected"), finding.get("said"), start, end]


def _phrases(row: ExportRow, box_of: dict[int, int]) -> list:
    """The description's phrases that count items, each with the boxes it speaks for (`provenance`, at the
    describer's threshold): [[start, end, [its boxes' places in the card's boxes]], ...], the page colouring each
    phrase and its boxes alike. None (an empty list) where the record has no box or cannot be read."""
    if not box_of:
        return []
    try:
        phrases = provenance(row.description, row.record)
    except (TypeError, ValueError, KeyError, AttributeError):  # a record the describer never took
        return []
    return [[p.start, p.end, [box_of[i] for i in p.detections if i in box_of]] for p in phrases if p.count]


def _video_link(photos: PhotoKeys, key: str, page_folder: Path) -> list | None:
    """[the video's address from the page, the frame's time in seconds] of a video's frame (a browser plays
    `clip.mp4#t=12.5` from there), None for a photo, and for a video in object storage (`s3://`: no browser plays
    it from there)."""
    if is_remote(photos.images) or not photos.is_video_frame(key):
        return None
    video, milliseconds = split_frame_key(key)
    relative = Path(os.path.relpath(photos.images / video, page_folder)).as_posix()
    return [urllib.parse.quote(relative), milliseconds / 1000]


def _taken(record: dict) -> list | None:
    """[time, latitude, longitude] of the record's `taken` (what it lacks: "" and None), None without one."""
    taken = record.get("taken")
    if not isinstance(taken, dict):
        return None
    time = taken.get("time") if isinstance(taken.get("time"), str) else ""
    longitude, latitude = position_of(taken) or (None, None)
    return [time, latitude, longitude] if time or latitude is not None else None


def write_gallery(
    described: Path,
    output: Path,
    images: Path | None = None,
    cv: Path | None = None,
    title: str = "",
    thumb_size: int = THUMB_SIZE,
    page_size: int = PAGE_SIZE,
    workers: int = 0,
    image_column: str = "",
    key_column: str = "",
    max_photos: int = MAX_PHOTOS,
    seed: int = 0,
    selection: Selection = Selection(),
    verdict: str = GalleryOptions.verdict,
) -> dict:
    """Writes the page and its thumbnails (see the module docstring); returns its counts (`described`:
    the photos that could be shown, `photos`: the cards, a sample when `max_photos` is fewer).

    `images` is a folder, or a Hugging Face dataset (`image_column`, `key_column`: as extraction
    read it, `helpers.core.photo_datasets`), or the data.yaml, COCO .json or list 01 read (its root
    from `cv`'s manifest); without it, the photos `cv`'s manifest names, if they are there.

    Raises:
        ValueError: The page would write over an input, or its thumbnails would land among the photos
            (a later `desclm extract` of that folder would take them for photos); checked before any work.
    """
    errors = output.with_name(f"{output.name}.errors.jsonl")
    inputs = [path for path in (described, cv) if path is not None]
    check_writes([output, errors], inputs)
    folder = thumbs_dir(output)
    verdicts, records_in = is_verdicts(described), is_cv_records(described)
    records = cv if cv is not None else described if records_in else None  # (whose manifest names the photos)
    photos = photos_for(images, image_column, key_column, records) if images is not None else None
    if photos is None and records is not None and (photos := photos_of_cv_output(records)):
        logger.info("photos: %s, as %s's manifest records", photos.images, records)
    inside = photos is not None and not is_remote(photos.images)  # (no page here lands in object storage)
    if inside and folder.resolve().is_relative_to(photos.images.resolve()):
        raise ValueError(
            f"the thumbnails would go to {folder}, inside the photo folder {photos.images}, where a later extraction "
            "would take them for photos: write the page outside that folder"
        )
    problems: list[dict] = []
    scratch = contextlib.nullcontext()
    if records_in and (cv is not None or verdict):
        raise ValueError(
            f"{described} holds CV records, shown as they are (their detections, what a description would state): "
            "leave out cv (they are the records) and verdict (of desclm check's verdicts)"
        )
    if verdict and not verdicts:
        raise ValueError(f"verdict: {described} holds described rows, not desclm check's verdicts")
    if selection.truth and records is None:
        raise ValueError("truth: the labels are the CV records' ground_truth: give them (cv)")
    if verdicts:
        output.parent.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.TemporaryDirectory(prefix=".gallery-", dir=output.parent)  # its records' index
        rows = verdict_rows(described, cv, problems, Path(scratch.name), unchecked=verdict == "error")
        rows = progress(rows, desc="read verdicts", unit="row")
    else:
        rows = progress(joined_rows(described, cv, problems), desc="read described rows", unit="row")
    if verdict:  # before the sample: a model's mistakes among all its captions
        rows = (row for row in rows if kept_by_verdict(verdict, row))
    if selection.asked:  # each sentence read once: for the choice, and then for its card
        pairs = ((row, chosen) for row in rows if (chosen := _chosen_statement(selection, row, problems)) is not None)
    else:
        pairs = ((row, None) for row in rows)
    with scratch:
        sample, total = sample_stream(pairs, max_photos, seed)
    rows, statements = [row for row, _ in sample], [statement for _, statement in sample]
    if total > len(rows):
        logger.info("%d described photos: the page shows a random sample of %d (seed %d)", total, len(rows), seed)
    thumbs: list[str | None] = [None] * len(rows)
    if photos is not None:
        photos.only(row.image for row in rows if row.image)  # a dataset's rows of the sample, not of every photo
        folder.mkdir(parents=True, exist_ok=True)

        def thumb(index: int) -> None:
            row = rows[index]
            photo = photos.name(row.image) if row.image else None
            try:
                if photo is None:
                    raise OSError("the row names no photo")
                thumbs[index] = make_thumbnail(photos, row.image, folder, thumb_size)
            except Exception as error:  # noqa: BLE001 - an unreadable photo costs its picture, not the page
                problems.append({"id": row.id, "error": f"thumbnail of {photo}: {type(error).__name__}: {error}"})

        with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
            for _ in progress(pool.map(thumb, range(len(rows))), total=len(rows), desc="thumbnails"):
                pass
    cards = []
    for row, thumb, statement in zip(rows, thumbs, statements, strict=True):
        try:
            statement = stated(row, selection.policy) if statement is None else statement
            card = _card(row, thumb, statement, selection.policy)
            try:  # a labelled photo: its ground truth, and how true its sentence is to it
                if (truth := _truth(row.record or {}, statement, selection.policy)) is not None:
                    card["tr"] = truth
            except LABELS_UNREADABLE as error:
                problems.append({"id": row.id, "error": f"ground truth not readable: {type(error).__name__}: {error}"})
            if photos is not None and row.image and (played := _video_link(photos, row.image, output.parent)):
                card["v"] = played
            cards.append(card)
        except (TypeError, ValueError, KeyError) as error:  # a CV record the describer never took
            problems.append({"id": row.id, "error": f"CV record not readable: {type(error).__name__}: {error}"})
    data = {
        "title": title or f"desclm gallery: {described.name}",
        "thumbs": os.path.relpath(folder, output.parent) if photos is not None else "",
        "pageSize": page_size,
        "cards": cards,
        "described": total,  # the page's cards are a sample of these when fewer
        "records": records_in,  # CV records' cards: no sentence
        "seed": seed,
        "selection": "&".join(  # chosen before the sample
            [f"{name}={value}" for name, value in selection.as_dict().items()]
            + ([f"verdict={verdict}"] if verdict else [])
        ),
    }
    atomic_write_text(output, render(data))
    write_problems(errors, problems, "problems")
    logger.info("gallery of %d photos: %s", len(cards), output)
    labelled = [card["tr"]["ok"] for card in cards if "tr" in card]
    counts = {"described": total, "photos": len(cards), "problems": len(problems), "output": str(output)}
    return counts | ({"labelled": len(labelled), "untrue": labelled.count(False)} if labelled else {})


def write_test_gallery(rows: list[dict], photos: PhotoKeys | None, output: Path) -> dict:
    """04's test photos as a page (`write_gallery`): each photo's guarded sentence over its record's boxes and, where
    it is labelled, its ground truth and whether the sentence is true to it (as 04's truth report counts). The rows'
    sentences and records are written beside the page (`<stem>.described.jsonl`, `<stem>.records.jsonl`), the files
    `desclm gallery` and `desclm export` take. Returns `write_gallery`'s counts.

    Args:
        rows: 04's test rows (`helpers.describer.evaluate.judge`: id, source, record, the guarded sentence).
        photos: Where the records' photos are (`truth_report.photos_of`); None: cards without pictures.
        output: The page.
    """
    described = output.with_name(f"{output.stem}.described.jsonl")
    records = output.with_name(f"{output.stem}.records.jsonl")
    lines = ({"id": row["id"], "description": row["guarded"]["text"], "source": row["source"]} for row in rows)
    write_jsonl(described, lines)
    write_jsonl(records, (row["record"] for row in rows))
    where = (photos.images, photos.image_column, photos.key_column) if photos is not None else (None, "", "")
    return write_gallery(
        described, output, where[0], records, "04: the test photos", image_column=where[1], key_column=where[2]
    )


def render(data: dict) -> str:
    """The page (`gallery.html` beside this module: its style and script) with `data` inlined as
    JSON, escaped so that no text can end the script element."""
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")
    title = data["title"].replace("&", "&amp;").replace("<", "&lt;")
    page = resources.files(__package__).joinpath("gallery.html").read_text(encoding="utf-8")
    return page.replace("{{title}}", title).replace("{{data}}", payload)

"""Vision-language models' answers that list boxes or points (Florence-2's, PaliGemma's, Qwen's, Gemini's, Molmo's,
DeepSeek-VL2's), read as their models' own readers read them and checked against CV records; the exports that answer
so."""

from __future__ import annotations

import json
import logging
import random
import re
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_LABEL = st.text(string.ascii_letters + string.digits + " -_'.,", min_size=1, max_size=12)
_BINS = st.tuples(*[st.integers(0, 999)] * 4)


@settings(deadline=None)  # (the first example imports transformers)
@given(listed=st.lists(st.tuples(_LABEL, st.lists(_BINS, min_size=1, max_size=3)), max_size=5))
def test_florence_answers_read_as_transformers_reads_them(listed):
    """Any labels and boxes written as Florence-2 generates them (`</s><s>`, each label then its boxes' location
    tokens, `</s>`): `listed_boxes` gives each label as transformers' own reader does (`Florence2PostProcessor`,
    what `post_process_generation` calls) and each box at the middle of its bins, where that reader puts it (it
    gives whole pixels: read at 10^5 a side, to 10^-5 of the photo)."""
    from types import SimpleNamespace

    from transformers.models.florence2.processing_florence2 import Florence2PostProcessor

    from helpers.core.answer_boxes import listed_boxes

    text = "</s><s>" + "".join(label + "".join(f"<loc_{b}>" for box in boxes for b in box) for label, boxes in listed)
    reader = Florence2PostProcessor({"description_with_bboxes": {}}, SimpleNamespace(all_special_tokens=[]))
    side = 100_000
    theirs = reader.parse_description_with_bboxes_from_text_and_spans(text + "</s>", (side, side))
    ours = listed_boxes(text + "</s>")
    assert ours is not None or not listed
    flat = [(entry.text, box) for entry in ours or () for box in entry.boxes]
    assert [label for label, _ in flat] == [instance["cat_name"] for instance in theirs]
    for (_, box), instance in zip(flat, theirs, strict=True):
        assert all(abs(corner * side - read) <= 1 for corner, read in zip(box, instance["bbox"], strict=True))
    assert [len(entry.boxes) for entry in ours or ()] == [len(boxes) for _, boxes in listed]


@settings(deadline=None)
@given(
    listed=st.lists(st.tuples(_LABEL | st.just(" "), st.lists(_BINS, min_size=1, max_size=3)), max_size=5),
    size=st.tuples(st.integers(50_000, 100_000), st.integers(50_000, 100_000)),
    task=st.sampled_from(["<OD>", "<CAPTION_TO_PHRASE_GROUNDING>"]),
)
def test_florence_answers_post_processed_read_as_their_tokens(listed, size, task):
    """Any Florence-2 answer as transformers' `post_process_generation` gives it and people keep it (`{task:
    {"bboxes", "labels"}}`, pixels of the `image_size` it was told; a phrase grounding's phrase repeated a box):
    read as JSON with the photo's size, it is the answer read from its tokens (a label or phrase repeated one after
    another read as one, as the post-processed answer cannot tell them apart), each corner to a pixel."""
    from types import SimpleNamespace

    from transformers.models.florence2.processing_florence2 import Florence2PostProcessor, Florence2Processor

    from helpers.core.answer_boxes import listed_boxes

    text = "</s><s>" + "".join(label + "".join(f"<loc_{b}>" for box in boxes for b in box) for label, boxes in listed)
    processor = object.__new__(Florence2Processor)  # its post-processing alone: no tokenizer (that is on the Hub)
    processor.tasks_answer_post_processing_type = {"<OD>": "description_with_bboxes"}
    processor.tasks_answer_post_processing_type["<CAPTION_TO_PHRASE_GROUNDING>"] = "phrase_grounding"
    tasks = {"description_with_bboxes": {}, "phrase_grounding": {}}
    processor.post_processor = Florence2PostProcessor(tasks, SimpleNamespace(all_special_tokens=[]))
    kept = processor.post_process_generation(text + "</s>", task=task, image_size=size)
    ours = listed_boxes(json.dumps(kept), size=size)
    tokens: list = []  # the answer from its tokens, a phrase repeated one after another as one
    for entry in listed_boxes(text + "</s>") or ():
        if tokens and tokens[-1][0] == entry.text:
            tokens[-1] = (entry.text, tokens[-1][1] + entry.boxes)
        else:
            tokens.append((entry.text, entry.boxes))
    assert [entry.text for entry in ours] == [text for text, _ in tokens]
    for entry, (_, boxes) in zip(ours, tokens, strict=True):
        assert len(entry.boxes) == len(boxes)
        for read, box in zip(entry.boxes, boxes, strict=True):
            # (a pixel: transformers truncates; 1e-6 for the float noise of a whole pixel on an 84,672 px side)
            assert all(abs(a - b) * side <= 1 + 1e-6 for a, b, side in zip(read, box, size * 2, strict=True))


@settings(deadline=None)
@given(
    height=st.integers(1, 40_000),
    width=st.integers(1, 40_000),
    pixels=st.tuples(st.integers(28 * 28, 4096 * 28 * 28), st.integers(28 * 28, 16384 * 28 * 28)).map(sorted),
)
def test_qwen_resized_is_the_size_qwen2_5_vl_s_processor_resizes_a_photo_to(height, width, pixels):
    """`qwen_resized` gives the size transformers' Qwen2-VL image processor (Qwen2.5-VL's) resizes any photo to, for
    any min and max pixels, and refuses the photos it refuses."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    from helpers.core.answer_boxes import AnswerError, qwen_resized

    low, high = pixels
    try:
        theirs = smart_resize(height, width, 28, low, high)
    except ValueError:
        with pytest.raises(AnswerError, match="200 times"):
            qwen_resized(height, width, low, high)
        return
    assert qwen_resized(height, width, low, high) == theirs


_WORD_LABEL = st.text(string.ascii_letters + string.digits + " -_", min_size=1, max_size=12).filter(str.strip)
_THOUSANDTHS = st.lists(st.integers(0, 1000), min_size=4, max_size=4)


@settings(deadline=None, max_examples=60)
@given(
    boxes=st.lists(st.tuples(_WORD_LABEL, _THOUSANDTHS), max_size=6),
    size=st.tuples(st.integers(100, 8000), st.integers(100, 8000)),
    model=st.sampled_from(["qwen3-vl", "qwen2.5-vl", "gemini", "paligemma", "deepseek-vl2"]),
    fenced=st.booleans(),
)
def test_vlm_answers_read_as_supervision_reads_them(boxes, size, model, fenced):
    """Any labelled boxes written as each vision-language model answers detection (Qwen3-VL's JSON in thousandths;
    Qwen2.5-VL's in pixels of the photo as its processor resizes it; Gemini's `box_2d`, y first; PaliGemma's
    location tokens, y first in 1,024ths; DeepSeek-VL2's tags, 999ths): `listed_boxes` (`model_grounding` for the
    tags) reads the labels and boxes supervision's own parsers (`supervision.detection.vlm`, what
    `Detections.from_vlm` calls) read from the same text, to a pixel of the photo."""
    from supervision.detection import vlm

    from helpers.core.answer_boxes import AnswerUnits, ListedBoxes, listed_boxes, qwen_resized
    from helpers.core.chat_entries import model_grounding

    width, height = size
    units = AnswerUnits()
    if model == "paligemma":
        text = " ; ".join(
            "".join(f"<loc{round(v * 1.023):04d}>" for v in (b[1], b[0], b[3], b[2])) + f" {label}"
            for label, b in boxes
        )
        theirs = vlm.from_paligemma(text, size)
    elif model == "gemini":
        entries = [{"box_2d": [b[1], b[0], b[3], b[2]], "label": label} for label, b in boxes]
        text = json.dumps(entries)
        theirs = vlm.from_google_gemini_2_5("```json\n" + text + "\n```" if fenced else text, size)
    elif model == "deepseek-vl2":
        text = (
            "".join(
                f"<|ref|>{label}<|/ref|><|det|>[[{', '.join(str(round(v * 0.999)) for v in b)}]]<|/det|>"
                for label, b in boxes
            )
            + "<|end▁of▁sentence|>"
        )
        theirs = vlm.from_deepseek_vl_2(text, size)
    elif model == "qwen3-vl":
        text = json.dumps([{"bbox_2d": b, "label": label} for label, b in boxes])
        theirs = vlm.from_qwen_3_vl("```json\n" + text + "\n```" if fenced else text, size)
    else:
        resized_height, resized_width = qwen_resized(height, width)
        units = AnswerUnits("qwen2.5-vl")
        in_pixels = [[round(v / 1000 * s) for v, s in zip(b, (resized_width, resized_height) * 2)] for _, b in boxes]
        text = json.dumps([{"bbox_2d": b, "label": label} for (label, _), b in zip(boxes, in_pixels)])
        theirs = vlm.from_qwen_2_5_vl(text, (resized_width, resized_height), size)
    written = "```json\n" + text + "\n```" if fenced and model in ("qwen3-vl", "qwen2.5-vl", "gemini") else text
    if model == "deepseek-vl2":  # a grounded caption's tags: each phrase in the sentence, its boxes
        sentence, phrases = model_grounding(written)
        ours = [ListedBoxes(sentence[slice(*phrase.span)].strip(), phrase.boxes) for phrase in phrases]
    else:
        ours = listed_boxes(written, units, size) if boxes or model != "paligemma" else ()
    their_boxes, their_labels = theirs[0], theirs[2]
    assert [entry.text for entry in ours] == [str(label).strip() for label in their_labels]  # (spaces around: off)
    for entry, box in zip(ours, their_boxes, strict=True):
        corners = [entry.boxes[0][i] * size[i % 2] for i in range(4)]
        assert all(abs(a - b) <= 1e-6 * max(size) for a, b in zip(sorted(corners[::2]), sorted(box[::2])))
        assert all(abs(a - b) <= 1e-6 * max(size) for a, b in zip(sorted(corners[1::2]), sorted(box[1::2])))


def _stated(record: dict) -> list[dict]:
    return [d for d in record["detections"] if d["confidence"] >= 0.5 and d.get("bbox")]


def _qwen(detections: list[dict], scale: tuple[float, float] = (1000, 1000)) -> str:
    """Qwen's JSON answer (fenced as Qwen3-VL writes it): each detection's label and box, corners times `scale`."""
    entries = [
        {"bbox_2d": [round(d["bbox"][i] * scale[i % 2], 3) for i in range(4)], "label": d["label"].strip()}
        for d in detections
    ]
    return "```json\n" + json.dumps(entries, indent=2) + "\n```"


def _florence(detections: list[dict]) -> str:
    from helpers.describer.florence import locations

    return "</s><s>" + "".join(d["label"].strip() + locations(d["bbox"]) for d in detections) + "</s>"


def _middle(detection: dict) -> tuple[float, float]:
    x1, y1, x2, y2 = detection["bbox"]
    return (x1 + x2) / 2, (y1 + y2) / 2


def _points(detections: list[dict], model: str) -> str:
    """Each detection's middle as a pointing model answers: Qwen's `point_2d` (thousandths), Gemini's `point` (y first,
    thousandths), or Molmo's `<points>` tags (a label's points in one, hundredths)."""
    if model == "qwen_points":
        entries = [
            {"point_2d": [round(v * 1000, 1) for v in _middle(d)], "label": d["label"].strip()} for d in detections
        ]
        return json.dumps(entries)
    if model == "gemini_points":
        entries = [
            {"point": [round(v * 1000, 1) for v in _middle(d)[::-1]], "label": d["label"].strip()} for d in detections
        ]
        return "```json\n" + json.dumps(entries) + "\n```"
    by_label: dict[str, list] = {}
    for d in detections:
        by_label.setdefault(d["label"].strip(), []).append(_middle(d))
    tags = []
    for label, points in by_label.items():
        corners = " ".join(f'x{n}="{100 * x:.1f}" y{n}="{100 * y:.1f}"' for n, (x, y) in enumerate(points, start=1))
        tags.append(f'<points {corners} alt="{label}">{label}</points>')
    return "I see " + ", ".join(tags) + "."


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    form=st.sampled_from(["qwen", "florence", "qwen_points", "gemini_points", "molmo"]),
    order=st.randoms(),
    odd=st.sampled_from([None, "ten diband", "2 go", "a few bottles", "several", "one", "no litter", "Plastic x2"]),
)
def test_an_answer_listing_the_stated_detections_is_faithful_and_one_left_out_is_found(seed, form, order, odd):
    """Any record of generated detections (labels as given: other spellings, invented names): an answer listing its
    stated detections, each with its label and box, in any order, as Qwen's JSON (thousandths) or Florence-2's
    location tokens (`desclm export --format florence2`'s), or each with its middle as a pointing model's point
    (Qwen's, Gemini's, Molmo's: items overlap, so a point can lie in several boxes), is faithful, every box or point
    counted and placed, its sentence read back (as the gallery reads it) as the labels written. Leave one out and
    its category's count is found wrong (or missed; a list of no box also says there is nothing), nothing else; move
    one far off and it is a misplaced box (or point)."""
    from helpers.core.answer_boxes import listed_boxes
    from helpers.describer.exports import ExportRow, record_problem
    from helpers.describer.florence import florence_problem
    from helpers.text.check import check_listed
    from helpers.text.facts import extract
    from helpers.text.lexicon import canonical_label
    from helpers.text.synthetic import random_cv

    record = random_cv(random.Random(seed))
    if odd is not None:  # a label that reads as a count, or as no litter: still a label (found by 5,000 records)
        record["detections"].append({"label": odd, "confidence": 0.9, "bbox": [0.41, 0.42, 0.47, 0.49]})
    if record_problem(ExportRow("p", [], "grammar", record)):
        return  # (a label the describer refuses)
    stated = _stated(record)
    if form == "florence" and florence_problem(ExportRow("p", [], "grammar", record), ("detection",), _policy()):
        return  # a label Florence-2 cannot be trained on (refused by the export)
    if form == "molmo" and any(set('<>"') & set(d["label"]) for d in stated):
        return  # (a label Molmo's tag cannot hold)
    order.shuffle(stated)

    def read(detections: list[dict]):  # (an answer of no box or point may hold no tag: a caption of nothing)
        if form in ("qwen", "florence"):
            return listed_boxes((_qwen if form == "qwen" else _florence)(detections)) or ()
        return listed_boxes(_points(detections, form)) or ()

    sentence, verdict = check_listed(record, read(stated))
    assert verdict.faithful, (sentence, verdict.findings)
    indices = sorted(index for index, d in enumerate(record["detections"]) if any(d is s for s in stated))
    assert _boxed_items(record, verdict) == indices and len(verdict.given) == len(stated), "each on its own item"
    written = Counter(d["label"].strip() for d in stated)
    if all("; " not in label for label in written):  # read back as the labels written, by any reader of sentences
        assert extract(sentence, [d["label"] for d in record["detections"]]).counts == written, sentence
    if not stated:
        return
    left_out = stated[0]
    _, verdict = check_listed(record, read(stated[1:]))
    label = canonical_label(left_out["label"])
    kinds = {(finding.kind, finding.label) for finding in verdict.findings}
    nothing_left = {("says_no_litter", None)} if len(stated) == 1 else set()  # a list of no box: none there
    assert kinds in ({("wrong_count", label)}, {("missed_category", label)} | nothing_left), verdict.findings
    assert len(_boxed_items(record, verdict)) == len(verdict.given) == len(stated) - 1
    x1, y1, x2, y2 = left_out["bbox"]
    far = dict(left_out, bbox=[(x1 + 0.5) % 0.9, (y1 + 0.5) % 0.9, (x1 + 0.5) % 0.9 + 0.05, (y1 + 0.5) % 0.9 + 0.05])
    if any(_overlaps(far["bbox"], d["bbox"]) for d in stated):
        return  # (moved onto another item)
    _, verdict = check_listed(record, read([far, *stated[1:]]))
    moved = "misplaced_box" if form in ("qwen", "florence") else "misplaced_point"
    assert [finding.kind for finding in verdict.findings] == [moved]
    assert len(_boxed_items(record, verdict)) == len(verdict.given) - 1 == len(stated) - 1, "the moved one on none"


def _boxed_items(record: dict, verdict) -> list[int]:
    """The detections a verdict's given boxes (or points) lie on: each once, each of its box's category."""
    from helpers.text.lexicon import canonical_label

    placed = [box.item for box in verdict.given if box.item is not None]
    assert len(set(placed)) == len(placed), verdict.given
    assert all(
        canonical_label(record["detections"][box.item]["label"]) == box.label
        for box in verdict.given
        if box.item is not None
    ), verdict.given
    return sorted(placed)


def _policy():
    from helpers.core.contract import Policy

    return Policy()


def _overlaps(a: list[float], b: list[float]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


_RECORDS = [
    {
        "image": "a.jpg",
        "width": 4000,
        "height": 3000,
        "detections": [
            {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]},
            {"label": "plastic", "confidence": 0.8, "bbox": [0.5, 0.5, 0.6, 0.7]},
            {"label": "Drink can", "confidence": 0.9, "bbox": [0.7, 0.1, 0.8, 0.2]},
            {"label": "glass", "confidence": 0.2, "bbox": [0.0, 0.0, 0.1, 0.1]},
        ],
        "scene": {"class": "grass", "confidence": 0.95},
    },
    {
        "image": "b.jpg",
        "width": 640,
        "height": 480,
        "detections": [{"label": "metal", "confidence": 0.9, "bbox": [0.25, 0.25, 0.5, 0.75]}],
        "scene": None,
    },
    {"image": "c.jpg", "detections": [{"label": "paper", "confidence": 0.9, "bbox": [0.2, 0.2, 0.4, 0.4]}]},
]


def test_desclm_check_reads_florence_2_and_qwen_answers_and_counts_their_boxes(tmp_path, caplog):
    """`desclm check` on a vision-language model's answers as they come: Florence-2's `<OD>` (location tokens),
    Qwen3-VL's JSON (thousandths, fenced), Qwen2.5-VL's (pixels of the photo as its processor resized it: read with
    `--box_units qwen2.5-vl` and the pixels it ran with), beside a caption. The sentence checked lists each label's
    count as the answer gave it; a box missing is a count found wrong; an entry without its four numbers, or pixels
    of a photo whose record has no size, cost their line and name why; boxes off the photo (pixels read as
    thousandths) are counted and warned of; no answer of boxes becomes a house style's example."""
    from helpers.commands.check import main
    from helpers.core.answer_boxes import qwen_resized

    first, second, third = _RECORDS
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in _RECORDS))
    height, width = qwen_resized(3000, 4000, 3136, 1280 * 28 * 28)
    assert (width, height) != (4000, 3000), "the processor resized the photo: pixels of it are not the photo's"
    answers = [
        ("a.jpg", _florence(_stated(first))),
        ("a.jpg", _qwen(_stated(first))),
        ("a.jpg", _qwen(_stated(first), scale=(width, height))),
        ("a.jpg", _qwen(_stated(first)[1:])),
        ("b.jpg", "A piece of metal."),
        ("b.jpg", '[{"bbox_2d": [250, 250, 500], "label": "metal"}]'),
        ("c.jpg", _qwen(_stated(third))),
        ("b.jpg", _qwen([*_stated(second), {"label": "tyre", "bbox": [0.0, 0.0, 0.1, 0.1]}])),
        (
            "a.jpg",
            {
                "<OD>": {
                    "bboxes": [[v * s for v, s in zip(d["bbox"], (4000, 3000) * 2)] for d in _stated(first)],
                    "labels": [d["label"] for d in _stated(first)],
                }
            },
        ),
        ("b.jpg", json.loads(_qwen(_stated(second)).strip("`json\n"))),  # kept as JSON, not text
        ("a.jpg", _qwen(_stated(first), scale=(4000, 3000))),  # pixels of the photo, read as thousandths: off it
    ]
    captions = tmp_path / "answers.jsonl"
    captions.write_text("".join(json.dumps({"id": key, "caption": text}) + "\n" for key, text in answers))
    common = ["--input", "cv.jsonl", "--captions", "answers.jsonl", "--workers", "0"]
    qwen25 = ["--box_units", "qwen2.5-vl", "--max_pixels", str(1280 * 28 * 28)]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert main([*common, "--output", "thousandths.jsonl", "--examples", "examples.jsonl"]) == 1
        assert main([*common, "--output", "qwen25.jsonl", *qwen25]) == 1
    read = [json.loads(line) for line in (tmp_path / "thousandths.jsonl").read_text().splitlines()]
    florence, qwen3, qwen25_as_thousandths, missing, prose, short, unsized, tyre, kept, as_json, photo_pixels = read
    assert kept["faithful"] and kept["caption"] == "Detected by label: 2 × plastic; 1 × Drink can.", kept
    assert as_json["faithful"] and as_json["boxes"] == 1, as_json
    for verdict in (florence, qwen3):
        assert verdict["faithful"], verdict
        assert verdict["caption"] == "Detected by label: 2 × plastic; 1 × Drink can."
        assert verdict["boxes"] == 3
    assert {f["kind"] for f in qwen25_as_thousandths["findings"]} == {"misplaced_box"}
    assert [(f["kind"], f["label"], f["expected"], f["said"]) for f in missing["findings"]] == [
        ("wrong_count", "plastic", 2, 1)
    ]
    assert prose["faithful"] and "boxes" not in prose
    assert "answer entry 1: bbox_2d is not four numbers" in short["error"]
    assert "no width and height" not in unsized.get("error", "") and unsized["faithful"], "thousandths need no size"
    summary = json.loads((tmp_path / "thousandths.summary.json").read_text())
    assert [(f["kind"], f["label"]) for f in tyre["findings"]] == [
        ("invented_category", "tyre"),
        ("misplaced_box", "tyre"),
    ]
    assert summary["grounded"]["captions"] == 9 and summary["errors"] == 1
    assert summary["grounded"]["boxes"] == 3 + 3 + 3 + 2 + 1 + 2 + 3 + 1 + 3
    # Per category: a model's weak ones (the Qwen2.5-VL pixels read as thousandths misplace all three boxes, and so
    # do the photo's pixels); as a detection metric: a.jpg's six answers give 11 plastic boxes (one left out), 7 on
    # an item of their own (the two misread answers' 4 not), of its 12 items; 6 Drink can boxes, 4 placed
    plastic = {"captions": 6, "items": 12, "right": 3, "wrong_count": 1, "misplaced_box": 4}
    plastic |= {"grounded_items": 12, "boxes": 11, "boxes_placed": 7, "box_precision": 7 / 11, "box_recall": 7 / 12}
    assert {k: v for k, v in summary["by_category"]["plastic"].items() if v} == plastic
    assert {k: v for k, v in summary["by_category"]["Drink can"].items() if v} == {
        "captions": 6,
        "items": 6,
        "right": 4,
        "misplaced_box": 2,
        "grounded_items": 6,
        "boxes": 6,
        "boxes_placed": 4,
        "box_precision": 4 / 6,
        "box_recall": 4 / 6,
    }
    metal = summary["by_category"]["metal"]
    assert metal["right"] == 3 == metal["captions"]
    # b.jpg's prose caption boxes nothing and its three-number answer is an error line: two answers box its item
    assert (metal["grounded_items"], metal["boxes"], metal["boxes_placed"], metal["box_recall"]) == (2, 2, 2, 1.0)
    assert summary["grounded"]["items"] == 12 + 6 + 2 + 1
    assert summary["grounded"]["items_boxed_share"] == summary["grounded"]["boxes_placed"] / 21
    qwen3_boxes = [(box["label"], box["item"]) for box in qwen3["given"]]
    assert qwen3_boxes == [("plastic", 0), ("plastic", 1), ("Drink can", 2)], "each box on its detection"
    assert [box["item"] for box in qwen25_as_thousandths["given"]] == [None] * 3
    assert qwen3["given"][0]["box"] == pytest.approx(first["detections"][0]["bbox"], abs=1e-3)
    assert (summary["invented"], summary["invented_other"]) == ({"tyre": 1}, 0)
    assert [json.loads(line)["sentence"] for line in (tmp_path / "examples.jsonl").read_text().splitlines()] == [
        "A piece of metal."
    ]
    read = [json.loads(line) for line in (tmp_path / "qwen25.jsonl").read_text().splitlines()]
    assert read[2]["faithful"] and read[2]["caption"] == "Detected by label: 2 × plastic; 1 × Drink can.", read[2]
    assert not read[1]["faithful"], "Qwen3-VL's thousandths read as Qwen2.5-VL's pixels are elsewhere"
    assert photo_pixels["boxes_outside"] == 3 and "boxes_outside" not in qwen3, "a corner beyond 1000: off the photo"
    assert summary["grounded"]["boxes_outside"] == 3
    assert "3 of the 21 boxes the captions gave lie partly off the photo" in caplog.text
    assert "no width and height" in read[6]["error"] and read[6]["id"] == "c.jpg"


def test_a_florence_2_model_answering_as_the_florence2_export_trained_it_checks_faithful(described, tmp_path):
    """The loop the florence2 export opens: a model trained on it answers each task as its entry's suffix. Checked
    against the records those answers are faithful, every task's: the captions as sentences, the `<OD>` answers' and
    the phrase groundings' boxes each where an item of its label is; a box moved off its item is found."""
    from helpers.describer.check import check_file
    from helpers.describer.exports import export

    folder, records, _ = described
    export("florence2", folder / "described.jsonl", folder / "florence.jsonl", folder / "cv.jsonl")
    entries = [json.loads(line) for line in (folder / "florence.jsonl").read_text(encoding="utf-8").splitlines()]
    tasks = {entry["prefix"].split(">")[0] + ">" for entry in entries}
    assert tasks == {"<CAPTION>", "<OD>", "<CAPTION_TO_PHRASE_GROUNDING>"}
    answers = [{"image": entry["image"], "caption": entry["suffix"]} for entry in entries]
    boxed = next(entry for entry in entries if entry["prefix"] == "<OD>" and "<loc_" in entry["suffix"])
    moved = re.sub(r"<loc_(\d+)>", lambda m: f"<loc_{(int(m.group(1)) + 500) % 1000}>", boxed["suffix"], count=4)
    answers.append({"image": boxed["image"], "caption": moved})
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(answer) + "\n" for answer in answers))
    summary = check_file(folder / "cv.jsonl", tmp_path / "answers.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    verdicts = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert all(verdict["faithful"] for verdict in verdicts[:-1]), [v for v in verdicts if not v["faithful"]]
    assert "misplaced_box" in [finding["kind"] for finding in verdicts[-1]["findings"]]
    listed = [entry for entry in entries if "<loc_" in entry["suffix"]]
    assert summary["grounded"]["captions"] == len(listed) + 1
    assert summary["grounded"]["boxes_placed"] == summary["grounded"]["boxes"] - 1


def test_llava_entries_answering_with_boxes_read_back_as_the_stated_detections(described, tmp_path):
    """`desclm export --format llava --answer boxes`: an entry per photo whose answer is its stated boxes in the form
    Qwen-VL answers grounding in (thousandths, or Qwen2.5-VL's pixels of the photo as its processor resizes it, the
    size the record's), labels as given: read back they are the stated detections, and
    `desclm check` (the same units) finds every answer faithful. A detection without a box, or pixels of a photo
    whose record has no size, is its row's problem; the option is llava's, with the CV records."""
    from helpers.core.answer_boxes import AnswerUnits, listed_boxes, qwen_resized
    from helpers.describer.check import check_file
    from helpers.describer.exports import export
    from helpers.describer.options import BOXES_PROMPT, ExportOptions

    folder, records, rows = described
    for record in records:  # the size of a camera's photos (the fixture's files are tiny; pixels are the record's)
        record |= {"width": 4000, "height": 3000}
    records[2]["detections"].append({"label": "crate", "confidence": 0.9})  # no box to give
    del records[3]["width"], records[3]["height"]  # no size: no pixels
    (folder / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    units = {"thousandths": AnswerUnits(), "qwen2.5-vl": AnswerUnits("qwen2.5-vl", 3136, 1280 * 28 * 28)}
    for name, unit in units.items():
        output = tmp_path / f"{name}.jsonl"
        counts = export(
            "llava",
            folder / "described.jsonl",
            output,
            folder / "cv.jsonl",
            folder / "photos",
            prompt=BOXES_PROMPT,
            boxes=unit,
        )
        why = {p["id"]: p["error"] for p in map(json.loads, (tmp_path / f"{name}.jsonl.errors.jsonl").open())}
        left_out = {records[2]["image"], "broken.jpg"} | ({records[3]["image"]} if name != "thousandths" else set())
        assert set(why) == left_out, why
        assert "no bbox" in why[records[2]["image"]]
        entries = [json.loads(line) for line in output.read_text().splitlines()]
        assert counts["exported"] == len(entries) == len(rows) - len(left_out) + 1
        by_image = {record["image"]: record for record in records}
        for entry in entries:
            record = by_image[entry["image"]]
            question, answer = (turn["value"] for turn in entry["conversations"])
            assert question == f"<image>\n{BOXES_PROMPT}"
            height, width = qwen_resized(3000, 4000, 3136, 1280 * 28 * 28)
            scale = (1000, 1000) if name == "thousandths" else (width, height)
            stated = [d for d in record["detections"] if d["confidence"] >= 0.5]
            read = listed_boxes(answer, unit, (4000, 3000))
            assert [entry.text for entry in read] == [d["label"].strip() for d in stated]
            for entry_read, detection in zip(read, stated, strict=True):
                for value, corner, side in zip(entry_read.boxes[0], detection["bbox"], scale * 2, strict=True):
                    assert abs(value - corner) <= 0.5 / side + 1e-12, "a corner to half its unit"
        summary = check_file(folder / "cv.jsonl", output, tmp_path / f"{name}.verdicts.jsonl", workers=0, units=unit)
        assert summary["checked"] == len(entries) and summary["faithful"] == len(entries), summary
    options = {"described": "d.jsonl", "output": "o", "answer": "boxes"}
    with pytest.raises(ValueError, match="the llava export's entries or the hf export's --chat, not coco's"):
        ExportOptions(**options, format="coco")
    with pytest.raises(ValueError, match="units of --answer boxes"):
        ExportOptions(described="d.jsonl", output="o", format="llava", box_units="pixels")
    with pytest.raises(ValueError, match="give them"):
        export("llava", folder / "described.jsonl", tmp_path / "x.jsonl", boxes=AnswerUnits())


def test_gemini_and_paligemma_answers_check_faithful_where_their_boxes_are_the_detections(tmp_path):
    """Gemini's JSON (`box_2d`, y first, thousandths; fenced, or its structured `{"boxes": [...]}`) and PaliGemma's
    location tokens (y first, 1,024ths), listing the stated detections, check faithful with `desclm check`; the same
    answers with x and y swapped misplace their boxes."""
    from helpers.describer.check import check_file

    record = _RECORDS[0]
    stated = _stated(record)
    (tmp_path / "cv.jsonl").write_text(json.dumps(record) + "\n")

    def gemini(swap: bool = False) -> list[dict]:
        order = (0, 1, 2, 3) if swap else (1, 0, 3, 2)
        return [{"box_2d": [round(d["bbox"][i] * 1000) for i in order], "label": d["label"]} for d in stated]

    def paligemma(swap: bool = False) -> str:
        order = (0, 1, 2, 3) if swap else (1, 0, 3, 2)
        boxes = ["".join(f"<loc{round(d['bbox'][i] * 1024):04d}>" for i in order) + f" {d['label']}" for d in stated]
        return " ; ".join(boxes)

    answers = [
        "```json\n" + json.dumps(gemini(), indent=2) + "\n```",
        json.dumps({"boxes": gemini()}),
        paligemma(),
        json.dumps(gemini(swap=True)),
        paligemma(swap=True),
    ]
    lines = "".join(json.dumps({"id": "a.jpg", "caption": answer}) + "\n" for answer in answers)
    (tmp_path / "answers.jsonl").write_text(lines)
    check_file(tmp_path / "cv.jsonl", tmp_path / "answers.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    verdicts = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert [verdict["faithful"] for verdict in verdicts] == [True, True, True, False, False], verdicts
    assert all(verdict["caption"] == "Detected by label: 2 × plastic; 1 × Drink can." for verdict in verdicts)
    for swapped in verdicts[3:]:
        assert {finding["kind"] for finding in swapped["findings"]} == {"misplaced_box"}


@settings(max_examples=80)
@given(
    entries=st.lists(st.tuples(st.text(max_size=8), _THOUSANDTHS), max_size=5),
    cut=st.integers(0, 10_000),
    fenced=st.booleans(),
)
def test_a_json_answer_cut_short_reads_as_its_whole_entries(entries, cut, fenced):
    """Qwen's JSON answer stopped anywhere before its list closes (a token limit), labels any text (braces and
    quotes too): its whole entries are read, none invented, and it says it was cut short; read whole, all of them."""
    from helpers.core.answer_boxes import cut_short, listed_boxes

    lines = [json.dumps({"bbox_2d": box, "label": label}) for label, box in entries]
    body = "[\n" + ",\n".join(lines) + "\n]"
    opening = "```json\n" if fenced else ""
    whole = listed_boxes(opening + body + ("\n```" if fenced else ""))
    assert [entry.text for entry in whole] == [label.strip() for label, _ in entries]
    at = len("[\n") + cut % (len(body) - len("[\n") - 1)  # inside the list, before its closing bracket
    cut_text = opening + body[:at]
    if not any(f'"{key}"' in body[:at] for key in ("bbox_2d",)):
        return  # (nothing of a box written yet: not an answer of boxes)
    read = listed_boxes(cut_text)
    ends = [len("[\n") + sum(len(line) + len(",\n") for line in lines[:n]) + len(lines[n]) for n in range(len(lines))]
    finished = sum(1 for end in ends if end <= at)  # the entries written whole before the cut
    assert [entry.text for entry in read] == [label.strip() for label, _ in entries[:finished]]
    assert cut_short(cut_text)


def test_an_answer_cut_short_is_checked_by_its_whole_entries_and_said_so(tmp_path, caplog):
    """`desclm check` on answers cut short: a Qwen list's and a Gemini `{"boxes": [...]}`'s whole entries checked (a
    count found short), their verdicts and the summary saying they were cut short, and a warning; one cut before its
    first whole entry is its line's error (it said nothing whole, not "nothing")."""
    from helpers.describer.check import check_file

    record = _RECORDS[0]
    (tmp_path / "cv.jsonl").write_text(json.dumps(record) + "\n")
    answer = _qwen(_stated(record))
    cut = answer[: answer.rindex('"bbox_2d"') + 15]  # the last entry half written, no closing bracket
    gemini = json.dumps(
        {
            "boxes": [
                {"box_2d": [round(d["bbox"][i] * 1000) for i in (1, 0, 3, 2)], "label": d["label"]}
                for d in _stated(record)
            ]
        }
    )
    gemini_cut = gemini[: gemini.rindex('"box_2d"') + 12]
    early = answer[: answer.index('"bbox_2d"') + 12]
    lines = [{"id": "a.jpg", "caption": text} for text in (cut, answer, gemini_cut, early)]
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = check_file(tmp_path / "cv.jsonl", tmp_path / "answers.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    short, whole, gemini_short, nothing = map(json.loads, (tmp_path / "verdicts.jsonl").read_text().splitlines())
    assert short["cut_short"] and short["boxes"] == 2 and "cut_short" not in whole and whole["faithful"]
    for verdict in (short, gemini_short):
        assert [(f["kind"], f["label"]) for f in verdict["findings"]] == [("missed_category", "Drink can")]
    assert gemini_short["cut_short"] and gemini_short["boxes"] == 2
    assert "before its first whole entry" in nothing["error"]
    assert summary["grounded"]["cut_short"] == 2 and summary["errors"] == 1
    assert "2 answers' JSON lists end before they close" in caplog.text


def test_hf_chat_answering_with_boxes_trains_trl_on_the_stated_detections(described, tmp_path):
    """`desclm export --format hf --chat --answer boxes`: each example's conversation (TRL's prompt-completion form)
    answers with its stated boxes as Qwen-VL's grounding JSON; the card says so; `desclm check` reads the Parquet
    shards' completions back, every one faithful."""
    import datasets

    from helpers.core.answer_boxes import AnswerUnits
    from helpers.describer.check import check_file
    from helpers.describer.exports import export
    from helpers.describer.options import BOXES_PROMPT

    folder, records, rows = described
    output = tmp_path / "sft"
    counts = export(
        "hf",
        folder / "described.jsonl",
        output,
        folder / "cv.jsonl",
        folder / "photos",
        prompt=BOXES_PROMPT,
        chat=True,
        boxes=AnswerUnits(),
    )
    dataset = datasets.load_from_disk(str(output))
    assert len(dataset) == counts["exported"] == len(rows) - 1, "the photo gone is the one problem"
    for example in dataset:
        assert example["prompt"][0]["content"][1]["text"] == BOXES_PROMPT
        assert example["completion"][0]["content"][0]["text"].startswith("```json\n[")
    assert "in the form Qwen-VL answers grounding in" in (output / "README.md").read_text()
    summary = check_file(folder / "cv.jsonl", output / "parquet", tmp_path / "verdicts.jsonl", "completion", workers=0)
    assert summary["checked"] == summary["faithful"] == len(dataset) and summary["grounded"]["captions"] == len(dataset)


def test_pointing_answers_read_as_points_and_check_where_the_items_are(tmp_path):
    """Molmo's point tags (hundredths; a label's points in one tag, its `alt` else its text), Qwen's `point_2d` and
    Gemini's `point` (y first) read as points of the photo; `desclm check` counts them and finds a point in no item
    of its label (`misplaced_point`), and one whose coordinates are no numbers is its line's error."""
    from helpers.core.answer_boxes import AnswerError, ListedBoxes, listed_boxes
    from helpers.describer.check import check_file
    from helpers.text.check import check_listed

    molmo = 'There are <points x1="20" y1="30" x2="55" y2="60" alt="plastic">two bottles</points> and <point x="75" '
    molmo += 'y="15">Drink can</point> here.'
    assert listed_boxes(molmo) == (
        ListedBoxes("plastic", ((0.2, 0.3), (0.55, 0.6)), may_count=False),
        ListedBoxes("Drink can", ((0.75, 0.15),), may_count=False),
    )
    with pytest.raises(AnswerError, match="x and y are not numbers"):
        listed_boxes('<point x="left" y="3" alt="can">can</point>')
    record = _RECORDS[0]
    (tmp_path / "cv.jsonl").write_text(json.dumps(record) + "\n")
    qwen = json.dumps(
        [
            {"point_2d": [200, 300], "label": "plastic"},
            {"point_2d": [550, 600], "label": "plastic"},
            {"point_2d": [750, 150], "label": "Drink can"},
        ]
    )
    gemini = json.dumps(
        [
            {"point": [300, 200], "label": "plastic"},
            {"point": [600, 550], "label": "plastic"},
            {"point": [150, 750], "label": "Drink can"},
        ]
    )
    off = molmo.replace('x="75"', 'x="95"')
    answers = [molmo, qwen, gemini, off, molmo.replace('y1="30"', 'y1="up"')]
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps({"id": "a.jpg", "caption": a}) + "\n" for a in answers))
    summary = check_file(tmp_path / "cv.jsonl", tmp_path / "answers.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    verdicts = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert [verdict.get("faithful") for verdict in verdicts] == [True, True, True, False, None]
    assert [(f["kind"], f["label"], f["said"]) for f in verdicts[3]["findings"]] == [
        ("misplaced_point", "Drink can", [0.95, 0.15])
    ]
    assert verdicts[3]["findings"][0]["expected"] == [0.7, 0.1, 0.8, 0.2], "the nearest item's box"
    assert "not numbers" in verdicts[4]["error"]
    invented = json.dumps([{"point_2d": [500, 500], "label": "tyre"}])  # a label the record has not: no item near
    findings = check_listed(record, listed_boxes(invented))[1].findings
    assert [(f.kind, f.label, f.expected) for f in findings][-2:] == [
        ("invented_category", "tyre", None),
        ("misplaced_point", "tyre", None),
    ]
    assert summary["findings"]["misplaced_point"] == 1 and summary["grounded"]["boxes_placed"] == 11


@settings(deadline=None)
@given(
    pieces=st.lists(
        st.tuples(
            st.text(string.ascii_letters + " .,", max_size=10),
            st.text(string.ascii_letters + " ", min_size=1, max_size=10).filter(str.strip),
            st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 1023)), min_size=1, max_size=3),
        ),
        max_size=4,
    ),
    end=st.text(string.ascii_letters + " .", max_size=8),
)
def test_kosmos_2_grounding_reads_as_transformers_reads_it(pieces, end):
    """Any grounded caption as Kosmos-2 writes it (`<grounding>`, text, `<phrase>..</phrase><object>` with each box's
    two cells, boxes split by `</delimiter_of_multi_objects/>`): `model_grounding` gives the sentence, the phrases and
    their boxes transformers' own Kosmos-2 reader (`clean_text_and_extract_entities_with_bboxes`) gives, spaces around
    them aside."""
    from transformers.models.kosmos2.processing_kosmos2 import clean_text_and_extract_entities_with_bboxes

    from helpers.core.chat_entries import model_grounding

    text = "<grounding>"
    for before, phrase, cells in pieces:
        boxes = "</delimiter_of_multi_objects/>".join(f"<patch_index_{a:04d}><patch_index_{b:04d}>" for a, b in cells)
        text += f"{before}<phrase>{phrase}</phrase><object>{boxes}</object>"
    text += end
    sentence, phrases = model_grounding(text)
    clean, entities = clean_text_and_extract_entities_with_bboxes(text)
    assert sentence.strip() == clean
    assert [sentence[slice(*phrase.span)].strip() for phrase in phrases] == [name for name, _, _ in entities]
    assert [list(phrase.boxes) for phrase in phrases] == [boxes for _, _, boxes in entities]


@settings(max_examples=80, deadline=None)
@given(width=st.integers(1, 1500), height=st.integers(1, 1500), max_side=st.integers(1, 1600))
def test_shrunk_size_is_the_size_pillow_s_thumbnail_gives(width, height, max_side):
    """`shrunk_size`: a photo shrunk to a longer side, keeping its shape, as `desclm export --max_side` writes it
    (Pillow's `thumbnail`): the size a model saw, which boxes in its pixels are of."""
    from PIL import Image

    from helpers.core.answer_boxes import shrunk_size

    image = Image.new("L", (width, height))
    image.thumbnail((max_side, max_side))
    assert shrunk_size((width, height), max_side) == image.size


def test_boxes_in_pixels_of_photos_written_shrunk_are_the_shrunk_photo_s(tmp_path):
    """`--answer boxes` in pixels (of the photo, or as Qwen2.5-VL resizes it) with `--max_side`: the corners are the
    pixels of the photo as written (shrunk), which a model trained on the export sees, not of the record's size;
    `desclm check --max_side` reads such answers back faithful, and read as the record's size they misplace boxes."""
    from PIL import Image

    from helpers.core.answer_boxes import AnswerUnits, listed_boxes, qwen_resized
    from helpers.core.photo_rewrite import PhotoRewrite
    from helpers.describer.check import check_file
    from helpers.describer.exports import export

    (tmp_path / "photos").mkdir()
    records = []
    for index, (width, height) in enumerate([(1200, 900), (900, 1200), (1000, 1000)]):
        Image.new("RGB", (width, height), (90, 120, 30)).save(tmp_path / "photos" / f"p{index}.jpg")
        records.append({**_RECORDS[index % 2], "image": f"p{index}.jpg", "width": width, "height": height})
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    described = [{"id": r["image"], "description": "Some litter.", "source": "grammar"} for r in records]
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(row) + "\n" for row in described))
    for name in ("pixels", "qwen2.5-vl"):
        units = AnswerUnits(name, max_side=600)
        output, photos = tmp_path / f"{name}.jsonl", tmp_path / f"{name}_photos"
        export("llava", tmp_path / "described.jsonl", output, tmp_path / "cv.jsonl", tmp_path / "photos",
               image_folder=photos, rewrite=PhotoRewrite(max_side=600), boxes=units)  # fmt: skip
        entries = [json.loads(line) for line in output.read_text().splitlines()]
        assert len(entries) == len(records)
        for entry, record in zip(entries, records, strict=True):
            with Image.open(photos / entry["image"]) as image:
                width, height = image.size  # as written
            assert max(width, height) == 600 < max(record["width"], record["height"]), "shrunk"
            if name == "qwen2.5-vl":
                height, width = qwen_resized(height, width)
            read = listed_boxes(entry["conversations"][1]["value"], AnswerUnits("pixels"), (width, height))
            for listed, detection in zip(read, _stated(record), strict=True):  # pixels of the photo the model sees
                assert listed.boxes[0] == pytest.approx(detection["bbox"], abs=0.5 / min(width, height) + 1e-9)
        summary = check_file(tmp_path / "cv.jsonl", output, tmp_path / f"{name}.verdicts.jsonl", workers=0, units=units)
        assert summary["faithful"] == summary["checked"] == len(entries)
        as_recorded = AnswerUnits(name)
        summary = check_file(tmp_path / "cv.jsonl", output, tmp_path / "v.jsonl", workers=0, units=as_recorded)
        assert summary["findings"]["misplaced_box"] > 0, "read as the record's size, the boxes lie elsewhere"


def test_boxes_in_other_units_than_read_are_found_by_the_units_probe(tmp_path, caplog):
    """Qwen2.5-VL's boxes in pixels of photos sent shrunk to 768 px (`desclm export --max_side 768`), read as the
    default thousandths, mostly miss their items, their misplaced_box findings false: the first answers are read in
    each units too (at the sides photos are often sent at), the summary gives each reading's placed share, and a
    warning names the reading that places them. Read so, no warning; answers in thousandths read so, none either."""
    from helpers.core.answer_boxes import AnswerUnits, qwen_answer
    from helpers.describer.check import check_file

    chance = random.Random(7)
    records, truth = [], []
    for number in range(30):
        detections = []
        for _ in range(chance.randint(1, 3)):
            x, y = chance.uniform(0, 0.8), chance.uniform(0, 0.8)
            box = [round(v, 4) for v in (x, y, x + chance.uniform(0.05, 0.2), y + chance.uniform(0.05, 0.2))]
            detections.append({"label": chance.choice(["plastic", "metal"]), "confidence": 0.9, "bbox": box})
        records.append({"id": number, "width": 4000, "height": 3000, "detections": detections})
        truth.append([(d["label"], d["bbox"]) for d in detections])
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))

    def answers(name: str, units: AnswerUnits):
        lines = [{"id": n, "caption": qwen_answer(boxes, units, (4000, 3000))} for n, boxes in enumerate(truth)]
        (tmp_path / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
        return tmp_path / name

    sent = AnswerUnits("qwen2.5-vl", max_side=768)
    pixels = answers("qwen25.jsonl", sent)
    with caplog.at_level(logging.WARNING):
        summary = check_file(tmp_path / "cv.jsonl", pixels, tmp_path / "v1.jsonl", workers=0)
    probe = summary["grounded"]["units_probe"]
    assert probe["answers"] == 30
    shares = probe["placed_share"]
    assert shares["--box_units qwen2.5-vl --max_side 768"] == 1.0
    assert shares["--box_units thousandths"] < 0.2 and summary["grounded"]["placed_share"] < 0.2
    assert "Qwen's JSON boxes read as --box_units thousandths:" in caplog.text
    assert "(or --box_units qwen2.5-vl --max_side 768), 100% would" in caplog.text, "at 768 px both read them"

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        summary = check_file(tmp_path / "cv.jsonl", pixels, tmp_path / "v2.jsonl", workers=0, units=sent)
    assert summary["grounded"]["placed_share"] == 1.0 and "Qwen's JSON boxes read as" not in caplog.text
    assert summary["faithful"] == 30

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        summary = check_file(tmp_path / "cv.jsonl", answers("k.jsonl", AnswerUnits()), tmp_path / "v3.jsonl", workers=2)
    assert summary["grounded"]["placed_share"] == 1.0 and "Qwen's JSON boxes read as" not in caplog.text
    assert summary["grounded"]["units_probe"]["placed_share"]["--box_units thousandths"] == 1.0
    written = (tmp_path / "v3.jsonl").read_text()
    assert "units_probe" not in written, "the probe is the summary's, not the verdicts'"


def test_an_answer_naming_bbox_2d_and_listing_no_box_costs_the_units_probe_nothing(tmp_path):
    """An answer that lists no box but names Qwen's `bbox_2d` (an empty list, and words about it) is probed with the
    first answers and gives no reading a share (no division by its no boxes): the check ends, its summary whole."""
    from helpers.describer.check import check_file

    (tmp_path / "cv.jsonl").write_text(json.dumps({"id": 1, "width": 10, "height": 10, "detections": []}) + "\n")
    answer = '```json\n[]\n```\nNo item to give a "bbox_2d" for.'
    (tmp_path / "answers.jsonl").write_text(json.dumps({"id": 1, "caption": answer}) + "\n")
    summary = check_file(tmp_path / "cv.jsonl", tmp_path / "answers.jsonl", tmp_path / "v.jsonl", workers=0)
    assert summary["checked"] == 1 and summary["grounded"]["units_probe"] == {"answers": 1, "placed_share": {}}

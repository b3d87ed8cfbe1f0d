"""`desclm check` on vision-language models' answers that list boxes, beside the same records' captions.

    python docs/measurements/check_answers.py --out docs/measurements/check_answers_cpu.json

Generated CV records (`random_cv`, labels as given: other spellings, invented names) and, for each, a caption (the
grammar's sentence) and the answers a model listing the record's stated detections exactly would give, in each
form `desclm check` reads: Qwen's JSON (thousandths), Gemini's (`box_2d`, y first), Florence-2's location tokens and
PaliGemma's. Each file is checked by `desclm check` in a fresh process as a user's is (`--workers 0`, then 2), taking
turns, best of `--repeats`; every run of a file must write the same verdicts, and every answer must check faithful
(each box placed): the readers at a dataset's size, and what reading boxes costs beside reading a sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

from measured import best_seconds_by_workers, commit, rates_by_workers, save

from helpers.core.answer_boxes import AnswerUnits, qwen_answer
from helpers.describer.florence import locations
from helpers.text.grammar import describe
from helpers.text.synthetic import random_cv


def _answers(record: dict, rng: random.Random) -> dict[str, str]:
    """The record's caption, and its stated detections as each model lists them."""
    stated = [d for d in record["detections"] if d["confidence"] >= 0.5]
    boxes = [(d["label"].strip(), d["bbox"]) for d in stated]
    gemini = [{"box_2d": [round(b[i] * 1000) for i in (1, 0, 3, 2)], "label": label} for label, b in boxes]
    paligemma = " ; ".join(
        "".join(f"<loc{min(1023, round(b[i] * 1024)):04d}>" for i in (1, 0, 3, 2)) + f" {label}" for label, b in boxes
    )
    return {
        "caption": describe(record, rng),
        "qwen": qwen_answer(boxes, AnswerUnits(), None),
        "gemini": "```json\n" + json.dumps(gemini, indent=2) + "\n```",
        "florence2": "</s><s>" + "".join(label + locations(b) for label, b in boxes) + "</s>",
        "paligemma": paligemma,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=8000)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(0)
    forms: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        records = [{"id": f"p{i}", **random_cv(rng, min_detections=1)} for i in range(args.records)]
        (folder / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
        answers = [_answers(record, rng) for record in records]
        for form in answers[0]:
            lines = [{"id": r["id"], "caption": a[form]} for r, a in zip(records, answers, strict=True)]
            captions = folder / f"{form}.jsonl"
            captions.write_text("".join(json.dumps(line) + "\n" for line in lines))
            output = folder / f"{form}.verdicts.jsonl"
            command = ["check", "--input", str(folder / "cv.jsonl"), "--captions", str(captions)]
            best = best_seconds_by_workers(command, output, args.workers, args.repeats)
            summary = json.loads((folder / f"{form}.verdicts.summary.json").read_text())
            rates, vs_first = rates_by_workers(args.records, best)
            grounded = summary.get("grounded", {})
            forms[form] = {
                "captions_per_second": rates,
                "vs_first": vs_first,
                "faithful": summary["faithful"],
                "errors": summary["errors"],
                "boxes": grounded.get("boxes", 0),
                "boxes_placed": grounded.get("boxes_placed", 0),
            }
    caption_rate = forms["caption"]["captions_per_second"][str(args.workers[0])]
    result = {
        "what": "desclm check, a fresh process per run, generated records: the grammar's captions and models' answers "
        "listing the stated detections, this CPU, by workers",
        "commit": commit(),
        "cpu_cores": os.cpu_count(),
        "records": args.records,
        "repeats": args.repeats,
        "forms": forms,
        "answers_vs_captions_one_process": {
            form: round(forms[form]["captions_per_second"][str(args.workers[0])] / caption_rate, 3)
            for form in forms
            if form != "caption"
        },
        "same_verdicts": True,
    }
    if any(part["faithful"] != args.records or part["boxes_placed"] != part["boxes"] for part in forms.values()):
        raise RuntimeError(f"an answer listing the stated detections checked otherwise: {forms}")
    save(result, args.out)


if __name__ == "__main__":
    main()

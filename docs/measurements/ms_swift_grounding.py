"""The grounded export read by ms-swift's own dataset loader and written out by its Qwen2-VL, Qwen2.5-VL and InternVL2
templates' grounding code, as `swift sft --dataset grounded.jsonl` trains on it, and those answers read back by
`desclm check`.

ms-swift's grounding layout: the answer's `<ref-object>` and `<bbox>` tags, `objects` their phrases and boxes; its
template replaces each tag with its model's own grounding (Qwen2-VL: `<|object_ref_start|>phrase
<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`, in thousandths of the photo; Qwen2.5-VL the same in its
pixels: ms-swift's default, legacy, tags; here the answer alone is written, so its pixels are the photo's as stored,
where in training the `<image>` before it is replaced first and the photo resized, `fetch_image`). It is no
dependency of the project: this runs in an environment of the project's packages with ms-swift's dataset and
template code beside them (installed without their own dependencies):

    python -m venv /tmp/swenv && echo "$PWD/.venv/lib/python3.11/site-packages" > \\
        /tmp/swenv/lib/python3.11/site-packages/desclm.pth
    /tmp/swenv/bin/pip install --no-deps ms-swift==4.6.0 modelscope modelscope-hub cryptography json-repair \\
        aiohttp multidict yarl propcache aiohappyeyeballs aiosignal frozenlist
    /tmp/swenv/bin/python docs/measurements/ms_swift_grounding.py --out docs/measurements/ms_swift_grounding.json

It builds a demo dataset (`helpers.demo`), takes its labels as the CV records, describes them with the grammar,
exports them grounded with the photos copied (`--image_folder`), loads the file with ms-swift's `load_dataset`
and runs each example's answer through its templates' own tag splitting, box normalising and replacing
(`Template._split_special_tokens`, `normalize_bbox`, `_pre_tokenize`; the templates built without a model, none
can be loaded here), the photo read as ms-swift reads it. Each written answer must be the description with each
counted phrase followed by its boxes, computed here from the export's `objects` and the photo's size. InternVL2's
template (`<ref>phrase</ref><box>[[x1, y1, x2, y2]]</box>`, thousandths) likewise. The answers Qwen2-VL's and
InternVL2's templates write, what a model trained on them answers, are then checked by `desclm check` against the
records: each faithful, each box where an item of its phrase is.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from pathlib import Path

from measured import LLAVA_PROMPT as PROMPT
from measured import commit, labelled_demo, save

from helpers.describer.exports import export


def _template(cls, norm_bbox: str):
    """ms-swift's template class as its grounding code needs it: no tokenizer or processor (none can be loaded)."""
    template = cls.__new__(cls)
    template.bbox_format, template.norm_bbox, template.task_type = "legacy", norm_bbox, "causal_lm"
    template.template_backend, template.mode = "swift", "train"
    return template


def _written(template, example: dict) -> str:
    """The example's answer as the template hands it to the tokenizer."""
    from PIL import Image
    from swift.template.base import Template
    from swift.template.template_inputs import StdTemplateInputs
    from swift.template.vision_utils import load_file

    inputs = StdTemplateInputs.from_dict(example)
    inputs.images = [Image.open(load_file(image["path"])) for image in example["images"]]
    Template._get_height_width(inputs)
    contexts, scales = Template._split_special_tokens([example["messages"][-1]["content"]], [1.0])
    contexts, _ = template._pre_tokenize(contexts, scales, inputs)
    return "".join(contexts)


def _expected(example: dict, size: tuple[int, int], model: str) -> str:
    """The answer with each tag written as the model's grounding is documented (ms-swift's default, legacy, tags),
    from the example's `objects`: Qwen2-VL's boxes in thousandths of the photo, Qwen2.5-VL's in its pixels,
    InternVL2's in thousandths, `<ref>phrase</ref><box>[[x1, y1, x2, y2]]</box>`, a box a tag."""
    refs, boxes = iter(example["objects"]["ref"]), iter(example["objects"]["bbox"])
    scale = size if model == "qwen2_5_vl" else (1000, 1000)

    def box() -> str:
        x1, y1, x2, y2 = next(boxes)
        corners = [round(x1 * scale[0]), round(y1 * scale[1]), round(x2 * scale[0]), round(y2 * scale[1])]
        if model == "internvl2":
            return "<box>[[{}, {}, {}, {}]]</box>".format(*corners)
        return "<|box_start|>({},{}),({},{})<|box_end|>".format(*corners)

    def ref(match: re.Match) -> str:
        phrase = (
            f"<ref>{next(refs)}</ref>"
            if model == "internvl2"
            else f"<|object_ref_start|>{next(refs)}<|object_ref_end|>"
        )
        return phrase + "".join(box() for _ in range(match.group(1).count("<bbox>")))

    return re.sub(r"<ref-object>((?:<bbox>)*)", ref, example["messages"][-1]["content"])


def _close(read: list, written: list) -> bool:
    """Boxes read as written, to a billionth (the JSON reader's doubles are off by an ulp at times)."""
    return len(read) == len(written) and all(
        len(a) == len(b) and all(abs(u - v) < 1e-9 for u, v in zip(a, b)) for a, b in zip(read, written)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=60, help="demo photos (train split)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from PIL import Image
    from swift.dataset import load_dataset
    from swift.template.templates.internvl import Internvl2Template
    from swift.template.templates.qwen import Qwen2_5VLTemplate, Qwen2VLTemplate

    from helpers.describer.check import check_file

    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        labelled_demo(root, args.photos, args.seed)
        counts = export(
            "grounded",
            root / "described.jsonl",
            root / "grounded.jsonl",
            root / "cv.jsonl",
            root / "demo" / "data.yaml",
            prompt=PROMPT,
            image_folder=root / "photos",
        )
        os.environ["ROOT_IMAGE_DIR"] = str(root / "photos")  # where ms-swift reads relative photo paths
        dataset, _ = load_dataset([str(root / "grounded.jsonl")], split_dataset_ratio=0.0)
        entries = [json.loads(line) for line in (root / "grounded.jsonl").read_text(encoding="utf-8").splitlines()]
        templates = {
            "qwen2_vl": _template(Qwen2VLTemplate, "norm1000"),
            "qwen2_5_vl": _template(Qwen2_5VLTemplate, "none"),
            "internvl2": _template(Internvl2Template, "norm1000"),
        }
        answers = {name: [] for name in templates}  # what each template writes, checked by desclm check below
        objects_kept, written_as_documented = 0, dict.fromkeys(templates, 0)
        boxes = refs = 0
        for example, entry in zip(dataset, entries, strict=True):
            objects = example["objects"]
            objects_kept += (
                objects["ref"] == entry["objects"]["ref"]
                and _close(objects["bbox"], entry["objects"]["bbox"])
                and objects["bbox_type"] == "norm1"
                and example["messages"][-1]["content"] == entry["messages"][1]["content"]
            )
            with Image.open(root / "photos" / entry["images"][0]) as photo:
                size = photo.size
            for name, template in templates.items():
                written = _written(template, json.loads(json.dumps(example)))
                written_as_documented[name] += written == _expected(example, size, name)
                answers[name].append({"id": entry["id"], "caption": written})
            boxes, refs = boxes + len(entry["objects"]["bbox"]), refs + len(entry["objects"]["ref"])
        grounded = next(example for example in dataset if example["objects"]["ref"])
        first = _written(templates["qwen2_vl"], json.loads(json.dumps(grounded)))
        checked = {}  # the answers as a model trained on them writes them, read back by desclm check
        for name in ("qwen2_vl", "internvl2"):  # (Qwen2.5-VL's boxes are pixels of its resized photo: not read)
            captions = root / f"{name}_answers.jsonl"
            captions.write_text("".join(json.dumps(line) + "\n" for line in answers[name]), encoding="utf-8")
            summary = check_file(root / "cv.jsonl", captions, root / f"{name}_verdicts.jsonl", workers=0)
            checked[name] = {key: summary[key] for key in ("checked", "faithful")} | summary["grounded"]
    result = {
        "what": "desclm export --format grounded of a demo dataset's labels (grammar descriptions), read by ms-swift",
        "commit": commit(),
        "ms_swift": __import__("swift").__version__,
        "photos": args.photos,
        "exported": counts["exported"],
        "examples_read": len(dataset),
        "phrases_grounded": refs,
        "boxes": boxes,
        "examples_with_objects_as_exported": objects_kept,
        "examples_written_as_documented": written_as_documented,
        "answers_checked_by_desclm_check": checked,
        "first_grounded_example_qwen2_vl": first,
    }
    save(result, args.out)


if __name__ == "__main__":
    main()

"""The llava export, split, read by ms-swift's own dataset loader and photo reader, as `swift sft --dataset` reads data.

ms-swift (ModelScope's fine-tuning tool for Qwen-VL, InternVL, LLaVA and other vision-language models) takes a
JSON file by its path (`--dataset llava_train.json --val_dataset llava_val.json`): its `AutoPreprocessor` turns the
llava export's `conversations` into its `messages` and its `image` into `images`; a photo's relative path is read
under `ROOT_IMAGE_DIR` (the `--image_folder`). It is no dependency of the project: this runs in the environment
`llamafactory_read.py` names (the project's packages beside it), with ms-swift and what its dataset code imports
installed without their own dependencies:

    /tmp/lfenv/bin/pip install --no-deps ms-swift==4.6.0 modelscope modelscope-hub cryptography json-repair \\
        aiohttp multidict yarl propcache aiohappyeyeballs aiosignal frozenlist
    /tmp/lfenv/bin/python docs/measurements/ms_swift_read.py \\
        --cv data/cv_outputs.jsonl --images data/demo --out docs/measurements/ms_swift_read.json

It describes the CV records with the grammar (`desclm synth`), exports them as LLaVA conversations split
train=0.9,validation=0.1 with the photos copied (`--image_folder photos`), loads each split with ms-swift's
`load_dataset` and reads each example's photo with its `load_file` (what its templates call), `ROOT_IMAGE_DIR`
the photos' folder: every example must come back once, the user's turn the prompt with one `<image>`, the
assistant's the photo's description, the photo's bytes the original's.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from measured import LLAVA_PROMPT as PROMPT
from measured import LLAVA_SPLITS as SPLITS
from measured import commit, described, export_arguments, export_llava_splits, records_by_image, save


def _read(root: Path, split: str, images: Path, descriptions: dict) -> dict:
    from swift.dataset import load_dataset
    from swift.template.vision_utils import load_file

    dataset, _ = load_dataset([str(root / f"llava_{split}.json")], split_dataset_ratio=0.0)
    entries = json.loads((root / f"llava_{split}.json").read_text(encoding="utf-8"))
    keys, as_exported, photos_same = [], 0, 0
    for example, entry in zip(dataset, entries, strict=True):
        key = entry["image"]
        keys.append(key)
        (photo,) = example["images"]
        as_exported += (
            example["messages"]
            == [
                {"role": "user", "content": f"<image>\n{PROMPT}"},
                {"role": "assistant", "content": descriptions[entry["id"]]},
            ]
            and photo["path"] == key
        )
        photos_same += load_file(photo["path"]).getvalue() == (images / key).read_bytes()
    return {
        "examples_read": len(dataset),
        "distinct_photos": len(set(keys)),
        "examples_as_exported": as_exported,
        "photos_read_as_stored": photos_same,
    }


def main() -> None:
    args = export_arguments(__doc__.split("\n")[0])
    from importlib.metadata import version

    desclm, cv, images = args.desclm, args.cv, args.images
    records = records_by_image(cv)
    result = {"commit": commit(), "ms_swift": version("ms-swift"), "records": len(records)}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        descriptions = described(desclm, cv, root)
        export_llava_splits(desclm, images, root)
        os.environ["ROOT_IMAGE_DIR"] = str(root / "photos")  # as `ROOT_IMAGE_DIR=photos swift sft ...` sets it
        result["splits"] = {split: _read(root, split, Path(images), descriptions) for split in SPLITS}
    result["photos_read_in_all"] = sum(split["distinct_photos"] for split in result["splits"].values())
    save(result, args.out)


if __name__ == "__main__":
    main()

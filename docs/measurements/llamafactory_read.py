"""The llava export, split, read by LLaMA-Factory's own dataset loader, as its `llamafactory-cli train` reads data.

LLaMA-Factory (the fine-tuning tool most used for Qwen-VL and LLaVA-style models) reads a ShareGPT-style file
named in its `dataset_info.json`; the llava export is one when its columns are named there:

    {"desclm_train": {"file_name": "llava_train.json", "formatting": "sharegpt",
                      "columns": {"messages": "conversations", "images": "image"}}, ...}

LLaMA-Factory is no dependency of the project: this runs in an environment of its own, the project's `desclm`
command called as a program. Its wheel pins a torch of its own; it is installed without its dependencies
beside the project's environment (whose torch, transformers and datasets it then uses):

    python3.11 -m venv /tmp/lfenv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/lfenv/lib/python3.11/site-packages/project.pth
    /tmp/lfenv/bin/pip install --no-deps llamafactory==0.9.5 omegaconf antlr4-python3-runtime==4.9.3
    DISABLE_VERSION_CHECK=1 /tmp/lfenv/bin/python docs/measurements/llamafactory_read.py \\
        --cv data/cv_outputs.jsonl --images data/demo --out docs/measurements/llamafactory_read.json

LLaMA-Factory imports torchaudio at start (for audio datasets); no torchaudio is built for the project's torch, so
an empty module stands in for it (no audio is read here).

It describes the CV records with the grammar (`desclm synth`), exports them as LLaVA conversations split
train=0.9,validation=0.1 with the photos copied (`--image_folder photos`), writes the `dataset_info.json` above
and loads each split with LLaMA-Factory's `_load_single_dataset` (its file reader and its ShareGPT converter,
`align_dataset`), `media_dir` the photos' folder: every example must come back once, the user's turn the
prompt with one `<image>` for its one photo, the assistant's the photo's description, the photo a file in
`media_dir` whose bytes are the original's.
"""

from __future__ import annotations

import importlib.machinery
import json
import sys
import tempfile
import types
from pathlib import Path

from measured import LLAVA_PROMPT as PROMPT
from measured import LLAVA_SPLITS as SPLITS
from measured import commit, described, export_arguments, export_llava_splits, records_by_image, save


def _stand_in_torchaudio() -> None:
    module = types.ModuleType("torchaudio")
    module.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)  # transformers asks for its spec
    sys.modules["torchaudio"] = module


def _read(root: Path, split: str, images: Path, descriptions: dict) -> dict:
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    data_args = DataArguments(dataset_dir=str(root), media_dir=str(root / "photos"))
    model_args = ModelArguments(model_name_or_path="unused", cache_dir=str(root / "cache"))
    training_args = Seq2SeqTrainingArguments(output_dir=str(root / "train"), report_to=[])
    (attr,) = get_dataset_list([f"desclm_{split}"], str(root))
    dataset = _load_single_dataset(attr, model_args, data_args, training_args)
    entries = json.loads((root / f"llava_{split}.json").read_text(encoding="utf-8"))
    by_key, as_exported, photos_same = [], 0, 0
    for example, entry in zip(dataset, entries, strict=True):
        key = entry["image"]
        by_key.append(key)
        (prompt,), (response,) = example["_prompt"], example["_response"]
        (photo,) = example["_images"]
        as_exported += (
            prompt == {"role": "user", "content": f"<image>\n{PROMPT}"}
            and prompt["content"].count("<image>") == len(example["_images"])
            and response == {"role": "assistant", "content": descriptions[entry["id"]]}
            and Path(photo) == root / "photos" / key
        )
        photos_same += Path(photo).is_file() and Path(photo).read_bytes() == (images / key).read_bytes()
    return {
        "examples_read": len(dataset),
        "distinct_photos": len(set(by_key)),
        "examples_as_exported": as_exported,
        "photos_found_as_stored": photos_same,
    }


def main() -> None:
    args = export_arguments(__doc__.split("\n")[0])
    _stand_in_torchaudio()
    from importlib.metadata import version

    desclm, cv, images = args.desclm, args.cv, args.images
    records = records_by_image(cv)
    result = {"commit": commit(), "llamafactory": version("llamafactory"), "records": len(records)}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        descriptions = described(desclm, cv, root)
        export_llava_splits(desclm, images, root)
        columns = {"messages": "conversations", "images": "image"}
        info = {
            f"desclm_{split}": {"file_name": f"llava_{split}.json", "formatting": "sharegpt", "columns": columns}
            for split in SPLITS
        }
        (root / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        result["splits"] = {split: _read(root, split, Path(images), descriptions) for split in SPLITS}
    result["photos_read_in_all"] = sum(split["distinct_photos"] for split in result["splits"].values())
    save(result, args.out)


if __name__ == "__main__":
    main()

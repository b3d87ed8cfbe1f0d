"""Exports (issue 32, item 1): each format loads back with its consumer library and holds every
described photo's captions; a row that cannot be exported costs that row only."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import re
import subprocess
import sys
import tarfile
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image


def _export(folder, fmt: str, output: str, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "helpers", "export", "described.jsonl", "--format", fmt, "--output", output]
    return subprocess.run([*command, *extra, "-q"], cwd=folder, capture_output=True, text=True, timeout=300)


def _page_cards(page) -> list[dict]:
    """The cards a gallery page holds (its inlined data)."""
    text = page.read_text(encoding="utf-8")
    start = text.index(">", text.index('<script id="data"')) + 1
    return json.loads(text[start : text.index("</script>", start)].replace("<\\/", "</"))["cards"]


def _errors(folder, output: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{output}.errors.jsonl").read_text().splitlines()]


def test_hf_dataset_loads_with_datasets_both_ways_with_photos_and_records(described):
    import datasets

    folder, records, rows = described
    finished = _export(folder, "hf", "out/ds", "--cv", "cv.jsonl", "--images", "photos")
    assert finished.returncode == 1, "two rows not exported: exit status 1, the rest written"
    problems = _errors(folder, "out/ds")
    assert [p.get("id") for p in problems] == ["broken.jpg", records[5]["image"]], problems
    saved = datasets.load_from_disk(str(folder / "out/ds"))
    parquet = datasets.load_dataset(
        "parquet", data_files=str(folder / "out/ds/parquet/*.parquet"), cache_dir=str(folder / "cache")
    )["train"]
    by_id = {row["id"]: row for row in rows[:5]}
    for dataset in (saved, parquet):
        assert dataset["id"] == list(by_id)
        assert isinstance(dataset.features["image"], datasets.Image)
        for example in dataset:
            record = next(r for r in records if r["image"] == example["id"])
            assert example["captions"] == by_id[example["id"]]["captions"] and len(example["captions"]) == 3
            assert example["description"] == example["captions"][0]
            assert example["image"].size == (record["width"], record["height"]), "the photo's own bytes"
            assert [d["label"] for d in example["detections"]] == [d["label"] for d in record["detections"]]
            assert [d["confidence"] for d in example["detections"]] == [d["confidence"] for d in record["detections"]]
    assert saved[0]["detections"][0]["label"] == "Wendy's 7up-can", "labels exactly as given"


def test_an_hf_export_s_card_reads_as_the_hub_reads_it_and_counts_what_was_written(described, tmp_path):
    """The export's README.md is a dataset card: its metadata name the Parquet shards (`configs`: the card and
    shards uploaded alone load as the Hub loads them), the columns and count (`dataset_info`); its text counts
    the photos, captions, sources and the detections per label as given, as the rows written hold them."""
    import shutil
    from collections import Counter

    import datasets
    from conftest import rendered_markdown
    from huggingface_hub import DatasetCard

    from helpers.describer.dataset_card import LISTED
    from helpers.describer.exports import export

    folder, records, rows = described
    inputs = (folder / "described.jsonl", folder / "out/ds", folder / "cv.jsonl", folder / "photos")
    with pytest.raises(ValueError, match="license: an id as the Hub names licences"):
        export("hf", *inputs, license="CC BY 4.0")
    with pytest.raises(ValueError, match="license: the hf and webdataset exports' dataset card"):
        export("csv", folder / "described.jsonl", folder / "out.csv", license="cc-by-4.0")
    export("hf", *inputs, license="cc-by-4.0")
    saved = datasets.load_from_disk(str(folder / "out/ds"))
    card = DatasetCard.load(folder / "out/ds/README.md")
    metadata = card.data.to_dict()
    assert metadata["license"] == "cc-by-4.0"
    assert metadata["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "parquet/*.parquet"}]}
    ]
    assert metadata["size_categories"] == ["n<1K"] and metadata["task_categories"] == ["image-to-text"]
    assert metadata["dataset_info"]["splits"][0]["num_examples"] == len(saved) == 5
    assert datasets.Features._from_yaml_list(metadata["dataset_info"]["features"]) == saved.features
    hub = tmp_path / "hub"  # what `hf upload ... --include README.md --include "parquet/*"` puts on the Hub
    hub.mkdir()
    shutil.copy(folder / "out/ds/README.md", hub)
    shutil.copytree(folder / "out/ds/parquet", hub / "parquet")
    assert (
        datasets.load_dataset(str(hub), split="train", cache_dir=str(tmp_path / "cache")).to_list() == saved.to_list()
    )

    written = [record for record in records if record["image"] in saved["id"]]
    labels = Counter(detection["label"] for record in written for detection in record["detections"])
    assert len(labels) <= LISTED
    cells = rendered_markdown(card.text).cells
    assert cells[cells.index("photos") + 1] == "5" and cells[cells.index("captions") + 1] == "15"
    assert cells[cells.index("descriptions written by: grammar") + 1] == "5 (100.0%)"
    assert cells[cells.index("rows not exported") + 1].startswith("2 ")
    table = cells[cells.index("label") + 2 : cells.index("label") + 2 + 2 * len(labels)]
    assert {label: int(count.split(" ")[0]) for label, count in zip(table[::2], table[1::2])} == labels
    assert "Wendy's 7up-can" in table, "labels exactly as given"


def _tiny_llava(texts: list[str]):
    """A LLaVA processor and model of a few thousand random weights, built offline: a word-level tokenizer over
    `texts`' words and a chat template marking the photo `<image>` (what TRL reads: its chat template, its
    image token, its image processor)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    special = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
    words = sorted({word for text in texts for word in text.split(" ")} | {"user", "assistant", ":"})
    vocab = {token: index for index, token in enumerate(special + words)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", behavior="removed")
    template = (
        "{% for m in messages %}{{ m['role'] }} :{% for c in m['content'] %}{% if c['type'] == 'image' %} <image>"
        "{% else %} {{ c['text'] }}{% endif %}{% endfor %} </s> {% endfor %}"
        "{% if add_generation_prompt %}assistant :{% endif %}"
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )
    images = CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(
        images,
        fast,
        patch_size=14,
        chat_template=template,
        num_additional_image_tokens=1,
        vision_feature_select_strategy="default",  # the model's: its class token dropped, 4 patches a photo
    )
    vision = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14
    )
    text = LlamaConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=vocab["<image>"], vision_feature_layer=-1
    )
    return processor, LlavaForConditionalGeneration(config)


def test_an_hf_export_with_chat_columns_trains_a_vision_language_model_with_trl(described, tmp_path):
    """`--chat`: the dataset is TRL's conversational prompt-completion vision dataset as it stands: TRL's
    collator fills the photo's placeholder with the exported photo and puts the loss on the description's tokens
    only, and its SFTTrainer takes training steps on the folder `load_from_disk` reads."""
    import datasets
    import torch
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from helpers.describer.exports import export

    folder, _, rows = described
    prompt = "What litter lies here?"
    counts = export(
        "hf",
        folder / "described.jsonl",
        folder / "out/sft",
        folder / "cv.jsonl",
        folder / "photos",
        prompt=prompt,
        chat=True,
    )
    assert counts["exported"] == 5, counts
    dataset = datasets.load_from_disk(str(folder / "out/sft"))
    processor, model = _tiny_llava([prompt, *dataset["description"]])
    card = (folder / "out/sft/README.md").read_text(encoding="utf-8")
    assert "## Training a vision-language model" in card and f"\u201c{prompt}\u201d" in card
    collate = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    batch = collate([dict(example) for example in dataset.select(range(2))])
    assert batch["pixel_values"].shape == (2, 3, 28, 28), "each example's own photo"
    image_token = processor.tokenizer.convert_tokens_to_ids("<image>")
    for index, description in enumerate(dataset["description"][:2]):
        labels = batch["labels"][index]
        assert processor.tokenizer.decode(labels[labels != -100]) == f"{description} </s>", "loss on the answer only"
        prompt_ids = batch["input_ids"][index][(labels == -100) & (batch["attention_mask"][index] == 1)]
        assert (prompt_ids == image_token).sum() == 4 and processor.tokenizer.decode(prompt_ids).endswith(
            f"user : {'<image> ' * 4}{prompt} </s> assistant :"
        )
    arguments = SFTConfig(
        output_dir=str(tmp_path / "trl"),
        max_steps=2,
        per_device_train_batch_size=5,  # the whole dataset a step
        logging_steps=1,
        max_length=None,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=arguments, train_dataset=dataset, processing_class=processor)
    before = [weight.detach().clone() for weight in model.parameters()]
    assert trainer.train().global_step == 2
    assert any(not torch.equal(old, new) for old, new in zip(before, model.parameters(), strict=True)), "it learned"
    tokens = sum(len(f"user : {prompt} </s> assistant : {d} </s>".split(" ")) + 4 for d in dataset["description"])
    assert trainer.state.log_history[0]["num_tokens"] == tokens, "every token of the five examples, a step"
    with pytest.raises(ValueError, match="--images"):
        export("hf", folder / "described.jsonl", folder / "out/no_photos", folder / "cv.jsonl", chat=True)


def test_an_export_s_photos_shrunk_on_worker_processes_are_those_shrunk_here_in_order(described):
    """`--max_side` (img2dataset's image_size): each embedded photo at most that large, upright, in the format
    asked; written on two worker processes, the same dataset byte for byte as in this process; a photo that
    cannot be written again costs its row, named. The llava and yolo exports' photo files are written so too."""
    import datasets

    from helpers.core.photo_rewrite import PhotoRewrite
    from helpers.describer.exports import export

    folder, records, rows = described
    (folder / "photos" / rows[3]["id"]).write_bytes(b"\xff\xd8\xff not a whole JPEG")  # damaged after extraction
    shrink = PhotoRewrite(max_side=16, image_format="webp")
    saved = {}
    for workers in (0, 2):
        output = folder / f"out/small_{workers}"
        counts = export(
            "hf",
            folder / "described.jsonl",
            output,
            folder / "cv.jsonl",
            folder / "photos",
            rewrite=shrink,
            workers=workers,
        )
        assert counts["exported"] == 4, counts
        saved[workers] = datasets.load_from_disk(str(output)).cast_column("image", datasets.Image(decode=False))
        problems = _errors(folder, f"out/small_{workers}")
        assert [p.get("id") for p in problems] == ["broken.jpg", rows[3]["id"], records[5]["image"]]
        assert problems[1]["error"].startswith(f"photo not written: {folder / 'photos' / rows[3]['id']}: ")
    assert saved[0].to_list() == saved[2].to_list(), "the same bytes, in the same order"
    assert "written again: at most 16 pixels on their longer side, as WEBP" in (output / "README.md").read_text()
    for example in saved[2]:
        record = next(r for r in records if r["image"] == example["id"])
        with Image.open(io.BytesIO(example["image"]["bytes"])) as photo:
            scale = 16 / max(record["width"], record["height"])
            assert photo.format == "WEBP" and photo.size == (16, round(record["height"] * scale))
        assert example["image"]["path"] == example["id"].replace(".jpg", ".webp")
    wds = folder / "out/small_wds"
    export("webdataset", folder / "described.jsonl", wds, folder / "cv.jsonl", folder / "photos", rewrite=shrink)
    with tarfile.open(wds / "00000.tar") as shard:
        assert sorted({name.rsplit(".", 1)[1] for name in shard.getnames()}) == ["json", "txt", "webp"]
    # the photo files llava (with --image_folder) and yolo write: shrunk, named as the JSON names them
    for workers in (0, 2):  # the first pass's copies written on workers as in this process
        export(
            "llava",
            folder / "described.jsonl",
            folder / f"l{workers}.json",
            images=folder / "photos",
            rewrite=shrink,
            image_folder=folder / f"llava_photos_{workers}",
            workers=workers,
        )
        problem = _errors(folder, f"l{workers}.json")[1]
        assert problem["error"].startswith(f"photo not copied: {folder / 'photos' / rows[3]['id']}: Unidentified")
    entries = json.loads((folder / "l2.json").read_text())
    assert entries == json.loads((folder / "l0.json").read_text())
    assert len(entries) == 4 * 3 and all(entry["image"].endswith(".webp") for entry in entries)
    for entry in entries:
        copies = [(folder / f"llava_photos_{workers}" / entry["image"]).read_bytes() for workers in (0, 2)]
        assert copies[0] == copies[1]
        with Image.open(io.BytesIO(copies[0])) as photo:
            assert photo.format == "WEBP" and max(photo.size) == 16
    export(
        "yolo",
        folder / "described.jsonl",
        folder / "yolo",
        folder / "cv.jsonl",
        folder / "photos",
        rewrite=PhotoRewrite(max_side=16),
    )
    shrunk = sorted((folder / "yolo/images").rglob("*.jpg"))
    assert len(shrunk) == 4 and all(max(Image.open(path).size) == 16 for path in shrunk)
    for refused, why in (("coco", "states each photo's size"), ("llava", "only with image_folder")):
        with pytest.raises(ValueError, match=why):
            export(refused, folder / "described.jsonl", folder / "x.json", images=folder / "photos", rewrite=shrink)


def test_webdataset_shards_load_with_datasets_with_photos_captions_and_records(described):
    """`--format webdataset`: tar shards as WebDataset (OpenCLIP, img2dataset) lays them out; the
    `datasets` library's webdataset reader groups each sample's files by key and decodes the photo."""
    import datasets

    folder, records, rows = described
    finished = _export(folder, "webdataset", "out/wds", "--cv", "cv.jsonl", "--images", "photos")
    assert finished.returncode == 1, "two rows not exported: exit status 1, the rest written"
    assert [p.get("id") for p in _errors(folder, "out/wds")] == ["broken.jpg", records[5]["image"]]
    loaded = datasets.load_dataset(
        "webdataset", data_files=str(folder / "out/wds/*.tar"), cache_dir=str(folder / "cache"), split="train"
    )
    by_id = {row["id"]: row for row in rows[:5]}
    assert [sample["json"]["id"] for sample in loaded] == list(by_id)
    assert loaded["__key__"] == [f"00000{position:05d}" for position in range(5)], "keys without the photos' dots"
    for sample in loaded:
        about, record = sample["json"], next(r for r in records if r["image"] == sample["json"]["id"])
        assert sample["txt"] == about["description"] == by_id[about["id"]]["description"]
        assert about["captions"] == by_id[about["id"]]["captions"] and about["image"] == record["image"]
        assert sample["jpg"].size == (record["width"], record["height"]), "the photo's own bytes"
        assert [d["label"] for d in about["detections"]] == [d["label"] for d in record["detections"]]
    assert loaded[0]["json"]["detections"][0]["label"] == "Wendy's 7up-can", "labels exactly as given"
    listed = json.loads((folder / "out/wds/shards.json").read_text())
    assert listed == {"shards": [{"url": "00000.tar", "samples": 5}]}
    # its card names the shards (`configs`): the folder loads by its name alone, as from the Hub
    by_card = datasets.load_dataset(str(folder / "out/wds"), cache_dir=str(folder / "cache2"), split="train")
    assert by_card["__key__"] == loaded["__key__"] and by_card["txt"] == loaded["txt"]


def test_a_killed_webdataset_export_resumes_into_the_same_bytes(described, monkeypatch):
    """Killed part way, a rerun reads only the photos after its last complete shard, and its shards are
    byte for byte an uninterrupted export's (fixed tar headers: the same inputs, the same files)."""
    import helpers.describer.shard_writer as shard_writer
    import helpers.describer.webdataset as webdataset
    from helpers.describer.exports import export_sharded

    folder, _, _ = described
    monkeypatch.setattr(webdataset, "SHARD_SAMPLES", 2)
    reads, kill_at = _killed_at_a_read(monkeypatch)
    synced, sync = [], shard_writer.synced
    monkeypatch.setattr(shard_writer, "synced", lambda path: (synced.append(path.name), sync(path)))

    def run(output: str):
        return export_sharded(
            "webdataset", folder / "described.jsonl", folder / "cv.jsonl", folder / output, folder / "photos"
        )

    whole = run("whole")
    assert whole[:2] == (len(reads), len(reads) - 1), "every row read, one photo gone"
    assert synced == [f"0000{index}.tar.tmp" for index in range(3)], "each shard on disk before it is named complete"
    kill_at[0], reads[:] = 5, []  # the fifth photo read: two shards of two complete
    with pytest.raises(_Killed):
        run("resumed")
    done = reads[:4]
    kill_at[0], reads[:] = 0, []
    assert run("resumed") == whole
    assert not set(reads) & set(done), "no photo of a complete shard read again"
    shards = sorted(path.name for path in (folder / "whole").iterdir())
    assert shards == sorted(path.name for path in (folder / "resumed").iterdir())
    assert shards == ["00000.tar", "00001.tar", "00002.tar", "README.md", "shards.json"], "2, 2 and 1 samples, a card"
    for name in shards:
        assert (folder / "whole" / name).read_bytes() == (folder / "resumed" / name).read_bytes(), name


@settings(max_examples=25, deadline=None)
@given(
    samples=st.lists(
        st.dictionaries(st.sampled_from(["jpg", "png", "txt", "json"]), st.binary(max_size=1500), min_size=1),
        max_size=6,
    ),
    text=st.text(st.characters(exclude_categories=()), max_size=40),  # lone surrogates too
)
def test_the_webdataset_writer_writes_what_tarfile_writes(tmp_path_factory, samples, text):
    """The shards are written without `TarFile` (which keeps every member's header in memory: 7 MB a
    shard of 10,000 samples), byte for byte as it writes them, and read back by it."""
    import io
    import tarfile

    from helpers.describer.webdataset import TAR_HEADER, WebDatasetWriter

    output = tmp_path_factory.mktemp("wds") / "out"
    writer, expected = WebDatasetWriter(output, {}), io.BytesIO()
    with tarfile.open(fileobj=expected, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for sample in samples:
            files = {**sample, "txt": text} if "txt" in sample else sample
            key = writer.add(files)
            for extension, content in files.items():
                data = content.encode("utf-8", "backslashreplace") if isinstance(content, str) else content
                info = tarfile.TarInfo(f"{key}.{extension}")
                for field, value in TAR_HEADER.items():
                    setattr(info, field, value)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    writer.close_shard(len(samples), len(samples), [])
    writer.finish()
    shards = sorted(output.glob("*.tar"))
    assert [shard.read_bytes() for shard in shards] == ([expected.getvalue()] if samples else [])


def test_a_webdataset_sample_holding_a_lone_surrogate_is_written_as_valid_utf8(tmp_path):
    """A label may hold a lone surrogate (describe writes it as a `\\u` escape): UTF-8 cannot hold
    one, so the text gives its escape and the JSON its `\\u` form, never a failed export."""
    import tarfile

    from helpers.describer.webdataset import WebDatasetWriter

    writer = WebDatasetWriter(tmp_path / "out", {})
    writer.add({"txt": "A bottle\ud800.", "json": {"id": "p\ud800", "label": "Flasche ü"}})
    writer.close_shard(1, 1, [])
    writer.finish()
    with tarfile.open(tmp_path / "out" / "00000.tar") as archive:
        text, about = (archive.extractfile(name).read() for name in ("0000000000.txt", "0000000000.json"))
    assert text.decode("utf-8") == "A bottle\\ud800."
    assert json.loads(about.decode("utf-8")) == {"id": "p\ud800", "label": "Flasche ü"}


def test_florence2_entries_read_back_through_transformers_florence2_reader(described):
    """The florence2 export (maestro's JSONL: image, prefix, suffix): per photo a <CAPTION> entry per caption, an <OD>
    entry whose answer transformers' Florence-2 reader (`Florence2PostProcessor`, the processor's
    post_process_generation) reads back as the stated boxes, each corner to half a thousandth of the photo, with their
    labels as given, and a grounding entry per caption whose answer it reads back as the caption's counted phrases, in
    order, with as many boxes as the items they count, every stated box once. A label the reader would give back
    otherwise (not ASCII) is its row's problem."""
    from types import SimpleNamespace

    from transformers.models.florence2.processing_florence2 import Florence2PostProcessor

    from helpers.core.contract import Policy

    folder, records, rows = described
    for record in records:  # generated labels with spaces around them, which the reader strips: one row's kept
        record["detections"] = [d | {"label": d["label"].strip()} for d in record["detections"]]
    records[1]["detections"].append({"label": "Flasche ü", "confidence": 0.9, "bbox": [0.5, 0.5, 0.6, 0.7]})
    records[3]["detections"].append({"label": "crate ", "confidence": 0.9, "bbox": [0.5, 0.5, 0.6, 0.7]})
    (folder / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    finished = _export(folder, "florence2", "florence.jsonl", "--cv", "cv.jsonl")
    assert finished.returncode == 1, finished.stderr
    why = {p["id"]: p["error"] for p in _errors(folder, "florence.jsonl")}
    assert set(why) == {records[1]["image"], records[3]["image"], "broken.jpg"}, why  # and the error row of describe
    assert "'Flasche ü'" in why[records[1]["image"]] and "'crate '" in why[records[3]["image"]]
    entries = [json.loads(line) for line in (folder / "florence.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = [row for row in rows if row["id"] not in (records[1]["image"], records[3]["image"])]
    assert len(entries) == 7 * len(kept) and {tuple(entry) for entry in entries} == {("image", "prefix", "suffix")}
    reader = Florence2PostProcessor(
        {"description_with_bboxes": {}, "phrase_grounding": {}}, SimpleNamespace(all_special_tokens=[])
    )
    by_image, side = {record["image"]: record for record in records}, 100_000
    for row, at in zip(kept, range(0, len(entries), 7), strict=True):
        own = entries[at : at + 7]
        assert {entry["image"] for entry in own} == {row["id"]}
        assert [(e["prefix"], e["suffix"]) for e in own[:3]] == [("<CAPTION>", caption) for caption in row["captions"]]
        record = by_image[row["id"]]
        stated = [d for d in record["detections"] if d["confidence"] >= Policy().min_confidence]
        # The reader gives whole pixels of the size it is told: read at 10^5 a side, a box's corners in 0..1 to 10^-5

        def near(read: list[float], box: list[float]) -> bool:
            return all(abs(a / side - b) <= 0.0005 + 1 / side for a, b in zip(read, box))

        assert own[3]["prefix"] == "<OD>"
        boxes = reader(text=own[3]["suffix"], image_size=(side, side), parse_tasks=["description_with_bboxes"])
        read = boxes["description_with_bboxes"]
        assert [item["cat_name"] for item in read] == [d["label"] for d in stated], own[3]["suffix"]
        assert all(near(item["bbox"], d["bbox"]) for item, d in zip(read, stated)), (read, stated)
        for entry, caption in zip(own[4:], row["captions"], strict=True):
            assert entry["prefix"] == "<CAPTION_TO_PHRASE_GROUNDING>" + caption
            read = reader(text=entry["suffix"], image_size=(side, side), parse_tasks=["phrase_grounding"])
            phrases = read["phrase_grounding"]
            position = 0
            for phrase in phrases:  # each as written in the caption, in its order
                position = caption.index(phrase["cat_name"], position) + len(phrase["cat_name"])
            grounded = [box for phrase in phrases for box in phrase["bbox"]]
            assert len(grounded) == len(stated), (caption, entry["suffix"])
            unmatched = list(stated)
            for box in grounded:
                unmatched.remove(next(d for d in unmatched if near(box, d["bbox"])))


_CORNER = st.floats(0, 1, allow_nan=False)
_FLORENCE_DETECTION = st.fixed_dictionaries(
    {
        "label": st.one_of(  # mostly names a detector gives; any ASCII text too
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 '-]{0,10}[A-Za-z0-9]", fullmatch=True),
            st.from_regex(r"[a-z]{2,8}", fullmatch=True),
            st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1, max_size=12),
        ),
        "confidence": st.sampled_from([0.3, 0.9, 0.9]),
        "bbox": st.tuples(_CORNER, _CORNER, _CORNER, _CORNER).map(
            lambda c: [min(c[0], c[2]), min(c[1], c[3]), max(c[0], c[2]), max(c[1], c[3])]
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(detections=st.lists(_FLORENCE_DETECTION, max_size=6), seed=st.integers(0, 2**16))
def test_any_florence2_answer_reads_back_or_its_row_is_a_problem(detections, seed):
    """Any labels (ASCII text, any characters) and boxes, described by the grammar: the row is a problem, or
    Florence-2's reader gives back every stated box with its label as given, each corner to half a thousandth, and
    every grounding answer's boxes are the stated boxes, once each."""
    from types import SimpleNamespace

    from transformers.models.florence2.processing_florence2 import Florence2PostProcessor

    from helpers.core.contract import Policy
    from helpers.describer.exports import ExportRow, record_problem
    from helpers.describer.florence import florence2_entries, florence_problem
    from helpers.text.fallback import fallback_sentence

    record = {"detections": detections, "scene": {"class": "grass", "confidence": 0.9}}
    row = ExportRow("p", [], "grammar", record)
    if record_problem(row):  # a label the describer refuses (`;`, `|`, only spaces): no row to export
        return
    row.captions = [fallback_sentence(record, str(seed))[0]]
    if florence_problem(row, ("caption", "detection", "grounding"), Policy()):
        return
    reader = Florence2PostProcessor(
        {"description_with_bboxes": {}, "phrase_grounding": {}}, SimpleNamespace(all_special_tokens=[])
    )
    side = 100_000
    stated = [d for d in detections if d["confidence"] >= Policy().min_confidence]

    def near(read: list[float], box: list[float]) -> bool:
        return all(abs(a / side - b) <= 0.0005 + 1 / side for a, b in zip(read, box))

    _, detection, grounding = florence2_entries(row)
    read = reader(text=detection["suffix"], image_size=(side, side), parse_tasks=["description_with_bboxes"])
    items = read["description_with_bboxes"]
    assert [item["cat_name"] for item in items] == [d["label"] for d in stated], detection["suffix"]
    assert all(near(item["bbox"], d["bbox"]) for item, d in zip(items, stated))
    read = reader(text=grounding["suffix"], image_size=(side, side), parse_tasks=["phrase_grounding"])
    unmatched = list(stated)
    for box in (box for phrase in read["phrase_grounding"] for box in phrase["bbox"]):
        unmatched.remove(next(d for d in unmatched if near(box, d["bbox"])))
    assert not unmatched, (row.captions, grounding["suffix"])


def test_florence2_tasks_choose_the_entries_and_captions_need_no_cv(described):
    from helpers.describer.exports import export
    from helpers.describer.options import ExportOptions

    folder, records, rows = described
    assert _export(folder, "florence2", "captions.jsonl", "--tasks", "caption").returncode == 1  # describe's error row
    assert [problem["id"] for problem in _errors(folder, "captions.jsonl")] == ["broken.jpg"]
    entries = [json.loads(line) for line in (folder / "captions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [entry["suffix"] for entry in entries] == [caption for row in rows for caption in row["captions"]]
    with pytest.raises(ValueError, match="--cv"):
        export("florence2", folder / "described.jsonl", folder / "boxes.jsonl", tasks=("detection",))
    assert not (folder / "boxes.jsonl").exists()
    with pytest.raises(ValueError, match="--tasks: the florence2 export's entries, not llava's"):
        ExportOptions("described.jsonl", "llava", "l.json", tasks="caption")
    with pytest.raises(ValueError, match="caption, detection, grounding"):
        ExportOptions("described.jsonl", "florence2", "f.jsonl", tasks="captions")


def test_grounded_conversations_tag_each_counted_phrase_with_the_boxes_it_speaks_for(described):
    """The grounded export (ms-swift's grounding layout): a conversation per caption whose answer is the caption
    with each phrase that counts items written `<ref-object>` and a `<bbox>` per item, `objects` holding the phrases
    as written and the items' boxes in the tags' order; a box per counted item, each a detection of the record of
    one label per phrase; a record with a detection without a box is its row's error."""
    import re

    from helpers.text.grammar import facts
    from helpers.text.lexicon import canonical_label

    folder, records, rows = described
    broken = [dict(record) for record in records]
    broken[3]["detections"] = [{"label": "can", "confidence": 0.9}]  # no box to ground
    (folder / "cv_boxless.jsonl").write_text("".join(json.dumps(r) + "\n" for r in broken), encoding="utf-8")
    tagged = [json.loads(line) for line in (folder / "described.jsonl").read_text(encoding="utf-8").splitlines()]
    text_tag = next(row for row in tagged if row.get("id") == rows[4]["id"])
    text_tag["captions"][2] += " <bbox>"  # a tag as text would take a box's place
    (folder / "tagged.jsonl").write_text("".join(json.dumps(row) + "\n" for row in tagged), encoding="utf-8")
    command = ["--cv", "cv_boxless.jsonl", "--prompt", "Where?"]
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "export",
            "tagged.jsonl",
            "--format",
            "grounded",
            "--output",
            "grounded.jsonl",
        ]
        + command,
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 1, finished.stderr
    why = {p.get("id"): p["error"] for p in _errors(folder, "grounded.jsonl")}
    assert "detections[0] has no bbox" in why[records[3]["image"]] and "<bbox>" in why[text_tag["id"]], why
    entries = [json.loads(line) for line in (folder / "grounded.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = [row for row in rows if row["id"] not in (records[3]["image"], text_tag["id"])]
    assert len(entries) == 3 * len(kept) and [e["images"] for e in entries[::3]] == [[row["id"]] for row in kept]
    by_image = {record["image"]: record for record in records}
    grounded_phrases = 0
    for entry, caption in zip(entries, (c for row in kept for c in row["captions"]), strict=True):
        user, answer = entry["messages"]
        assert user == {"role": "user", "content": "<image>Where?"} and answer["role"] == "assistant"
        objects, text = entry["objects"], answer["content"]
        assert objects["bbox_type"] == "norm1" and text.count("<bbox>") == len(objects["bbox"])
        parts = re.split(r"<ref-object>(?:<bbox>)*", text)
        filled = parts[0] + "".join(ref + part for ref, part in zip(objects["ref"], parts[1:], strict=True))
        assert filled == caption, "each tag its phrase: the caption as written"
        record = by_image[entry["images"][0]]
        assert len(objects["bbox"]) == sum(facts(record).counts.values()), "a box per counted item"
        boxes = iter(objects["bbox"])
        for tags in re.findall(r"<ref-object>((?:<bbox>)*)", text):  # each phrase's boxes: one category's detections
            held = [next(boxes) for _ in range(tags.count("<bbox>"))]
            labels = {canonical_label(d["label"]) for box in held for d in record["detections"] if d["bbox"] == box}
            assert len(labels) == 1 and held, (text, held)
        grounded_phrases += len(objects["ref"])
    assert grounded_phrases > 0, "phrases to ground"
    # `desclm check` reads a grounded answer as its sentence: every caption faithful to its record, as described
    from helpers.describer.check import check_file

    summary = check_file(folder / "cv.jsonl", folder / "grounded.jsonl", folder / "verdicts.jsonl", workers=0)
    assert (summary["checked"], summary["faithful"]) == (len(entries), len(entries)), summary


def test_llava_json_has_a_conversation_per_caption(described):
    folder, _, rows = described
    finished = _export(folder, "llava", "llava.json", "--prompt", "What litter is here?")
    assert finished.returncode == 1, finished.stderr
    entries = json.loads((folder / "llava.json").read_text(encoding="utf-8"))
    assert len(entries) == 3 * len(rows) and len({e["id"] for e in entries}) == len(entries)
    assert [e["conversations"][1]["value"] for e in entries] == [c for row in rows for c in row["captions"]]
    assert all(e["conversations"][0] == {"from": "human", "value": "<image>\nWhat litter is here?"} for e in entries)
    assert entries[0]["image"] == rows[0]["id"]
    # .jsonl: the same entries, one a line (read a block at a time by `datasets`' JSON reader)
    from helpers.describer.exports import export

    export("llava", folder / "described.jsonl", folder / "llava.jsonl", prompt="What litter is here?")
    lines = (folder / "llava.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines.pop() == "" and [json.loads(line) for line in lines] == entries
    # --image_folder: each photo's file beside the JSON, as LLaVA's --image_folder reads them
    gone = rows[5]["id"]  # its photo was deleted after it was described
    finished = _export(folder, "llava", "bundle/llava.json", "--images", "photos", "--image_folder", "bundle/photos")
    assert finished.returncode == 1, finished.stderr
    entries = json.loads((folder / "bundle/llava.json").read_text(encoding="utf-8"))
    assert {e["image"] for e in entries} == {r["id"] for r in rows} - {gone}, "photo files keep their names"
    for entry in entries:
        assert (folder / "bundle/photos" / entry["image"]).read_bytes() == (
            folder / "photos" / entry["image"]
        ).read_bytes()
    problem = next(p for p in _errors(folder, "bundle/llava.json") if p.get("id") == gone)
    assert problem["error"].startswith(f"photo not copied: {folder / 'photos' / gone}: "), problem
    refused = _export(folder, "llava", "llava2.json", "--images", "photos", "--image_folder", "photos/copies")
    assert refused.returncode == 2 and "overlap" in refused.stderr and not (folder / "photos/copies").exists()


def test_coco_captions_load_with_pycocotools(described):
    from pycocotools.coco import COCO

    folder, records, rows = described
    finished = _export(folder, "coco", "captions.json", "--cv", "cv.jsonl", "--images", "photos")
    assert finished.returncode == 1, finished.stderr
    coco = COCO(str(folder / "captions.json"))
    assert len(coco.getImgIds()) == len(rows)
    for image in coco.loadImgs(coco.getImgIds()):
        row = next(r for r in rows if r["id"] == image["file_name"])
        assert [a["caption"] for a in coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))] == row["captions"]
        record = next(r for r in records if r["image"] == image["file_name"])
        assert (image["width"], image["height"]) == (record["width"], record["height"])


def test_coco_instances_load_with_pycocotools_boxes_in_pixels_and_labels_as_given(described):
    from pycocotools.coco import COCO

    folder, records, rows = described
    finished = _export(folder, "coco_instances", "instances.json", "--cv", "cv.jsonl", "--images", "photos")
    assert finished.returncode == 1, finished.stderr  # the error row of describe
    coco = COCO(str(folder / "instances.json"))
    assert len(coco.getImgIds()) == len(rows)
    names = {category["id"]: category["name"] for category in coco.loadCats(coco.getCatIds())}
    boxes = 0
    for image in coco.loadImgs(coco.getImgIds()):
        row = next(r for r in rows if r["id"] == image["file_name"])
        record = next(r for r in records if r["image"] == image["file_name"])
        assert image["description"] == row["description"]
        width, height = record["width"], record["height"]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert len(annotations) == len(record["detections"])
        for annotation, detection in zip(annotations, record["detections"]):
            x1, y1, x2, y2 = detection["bbox"]
            expected = [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height]
            assert annotation["bbox"] == pytest.approx(expected, abs=0.005)
            assert names[annotation["category_id"]] == detection["label"]  # as given: "Wendy's 7up-can"
            assert annotation["score"] == detection["confidence"] and annotation["iscrowd"] == 0
            assert annotation["segmentation"] == [], "a box, no outline: CVAT's and Datumaro's readers expect the field"
            boxes += 1
    assert boxes > 0 and "Wendy's 7up-can" in names.values()
    # the detections load as results too (what COCOeval scores): every box, on its photo
    results = coco.loadRes(coco.loadAnns(coco.getAnnIds()))
    assert len(results.getAnnIds()) == boxes


def test_label_studio_tasks_pre_annotate_each_box_and_description_its_config_names(described):
    """`--format label_studio`: a task per photo (its URL the prefix and its key), a prediction holding a box per
    detection its description states (at the describer's threshold; `--min_confidence 0`: every one) in percent of
    the photo (label as given, confidence as score) and the description as text; each result names a control of
    the labeling config written beside (every detection's label), of its type, as Label Studio checks on import."""
    from xml.etree import ElementTree

    from helpers.core.contract import Policy

    folder, records, rows = described
    finished = _export(
        folder, "label_studio", "tasks.json", "--cv", "cv.jsonl", "--images", "photos", "--url_prefix", "s3://b/p/"
    )
    assert finished.returncode == 1, finished.stderr  # the error row
    tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    config = ElementTree.fromstring((folder / "tasks.label_config.xml").read_text(encoding="utf-8"))
    controls = {element.get("name"): element for element in config if element.get("name")}
    assert controls["image"].tag == "Image" and controls["image"].get("value") == "$image"
    assert [task["data"]["photo_id"] for task in tasks] == [row["id"] for row in rows]
    labels = []
    for task, row in zip(tasks, rows, strict=True):
        record = next(r for r in records if r["image"] == row["id"])
        assert task["data"]["image"] == "s3://b/p/" + row["id"] and task["data"]["captions"] == row["captions"]
        results = task["predictions"][0]["result"]
        for result in results:  # what Label Studio validates: a control of that name, type and target
            control = controls[result["from_name"]]
            assert control.tag.lower() == result["type"] and control.get("toName") == result["to_name"] == "image"
        boxes = [r for r in results if r["type"] == "rectanglelabels"]
        stated = [d for d in record["detections"] if d["confidence"] >= Policy().min_confidence]
        labels += [detection["label"] for detection in record["detections"]]
        for box, detection in zip(boxes, stated, strict=True):
            value = box["value"]
            x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in detection["bbox"])
            corners = [value["x"] / 100, value["y"] / 100, (value["x"] + value["width"]) / 100]
            assert corners + [(value["y"] + value["height"]) / 100] == pytest.approx([x1, y1, x2, y2], abs=1e-12)
            assert value["rectanglelabels"] == [detection["label"]] and box["score"] == detection["confidence"]
            assert (box["original_width"], box["original_height"]) == (record["width"], record["height"])
        assert [r["value"]["text"] for r in results if r["type"] == "textarea"] == [[row["description"]]]
    assert [label.get("value") for label in controls["label"]] == list(dict.fromkeys(labels))
    assert "Wendy's 7up-can" in labels, "labels exactly as given"
    every = [sum(r["type"] == "rectanglelabels" for r in t["predictions"][0]["result"]) for t in tasks]
    _export(
        folder, "label_studio", "all.json", "--cv", "cv.jsonl", "--url_prefix", "s3://b/p/", "--min_confidence", "0"
    )
    all_boxes = json.loads((folder / "all.json").read_text(encoding="utf-8"))
    shown = [sum(r["type"] == "rectanglelabels" for r in t["predictions"][0]["result"]) for t in all_boxes]
    assert shown == [len(next(r for r in records if r["image"] == row["id"])["detections"]) for row in rows]
    assert sum(every) < sum(shown), "boxes below the threshold, left out by default"


def test_label_studio_tasks_name_photos_where_its_local_files_serve_them(described):
    """By default a task names its photo as Label Studio's local files serve it, by the photos' folder name (the
    document root the folder holding it: Label Studio refuses a storage at the root itself); a photo that is no file
    there is its row's error; `image_folder` copies the photos and names them there; without photos it refuses."""
    from helpers.describer.exports import export

    folder, records, rows = described
    gone = records[5]["image"]
    args = {"cv": folder / "cv.jsonl", "images": folder / "photos"}
    export("label_studio", folder / "described.jsonl", folder / "tasks.json", **args)
    tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    served = [row["id"] for row in rows if row["id"] != gone]
    assert [task["data"]["image"] for task in tasks] == ["/data/local-files/?d=photos/" + key for key in served]
    unserved = [error["id"] for error in _errors(folder, "tasks.json") if "Label Studio to serve" in error["error"]]
    assert unserved == [gone]

    copies = folder / "for label studio"
    export("label_studio", folder / "described.jsonl", folder / "copied.json", **args, image_folder=copies)
    tasks = json.loads((folder / "copied.json").read_text(encoding="utf-8"))
    assert [task["data"]["photo_id"] for task in tasks] == served
    for task in tasks:
        name = task["data"]["image"].removeprefix("/data/local-files/?d=for%20label%20studio/")
        assert (copies / name).read_bytes() == (folder / "photos" / task["data"]["photo_id"]).read_bytes()
    # a photo a list named elsewhere (its key absolute) is a file, but not one Label Studio serves from there
    elsewhere = records[1] | {"image": str((folder / "photos" / records[1]["image"]).resolve())}
    with (folder / "cv.jsonl").open("a", encoding="utf-8") as cv, (folder / "described.jsonl").open("a") as rows_file:
        cv.write(json.dumps(elsewhere | {"id": "elsewhere"}) + "\n")
        rows_file.write(json.dumps({"id": "elsewhere", "description": rows[1]["description"]}) + "\n")
    export("label_studio", folder / "described.jsonl", folder / "tasks.json", **args)
    assert [t["data"]["photo_id"] for t in json.loads((folder / "tasks.json").read_text(encoding="utf-8"))] == served
    outside = [error for error in _errors(folder, "tasks.json") if error["id"] == "elsewhere"]
    assert len(outside) == 1 and "lies outside" in outside[0]["error"], outside
    export("label_studio", folder / "described.jsonl", folder / "copied.json", **args, image_folder=copies)
    tasks = json.loads((folder / "copied.json").read_text(encoding="utf-8"))
    assert [task["data"]["photo_id"] for task in tasks] == [*served, "elsewhere"], "copied, it is served"
    with pytest.raises(ValueError, match="--images"):
        export("label_studio", folder / "described.jsonl", folder / "none.json", cv=folder / "cv.jsonl")


def test_tasks_beyond_what_label_studio_imports_at_once_are_said_with_the_way_out(described, caplog, monkeypatch):
    """Label Studio takes at most 200 MB in one import and works best with about 100k tasks a project: a tasks
    file past either (the limits made small here) is written, with a warning naming its size and the review-set
    settings; within both, nothing is said."""
    from helpers.describer import label_studio
    from helpers.describer.exports import export

    folder, _, rows = described
    arguments = {"cv": folder / "cv.jsonl", "url_prefix": "s3://b/"}
    for limits, said in (({}, False), ({"PROJECT_TASKS": 3}, True), ({"IMPORT_BYTES": 1000}, True)):
        with monkeypatch.context() as patched:
            for name, value in limits.items():
                patched.setattr(label_studio, name, value)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="helpers.describer.exports"):
                export("label_studio", folder / "described.jsonl", folder / "tasks.json", **arguments)
        warned = [m for m in caplog.messages if "Label Studio takes at most" in m]
        assert bool(warned) == said, limits
        size = (folder / "tasks.json").stat().st_size
        assert not said or (f"{len(rows)} tasks in {size / 10**6:,.0f} MB" in warned[0] and "--max_photos" in warned[0])


def test_photos_kept_as_stored_but_turned_by_exif_are_counted_for_exif_blind_readers(described, caplog):
    """WebDataset's decoders and LLaVA's loader open photos without applying EXIF orientation: a photo stored on
    its side is kept as stored (no rewrite asked) and said in a warning, counted; written again, it is upright."""
    from PIL import Image

    from helpers.core.photo_rewrite import PhotoRewrite
    from helpers.describer.exports import export

    folder, records, rows = described
    turned = folder / "photos" / rows[1]["id"]
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turn it clockwise to see it
    with Image.open(turned) as image:
        image.load()
        image.save(turned, exif=exif.tobytes())
    photos = {"cv": folder / "cv.jsonl", "images": folder / "photos"}
    exports = [("webdataset", "wds", {}), ("llava", "llava.json", {"image_folder": folder / "lv"})]
    exports.append(("grounded", "grounded.jsonl", {"image_folder": folder / "gr"}))  # ms-swift: its boxes miss
    for fmt, output, extra in exports:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="helpers.describer.exports"):
            export(fmt, folder / "described.jsonl", folder / output, **photos, **extra)
        assert [m for m in caplog.messages if "turned by their EXIF orientation" in m][0].startswith("1 photos"), fmt
    upright = [("webdataset", "upright", {}), ("grounded", "upright.jsonl", {"image_folder": folder / "up"})]
    for fmt, output, extra in upright:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="helpers.describer.exports"):
            export(fmt, folder / "described.jsonl", folder / output, **photos, **extra, rewrite=PhotoRewrite(4096))
        assert not [m for m in caplog.messages if "turned by their EXIF orientation" in m], "written again upright"
    with Image.open(folder / "up" / rows[1]["id"]) as image:
        assert image.getexif().get(0x0112, 1) == 1 and image.size == (24, 33), "upright: its boxes are this photo's"


def test_a_sample_of_the_described_photos_is_seeded_uniform_and_the_same_in_every_format(described):
    """`max_photos`/`seed`: a review set of a few photos out of many. The same seed gives the same photos in the
    file's order, whatever the format; over many seeds each described photo is chosen about as often, an error
    row never."""
    from collections import Counter

    from helpers.describer.exports import export, sampled_lines

    folder, records, rows = described
    source = folder / "described.jsonl"

    def sampled(fmt: str, name: str, seed: int) -> list:
        export(fmt, source, folder / name, cv=folder / "cv.jsonl", url_prefix="s3://b/", sample=(3, seed))
        if fmt == "label_studio":
            return [task["data"]["photo_id"] for task in json.loads((folder / name).read_text(encoding="utf-8"))]
        with tarfile.open(folder / name / "00000.tar") as shard:
            return [json.loads(shard.extractfile(m).read())["id"] for m in shard if m.name.endswith(".json")]

    first = sampled("label_studio", "a.json", 1)
    assert len(first) == 3 and first == [row["id"] for row in rows if row["id"] in first], "the file's order"
    assert sampled("label_studio", "b.json", 1) == first == sampled("webdataset", "wds", 1)
    assert sampled("label_studio", "c.json", 2) != first
    lines = [number for number, line in enumerate(source.read_text().splitlines(), 1) if '"error"' not in line]
    chosen = Counter(line for seed in range(400) for line in sampled_lines(source, 3, seed))
    assert set(chosen) == set(lines) and len(lines) == len(rows), "every described photo, no error row"
    share = 3 / len(lines)  # each photo's chance in one sample: chosen a binomial number of times in 400
    spread = (400 * share * (1 - share)) ** 0.5
    assert all(abs(count - 400 * share) < 5 * spread for count in chosen.values()), chosen


def test_category_scene_and_min_items_choose_the_exported_photos_by_their_sentences_before_the_sample(described):
    """The gallery's choice, for an export: the photos whose sentence (read with the record's labels) counts a
    category (case aside), states a scene, counts enough items; in the file's order, alike in the formats written
    in passes and in shards; a sample is drawn from the chosen photos only; the error row is still said."""
    from helpers.describer.exports import export
    from helpers.describer.selection import Selection
    from helpers.text.facts import extract

    folder, records, rows = described
    labels = {record["image"]: [d["label"] for d in record["detections"]] for record in records}
    said = {row["id"]: extract(row["description"], labels[row["id"]]) for row in rows}
    kept = [row["id"] for row in rows if row["id"] != records[5]["image"]]  # its photo is gone: label_studio's error
    commonest = max(
        {c for s in said.values() for c in s.counts}, key=lambda c: sum(c in s.counts for s in said.values())
    )
    scene = next(s.scene for s in said.values() if s.scene)
    most = sorted(sum(s.counts.values()) for s in said.values())[-2]  # the two with the most items
    cases = {
        Selection(category=f"nothing, {commonest.upper()}"): [i for i in kept if commonest in said[i].counts],
        Selection(scene=scene.title()): [i for i in kept if said[i].scene == scene],
        Selection(min_items=most): [i for i in kept if sum(said[i].counts.values()) >= most],
    }
    assert all(0 < len(chosen) < len(kept) for chosen in cases.values()), "choices that narrow"

    def exported(fmt: str, name: str, selection: Selection, sample=(0, 0)) -> tuple[list, dict]:
        photos = {"cv": folder / "cv.jsonl", "images": folder / "photos"}
        counts = export(fmt, folder / "described.jsonl", folder / name, **photos, sample=sample, selection=selection)
        if fmt == "label_studio":
            return [
                task["data"]["photo_id"] for task in json.loads((folder / name).read_text(encoding="utf-8"))
            ], counts
        with tarfile.open(folder / name / "00000.tar") as shard:
            return [json.loads(shard.extractfile(m).read())["id"] for m in shard if m.name.endswith(".json")], counts

    for number, (selection, chosen) in enumerate(cases.items()):
        ids, counts = exported("label_studio", f"tasks{number}.json", selection)
        assert ids == chosen, selection
        problems = [problem["error"] for problem in _errors(folder, f"tasks{number}.json")]
        assert any(error.startswith("not described") for error in problems), "the error row, chosen or not, is said"
        assert exported("webdataset", f"wds{number}", selection)[0] == chosen
        card = (folder / f"wds{number}" / "README.md").read_text(encoding="utf-8")
        assert (
            f"| photos | {len(chosen)} |" in card
            and "It holds part of the described photos: those chosen by --" in card
        )
    selection, chosen = next(iter(cases.items()))
    for seed in range(4):
        ids, counts = exported("label_studio", f"sample{seed}.json", selection, sample=(1, seed))
        assert len(ids) + counts["problems"] == 1 and set(ids) <= set(chosen), "one of the chosen photos"
    exported("webdataset", "wds_sample", selection, sample=(2, 0))
    card = (folder / "wds_sample" / "README.md").read_text(encoding="utf-8")
    assert "(by what their descriptions count and state), a seeded random sample of at most 2 of them (seed 0)." in card
    exported("webdataset", "wds_all", Selection())
    assert "It holds part" not in (folder / "wds_all" / "README.md").read_text(encoding="utf-8")


def test_coco_instances_of_labelled_photos_are_their_label_files_in_pixels(tiny_demo, tmp_path):
    """Extraction from a data.yaml's labels, exported: each box is its YOLO label line (centre and size,
    normalised) in pixels, computed here from the label files themselves."""
    from PIL import Image
    from pycocotools.coco import COCO

    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.describer.exports import export

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    keys = [line.record["image"] for line in iter_jsonl(cv)]
    described = tmp_path / "described.jsonl"
    described.write_text("".join(json.dumps({"id": key, "description": "Litter."}) + "\n" for key in keys))
    counts = export("coco_instances", described, tmp_path / "instances.json", cv, tiny_demo / "data.yaml")
    assert (counts["exported"], counts["problems"]) == (12, 0)
    coco = COCO(str(tmp_path / "instances.json"))
    names = {category["id"]: category["name"] for category in coco.loadCats(coco.getCatIds())}
    for image in coco.loadImgs(coco.getImgIds()):
        width, height = Image.open(tiny_demo / image["file_name"]).size
        label_file = (tiny_demo / image["file_name"]).parent.parent / "labels" / f"{Path(image['file_name']).stem}.txt"
        class_names = ["plastic", "glass", "metal", "paper", "organic"]  # the tiny demo's data.yaml
        expected = sorted(
            (class_names[int(c)], round((float(x) - float(w) / 2) * width), round((float(y) - float(h) / 2) * height))
            for c, x, y, w, h in (line.split() for line in label_file.read_text().splitlines())
        )
        found = sorted(
            (names[a["category_id"]], round(a["bbox"][0]), round(a["bbox"][1]))
            for a in coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        )
        assert found == expected, image["file_name"]


def test_an_hf_export_with_objects_is_what_transformers_trains_a_detector_on(tiny_demo, tmp_path):
    """`--objects`: the Hugging Face object-detection columns, as transformers' recipe reads them. Extraction from a
    data.yaml's labels, exported in two splits: the categories a ClassLabel alike in both, each photo's boxes, once
    RT-DETR's image processor has read them as COCO annotations, are its label file's lines (YOLO's centre and size,
    normalised), and a small RT-DETR named by the categories computes its matching loss on them; extraction reads
    the export back as ground truth, the records it was made from."""
    import datasets
    import torch
    from PIL import Image
    from transformers import RTDetrForObjectDetection, RTDetrImageProcessor

    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.demo.rtdetr import small_rtdetr_config
    from helpers.describer.exports import export
    from helpers.describer.selection import SplitPlan

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    keys = [line.record["image"] for line in iter_jsonl(cv)]
    described = tmp_path / "described.jsonl"
    described.write_text("".join(json.dumps({"id": key, "description": "Litter."}) + "\n" for key in keys))
    plan = SplitPlan.parse("train=0.75,validation=0.25", "photo", 0)
    counts = export("hf", described, tmp_path / "ds", cv, tiny_demo / "data.yaml", splits=plan, objects=True)
    assert (counts["exported"], counts["problems"]) == (12, 0)
    dataset = datasets.load_dataset(str(tmp_path / "ds"), cache_dir=str(tmp_path / "cache"))
    names = dataset["train"].features["objects"]["category"].feature.names  # as transformers' recipe reads them
    assert dataset["validation"].features == dataset["train"].features
    first_met = [d["label"] for line in iter_jsonl(cv) for d in line.record["detections"]]
    assert names == list(dict.fromkeys(first_met))
    class_names = ["plastic", "glass", "metal", "paper", "organic"]  # the tiny demo's data.yaml
    processor = RTDetrImageProcessor(size={"height": 64, "width": 64})
    examples = [example for split in dataset.values() for example in split]
    split_of = {example["id"]: name for name, split in dataset.items() for example in split}
    assert sorted(example["image_id"] for example in examples) == list(range(1, 13)), "the described file's lines"
    pixels, labels = [], []
    for example in examples:
        path = tiny_demo / example["id"]
        assert (example["width"], example["height"]) == Image.open(path).size == example["image"].size
        objects = example["objects"]
        annotations = [
            {"bbox": box, "category_id": category, "area": area, "iscrowd": 0}
            for box, category, area in zip(objects["bbox"], objects["category"], objects["area"], strict=True)
        ]
        read = processor(
            images=example["image"].convert("RGB"),
            annotations={"image_id": example["image_id"], "annotations": annotations},
            return_tensors="pt",
        )
        found = sorted(
            (names[int(c)], *(round(float(v), 3) for v in box))
            for c, box in zip(read["labels"][0]["class_labels"], read["labels"][0]["boxes"], strict=True)
        )
        label_file = path.parent.parent / "labels" / f"{path.stem}.txt"
        expected = sorted(
            (class_names[int(c)], *(round(float(v), 3) for v in box))
            for c, *box in (line.split() for line in label_file.read_text().splitlines())
        )
        assert found == expected, example["id"]
        assert objects["id"] == list(range(len(expected))), "each box's place in its record's detections"
        pixels.append(read["pixel_values"][0])
        labels.append(read["labels"][0])
    torch.manual_seed(0)
    model = RTDetrForObjectDetection(small_rtdetr_config(names))
    loss = model(pixel_values=torch.stack(pixels), labels=labels).loss
    assert torch.isfinite(loss) and loss > 0
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "## Training a detector" in card and f"one of {len(names)} labels as given" in card
    # and back: extraction takes the export's objects (beside its detections) as ground truth, as the records were
    run_extraction(
        ExtractConfig(images=str(tmp_path / "ds"), output=str(tmp_path / "back.jsonl"), detections_from="labels")
    )
    made = {line.record["image"]: line.record for line in iter_jsonl(cv)}
    back = [line.record for line in iter_jsonl(tmp_path / "back.jsonl")]
    assert sorted(record["image"] for record in back) == sorted(made)
    for record in back:
        original = made[record["image"]]
        assert [d["label"] for d in record["detections"]] == [d["label"] for d in original["detections"]]
        for read, written in zip(record["detections"], original["detections"], strict=True):
            assert read["bbox"] == pytest.approx(written["bbox"], abs=2e-6), record["image"]
        assert record["scene"]["class"] == original["scene"]["class"]
        assert record["split"] == {"train": "train", "validation": "val"}[split_of[record["image"]]]


def test_an_hf_export_s_detections_are_no_labels_unless_named_and_then_read_as_its_normalised_corners(
    tiny_demo, tmp_path
):
    """Read back as ground truth, an hf export without --objects has predictions only (`detections`, at any
    confidence): refused, naming --objects, where its 0..1 corners were read as COCO pixels (boxes a thousandth of
    a photo, in its corner); named with objects_column, read as what they are. Another tool's `detections` column
    is read as before."""
    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.describer.exports import export

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    described = tmp_path / "described.jsonl"
    described.write_text(
        "".join(json.dumps({"id": line.record["image"], "description": "."}) + "\n" for line in iter_jsonl(cv))
    )
    export("hf", described, tmp_path / "ds", cv, tiny_demo / "data.yaml")
    with pytest.raises(ValueError, match="--objects"):
        run_extraction(
            ExtractConfig(images=str(tmp_path / "ds"), output=str(tmp_path / "no.jsonl"), detections_from="labels")
        )
    named = ExtractConfig(
        images=str(tmp_path / "ds"),
        output=str(tmp_path / "back.jsonl"),
        detections_from="labels",
        objects_column="detections",
    )
    run_extraction(named)
    made = {line.record["image"]: line.record for line in iter_jsonl(cv)}
    for line in iter_jsonl(tmp_path / "back.jsonl"):
        original = made[line.record["image"]]["detections"]
        assert [d["label"] for d in line.record["detections"]] == [d["label"] for d in original]
        for read, written in zip(line.record["detections"], original, strict=True):
            assert read["bbox"] == pytest.approx(written["bbox"], abs=2e-6)
    # another tool's dataset with a `detections` column (no desclm description beside it) is its ground truth as ever
    import datasets

    box = {
        "label": datasets.Value("string"),
        "confidence": datasets.Value("float64"),
        "bbox": datasets.List(datasets.Value("float64")),
    }
    features = datasets.Features({"image": datasets.Image(), "detections": datasets.List(box)})
    photo = next(iter(made))
    width, height = made[photo]["width"], made[photo]["height"]
    row = {"image": {"bytes": (tiny_demo / photo).read_bytes(), "path": "a.jpg"}}
    row["detections"] = [
        {"label": "can", "confidence": 1.0, "bbox": [0.25 * width, 0.5 * height, 0.5 * width, 0.25 * height]}
    ]
    datasets.Dataset.from_list([row], features=features).save_to_disk(str(tmp_path / "theirs"))
    run_extraction(
        ExtractConfig(images=str(tmp_path / "theirs"), output=str(tmp_path / "theirs.jsonl"), detections_from="labels")
    )
    (theirs,) = [line.record for line in iter_jsonl(tmp_path / "theirs.jsonl")]
    assert [(d["label"], d["bbox"]) for d in theirs["detections"]] == [("can", [0.25, 0.5, 0.75, 0.75])], "COCO pixels"


def test_the_objects_columns_hold_the_stated_boxes_and_a_row_that_cannot_be_placed_costs_that_row(described):
    """The boxes below the describer's threshold stay in `detections` and out of `objects`; a detection without a
    box, or a photo that cannot be read for its size, costs its row (its error says so); the labels as given, spaces
    and all, are the categories."""
    import datasets

    from helpers.core.contract import Policy
    from helpers.describer.exports import export
    from helpers.describer.options import ExportOptions

    folder, records, _ = described
    unplaced = {**records[3], "detections": [*records[3]["detections"], {"label": "can", "confidence": 0.9}]}
    written = [unplaced if index == 3 else record for index, record in enumerate(records)]
    (folder / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in written), encoding="utf-8")
    (folder / "photos" / records[4]["image"]).write_bytes(b"no photo")  # read, but no size to put its boxes in
    finished = _export(folder, "hf", "ds", "--cv", "cv.jsonl", "--images", "photos", "--objects")
    assert finished.returncode == 1, finished.stderr
    why = {problem.get("id"): problem["error"] for problem in _errors(folder, "ds")}
    assert set(why) == {"broken.jpg", records[5]["image"], records[3]["image"], records[4]["image"]}, why
    assert "bbox" in why[records[3]["image"]] and "photo not readable for its size" in why[records[4]["image"]]
    dataset = datasets.load_from_disk(str(folder / "ds"))
    names = dataset.features["objects"]["category"].feature.names
    stated = [d for r in written for d in r["detections"] if d["confidence"] >= Policy.min_confidence]
    assert names == list(dict.fromkeys(d["label"] for d in stated)), "every stated label as given, first met first"
    assert any(name != name.strip() for name in names), "the fixture's labels with spaces, kept"
    for example in dataset:
        record = next(r for r in records if r["image"] == example["id"])
        kept = [i for i, d in enumerate(record["detections"]) if d["confidence"] >= Policy.min_confidence]
        assert len(example["detections"]) == len(record["detections"]), "every detection, at any confidence"
        assert example["objects"]["id"] == kept
        assert [names[c] for c in example["objects"]["category"]] == [record["detections"][i]["label"] for i in kept]
        for index, box in zip(kept, example["objects"]["bbox"], strict=True):
            x1, y1, x2, y2 = record["detections"][index]["bbox"]
            width, height = record["width"], record["height"]
            expected = [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height]
            assert box == pytest.approx(expected, abs=0.01)
    with pytest.raises(ValueError, match="give --cv and --images"):
        export("hf", folder / "described.jsonl", folder / "ds2", folder / "cv.jsonl", objects=True)
    with pytest.raises(ValueError, match="--objects: the object-detection columns are the hf export's, not llava's"):
        ExportOptions(described="described.jsonl", format="llava", output="l.json", objects=True)


def test_the_objects_boxes_are_in_pixels_of_the_photo_as_datasets_decodes_it_turned_or_shrunk(tmp_path):
    """A photo stored on its side (EXIF orientation 6) kept as stored: `datasets` turns it upright, and its width,
    height and boxes are the upright photo's (the records' boxes are); shrunk by --max_side, the shrunk photo's."""
    import datasets

    from helpers.core.photo_rewrite import PhotoRewrite
    from helpers.describer.exports import export

    (tmp_path / "photos").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 40 wide and 20 high; seen 20 wide and 40 high
    Image.new("RGB", (40, 20), (90, 60, 30)).save(tmp_path / "photos" / "side.jpg", exif=exif)
    record = {"image": "side.jpg", "detections": [{"label": "can", "confidence": 0.9, "bbox": [0.5, 0.25, 1.0, 0.5]}]}
    (tmp_path / "cv.jsonl").write_text(json.dumps(record) + "\n")
    (tmp_path / "described.jsonl").write_text(json.dumps({"id": "side.jpg", "description": "A can."}) + "\n")
    for rewrite, size, box in (
        (PhotoRewrite(), (20, 40), [10, 10, 10, 10]),
        (PhotoRewrite(10), (5, 10), [2.5, 2.5, 2.5, 2.5]),
    ):
        output = tmp_path / f"ds{rewrite.max_side}"
        counts = export(
            "hf",
            tmp_path / "described.jsonl",
            output,
            tmp_path / "cv.jsonl",
            tmp_path / "photos",
            rewrite=rewrite,
            objects=True,
        )
        assert counts["exported"] == 1, counts
        example = datasets.load_from_disk(str(output))[0]
        assert example["image"].size == (example["width"], example["height"]) == size
        assert example["objects"]["bbox"] == [box] and example["objects"]["area"] == [box[2] * box[3]]


def test_coco_instances_need_the_records_and_each_row_its_size(tmp_path):
    from helpers.describer.exports import export

    (tmp_path / "described.jsonl").write_text(
        json.dumps({"id": "a.jpg", "description": "A bottle."})
        + "\n"
        + json.dumps({"id": "b.jpg", "description": "."})
        + "\n"
    )
    box = {"label": "plastic", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]}
    records = [
        {"image": "a.jpg", "detections": [box], "scene": None},  # no size, no photo to read it from
        {"image": "b.jpg", "width": 10, "height": 10, "detections": [{**box, "bbox": None}], "scene": None},
    ]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(ValueError, match="--cv"):
        export("coco_instances", tmp_path / "described.jsonl", tmp_path / "out.json")
    counts = export("coco_instances", tmp_path / "described.jsonl", tmp_path / "out.json", tmp_path / "cv.jsonl")
    assert (counts["exported"], counts["problems"]) == (0, 2)
    errors = _errors(tmp_path, "out.json")
    assert "no width and height" in errors[0]["error"] and "detections[0] has no bbox" in errors[1]["error"]
    assert json.loads((tmp_path / "out.json").read_text())["images"] == []


def test_a_yolo_export_of_labelled_photos_reads_back_as_their_labels(tiny_demo, tmp_path):
    """Records made from a data.yaml's labels, exported as a YOLO dataset: Ultralytics' dataset check takes
    it, and read back as a data.yaml each photo has the boxes and names it had; a box below the describer's
    threshold is left out and a photo without boxes gets an empty label file (a background image)."""
    from ultralytics.data.utils import check_det_dataset, img2label_paths

    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.cv.sources import open_image_source
    from helpers.describer.exports import export

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    records = [line.record for line in iter_jsonl(cv)]
    records[0]["detections"] = []  # a clean photo
    records[1]["detections"].append({"label": "tire", "confidence": 0.2, "bbox": [0.1, 0.1, 0.3, 0.3]})
    cv.write_text("".join(json.dumps(r) + "\n" for r in records))
    described = tmp_path / "described.jsonl"
    described.write_text("".join(json.dumps({"id": r["image"], "description": "Litter."}) + "\n" for r in records))
    counts = export("yolo", described, tmp_path / "yolo", cv, tiny_demo / "data.yaml")
    assert (counts["exported"], counts["problems"], counts["photos_written"]) == (12, 0, 12)
    checked = check_det_dataset(str(tmp_path / "yolo" / "data.yaml"))
    assert "tire" not in checked["names"].values()  # below the describer's threshold
    given = {item.key: item for item in open_image_source(tiny_demo / "data.yaml").items}
    original = open_image_source(tiny_demo / "data.yaml")
    exported = open_image_source(tmp_path / "yolo" / "data.yaml")
    assert len(exported.items) == 12
    for item in exported.items:
        key = item.key.removeprefix("images/")
        want = [] if key == records[0]["image"] else original.truth_boxes(given[key])
        assert [label for label, _ in exported.truth_boxes(item)] == [label for label, _ in want]
        for (_, ours), (_, theirs) in zip(exported.truth_boxes(item), want):
            assert ours == pytest.approx(theirs, abs=1e-5)
    clean = img2label_paths([str(tmp_path / "yolo" / "images" / records[0]["image"])])[0]
    assert Path(clean).read_text() == ""  # where Ultralytics looks: `images` -> `labels` in the path
    found = export("yolo", described, tmp_path / "other", cv)  # no --images: the photos cv's manifest names
    assert (found["exported"], found["problems"], found["photos_written"]) == (12, 0, 12)


def test_a_yolo_export_with_splits_puts_each_photo_in_its_split_s_folders_as_ultralytics_reads_them(
    tiny_demo, tmp_path
):
    """`--splits records` (or shares) on the yolo export: `images/<split>/`, labels where Ultralytics looks, and a
    data.yaml whose train, val and test name them (Ultralytics' dataset check takes it); each photo in the split
    its record names, with its labels; names the yolo export has no key for are refused."""
    from ultralytics.data.utils import check_det_dataset

    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.cv.sources import open_image_source
    from helpers.describer.exports import export
    from helpers.describer.selection import SplitPlan

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    records = [line.record for line in iter_jsonl(cv)]
    described = tmp_path / "described.jsonl"
    described.write_text("".join(json.dumps({"id": r["image"], "description": "Litter."}) + "\n" for r in records))
    counts = export(
        "yolo", described, tmp_path / "yolo", cv, tiny_demo / "data.yaml", splits=SplitPlan.parse("records")
    )
    assert (counts["exported"], counts["problems"]) == (12, 0)
    assert counts["splits"] == {"train": 8, "validation": 2, "test": 2}
    spec = check_det_dataset(str(tmp_path / "yolo" / "data.yaml"))
    assert Path(spec["val"]).name == "validation" and Path(spec["test"]).name == "test"
    exported = open_image_source(tmp_path / "yolo" / "data.yaml")
    original = open_image_source(tiny_demo / "data.yaml")
    truth = {item.key: original.truth_boxes(item) for item in original.items}
    splits = {"train": "train", "val": "validation", "test": "test"}
    for item in exported.items:
        folder, key = item.key.removeprefix("images/").split("/", 1)
        record = next(r for r in records if r["image"] == key)
        assert folder == splits[record["split"]] and item.split == record["split"]
        assert [label for label, _ in exported.truth_boxes(item)] == [label for label, _ in truth[key]]
    assert sorted(item.key.split("/", 2)[2] for item in exported.items) == sorted(truth)
    for refused in ("a=0.5,b=0.5", "train=0.5,val=0.25,validation=0.25", "val=0.5,test=0.5"):
        with pytest.raises(ValueError, match="the yolo export's are train"):
            export("yolo", described, tmp_path / "other", cv, tiny_demo / "data.yaml", splits=SplitPlan.parse(refused))
    # another export into the folder: none of the first one's photos left where Ultralytics trains or validates
    plan = SplitPlan.parse("train=0.5,val=0.5", seed=1)
    counts = export("yolo", described, tmp_path / "yolo", cv, tiny_demo / "data.yaml", splits=plan)
    photos = sorted(path.relative_to(tmp_path / "yolo/images") for path in (tmp_path / "yolo/images").rglob("*.jpg"))
    assert [(path.parts[0], path.relative_to(path.parts[0]).as_posix()) for path in photos] == sorted(
        (plan.split_of(key), key) for key in truth
    ) and counts["photos_written"] == 12
    again = export("yolo", described, tmp_path / "yolo", cv, tiny_demo / "data.yaml", splits=plan)
    assert (again["photos_written"], again["photos_kept"]) == (0, 12), "the same export again: its copies kept"
    (tmp_path / "theirs/images").mkdir(parents=True)  # a folder no desclm export wrote: nothing removed
    with pytest.raises(ValueError, match="holds images that no desclm export wrote"):
        export("yolo", described, tmp_path / "theirs", cv, tiny_demo / "data.yaml")
    assert (tmp_path / "theirs/images").is_dir()


def test_llava_and_coco_exports_with_splits_write_a_file_per_split_that_together_are_the_unsplit_export(
    tiny_demo, tmp_path
):
    """`--splits` on the one-file exports: `<stem>_<split>.json` beside the output, each photo in its split's file
    (records: its record's; shares: the seeded hash of its key), together the unsplit export's photos, boxes and
    entries; every split's coco_instances file gives a label the unsplit file's category id (a detector trains on one
    split and validates on another), each loading in pycocotools; the photos copied once to one folder."""
    from pycocotools.coco import COCO

    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.describer.exports import export
    from helpers.describer.selection import SplitPlan

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    records = {line.record["image"]: line.record for line in iter_jsonl(cv)}
    described = tmp_path / "described.jsonl"
    described.write_text("".join(json.dumps({"id": key, "description": f"Photo {key}."}) + "\n" for key in records))
    photos = tiny_demo / "data.yaml"
    export("coco_instances", described, tmp_path / "whole.json", cv, photos)
    counts = export(
        "coco_instances", described, tmp_path / "out/instances.json", cv, photos, image_folder=tmp_path / "photos",
        splits=SplitPlan.parse("records"),
    )  # fmt: skip
    assert counts["splits"] == {"train": 8, "validation": 2, "test": 2} and counts["photos_written"] == 12
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "instances_test.json", "instances_train.json", "instances_validation.json"
    ]  # fmt: skip
    whole = json.loads((tmp_path / "whole.json").read_text())
    categories = {c["id"]: c["name"] for c in whole["categories"]}

    def boxes(data: dict) -> dict[str, list]:
        names = {c["id"]: c["name"] for c in data["categories"]}
        files = {image["id"]: image["file_name"] for image in data["images"]}
        found: dict[str, list] = {name: [] for name in files.values()}
        for annotation in data["annotations"]:
            found[files[annotation["image_id"]]].append((names[annotation["category_id"]], annotation["bbox"]))
        return found

    together: dict[str, list] = {}
    first_labels = set()
    hub = {"train": "train", "val": "validation", "test": "test"}
    for name in ("train", "validation", "test"):
        path = tmp_path / f"out/instances_{name}.json"
        data = json.loads(path.read_text())
        assert {c["id"]: c["name"] for c in data["categories"]} == categories, name
        assert len(COCO(str(path)).getImgIds()) == counts["splits"][name]
        found = boxes(data)
        assert {hub[records[key]["split"]] for key in found} == {name}
        assert all((tmp_path / "photos" / key).is_file() for key in found)
        together |= found
        first_labels.add(categories[data["annotations"][0]["category_id"]])
    assert together == boxes(whole)
    assert len(first_labels) > 1, "the splits meet their labels in different orders: ids by split would differ"
    export("llava", described, tmp_path / "whole_llava.json", cv, photos)
    plan = SplitPlan.parse("train=0.5,test=0.5", seed=1)
    counts = export("llava", described, tmp_path / "llava/llava.json", cv, photos, splits=plan)
    entries = {name: json.loads((tmp_path / f"llava/llava_{name}.json").read_text()) for name in ("train", "test")}
    assert {name: len(found) for name, found in entries.items()} == counts["splits"]
    assert all(plan.split_of(entry["image"]) == name for name, found in entries.items() for entry in found)
    unsplit = json.loads((tmp_path / "whole_llava.json").read_text())
    assert sorted(entries["train"] + entries["test"], key=lambda e: e["id"]) == sorted(unsplit, key=lambda e: e["id"])
    stale = tmp_path / "llava/llava_validation.json"  # an earlier run's file of a split this run leaves empty
    stale.write_text(json.dumps([{"id": "old", "image": "gone.jpg"}]))
    lopsided = SplitPlan.parse("train=0.999,validation=0.001")
    counts = export("llava", described, tmp_path / "llava/llava.json", cv, photos, splits=lopsided)
    assert counts["splits"] == {"train": 12, "validation": 0} and json.loads(stale.read_text()) == []
    with pytest.raises(
        ValueError, match="splits: the hf, webdataset, yolo, llava, grounded, florence2, coco, coco_instances exports'"
    ):
        export("csv", described, tmp_path / "out.csv", cv, splits=plan)
    named = tmp_path / "rows_train.jsonl"  # an input where a split's file would go
    named.write_bytes(described.read_bytes())
    with pytest.raises(ValueError, match="rows_train.jsonl is an input file"):
        export("llava", named, tmp_path / "rows.jsonl", cv, photos, splits=plan)
    assert named.read_bytes() == described.read_bytes()


def test_the_one_file_exports_read_their_inputs_once_and_a_failure_leaves_every_earlier_file(described, monkeypatch):
    """At 10^7 photos a pass over the described and CV files takes minutes: coco_instances with three splits reads
    them once (it read them seven times: a pass to count, then two a split, images and annotations), the unsplit
    coco export once (twice). Its files are renamed into place together: a failure part-way leaves each split's
    earlier file as it was and no temporary file."""
    import helpers.describer.exports as exports
    from helpers.describer.selection import SplitPlan

    folder, _, _ = described
    passes, joined_rows = [], exports.joined_rows

    def counted(*arguments, **keywords):
        passes.append(1)
        return joined_rows(*arguments, **keywords)

    monkeypatch.setattr(exports, "joined_rows", counted)
    plan = SplitPlan.parse("train=0.4,val=0.3,test=0.3", seed=2)
    out = folder / "out" / "instances.json"
    counts = exports.export("coco_instances", folder / "described.jsonl", out, folder / "cv.jsonl", splits=plan)
    assert len(passes) == 1 and sum(counts["splits"].values()) == counts["exported"] > 0
    passes.clear()
    exports.export("coco", folder / "described.jsonl", folder / "captions.json", folder / "cv.jsonl")
    assert len(passes) == 1 and json.loads((folder / "captions.json").read_text())["annotations"]

    earlier = {path.name: path.read_bytes() for path in out.parent.iterdir()}
    assert {f"instances_{name}.json" for name in ("train", "val", "test")} <= earlier.keys()
    sizes, size = [], exports._size

    def failing(row, photos):  # the fourth photo's size: a failure of any kind, mid-pass
        sizes.append(row)
        if len(sizes) == 4:
            raise RuntimeError("mid-pass")
        return size(row, photos)

    monkeypatch.setattr(exports, "_size", failing)
    with pytest.raises(RuntimeError, match="mid-pass"):
        exports.export(
            "coco_instances",
            folder / "described.jsonl",
            out,
            folder / "cv.jsonl",
            splits=SplitPlan.parse("train=0.4,val=0.3,test=0.3", seed=3),
        )
    assert {path.name: path.read_bytes() for path in out.parent.iterdir()} == earlier


_SPLIT_LABEL = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_SPLIT_PHOTO = st.tuples(
    st.sampled_from(["a", "b", "flight 3", "ü"]),  # its folder
    st.lists(st.tuples(_SPLIT_LABEL, st.floats(0.01, 1.0)), max_size=4),  # its detections: label, confidence
)


@given(
    photos=st.lists(_SPLIT_PHOTO, min_size=1, max_size=12),
    shares=st.sampled_from(["train=0.5,val=0.5", "train=0.8,validation=0.1,test=0.1", "a=0.3,b=0.7"]),
    split_by=st.sampled_from(["photo", "folder"]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=25, deadline=None)
def test_split_files_hold_the_unsplit_export_s_photos_each_once_with_one_category_id_a_label(
    tmp_path_factory, photos, shares, split_by, seed
):
    """Any photos, labels (any text) and plan: each photo in the file of the split the plan gives it, the files
    together the unsplit coco_instances export (its images, boxes and labels), and every file's categories the
    unsplit file's; a split no photo fell in a file of none."""
    from helpers.describer.exports import export, split_output
    from helpers.describer.selection import SplitPlan

    folder = tmp_path_factory.mktemp("split")
    cv, described = folder / "cv.jsonl", folder / "described.jsonl"
    records = [
        {
            "image": f"{where}/{number}.jpg",
            "width": 40,
            "height": 30,
            "detections": [
                {"label": label, "confidence": score, "bbox": [0.1, 0.2, 0.5, 0.6]} for label, score in found
            ],
        }
        for number, (where, found) in enumerate(photos)
    ]
    cv.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    rows = [{"id": record["image"], "description": f"Photo {n}."} for n, record in enumerate(records)]
    described.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    plan = SplitPlan.parse(shares, split_by, seed)
    export("coco_instances", described, folder / "whole.json", cv)
    counts = export("coco_instances", described, folder / "split.json", cv, splits=plan)
    whole = json.loads((folder / "whole.json").read_text(encoding="utf-8"))

    def boxes(data: dict) -> dict[str, list]:
        names = {category["id"]: category["name"] for category in data["categories"]}
        found = {image["id"]: (image["file_name"], []) for image in data["images"]}
        for annotation in data["annotations"]:
            found[annotation["image_id"]][1].append((names[annotation["category_id"]], annotation["bbox"]))
        return dict(found.values())

    together: dict[str, list] = {}
    for name in plan.names:
        path = split_output(folder / "split.json", name)
        data = json.loads(path.read_text(encoding="utf-8"))  # a split of no photo too: no file of a run before
        assert data["categories"] == whole["categories"]
        found = boxes(data)
        assert all(plan.split_of(key) == name for key in found) and len(found) == counts["splits"][name]
        assert not together.keys() & found.keys()
        together |= found
    assert together == boxes(whole)


def test_csv_opens_as_a_spreadsheet_row_per_photo(described):
    folder, records, rows = described
    assert _export(folder, "csv", "described.csv", "--cv", "cv.jsonl").returncode == 1
    with open(folder / "described.csv", encoding="utf-8-sig", newline="") as file:
        table = list(csv.DictReader(file))
    assert [t["id"] for t in table] == [r["id"] for r in rows]
    assert [[t[f"caption_{k}"] for k in (1, 2, 3)] for t in table] == [r["captions"] for r in rows]
    assert table[0]["detections"] == "1 × Wendy's 7up-can"


def test_an_export_never_writes_over_its_inputs(described):
    folder, _, _ = described
    before = (folder / "described.jsonl").read_bytes()
    for fmt, output in (("csv", "described.jsonl"), ("coco", "cv.jsonl"), ("hf", ".")):
        finished = _export(folder, fmt, output, "--cv", "cv.jsonl")
        assert finished.returncode == 2 and "error" in finished.stderr, (fmt, finished.stderr)
    assert (folder / "described.jsonl").read_bytes() == before and (folder / "cv.jsonl").exists()


def test_a_cv_record_that_cannot_be_read_costs_its_own_row(described):
    import datasets

    folder, records, rows = described
    broken = [
        {**r, "detections": [{"label": "plastic", "confidence": "high"}]} if i == 1 else r
        for i, r in enumerate(records)
    ]
    (folder / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in broken), encoding="utf-8")
    assert _export(folder, "hf", "ds", "--cv", "cv.jsonl").returncode == 1
    assert records[1]["image"] in {p.get("id") for p in _errors(folder, "ds")}
    assert datasets.load_from_disk(str(folder / "ds"))["id"] == [
        r["id"] for r in rows if r["id"] != records[1]["image"]
    ]
    # the exports that read the detections: the row listed, the others written (each stopped the export)
    from helpers.describer.exports import export

    high = {**records[1], "detections": [{"label": "can", "confidence": "high", "bbox": [0.1, 0.1, 0.2, 0.2]}]}
    (folder / "cv_high.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [records[0], high, *records[2:]]))
    for fmt, output in (
        ("coco_instances", "i.json"),
        ("yolo", "yolo"),
        ("grounded", "g.jsonl"),
        ("label_studio", "t.json"),
    ):
        counts = export(fmt, folder / "described.jsonl", folder / output, folder / "cv_high.jsonl", folder / "photos")
        why = {p.get("id"): p["error"] for p in _errors(folder, output)}
        assert "confidence" in why[records[1]["image"]] and counts["exported"] >= len(rows) - 2, (fmt, why)


def test_rows_sharing_an_id_each_take_their_own_record_in_order(tmp_path):
    """A photo listed twice is described twice; each row gets the record it was described from."""
    from helpers.describer.exports import export

    records = [
        {"image": "a.jpg", "detections": [], "scene": {"class": scene, "confidence": 0.9}}
        for scene in ("grass", "sand", "water")
    ]
    rows = [{"id": "a.jpg", "description": f"On {scene}.", "source": "model"} for scene in ("grass", "sand", "water")]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (tmp_path / "described.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    export("csv", tmp_path / "described.jsonl", tmp_path / "out.csv", tmp_path / "cv.jsonl")
    lines = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [line.split(",")[2] for line in lines] == ["grass", "sand", "water"]


@pytest.mark.parametrize("fmt", ["llava", "coco", "coco_instances", "csv", "webdataset", "geojson"])
def test_an_export_streams_its_inputs_so_memory_stays_flat(tmp_path, fmt):
    """10^7 described photos must not be held in memory: the rows are joined and written as read."""
    import tracemalloc

    from helpers.describer.exports import export

    def write_inputs(folder: Path, count: int) -> None:
        folder.mkdir(exist_ok=True)
        with (folder / "cv.jsonl").open("w") as cv, (folder / "described.jsonl").open("w") as described:
            for index in range(count):
                record = {"image": f"p{index}.jpg", "detections": [], "scene": {"class": "grass", "confidence": 0.9}}
                record["taken"] = {"latitude": 47.0 + index / 1e6, "longitude": 8.0}  # where it was (geojson)
                cv.write(json.dumps({**record, "width": 640, "height": 480}) + "\n")
                described.write(json.dumps({"id": f"p{index}.jpg", "description": "Nothing on grass."}) + "\n")

    # a first export of two rows imports what the format's writers import (the card's, the progress bar's, the
    # output lock's): modules, however the tests before this one ran, are no rows held
    write_inputs(tmp_path / "warm", 2)
    export(fmt, tmp_path / "warm" / "described.jsonl", tmp_path / "warm" / f"out.{fmt}", tmp_path / "warm" / "cv.jsonl")
    count = 20_000
    write_inputs(tmp_path, count)
    inputs = (tmp_path / "cv.jsonl").stat().st_size + (tmp_path / "described.jsonl").stat().st_size
    tracemalloc.start()
    result = export(fmt, tmp_path / "described.jsonl", tmp_path / f"out.{fmt}", tmp_path / "cv.jsonl")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result["exported"] == count
    assert peak < inputs / 10, f"peak {peak} bytes for {inputs} bytes of input"


def test_the_data_yaml_01_read_finds_its_photos_through_the_cv_outputs_manifest(tiny_demo, tmp_path):
    """`--images data.yaml` (as given to 01) names a file, not the folder the keys are relative to: the
    CV output's manifest says which; the gallery without --images shows the photos it names."""
    from helpers.core.io import iter_jsonl
    from helpers.cv.extract import ExtractConfig, run_extraction
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    cv = tmp_path / "cv.jsonl"
    run_extraction(ExtractConfig(images=str(tiny_demo / "data.yaml"), output=str(cv), detections_from="labels"))
    keys = [line.record["image"] for line in iter_jsonl(cv)]
    assert len(keys) == 12 and all(key.count("/") == 2 for key in keys), keys  # train/images/x.jpg
    described = tmp_path / "described.jsonl"
    described.write_text(
        "".join(json.dumps({"id": key, "description": "No litter is visible."}) + "\n" for key in keys)
    )
    counts = export(
        "llava", described, tmp_path / "llava.json", cv, tiny_demo / "data.yaml", image_folder=tmp_path / "photos"
    )
    assert (counts["exported"], counts["photos_written"], counts["problems"]) == (12, 12, 0)
    assert all((tmp_path / "photos" / key).read_bytes() == (tiny_demo / key).read_bytes() for key in keys)
    for images in (tiny_demo / "data.yaml", None):
        page = write_gallery(described, tmp_path / f"page_{images is None}" / "g.html", images, cv)
        assert (page["photos"], page["problems"]) == (12, 0), images
        assert len(list((tmp_path / f"page_{images is None}" / "g_thumbs").glob("*.jpg"))) == 12
    with pytest.raises(ValueError, match="is a file: give the folder"):
        export("llava", described, tmp_path / "other.json", None, tiny_demo / "data.yaml", image_folder=tmp_path / "p2")


class _Killed(BaseException):
    """Stands for a kill: nothing in the export catches it."""


def _killed_at_a_read(monkeypatch) -> tuple[list[str], list[int]]:
    """(the photo keys read so far, [n]): the nth photo read (0: none) raises `_Killed`, as a kill would."""
    from helpers.core.photo_datasets import PhotoKeys

    reads, kill_at, read_bytes = [], [0], PhotoKeys.read_bytes

    def counted(self, key):
        reads.append(key)
        if len(reads) == kill_at[0]:
            raise _Killed
        return read_bytes(self, key)

    monkeypatch.setattr(PhotoKeys, "read_bytes", counted)
    return reads, kill_at


def _small_photos_described(tmp_path, monkeypatch, count: int, missing: int | None = None) -> Path:
    """`count` small photos (`photos/p00.png`, ...; the `missing` one described, then gone), their CV records
    (`cv.jsonl`) and described rows with an error row at line 9; an hf export's shard closes every two examples
    (with `shard_bytes=1`). Returns the described file."""
    import helpers.describer.hf_dataset as hf_dataset

    (tmp_path / "photos").mkdir()
    rows, records = [], []
    for index in range(count):
        name = f"p{index:02d}.png"
        if index != missing:
            Image.new("RGB", (8 + index, 8), (index * 10, 0, 0)).save(tmp_path / "photos" / name)
        records.append({"image": name, "detections": [], "scene": {"class": "grass", "confidence": 0.9}})
        rows.append({"id": name, "description": f"Photo {index}.", "source": "grammar"})
    rows.insert(8, {"id": "broken.png", "error": "line 9: not described"})
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    described = tmp_path / "described.jsonl"
    described.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(hf_dataset, "BATCH_ROWS", 2)
    return described


def test_a_killed_hf_export_resumes_after_its_last_complete_shard(tmp_path, monkeypatch):
    """An hf export of 10^7 photos takes hours: killed part way, a rerun reads only the photos after its
    last complete shard and makes the dataset (and problems) an uninterrupted export makes; other inputs
    start it over."""
    import datasets

    from helpers.describer.exports import export_sharded

    described = _small_photos_described(tmp_path, monkeypatch, 12, missing=4)
    reads, kill_at = _killed_at_a_read(monkeypatch)

    def run(output: str):
        return export_sharded(
            "hf", described, tmp_path / "cv.jsonl", tmp_path / output, tmp_path / "photos", shard_bytes=1
        )

    whole = run("whole")
    assert whole[:2] == (12, 11) and [p.get("id") for p in whole[2]] == ["broken.png", "p04.png"]
    reads.clear()
    kill_at[0] = 9  # p08 (p04 failed): three shards of two complete, p06 and p07 in none yet
    with pytest.raises(_Killed):
        run("resumed")
    progress = json.loads((tmp_path / ".resumed.partial" / "progress.json").read_text())
    assert progress["shards"] == [2, 2, 2] and not (tmp_path / "resumed").exists()
    reads.clear()
    kill_at[0] = 0
    assert run("resumed") == whole
    assert reads == ["p07.png", "p08.png", "p09.png", "p10.png", "p11.png"], "only what no complete shard held"
    for output in ("whole", "resumed"):
        assert not (tmp_path / f".{output}.partial").exists()
    saved = [datasets.load_from_disk(str(tmp_path / output)) for output in ("whole", "resumed")]
    assert saved[0].to_list() == saved[1].to_list() and len(saved[0]) == 11
    card = (tmp_path / "whole/README.md").read_text(encoding="utf-8")
    assert (tmp_path / "resumed/README.md").read_text(encoding="utf-8") == card, "counted over the shards kept too"
    assert "| photos | 11 |" in card and "| rows not exported | 2 (listed" in card
    assert saved[1][10]["image"].size == (19, 8) and saved[1]["id"][3:5] == ["p03.png", "p05.png"]
    parquet = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "resumed/parquet/*.parquet"), cache_dir=str(tmp_path / "cache")
    )["train"]
    assert parquet.to_list() == saved[1].to_list()

    # killed again, then the described file changes: the rerun starts over
    reads.clear()
    kill_at[0] = 5  # at p04: two shards complete
    with pytest.raises(_Killed):
        run("changed")
    with described.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"id": "p00.png", "description": "Photo 0 again.", "source": "grammar"}) + "\n")
    reads.clear()
    kill_at[0] = 0
    changed = run("changed")  # the new row has no CV record of its own: a join problem
    assert changed[:2] == (12, 11) and len(changed[2]) == 3 and len(reads) == 12, "every photo read again, not 8"

    # killed, then run again asking for the chat columns: a dataset of other columns, so it starts over
    reads.clear()
    kill_at[0] = 5
    with pytest.raises(_Killed):
        run("columns")
    reads.clear()
    kill_at[0] = 0
    chat = export_sharded(
        "hf",
        described,
        tmp_path / "cv.jsonl",
        tmp_path / "columns",
        tmp_path / "photos",
        shard_bytes=1,
        chat_prompt="?",
    )
    assert chat == changed and len(reads) == 12, "every photo read again, not 8"
    completions = datasets.load_from_disk(str(tmp_path / "columns"))["completion"]
    assert [turns[0]["content"][0]["text"] for turns in completions][:2] == ["Photo 0.", "Photo 1."]


def test_a_parquet_only_hf_export_writes_the_same_parquet_shards_alone_and_resumes(tmp_path, monkeypatch):
    """`parquet_only`: the photos on disk once. The Parquet shards an hf export writes beside its Arrow files,
    byte for byte, and nothing of the Arrow layout; the folder loads by its name (the card's `configs`), whose
    loading section says so and whose `dataset_info` counts the data; killed part way, it resumes after its last
    complete shard into the same files; a partial export of the other layout starts over."""
    import datasets
    from huggingface_hub import DatasetCard

    from helpers.describer.exports import export_sharded

    described = _small_photos_described(tmp_path, monkeypatch, 12, missing=4)
    reads, kill_at = _killed_at_a_read(monkeypatch)

    def run(output: str, parquet_only: bool = True):
        arguments = (described, tmp_path / "cv.jsonl", tmp_path / output, tmp_path / "photos")
        return export_sharded("hf", *arguments, shard_bytes=1, parquet_only=parquet_only)

    both, alone = run("both", parquet_only=False), run("alone")
    assert alone == both and alone[:2] == (12, 11)
    shards = sorted(path.name for path in (tmp_path / "both/parquet").iterdir())
    assert sorted(path.name for path in (tmp_path / "alone").iterdir()) == ["README.md", "parquet"]
    assert len(shards) == 6 and sorted(path.name for path in (tmp_path / "alone/parquet").iterdir()) == shards
    assert all(
        (tmp_path / "alone/parquet" / n).read_bytes() == (tmp_path / "both/parquet" / n).read_bytes() for n in shards
    )
    loaded = datasets.load_dataset(str(tmp_path / "alone"), cache_dir=str(tmp_path / "cache"), split="train")
    assert loaded.to_list() == datasets.load_from_disk(str(tmp_path / "both")).to_list()
    card = DatasetCard.load(tmp_path / "alone/README.md")
    assert "load_from_disk(" not in card.text and "Parquet shards alone" in card.text
    assert card.data.to_dict()["dataset_info"]["splits"][0]["num_bytes"] > 0

    reads.clear()
    kill_at[0] = 9  # at p08: three shards complete
    with pytest.raises(_Killed):
        run("resumed", parquet_only=False)  # the other layout, part way
    reads.clear()
    with pytest.raises(_Killed):
        run("resumed")
    assert len(reads) == 9, "the other layout's shards were not taken: read from the start"
    reads.clear()
    kill_at[0] = 0
    assert run("resumed") == alone
    assert reads == ["p07.png", "p08.png", "p09.png", "p10.png", "p11.png"], "only what no complete shard held"
    assert sorted(path.name for path in (tmp_path / "resumed/parquet").iterdir()) == shards
    assert all(
        (tmp_path / "resumed/parquet" / n).read_bytes() == (tmp_path / "alone/parquet" / n).read_bytes() for n in shards
    )


def test_a_killed_export_writing_photos_on_workers_resumes_with_each_problem_once(tmp_path, monkeypatch):
    """With photo workers the rows are read ahead of those written: a bad line read ahead when a shard closed is
    not yet the complete shards' problem, so a resumed export names it once, as an uninterrupted one does."""
    from helpers.core.photo_rewrite import PhotoRewrite
    from helpers.describer.exports import export_sharded

    described = _small_photos_described(tmp_path, monkeypatch, 20)  # line 9: a problem of the join
    reads, kill_at = _killed_at_a_read(monkeypatch)

    def run(output: str):
        return export_sharded(
            "hf",
            described,
            None,
            tmp_path / output,
            tmp_path / "photos",
            shard_bytes=1,
            rewrite=PhotoRewrite(max_side=6),
            workers=2,
        )

    whole = run("whole")
    assert whole[:2] == (20, 20) and [p["line"] for p in whole[2]] == [9]
    reads.clear()
    # Reads lead writes by 5 photos (2 x 2 workers waiting, and the one written): when the shard of p06 and p07
    # closed (line 8), p08 (line 10) to p12 had been read past line 9; killed at the next read.
    kill_at[0] = 14
    with pytest.raises(_Killed):
        run("resumed")
    progress = json.loads((tmp_path / ".resumed.partial" / "progress.json").read_text())
    assert progress["line"] == 8 and progress["problems"] == [], "line 9 is after the complete shards"
    kill_at[0] = 0
    assert run("resumed") == whole


def test_an_hf_export_of_no_photo_loads_with_its_columns(tmp_path):
    import datasets

    from helpers.describer.exports import export_sharded

    (tmp_path / "described.jsonl").write_text(json.dumps({"id": "a.jpg", "error": "bad"}) + "\n", encoding="utf-8")
    assert export_sharded("hf", tmp_path / "described.jsonl", None, tmp_path / "ds", None)[:2] == (0, 0)
    saved = datasets.load_from_disk(str(tmp_path / "ds"))
    assert len(saved) == 0 and saved.column_names == ["id", "description", "captions", "source"]


def test_splits_are_a_folder_each_loading_as_a_dataset_dict_with_every_photo_once(tmp_path, monkeypatch):
    """`--splits train=0.5,validation=0.25,test=0.25`: the photos an export of one split holds, each once, in the
    split a seeded hash of its key gives, each example as that export wrote it; `load_from_disk` reads a
    DatasetDict, and so does `load_dataset` by the card's `configs`, whose `dataset_info` counts each split; the
    problems said once (the error row's too)."""
    import datasets
    from huggingface_hub import DatasetCard

    from helpers.describer.exports import export_sharded
    from helpers.describer.selection import SplitPlan

    described = _small_photos_described(tmp_path, monkeypatch, 12, missing=4)
    plan = SplitPlan((("train", 0.5), ("validation", 0.25), ("test", 0.25)), seed=3)
    arguments = (described, tmp_path / "cv.jsonl")
    whole = export_sharded("hf", *arguments, tmp_path / "whole", tmp_path / "photos", shard_bytes=1)
    split = export_sharded(
        "hf", *arguments, tmp_path / "split", tmp_path / "photos", shard_bytes=1, splits=plan, license="odc-by"
    )
    assert split == whole, "the same rows, examples and problems, the error row's once"
    every = datasets.load_from_disk(str(tmp_path / "whole")).to_list()
    saved = datasets.load_from_disk(str(tmp_path / "split"))
    assert isinstance(saved, datasets.DatasetDict) and list(saved) == ["train", "validation", "test"]
    by_split = {name: saved[name].to_list() for name in saved}
    assert all(by_split.values()), "a photo in each split (seed 3)"
    assert sorted(row["id"] for rows in by_split.values() for row in rows) == sorted(row["id"] for row in every)
    for name, rows in by_split.items():
        assert rows == [row for row in every if plan.split_of(row["id"]) == name], name
    loaded = datasets.load_dataset(str(tmp_path / "split"), cache_dir=str(tmp_path / "cache"))
    assert {name: loaded[name]["id"] for name in loaded} == {name: saved[name]["id"] for name in saved}
    card = DatasetCard.load(tmp_path / "split/README.md")
    infos = card.data.to_dict()["dataset_info"]["splits"]
    assert card.data.license == "odc-by"
    assert {info["name"]: info["num_examples"] for info in infos} == {
        name: len(rows) for name, rows in by_split.items()
    }
    assert "| train |" in card.text and "hash of the photo and seed 3" in card.text
    assert sorted(path.name for path in (tmp_path / "split/test/parquet").iterdir())[0].startswith("test-00000-of-")
    assert not list(tmp_path.glob(".split*")), "no work folder left"
    # a split no photo fell in is left out: `load_dataset` refuses a split of nothing
    lopsided = SplitPlan((("train", 0.999), ("test", 0.001)))
    export_sharded("hf", *arguments, tmp_path / "lopsided", tmp_path / "photos", shard_bytes=1, splits=lopsided)
    assert list(datasets.load_from_disk(str(tmp_path / "lopsided"))) == ["train"]
    assert list(datasets.load_dataset(str(tmp_path / "lopsided"), cache_dir=str(tmp_path / "cache2"))) == ["train"]


def test_a_killed_split_export_goes_on_in_the_split_it_stopped_in(tmp_path, monkeypatch):
    """WebDataset shards in a folder per split: killed in the second split, a rerun keeps the first (its photos
    not read again) and goes on after the second's last complete shard, into the files an uninterrupted export
    writes; `load_dataset` reads the splits by the card."""
    import datasets

    from helpers.describer.exports import export_sharded
    from helpers.describer.selection import SplitPlan

    described = _small_photos_described(tmp_path, monkeypatch, 12)
    plan = SplitPlan((("train", 0.6), ("validation", 0.4)), seed=1)
    reads, kill_at = _killed_at_a_read(monkeypatch)

    def run(output: str):
        arguments = (described, tmp_path / "cv.jsonl", tmp_path / output, tmp_path / "photos")
        return export_sharded("webdataset", *arguments, shard_bytes=1, splits=plan)

    whole = run("whole")
    order = list(reads)
    first = [key for key in order if plan.split_of(key) == "train"]
    assert 0 < len(first) < len(order) == 12 and order == first + [k for k in order if k not in first]
    reads.clear()
    kill_at[0] = len(first) + 2  # the second split's second photo: its first shard complete
    with pytest.raises(_Killed):
        run("resumed")
    reads.clear()
    kill_at[0] = 0
    assert run("resumed") == whole
    assert reads == order[len(first) + 1 :], "the first split kept, the second after its complete shard"
    for name in plan.names:
        shards = sorted(path.name for path in (tmp_path / "whole" / name).glob("*.tar"))
        assert shards and all(
            (tmp_path / "resumed" / name / shard).read_bytes() == (tmp_path / "whole" / name / shard).read_bytes()
            for shard in shards
        )
    loaded = datasets.load_dataset(str(tmp_path / "resumed"), cache_dir=str(tmp_path / "cache"))
    assert sorted(loaded) == ["train", "validation"] and len(loaded["train"]) == len(first)
    # the folder of splits is tar shards to desclm too (checked, extracted): each split's, keyed by its folder
    from helpers.core.photo_datasets import IMAGE_SUFFIXES
    from helpers.core.tar_photos import is_tar_shards, shard_photos
    from helpers.describer.check import read_captions

    assert sorted(line.key for line in read_captions(tmp_path / "resumed")) == sorted(order)
    keys = [key for key, _ in shard_photos(tmp_path / "resumed", IMAGE_SUFFIXES)]
    assert len(keys) == 12 and keys[0].startswith("train/00000.tar/") and keys[-1].startswith("validation/")
    (tmp_path / "photos" / "old").mkdir()
    (tmp_path / "photos" / "old" / "backup.tar").write_bytes((tmp_path / "resumed/train/00000.tar").read_bytes())
    assert not is_tar_shards(tmp_path / "photos", IMAGE_SUFFIXES), "photos with a tar below are photos"


def test_a_split_plan_is_seeded_shares_by_photo_or_folder_and_refuses_what_is_no_plan():
    """Each photo's split from a hash of the seed and its key (or folder): about its share of many photos, the
    same whatever the order, another for another seed; by folder, a folder's photos together."""
    from helpers.describer.selection import SplitPlan

    plan = SplitPlan.parse("train=0.8, validation=0.15,test=0.05", seed=7)
    keys = [f"flight{index // 50}/IMG_{index:05d}.JPG" for index in range(4000)]
    counted = {name: sum(plan.split_of(key) == name for key in keys) for name in plan.names}
    for name, share in plan.shares:
        spread = (len(keys) * share * (1 - share)) ** 0.5
        assert abs(counted[name] - len(keys) * share) < 5 * spread, counted
    assert [plan.split_of(key) for key in reversed(keys)] == [plan.split_of(key) for key in keys][::-1]
    reseeded = SplitPlan(plan.shares, seed=8)
    assert sum(plan.split_of(key) != reseeded.split_of(key) for key in keys) > 500
    flights = SplitPlan(plan.shares, "folder", 7)
    for flight in range(80):
        assert len({flights.split_of(key) for key in keys[flight * 50 : (flight + 1) * 50]}) == 1
    assert len({flights.split_of(key) for key in keys}) == 3
    for text in ("train=0.9", "train=0.5,validation=0.6", "train=0.5,train=0.5", "train=x,val=0.5", "train,val=1"):
        with pytest.raises(ValueError, match="splits"):
            SplitPlan.parse(text)


def test_splits_records_keeps_a_labelled_dataset_s_own_splits_and_says_which_photos_have_none(tmp_path, monkeypatch):
    """`--splits records`: each photo in the split its CV record names (a data.yaml's train/val/test, as the Hub
    names them: validation); a photo whose record names none is in no split, a problem said once."""
    import datasets

    from helpers.describer.exports import export, export_sharded
    from helpers.describer.selection import SplitPlan

    described = _small_photos_described(tmp_path, monkeypatch, 12)
    said = ["train"] * 6 + ["val"] * 3 + ["test", "TEST", None]
    records = [json.loads(line) for line in (tmp_path / "cv.jsonl").read_text().splitlines()]
    records = [record | ({"split": split} if split else {}) for record, split in zip(records, said, strict=True)]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    arguments = (described, tmp_path / "cv.jsonl", tmp_path / "out", tmp_path / "photos")
    plan = SplitPlan.parse("records")
    rows, written, problems = export_sharded("hf", *arguments, shard_bytes=1, splits=plan)
    saved = datasets.load_from_disk(str(tmp_path / "out"))
    assert {name: saved[name]["id"] for name in saved} == {
        "train": [f"p{i:02d}.png" for i in range(6)],
        "validation": ["p06.png", "p07.png", "p08.png"],
        "test": ["p09.png", "p10.png"],
    }
    assert [problem["id"] for problem in problems] == ["broken.png", "p11.png"] and written == 11
    assert "names no split" in problems[1]["error"]
    counts = export("webdataset", described, tmp_path / "wds", tmp_path / "cv.jsonl", tmp_path / "photos", splits=plan)
    assert counts["splits"] == {"train": 6, "validation": 3, "test": 2} and counts["exported"] == 11


def test_captions_a_check_kept_export_as_a_row_a_photo(described, tmp_path):
    """`desclm export verdicts.jsonl --verdict faithful`: a vision-language model's captions that agree with the
    detections as training data, a row a photo of its chosen captions one after another in the verdicts (a model's
    several answers; apart in the file, rows apart): llava a conversation a caption, coco a photo's captions under one
    image, hf a photo's captions in its row; a sample draws photos with all their chosen captions; or, `--verdict
    unfaithful`, Label Studio tasks to review (the caption to correct, the stated boxes, what the check found); a
    line the check could not check is a problem. An export that writes each photo's detections once takes no
    verdicts; `--verdict` takes no described rows."""
    from helpers.core.answer_boxes import AnswerUnits
    from helpers.describer.check import check_file
    from helpers.describer.exports import export
    from helpers.describer.options import ExportOptions
    from helpers.describer.selection import Selection

    folder, records, rows = described
    wrong = "Nine pieces of glass."
    lines = [{"id": row["id"], "caption": caption} for row in rows for caption in [*row["captions"], wrong]]
    lines.append({"id": "not_a_photo.jpg", "caption": wrong})
    lines.append({"id": rows[0]["id"], "caption": rows[0]["description"]})  # the first photo again, apart
    (tmp_path / "captions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    verdicts = tmp_path / "verdicts.jsonl"
    check_file(folder / "cv.jsonl", tmp_path / "captions.jsonl", verdicts, workers=0)
    checked = [json.loads(line) for line in verdicts.read_text().splitlines()]
    faithful = [(line["id"], line["caption"]) for line, v in zip(lines, checked, strict=True) if v.get("faithful")]
    assert len(faithful) == sum(len(row["captions"]) for row in rows) + 1, "the grammar's captions, each faithful"
    by_photo = [(row["id"], row["captions"]) for row in rows] + [(rows[0]["id"], [rows[0]["description"]])]
    image_of = {record["image"]: record["image"] for record in records}
    kept = Selection(verdict="faithful")

    counts = export("llava", verdicts, tmp_path / "kept.jsonl", folder / "cv.jsonl", selection=kept)
    entries = [json.loads(line) for line in (tmp_path / "kept.jsonl").read_text().splitlines()]
    assert [(entry["image"], entry["conversations"][1]["value"]) for entry in entries] == [
        (image_of[key], caption) for key, caption in faithful
    ]
    assert counts["exported"] == len(by_photo) and counts["problems"] == 1, "the line the check could not check"

    export("coco", verdicts, tmp_path / "coco.json", folder / "cv.jsonl", selection=kept)
    coco = json.loads((tmp_path / "coco.json").read_text())
    names = {image["id"]: image["file_name"] for image in coco["images"]}
    assert len(names) == len(by_photo), "a photo's captions, one after another, under one image"
    assert [(names[a["image_id"]], a["caption"]) for a in coco["annotations"]] == [
        (image_of[k], c) for k, c in faithful
    ]
    counts = export("csv", verdicts, tmp_path / "all.csv", folder / "cv.jsonl")
    assert counts["exported"] == len(by_photo), "every photo's captions checked, kept or not, in its row"
    export("hf", verdicts, tmp_path / "dataset", folder / "cv.jsonl", folder / "photos", selection=kept)
    from datasets import load_from_disk

    dataset = load_from_disk(str(tmp_path / "dataset"))
    written = [(row["id"], row["captions"]) for row in dataset.remove_columns("image")]
    gone = records[5]["image"]  # (its photo went missing: its row's problem)
    assert written == [(key, captions) for key, captions in by_photo if key != gone]
    card = (tmp_path / "dataset" / "README.md").read_text()
    assert "Captions written elsewhere" in card and "chosen by --verdict faithful" in card, "the card says which"

    export("llava", verdicts, tmp_path / "two.jsonl", folder / "cv.jsonl", sample=(2, 3), selection=kept)
    drawn = [json.loads(line) for line in (tmp_path / "two.jsonl").read_text().splitlines()]
    groups = [(image, [e["conversations"][1]["value"] for e in group]) for image, group in
              itertools.groupby(drawn, key=lambda entry: entry["image"])]  # fmt: skip
    assert len(groups) == 2 and all(group in by_photo for group in groups), "two photos, each with all its captions"

    review = tmp_path / "review.json"
    sample = (2, 7)
    export(
        "label_studio", verdicts, review, folder / "cv.jsonl", folder / "photos", sample=sample,
        selection=Selection(verdict="unfaithful"),
    )  # fmt: skip
    tasks = json.loads(review.read_text())
    texts = [result["value"]["text"] for task in tasks for result in task["predictions"][0]["result"]
             if result["type"] == "textarea"]  # fmt: skip
    assert len(tasks) == 2 and texts == [[wrong]] * 2, "the caption to correct"
    invented = "invented category (glass): the record's none, the caption's 9 \u2014 \u201cNine pieces of glass\u201d"
    assert all(invented in task["data"]["findings"].split("\n") for task in tasks), "what the check found, in words"
    config = (tmp_path / "review.label_config.xml").read_text()
    assert '<Text name="findings" value="$findings"/>' in config, "the config shows them"
    boxes = [sum(result["type"] == "rectanglelabels" for result in task["predictions"][0]["result"]) for task in tasks]
    record_of = {record["image"]: record for record in records}
    assert boxes == [len(_stated(record_of[task["data"]["photo_id"]])) for task in tasks], "the boxes to correct"
    again = tmp_path / "again.json"
    export("label_studio", verdicts, again, folder / "cv.jsonl", folder / "photos", sample=sample,
           selection=Selection(verdict="unfaithful"))  # fmt: skip
    assert again.read_text() == review.read_text(), "the same sample for the same seed"
    export("label_studio", verdicts, tmp_path / "all.json", folder / "cv.jsonl", folder / "photos")
    first = json.loads((tmp_path / "all.json").read_text())[0]  # its four captions, three faithful, one not
    said = first["data"]["findings"].split("\n")
    assert said[:3] == [f"caption {n}: nothing: faithful" for n in (1, 2, 3)] and said[3].startswith("caption 4: ")

    with pytest.raises(ValueError, match="verdicts, a row a caption"):
        export("coco_instances", verdicts, tmp_path / "instances.json", folder / "cv.jsonl")
    with pytest.raises(ValueError, match="--answer boxes writes each photo's CV detections"):
        export("llava", verdicts, tmp_path / "boxes.jsonl", folder / "cv.jsonl", boxes=AnswerUnits())
    with pytest.raises(ValueError, match="holds described rows, not desclm check's verdicts"):
        export("llava", folder / "described.jsonl", tmp_path / "d.jsonl", selection=Selection(verdict="faithful"))
    with pytest.raises(ValueError, match="--verdict must be one of"):
        ExportOptions(described="verdicts.jsonl", format="llava", output="x.jsonl", verdict="wrong")


def _stated(record: dict) -> list[dict]:
    """The detections a description states (at the default threshold) with a box."""
    return [d for d in record["detections"] if d["confidence"] >= 0.5 and d.get("bbox")]


def test_openai_batch_requests_send_each_photo_and_their_answers_check_back(described, tmp_path, caplog):
    """`desclm export --format openai_batch`: a request a described photo in the OpenAI Batch API's input layout (vLLM's
    run-batch reads the same), its custom_id the photo's id, its user turn the photo (a data URL of its bytes as
    stored, or shrunk with --max_side; or a URL, --url_prefix then its key, no photo read) and the prompt; a photo
    that cannot be read is its row's problem, one in a format OpenAI's API does not take warned of. A server
    answering each request with the photo's description gives an output file desclm check finds faithful, every
    answer joined to its record."""
    import base64

    from helpers.core.photo_rewrite import PhotoRewrite
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.check import check_file
    from helpers.describer.exports import export
    from helpers.describer.options import CAPTION_PROMPT, ExportOptions

    folder, records, rows = described
    asked = BatchRequests("Qwen/Qwen2.5-VL-7B-Instruct", 64)
    requests = tmp_path / "requests.jsonl"
    counts = export("openai_batch", folder / "described.jsonl", requests, images=folder / "photos", requests=asked)
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    gone = records[5]["image"]
    assert [line["custom_id"] for line in lines] == [row["id"] for row in rows if row["id"] != gone]
    assert counts["exported"] == len(lines) and counts["problems"] == 2, "the photo gone, the error row"
    for line in lines:
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        body = line["body"]
        assert (body["model"], body["max_completion_tokens"]) == (asked.model, 64)
        (turn,) = body["messages"]
        photo, text = turn["content"]
        assert turn["role"] == "user" and text == {"type": "text", "text": CAPTION_PROMPT}
        header, encoded = photo["image_url"]["url"].split(",", 1)
        assert header == "data:image/jpeg;base64", "the photo itself"
        assert base64.b64decode(encoded) == (folder / "photos" / line["custom_id"]).read_bytes(), "as stored"

    shrunk = tmp_path / "shrunk.jsonl"
    rewrite = PhotoRewrite(max_side=16, image_format="png")
    export(
        "openai_batch", folder / "described.jsonl", shrunk, images=folder / "photos", requests=asked, rewrite=rewrite
    )
    url = json.loads(shrunk.read_text().splitlines()[0])["body"]["messages"][0]["content"][0]["image_url"]["url"]
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        assert url.startswith("data:image/png;base64,") and max(image.size) == 16

    by_url = tmp_path / "by_url.jsonl"
    prefix = "file:///data/photos/"
    counts = export("openai_batch", folder / "described.jsonl", by_url, url_prefix=prefix, requests=asked)
    urls = [json.loads(line)["body"]["messages"][0]["content"][0]["image_url"]["url"] for line in by_url.open()]
    assert urls == [prefix + row["id"] for row in rows] and counts["problems"] == 1, "no photo read: none gone"

    # an output that is no .jsonl file is a folder of parts, each as large as OpenAI's Batch API takes (here 2)
    from helpers.describer import exports

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(exports.BATCH_APIS, "openai_batch", replace(exports.BATCH_APIS["openai_batch"], most_requests=2))
        export("openai_batch", folder / "described.jsonl", tmp_path / "parts", images=folder / "photos", requests=asked)
    parts = sorted((tmp_path / "parts").iterdir())
    assert [part.name for part in parts] == [f"requests-{n:05d}.jsonl" for n in range((len(lines) + 1) // 2)]
    assert "".join(part.read_text() for part in parts) == requests.read_text(), "the same requests, in order"

    # a server answering each request with the photo's description: its output file checks faithful
    description = {row["id"]: row["description"] for row in rows}
    results = []
    for number, line in enumerate(lines):
        message = {"role": "assistant", "content": description[line["custom_id"]]}
        body = {"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        response = {"status_code": 200, "request_id": f"r{number}", "body": body}
        results.append(
            {"id": f"batch_req_{number}", "custom_id": line["custom_id"], "response": response, "error": None}
        )
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(result) + "\n" for result in results))
    summary = check_file(folder / "cv.jsonl", tmp_path / "results.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    assert summary["checked"] == summary["faithful"] == len(lines) and summary["errors"] == 0
    # the parts' output files, one per part, in a folder: read one after another
    (tmp_path / "results").mkdir()
    for number in range(len(parts)):
        part = results[2 * number : 2 * number + 2]
        (tmp_path / "results" / f"requests-{number:05d}.out.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in part)
        )
    summary = check_file(folder / "cv.jsonl", tmp_path / "results", tmp_path / "by_part.jsonl", workers=0)
    assert summary["checked"] == summary["faithful"] == len(lines)
    assert (tmp_path / "by_part.jsonl").read_text() == (tmp_path / "verdicts.jsonl").read_text()

    # a photo in a format OpenAI's API does not take is warned of, and sent as JPEG when asked
    (tmp_path / "tiff").mkdir()
    Image.new("RGB", (20, 10), (200, 30, 30)).save(tmp_path / "tiff" / "t.tif")
    (tmp_path / "tiff.jsonl").write_text(json.dumps({"id": "t.tif", "description": "No litter."}) + "\n")
    for rewrite, media in ((PhotoRewrite(), "image/tiff"), (PhotoRewrite(image_format="jpeg"), "image/jpeg")):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            export("openai_batch", tmp_path / "tiff.jsonl", tmp_path / "t.jsonl", images=tmp_path / "tiff",
                   requests=asked, rewrite=rewrite)  # fmt: skip
        url = json.loads((tmp_path / "t.jsonl").read_text())["body"]["messages"][0]["content"][0]["image_url"]["url"]
        assert url.startswith(f"data:{media};base64,")
        told = "1 photos are sent in a format OpenAI's Batch API does not take (it takes JPEG, PNG, WEBP, GIF)"
        assert (told in caplog.text) == (media == "image/tiff")

    with pytest.raises(ValueError, match="--model: each openai_batch request names the model"):
        ExportOptions(described="d.jsonl", format="openai_batch", output="r.jsonl")
    with pytest.raises(
        ValueError, match="--num_answers, --temperature, --system_prompt: the batch exports' requests, not"
    ):
        ExportOptions(described="d.jsonl", format="llava", output="r.jsonl", model="m")
    with pytest.raises(ValueError, match="send each photo: give them"):
        export("openai_batch", folder / "described.jsonl", tmp_path / "none.jsonl", requests=asked)


def test_gemini_batch_requests_send_each_photo_and_their_answers_check_back(described, tmp_path, caplog):
    """`desclm export --format gemini_batch`: a request a described photo in the Gemini Batch API's input layout
    (`key`, `request`: a GenerateContentRequest of one user turn, the photo's bytes as `inline_data`, or its URI as
    `file_data` with the media type its name tells, and the prompt; no model, which the batch names when created).
    A photo sent by a URI whose name tells no media type is its row's problem. Gemini answering each request with the
    photo's description gives an output file desclm check finds faithful."""
    import base64

    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.check import check_file
    from helpers.describer.exports import export
    from helpers.describer.options import CAPTION_PROMPT, ExportOptions

    folder, records, rows = described
    asked = ExportOptions(described="d.jsonl", format="gemini_batch", output="r.jsonl", max_tokens=48).requests
    assert asked == BatchRequests("", 48, "gemini_batch")
    requests = tmp_path / "requests.jsonl"
    counts = export("gemini_batch", folder / "described.jsonl", requests, images=folder / "photos", requests=asked)
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    gone = records[5]["image"]
    assert [line["key"] for line in lines] == [row["id"] for row in rows if row["id"] != gone]
    assert counts["exported"] == len(lines) and counts["problems"] == 2, "the photo gone, the error row"
    for line in lines:
        assert set(line) == {"key", "request"} and set(line["request"]) == {"contents", "generation_config"}
        assert line["request"]["generation_config"] == {"max_output_tokens": 48}
        (turn,) = line["request"]["contents"]
        photo, text = turn["parts"]
        assert turn["role"] == "user" and text == {"text": CAPTION_PROMPT}
        assert photo["inline_data"]["mime_type"] == "image/jpeg"
        assert base64.b64decode(photo["inline_data"]["data"]) == (folder / "photos" / line["key"]).read_bytes()

    prefix = "gs://survey-photos/2026/"
    (tmp_path / "named.jsonl").write_text(
        (folder / "described.jsonl").read_text() + json.dumps({"id": "frames/0001", "description": "No litter."}) + "\n"
    )
    counts = export("gemini_batch", tmp_path / "named.jsonl", tmp_path / "by_uri.jsonl", url_prefix=prefix,
                    requests=asked)  # fmt: skip
    parts = [json.loads(line)["request"]["contents"][0]["parts"][0] for line in (tmp_path / "by_uri.jsonl").open()]
    assert parts == [{"file_data": {"mime_type": "image/jpeg", "file_uri": prefix + row["id"]}} for row in rows]
    problems = [json.loads(line) for line in (tmp_path / "by_uri.jsonl.errors.jsonl").read_text().splitlines()]
    assert problems[-1] == {
        "id": "frames/0001",
        "error": "photo not sent: frames/0001: its media type is not told by its name (frames/0001)",
    }
    assert counts["problems"] == 2, "the error row, the photo of no type"

    # Gemini answering each request with the photo's description (a thought first): its output file checks faithful
    description = {row["id"]: row["description"] for row in rows}
    results = []
    for line in lines:
        parts = [{"text": "The photo shows...", "thought": True}, {"text": description[line["key"]]}]
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
        results.append({"key": line["key"], "response": {"candidates": [candidate], "modelVersion": "gemini"}})
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(result) + "\n" for result in results))
    summary = check_file(folder / "cv.jsonl", tmp_path / "results.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    assert summary["checked"] == summary["faithful"] == len(lines) and summary["errors"] == 0

    # a TIFF is sent, and warned of: Gemini takes PNG, JPEG, WEBP, HEIC and HEIF
    (tmp_path / "tiff").mkdir()
    Image.new("RGB", (20, 10), (200, 30, 30)).save(tmp_path / "tiff" / "t.tif")
    (tmp_path / "tiff.jsonl").write_text(json.dumps({"id": "t.tif", "description": "No litter."}) + "\n")
    with caplog.at_level(logging.WARNING):
        export("gemini_batch", tmp_path / "tiff.jsonl", tmp_path / "t.jsonl", images=tmp_path / "tiff",
               requests=asked)  # fmt: skip
    assert "1 photos are sent in a format the Gemini Batch API does not take (it takes PNG, JPEG, WEBP" in caplog.text

    with pytest.raises(ValueError, match="--model: a gemini_batch request names no model"):
        ExportOptions(described="d.jsonl", format="gemini_batch", output="r.jsonl", model="gemini-2.5-flash")
    with pytest.raises(ValueError, match="requests: the openai_batch, gemini_batch, anthropic_batch exports'"):
        export("gemini_batch", folder / "described.jsonl", tmp_path / "x.jsonl", images=folder / "photos",
               requests=BatchRequests("m"))  # fmt: skip


def test_anthropic_batch_requests_name_photos_as_anthropic_takes_and_their_results_check_back(
    described, tmp_path, caplog
):
    """`desclm export --format anthropic_batch`: a request a described photo as Anthropic's Message Batches take them
    (`custom_id`, `params`: model, max_tokens, one user turn of the photo, a base64 image block or a url source, and
    the prompt). A photo's id Anthropic's custom_id cannot be (`[A-Za-z0-9_-]{1,64}`: a key has dots) is sent as its
    digest, and desclm check joins the results back to the photo's record, its verdict naming the photo's own id; a
    digest of no record's id is its error line. Photos larger than Anthropic takes are warned of."""
    import base64

    from helpers.describer import exports
    from helpers.describer.batch_requests import anthropic_id
    from helpers.describer.check import check_file
    from helpers.describer.options import CAPTION_PROMPT, ExportOptions

    folder, records, rows = described
    options = ExportOptions(described="d.jsonl", format="anthropic_batch", output="r.jsonl", model="claude-x",
                            max_tokens=96)  # fmt: skip
    requests = tmp_path / "requests.jsonl"
    counts = exports.export("anthropic_batch", folder / "described.jsonl", requests, images=folder / "photos",
                            requests=options.requests)  # fmt: skip
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    sent = [row["id"] for row in rows if row["id"] != records[5]["image"]]
    assert [line["custom_id"] for line in lines] == [anthropic_id(key) for key in sent]
    assert all(re.fullmatch(r"h[0-9a-f]{32}", line["custom_id"]) for line in lines), "keys with dots: digests"
    assert len({line["custom_id"] for line in lines}) == len(lines) and counts["exported"] == len(lines)
    for line, key in zip(lines, sent, strict=True):
        params = line["params"]
        assert (params["model"], params["max_tokens"]) == ("claude-x", 96)
        (turn,) = params["messages"]
        photo, text = turn["content"]
        assert turn["role"] == "user" and text == {"type": "text", "text": CAPTION_PROMPT}
        assert (photo["type"], photo["source"]["type"], photo["source"]["media_type"]) == (
            "image",
            "base64",
            "image/jpeg",
        )
        assert base64.b64decode(photo["source"]["data"]) == (folder / "photos" / key).read_bytes()
    assert anthropic_id("IMG_0001") == "IMG_0001" and anthropic_id("17") == "17", "an id Anthropic takes, as it is"

    by_url = tmp_path / "by_url.jsonl"
    exports.export("anthropic_batch", folder / "described.jsonl", by_url, url_prefix="https://photos.example/",
                   requests=options.requests)  # fmt: skip
    sources = [json.loads(line)["params"]["messages"][0]["content"][0]["source"] for line in by_url.open()]
    assert sources == [{"type": "url", "url": "https://photos.example/" + row["id"]} for row in rows]

    # Anthropic's results, in any order, joined back by digest: verdicts name the photos' own ids
    description = {anthropic_id(row["id"]): row["description"] for row in rows}
    results = []
    for line in reversed(lines):
        content = [{"type": "text", "text": description[line["custom_id"]]}]
        message = {"type": "message", "role": "assistant", "content": content, "stop_reason": "end_turn"}
        results.append({"custom_id": line["custom_id"], "result": {"type": "succeeded", "message": message}})
    unknown = {"type": "succeeded", "message": {"content": [{"type": "text", "text": "No litter."}]}}
    results.append({"custom_id": anthropic_id("gone/elsewhere.jpg"), "result": unknown})
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(result) + "\n" for result in results))
    summary = check_file(folder / "cv.jsonl", tmp_path / "results.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    verdicts = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert [verdict["id"] for verdict in verdicts[:-1]] == sent[::-1]
    assert summary["checked"] == summary["faithful"] == len(lines) and summary["errors"] == 1
    assert verdicts[-1]["error"] == (
        f"line {len(results)}: no CV record in cv.jsonl has id {anthropic_id('gone/elsewhere.jpg')!r}"
    )

    with caplog.at_level(logging.WARNING), pytest.MonkeyPatch.context() as patch:
        small = replace(exports.BATCH_APIS["anthropic_batch"], most_photo_bytes=100)
        patch.setitem(exports.BATCH_APIS, "anthropic_batch", small)
        exports.export("anthropic_batch", folder / "described.jsonl", tmp_path / "big.jsonl", images=folder / "photos",
                       requests=options.requests)  # fmt: skip
    assert f"{len(lines)} photos are larger than Anthropic's Message Batches API takes" in caplog.text

    with pytest.raises(ValueError, match="--max_tokens: each anthropic_batch request says its max_tokens"):
        ExportOptions(described="d.jsonl", format="anthropic_batch", output="r.jsonl", model="claude-x")
    with pytest.raises(ValueError, match="--model: each anthropic_batch request names the model"):
        ExportOptions(described="d.jsonl", format="anthropic_batch", output="r.jsonl", max_tokens=9)


def test_verdicts_of_batch_answers_about_numbered_records_export_joined_to_them(tmp_path):
    """Records whose ids are numbers are asked about by custom_ids that spell them (`"17"`): their verdicts name the
    records' own ids, so an export of the verdicts with --cv joins each to its record (it named `"17"`, which no
    record has, and every row was a problem)."""
    from helpers.describer.check import check_file
    from helpers.describer.exports import export
    from helpers.describer.selection import Selection

    records = [{"id": n, "image": f"p{n}.jpg", "detections": [{"label": "metal", "confidence": 0.9}]} for n in (7, 17)]
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    message = {"role": "assistant", "content": "A piece of metal."}
    answers = [
        {"custom_id": str(n), "response": {"status_code": 200, "body": {"choices": [{"message": message}]}}}
        for n in (17, 7)
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(answer) + "\n" for answer in answers))
    check_file(tmp_path / "cv.jsonl", tmp_path / "results.jsonl", tmp_path / "verdicts.jsonl", workers=0)
    counts = export("csv", tmp_path / "verdicts.jsonl", tmp_path / "kept.csv", cv=tmp_path / "cv.jsonl",
                    selection=Selection(verdict="faithful"))  # fmt: skip
    assert (counts["exported"], counts["problems"]) == (2, 0)
    with open(tmp_path / "kept.csv", encoding="utf-8-sig", newline="") as table:
        assert [(row["id"], row["image"]) for row in csv.DictReader(table)] == [("17", "p17.jpg"), ("7", "p7.jpg")]


def test_batch_requests_ask_about_photos_of_cv_records_not_yet_described(described, tmp_path):
    """01's CV records are the batch requests' input as they are (a model asked before, or instead of, the
    describer): a request a record, named by its id, its photo found as the records' manifest says (or --images); the
    other exports refuse CV records with what to do, and the gallery shows them as they are (not joined to --cv)."""
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery

    folder, records, rows = described
    asked = BatchRequests("m", 16)
    (folder / "cv.manifest.json").write_text(json.dumps({"image_root": str(folder / "photos")}))
    counts = export("openai_batch", folder / "cv.jsonl", tmp_path / "asked.jsonl", requests=asked)
    lines = [json.loads(line) for line in (tmp_path / "asked.jsonl").read_text().splitlines()]
    gone = records[5]["image"]
    assert [line["custom_id"] for line in lines] == [record["image"] for record in records if record["image"] != gone]
    assert (counts["exported"], counts["problems"]) == (len(records) - 1, 1), "the photo gone"
    export("openai_batch", folder / "described.jsonl", tmp_path / "of_described.jsonl", images=folder / "photos",
           requests=asked)  # fmt: skip
    assert (tmp_path / "asked.jsonl").read_text() == (tmp_path / "of_described.jsonl").read_text(), "the same requests"
    sample = export("openai_batch", folder / "cv.jsonl", tmp_path / "s.jsonl", requests=asked, sample=(3, 0))
    assert sample["exported"] <= 3 and (tmp_path / "s.jsonl").read_text().count("\n") == sample["exported"]
    twice = (folder / "cv.jsonl").read_text() + (folder / "cv.jsonl").read_text().splitlines(keepends=True)[0]
    (tmp_path / "twice.jsonl").write_text(twice)  # an id repeated (shards merged twice): asked about once
    counts = export("openai_batch", tmp_path / "twice.jsonl", tmp_path / "once.jsonl", images=folder / "photos",
                    requests=asked)  # fmt: skip
    assert (tmp_path / "once.jsonl").read_text() == (tmp_path / "asked.jsonl").read_text()
    assert counts["exported"] == len(lines)

    with pytest.raises(ValueError, match="holds CV records, not described rows: the llava export writes"):
        export("llava", folder / "cv.jsonl", tmp_path / "x.json")
    with pytest.raises(ValueError, match="holds CV records: leave out cv"):
        export("openai_batch", folder / "cv.jsonl", tmp_path / "y.jsonl", cv=folder / "cv.jsonl", requests=asked)
    with pytest.raises(ValueError, match="holds CV records, shown as they are"):
        write_gallery(folder / "cv.jsonl", tmp_path / "page.html", cv=folder / "cv.jsonl")


def test_exports_that_need_the_photos_find_them_where_the_cv_records_manifest_says(described, tmp_path):
    """label_studio (Label Studio's local files), yolo and the batch requests cannot go without the photos: given
    --cv and no --images, they are where the records' manifest says (01's photo folder), as the gallery finds them;
    the same files as with --images. Without a manifest, the error says to give them."""
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.exports import export

    folder, _, _ = described
    cv, photos = folder / "cv.jsonl", folder / "photos"
    for fmt, name in (("label_studio", "tasks.json"), ("openai_batch", "asked.jsonl"), ("yolo", "yolo")):
        asked = BatchRequests("m") if fmt == "openai_batch" else None
        with pytest.raises(ValueError, match="give (the photos )?.*--images"):
            export(fmt, folder / "described.jsonl", tmp_path / "none" / name, cv, requests=asked)
    (folder / "cv.manifest.json").write_text(json.dumps({"image_root": str(photos)}))
    for fmt, name in (("label_studio", "tasks.json"), ("openai_batch", "asked.jsonl"), ("yolo", "yolo")):
        asked = BatchRequests("m") if fmt == "openai_batch" else None
        found = export(fmt, folder / "described.jsonl", tmp_path / "found" / name, cv, requests=asked)
        given = export(fmt, folder / "described.jsonl", tmp_path / "given" / name, cv, photos, requests=asked)
        assert found == {**given, "output": found["output"]} and found["exported"] > 0, fmt
        written = {
            where: {p.relative_to(tmp_path / where / name).as_posix(): p.read_bytes()
                    for p in sorted((tmp_path / where / name).rglob("*")) if p.is_file()}
            if (tmp_path / where / name).is_dir() else (tmp_path / where / name).read_bytes()
            for where in ("found", "given")
        }  # fmt: skip
        if fmt == "yolo":  # its data.yaml names its own folder
            for files in written.values():
                files.pop("data.yaml")
                files.pop(".desclm_export.json", None)
        assert written["found"] == written["given"], fmt


def test_batch_requests_ask_again_about_the_photos_whose_captions_a_check_chose(tmp_path, caplog):
    """`desclm export verdicts.jsonl --verdict unfaithful --format openai_batch`: a request a photo whose captions the
    check found unfaithful (to ask again, another prompt or model), however many of its captions were, and wherever
    in the file; a photo asked about already is said once, not asked twice (custom_ids are unique in a batch)."""
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.exports import export
    from helpers.describer.selection import Selection

    (tmp_path / "photos").mkdir()
    records = [{"image": name, "detections": []} for name in ("a.jpg", "b.jpg", "c.jpg")]
    for record in records:
        Image.new("RGB", (8, 6), (9, 9, 9)).save(tmp_path / "photos" / record["image"])
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    finding = {"kind": "invented_category", "label": "glass", "expected": 0, "said": 1, "span": [0, 5]}
    said = (("a.jpg", False), ("b.jpg", True), ("c.jpg", False), ("a.jpg", False), ("b.jpg", False))  # (faithful)
    lines = [{"id": name, "faithful": ok, "findings": [] if ok else [finding], "caption": "One glass."}
             for name, ok in said]  # fmt: skip
    (tmp_path / "verdicts.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    def asked(output: str, selection: Selection = Selection()) -> tuple[list[str], dict]:
        counts = export("openai_batch", tmp_path / "verdicts.jsonl", tmp_path / output, tmp_path / "cv.jsonl",
                        tmp_path / "photos", requests=BatchRequests("m"), selection=selection)  # fmt: skip
        return [json.loads(line)["custom_id"] for line in (tmp_path / output).open()], counts

    with caplog.at_level(logging.INFO):
        ids, counts = asked("again.jsonl", Selection(verdict="unfaithful"))
    assert ids == ["a.jpg", "c.jpg", "b.jpg"] and counts["exported"] == 3
    assert "1 rows were of photos asked about already (a photo's captions apart in the verdicts" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ids, counts = asked("all.jsonl")
    assert ids == ["a.jpg", "b.jpg", "c.jpg"] and counts["exported"] == 3
    assert "2 rows were of photos asked about already" in caplog.text


def test_batch_requests_ask_again_about_failed_requests_and_answers_cut_at_their_token_limit(tmp_path):
    """`--verdict error` (the batch requests alone): the photos whose lines the check could not check (a request that
    failed or expired, a refusal, an answer it could not read), one with no record a problem still; `--verdict
    token_limit`: those whose answers were stopped at their token limit (to ask with more tokens; their captions
    export too). Other exports refuse `error`: those lines have no caption; the gallery shows their photos and why."""
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.exports import export
    from helpers.describer.gallery import write_gallery
    from helpers.describer.selection import Selection

    (tmp_path / "photos").mkdir()
    records = [{"image": name, "detections": []} for name in ("a.jpg", "b.jpg", "c.jpg")]
    for record in records:
        Image.new("RGB", (8, 6), (9, 9, 9)).save(tmp_path / "photos" / record["image"])
    (tmp_path / "cv.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    lines = [
        {"id": "a.jpg", "faithful": True, "findings": [], "caption": "No litter."},
        {"id": "b.jpg", "error": "line 2: the request gave no answer: expired"},
        {"id": "c.jpg", "token_limit": True, "faithful": True, "findings": [], "caption": "No"},
        {"id": "gone.jpg", "error": "line 4: the request gave no answer: expired"},
        {"id": "b.jpg", "error": "line 5: choice 0: the model refused: no"},
    ]
    verdicts = tmp_path / "verdicts.jsonl"
    verdicts.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def asked(verdict: str, fmt: str = "openai_batch", output: str = "again.jsonl") -> tuple[list, dict]:
        counts = export(fmt, verdicts, tmp_path / output, tmp_path / "cv.jsonl", tmp_path / "photos",
                        requests=BatchRequests("m") if fmt == "openai_batch" else None,
                        selection=Selection(verdict=verdict))  # fmt: skip
        return [json.loads(line) for line in (tmp_path / output).open()], counts

    requests, counts = asked("error")
    assert [request["custom_id"] for request in requests] == ["b.jpg"], "asked once: its two lines apart"
    assert counts["exported"] == 1
    problems = [json.loads(line) for line in (tmp_path / "again.jsonl.errors.jsonl").open()]
    assert [problem.get("id") for problem in problems] == ["gone.jpg"], "no record: still a problem"
    requests, counts = asked("token_limit")
    assert [request["custom_id"] for request in requests] == ["c.jpg"] and counts["exported"] == 1
    entries, _ = asked("token_limit", "llava", "cut.jsonl")
    assert [(entry["image"], entry["conversations"][1]["value"]) for entry in entries] == [("c.jpg", "No")]
    requests, _ = asked("unfaithful")
    assert requests == [], "no caption of theirs is unfaithful: the lines not checked are not chosen"

    with pytest.raises(ValueError, match="verdict error: the lines the check could not check have no caption for"):
        asked("error", "llava", "x.jsonl")
    shown = write_gallery(verdicts, tmp_path / "page.html", cv=tmp_path / "cv.jsonl", verdict="error")
    cards = _page_cards(tmp_path / "page.html")
    assert [(card["id"], card["x"], card["c"]) for card in cards] == [
        ("b.jpg", "line 2: the request gave no answer: expired", []),
        ("b.jpg", "line 5: choice 0: the model refused: no", []),
    ], "the gallery shows them: each its record's card and why"
    assert (shown["photos"], shown["problems"]) == (2, 1), "gone.jpg: no record"


def test_batch_requests_of_cv_records_chosen_by_what_their_detectors_saw(tmp_path, caplog):
    """`desclm export cv.jsonl --format openai_batch --category tire`: of 01's CV records (no sentence yet), the photos
    whose record a faithful description would say it of, at the describer's thresholds (--min_confidence,
    --scene_min_confidence): a paid model asked about the photos with a tire, not all of them. A record the grammar
    cannot read is its line's problem (said by a sample too), the others asked; a category is named as the
    descriptions name it or as the detector wrote it; the lines a check could not check are chosen by their records,
    given."""
    from helpers.core.contract import Policy
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.exports import export
    from helpers.describer.selection import Selection

    (tmp_path / "photos").mkdir()
    grass, sand = {"class": "grass", "confidence": 0.95}, {"class": "sand", "confidence": 0.6}
    records = [
        {"image": "a.jpg", "detections": [{"label": "Plastic_Bottle", "confidence": 0.9}], "scene": grass},
        {"image": "b.jpg", "detections": [{"label": "Tire", "confidence": 0.4}], "scene": sand},
        {"image": "c.jpg", "detections": [{"label": "tire", "confidence": 0.8}, {"label": "plastic",
         "confidence": 0.7}], "scene": {"class": "grass", "confidence": 0.9}},
        {"image": "d.jpg", "detections": [{"label": "tire"}]},  # no confidence: cannot tell what it states
        {"image": "e.jpg", "detections": [], "scene": {"class": "grass", "confidence": 0.5}},
    ]  # fmt: skip
    for record in records:
        Image.new("RGB", (8, 6), (9, 9, 9)).save(tmp_path / "photos" / record["image"])
    cv = tmp_path / "cv.jsonl"
    cv.write_text("".join(json.dumps(record) + "\n" for record in records))

    def asked(selection: Selection, output: str = "asked.jsonl", **given) -> tuple[list, dict]:
        counts = export("openai_batch", given.pop("described", cv), tmp_path / output, images=tmp_path / "photos",
                        requests=BatchRequests("m"), selection=selection, **given)  # fmt: skip
        return [json.loads(line)["custom_id"] for line in (tmp_path / output).open()], counts

    ids, counts = asked(Selection(category="tire"))
    assert ids == ["c.jpg"], "b's tire is below the describer's 0.5"
    problems = [json.loads(line) for line in (tmp_path / "asked.jsonl.errors.jsonl").open()]
    assert [(problem["line"], problem["id"]) for problem in problems] == [(4, "d.jpg")]
    assert problems[0]["error"].startswith("cannot be chosen: its CV record: detections[0].confidence"), problems
    assert (counts["exported"], counts["problems"]) == (1, 1)
    assert asked(Selection(category="TIRE", policy=Policy(0.3)))[0] == ["b.jpg", "c.jpg"], "at --min_confidence 0.3"
    assert asked(Selection(scene="Grass"))[0] == ["a.jpg", "c.jpg"], "e's grass below the scene's 0.8"
    assert asked(Selection(scene="sand", policy=Policy(scene_min_confidence=0.5)))[0] == ["b.jpg"]
    assert asked(Selection(min_items=2))[0] == ["c.jpg"]
    assert asked(Selection(category="plastic,tire"))[0] == ["a.jpg", "c.jpg"], "Plastic_Bottle: plastic, described"
    assert asked(Selection(category="plastic_bottle"))[0] == ["a.jpg"], "and its label as given"
    with caplog.at_level(logging.WARNING):
        ids, counts = asked(Selection(category="plastic"), "sample.jsonl", sample=(5, 0))
    assert sorted(ids) == ["a.jpg", "c.jpg"] and counts["exported"] == 2
    assert "1 lines could not be joined or chosen, so none is in the sample (line 4: cannot be chosen" in caplog.text

    verdicts = tmp_path / "verdicts.jsonl"  # a check's lines: answered, or not (their photos to ask again)
    lines = [{"id": "a.jpg", "faithful": True, "findings": [], "caption": "A plastic item."}]
    lines += [{"id": name, "error": f"line {n}: the request gave no answer: expired"} for n, name in ((2, "b.jpg"),
              (3, "c.jpg"), (4, "e.jpg"))]  # fmt: skip
    verdicts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ids, _ = asked(Selection("tire", verdict="error"), "again.jsonl", described=verdicts, cv=cv)
    assert ids == ["c.jpg"], "of the failed requests, the photo whose record states a tire"
    with pytest.raises(ValueError, match="they are chosen by what their CV records state: give them"):
        asked(Selection("tire", verdict="error"), "x.jsonl", described=verdicts)
    with pytest.raises(ValueError, match="holds CV records: leave out cv .they are the records. and verdict"):
        asked(Selection(verdict="unfaithful"), "y.jsonl")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), min_items=st.integers(0, 6), pick=st.integers(0, 10**6))
def test_cv_records_are_chosen_as_their_faithful_descriptions_would_be(seed, min_items, pick):
    """A CV record is chosen (`--category`, `--scene`, `--min_items`, before any description) exactly when the
    grammar's sentence of it, read back as the gallery and the exports read sentences, is: choosing the records asks
    a batch about the same photos as choosing their descriptions would (a category named as descriptions name it;
    a record's label as given chooses it too, which no sentence says)."""
    import random

    from helpers.describer.exports import ExportRow
    from helpers.describer.selection import Selection
    from helpers.text.fallback import grammar_sentences
    from helpers.text.lexicon import canonical_label
    from helpers.text.synthetic import random_cv

    rng = random.Random(seed)
    record = random_cv(rng, max_detections=12)
    sentence = grammar_sentences(record, str(seed), 1)[0]
    labels = [canonical_label(d["label"]) for d in record["detections"]] + ["tire"]  # as descriptions name them
    category = labels[pick % len(labels)]
    scene = (record.get("scene") or {}).get("class") or "grass"
    as_record = ExportRow("a.jpg", [], "", record, "a.jpg")
    as_described = ExportRow("a.jpg", [sentence], "grammar", record, "a.jpg")
    for selection in (Selection(category), Selection(scene=scene), Selection(min_items=min_items)):
        assert selection.chooses(as_record) == selection.chooses(as_described), (selection, sentence, record)


def test_exports_choose_the_photos_whose_sentences_are_untrue_to_their_labels(labelled):
    """`--truth untrue`: of labelled photos (01's `ground_truth`), those whose sentence is not true to the labels, as
    04's truth report counts (a review set in Label Studio, each task showing its labels and what the sentence missed;
    or a model's batch to ask again); `--truth true` the others; unlabelled photos neither; unreadable labels, the
    line's problem. Of CV records, what one would state."""
    from helpers.describer.batch_requests import BatchRequests
    from helpers.describer.exports import export
    from helpers.describer.selection import Selection

    tmp_path = labelled
    described, cv = tmp_path / "described.jsonl", tmp_path / "cv.jsonl"

    def exported(truth: str, source: Path = described, output: str = "out.jsonl") -> tuple[list, dict]:
        counts = export("llava", source, tmp_path / output, cv, selection=Selection(truth=truth))
        return [entry["id"] for entry in json.loads((tmp_path / output).read_text())], counts

    ids, counts = exported("untrue", output="untrue.json")
    assert ids == ["b.jpg"] and counts["problems"] == 1
    problems = [json.loads(line) for line in (tmp_path / "untrue.json.errors.jsonl").open()]
    assert [(p["line"], p["id"]) for p in problems] == [(4, "d.jpg")]
    assert problems[0]["error"].startswith("cannot be chosen: its ground truth cannot be read: KeyError"), problems
    assert exported("true", output="true.json")[0] == ["a.jpg"]
    assert exported("missed", output="missed.json")[0] == ["b.jpg"], "box by box: its labelled tire not found"
    assert exported("false", output="false.json")[0] == [], "every stated detection on a label"
    export(
        "label_studio",
        described,
        tmp_path / "review.json",
        cv,
        tmp_path / "photos",
        selection=Selection(truth="untrue"),
    )
    (task,) = json.loads((tmp_path / "review.json").read_text())
    told = "labels: 1 × plastic, 1 × tire; scene grass. Untrue: missed tire. Boxes: 1 of 2 labelled found."
    assert task["data"]["truth"] == told, task["data"]
    assert '<Text name="truth" value="$truth"/>' in (tmp_path / "review.label_config.xml").read_text()
    asked = export("openai_batch", cv, tmp_path / "asked.jsonl", images=tmp_path / "photos",
                   requests=BatchRequests("m"), selection=Selection(truth="untrue"))  # fmt: skip
    assert asked["exported"] == 1 and json.loads((tmp_path / "asked.jsonl").read_text())["custom_id"] == "b.jpg"
    with pytest.raises(ValueError, match="truth: the labels are the CV records' ground_truth: give them .cv."):
        export("llava", described, tmp_path / "x.json", selection=Selection(truth="untrue"))
    with pytest.raises(ValueError, match="truth must be one of true, untrue"):
        Selection(truth="wrong")


def test_a_yolo_export_of_the_photos_the_detectors_missed_an_item_in_holds_their_labels(labelled):
    """`--truth missed --format yolo --boxes_from labels`: the labelled photos in which no stated detection found a
    labelled item, each with its labelled boxes (every one, not the detections), as a YOLO dataset Ultralytics
    takes: hard examples to train the detectors on. A photo without readable labels is its row's problem."""
    import yaml
    from ultralytics.data.utils import check_det_dataset, img2label_paths

    from helpers.describer.exports import export
    from helpers.describer.selection import Selection

    tmp_path = labelled
    described, cv, photos = tmp_path / "described.jsonl", tmp_path / "cv.jsonl", tmp_path / "photos"
    hard = export("yolo", described, tmp_path / "hard", cv, photos, selection=Selection(truth="missed"),
                  boxes_from="labels")  # fmt: skip
    assert (hard["exported"], hard["problems"]) == (1, 1), "b.jpg; d.jpg's labels cannot be read"
    spec = yaml.safe_load((tmp_path / "hard" / "data.yaml").read_text())
    assert spec["names"] == {0: "plastic", 1: "tire"}
    label = Path(img2label_paths([str(tmp_path / "hard" / "images" / "b.jpg")])[0])
    assert label.read_text().splitlines() == [
        "0 0.200000 0.200000 0.200000 0.200000",
        "1 0.700000 0.700000 0.400000 0.400000",
    ]
    assert check_det_dataset(str(tmp_path / "hard" / "data.yaml"))["nc"] == 2, "Ultralytics takes it"
    every = export("yolo", described, tmp_path / "all", cv, photos, boxes_from="labels")
    assert every["exported"] == 2, "a.jpg and b.jpg"
    why = {problem["id"]: problem["error"] for problem in _errors(tmp_path, "all")}
    assert (
        why["c.jpg"].startswith("no labels (ground_truth)")
        and why["d.jpg"] == "ground_truth.detections[0] has no label"
    )
    with pytest.raises(ValueError, match="boxes_from labels: the yolo export's label files"):
        export("llava", described, tmp_path / "x.json", cv, boxes_from="labels")


def test_batch_requests_ask_for_several_answers_at_a_temperature_after_a_system_prompt():
    """--num_answers, --temperature, --system_prompt in each API's layout: OpenAI's `n`, `temperature` and a system
    message; Gemini's `candidate_count`, `temperature` and `system_instruction`; Anthropic's `temperature` and
    `system` (one answer a request: more refused). Left as they are, none of them is sent."""
    from helpers.describer.batch_requests import BatchRequests, SentPhoto, batch_request
    from helpers.describer.options import ExportOptions

    photo = SentPhoto("image/png", "AAAA")

    def asked(fmt: str, **settings) -> dict:
        options = ExportOptions(described="d.jsonl", format=fmt, output="r.jsonl", **settings)
        return batch_request("p.jpg", photo, "Describe.", options.requests)

    openai = asked("openai_batch", model="m", num_answers=4, temperature=0.7, system_prompt="Count carefully.")["body"]
    assert (openai["n"], openai["temperature"]) == (4, 0.7)
    assert openai["messages"][0] == {"role": "system", "content": "Count carefully."}
    assert openai["messages"][1]["role"] == "user"
    gemini = asked("gemini_batch", num_answers=4, temperature=0.7, system_prompt="Count carefully.")["request"]
    assert gemini["generation_config"] == {"candidate_count": 4, "temperature": 0.7}
    assert gemini["system_instruction"] == {"parts": [{"text": "Count carefully."}]}
    anthropic = asked("anthropic_batch", model="c", max_tokens=99, temperature=0.0, system_prompt="Be brief.")
    assert (anthropic["params"]["system"], anthropic["params"]["temperature"]) == ("Be brief.", 0.0)
    plain = [asked("openai_batch", model="m")["body"], asked("gemini_batch")["request"]]
    assert not {"n", "temperature"} & set(plain[0]) and len(plain[0]["messages"]) == 1
    assert "generation_config" not in plain[1] and "system_instruction" not in plain[1]
    with pytest.raises(ValueError, match="answers must be >= 1, and 1 for Anthropic's"):
        asked("anthropic_batch", model="c", max_tokens=9, num_answers=2)
    with pytest.raises(ValueError, match="--num_answers, --temperature, --system_prompt: the batch exports'"):
        ExportOptions(described="d.jsonl", format="llava", output="r.json", num_answers=3)
    with pytest.raises(ValueError, match="api must be one of"):
        BatchRequests("m", api="openai")


@pytest.mark.parametrize(("output", "every"), [("requests.jsonl", 2), ("parts", 2), ("parts", 1)])
def test_a_killed_batch_export_resumes_at_its_last_checkpoint(described, tmp_path, caplog, output, every):
    """A batch requests export killed part way, run again on the same inputs and settings, reads only the photos after
    its last checkpoint and writes the same file (or parts) and problems as an export never stopped (a photo not sent
    before the checkpoint listed first among them), and warns of as many photos; other settings start it over, as
    does a checkpoint whose problems are not all in its problems file."""
    from helpers.describer import exports
    from helpers.describer.batch_requests import BatchRequests

    folder, records, rows = described
    (folder / "photos" / records[1]["image"]).unlink()  # a photo gone early (the fixture's other is the last row's)
    asked = BatchRequests("m", 32)
    original = exports.encoded_photo
    calls = []

    def counted(data, stop_at=None):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt  # the export killed here
        return original(data)

    def run(target: Path, stop_at=None, prompt: str = exports.CAPTION_PROMPT) -> dict:
        calls.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(exports, "CHECKPOINT_ROWS", every)
            patch.setattr(exports, "encoded_photo", partial(counted, stop_at=stop_at))
            small = replace(exports.BATCH_APIS["openai_batch"], most_requests=2, most_photo_bytes=100)
            patch.setitem(exports.BATCH_APIS, "openai_batch", small)
            return exports.export("openai_batch", folder / "described.jsonl", target, images=folder / "photos",
                                  requests=asked, prompt=prompt)  # fmt: skip

    def written(target: Path) -> dict[str, str]:
        files = sorted(target.iterdir()) if target.is_dir() else [target]
        return {path.name: path.read_text() for path in files} | {"errors": sorted(errors_of(target).open())}

    def errors_of(target: Path) -> Path:
        return target.with_name(f"{target.name}.errors.jsonl")

    with caplog.at_level(logging.WARNING):
        whole = run(tmp_path / "whole" / output)
    sent = len(calls)
    assert sent == whole["exported"] >= 4
    too_large = f"{sent} photos are larger than OpenAI's Batch API takes"
    assert too_large in caplog.text

    target = tmp_path / "killed" / output
    with pytest.raises(KeyboardInterrupt):
        run(target, stop_at=4)  # rows 0-3 read (row 1's photo gone), checkpoints every 1 or 2; killed at row 4's photo
    assert not target.exists(), "nothing in place until the export is done"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        resumed = run(target)
    assert too_large in caplog.text, "the photos written before the checkpoint counted too"
    assert resumed == whole | {"output": str(target)}
    assert written(target) == written(tmp_path / "whole" / output)
    assert len(calls) == sent - 3, "the 4 rows before the last checkpoint passed over, their 3 photos not read"
    assert not any(path.name.startswith(".") for path in target.parent.iterdir()), "no partial files left"

    with pytest.raises(KeyboardInterrupt):
        run(target, stop_at=4)
    run(target, prompt="Describe the litter.")  # other settings: every photo read again
    assert len(calls) == sent

    with pytest.raises(KeyboardInterrupt):
        run(target, stop_at=4)  # its checkpoint counts row 1's problem: without it, the export starts over
    target.with_name(f".{target.name}.partial.problems.jsonl").write_text("")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run(target)
    assert len(calls) == sent and "problems are not as its checkpoint says: starting over" in caplog.text
    assert written(target) == written(tmp_path / "whole" / output)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.text(max_size=12).map(lambda text: text + "\n"), max_size=30), most=st.integers(0, 5))
def test_batch_parts_keep_every_request_in_order_within_the_api_s_limits(lines, most):
    """`batch_parts`: the requests in order, each part at most so many requests (any, with 0: Gemini's) and bytes
    (UTF-8), a request larger than that alone in its part."""
    from helpers.describer.batch_output import batch_parts
    from helpers.describer.batch_requests import BatchApi

    numbered = list(batch_parts(iter(lines), BatchApi("an API", (), most, 20, True)))
    assert [line for _, line in numbered] == lines
    numbers = [number for number, _ in numbered]
    assert numbers == sorted(numbers) and set(numbers) == set(range(len(set(numbers)))), "parts in order, none empty"
    parts = [[line for number, line in numbered if number == part] for part in sorted(set(numbers))]
    for part in parts:
        size = sum(len(line.encode("utf-8")) for line in part)
        assert 0 < len(part) <= (most or len(lines)) and (size <= 20 or len(part) == 1)


@pytest.mark.parametrize("asked_of", ["described.jsonl", "cv.jsonl"])
def test_the_vision_language_loop_runs_from_the_command_line(described, tmp_path, asked_of):
    """`desclm export --format openai_batch` (yolo-style settings too) of described rows or of 01's CV records, a
    server's answers, `desclm check` of its output file, and `desclm export verdicts.jsonl --verdict faithful`: the
    same options as the Python calls, from the command line, paths relative to the working folder."""
    from helpers.commands.check import main as check
    from helpers.commands.export import main as export

    folder, records, rows = described
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert export([asked_of, "--format", "openai_batch", "--images", "photos", "model=m", "max_tokens=64",
                       "--max_side", "16", "--output", "requests.jsonl"]) == 1  # fmt: skip
        requests = [json.loads(line) for line in Path("requests.jsonl").read_text().splitlines()]
        assert {(r["body"]["model"], r["body"]["max_completion_tokens"]) for r in requests} == {("m", 64)}
        description = {row["id"]: row["description"] for row in rows}
        answers = [
            {"custom_id": r["custom_id"], "response": {"status_code": 200, "body": {"choices": [
                {"message": {"role": "assistant", "content": description[r["custom_id"]]}, "finish_reason": "stop"},
                {"message": {"role": "assistant", "content": "Nine pieces of glass."}, "finish_reason": "stop"},
            ]}}}
            for r in requests
        ]  # fmt: skip
        Path("results.jsonl").write_text("".join(json.dumps(answer) + "\n" for answer in answers))
        assert check(["--input", "cv.jsonl", "--captions", "results.jsonl", "--output", "verdicts.jsonl",
                      "--workers", "0", "--max_side", "16"]) == 0  # fmt: skip
        assert export(["verdicts.jsonl", "--format", "llava", "--verdict", "faithful", "--cv", "cv.jsonl",
                       "--output", "kept.jsonl"]) == 0  # fmt: skip
        kept = [json.loads(line) for line in Path("kept.jsonl").read_text().splitlines()]
    assert [(entry["image"], entry["conversations"][1]["value"]) for entry in kept] == [
        (r["custom_id"], description[r["custom_id"]]) for r in requests
    ], "each photo's faithful answer, the wrong one left out"


def test_a_record_without_its_size_is_sized_as_its_photo_is_seen(tmp_path):
    """A CV record without `width` and `height` (not 01's: save_records' of a dataset without them) takes its
    photo's size as a person sees it, turned as its EXIF says: its boxes, in 0..1 of the upright photo, are placed
    in that frame."""
    photos = tmp_path / "photos"
    photos.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: seen 32 wide, 64 high
    Image.new("RGB", (64, 32), (90, 140, 60)).save(photos / "turned.jpg", exif=exif)
    record = {"image": "turned.jpg", "detections": [{"label": "plastic", "confidence": 0.9, "bbox": [0, 0, 0.5, 0.25]}]}
    (tmp_path / "cv.jsonl").write_text(json.dumps(record) + "\n")
    line = {"id": "turned.jpg", "description": "There is one plastic item.", "source": "grammar"}
    (tmp_path / "described.jsonl").write_text(json.dumps(line) + "\n")

    from helpers.describer.exports import export

    export("coco_instances", tmp_path / "described.jsonl", tmp_path / "out.json", tmp_path / "cv.jsonl", photos)

    coco = json.loads((tmp_path / "out.json").read_text())
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (32, 64)
    assert coco["annotations"][0]["bbox"] == [0.0, 0.0, 16.0, 16.0]

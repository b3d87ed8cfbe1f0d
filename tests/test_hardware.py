"""The users' hardware and sizes: CUDA libraries for CTranslate2, precisions, published shapes,
12-megapixel decoding, fusion at 300 boxes, sharded describing, LoRA and the GPU check."""

from __future__ import annotations

import ctypes
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.core import cuda_libs
from helpers.core.cuda_libs import CudaLibraryError, candidate_paths, load_cublas12, resolve_ct2_device
from helpers.cv.detectors import Detections
from helpers.cv.fusion import box_iou, fuse
from helpers.cv.sources import ImageItem, decode_image
from helpers.describer.describe import Describer
from helpers.text.synthetic import random_cv


@pytest.fixture
def fresh_cuda_state(monkeypatch):
    monkeypatch.setattr(cuda_libs, "_loaded", {})


def _refuse(path, mode=0):
    raise OSError(f"{path}: cannot open shared object file")


def test_ct2_device_auto_picks_cuda_only_when_cublas12_loads(fresh_cuda_state, caplog):
    loaded = []
    assert resolve_ct2_device("auto", loader=_refuse, devices=lambda: 0) == "cpu"  # no GPU: not even tried
    assert resolve_ct2_device("auto", loader=_refuse, devices=lambda: 1) == "cpu"  # GPU, no cuBLAS 12
    assert "libcublasLt.so.12" in caplog.text and ".[gpu]" in caplog.text
    assert resolve_ct2_device("auto", loader=lambda p, mode: loaded.append((p, mode)), devices=lambda: 1) == "cuda"
    assert [p.rsplit("/", 1)[-1] for p, _ in loaded] == ["libcublasLt.so.12", "libcublas.so.12"]
    assert all(mode == ctypes.RTLD_GLOBAL for _, mode in loaded)  # visible to CTranslate2's own dlopen
    assert resolve_ct2_device("cuda:1", loader=_refuse, devices=lambda: 2) == "cuda:1"  # loaded once, kept


def test_ct2_on_cuda_without_the_library_or_the_gpu_says_what_is_missing_and_the_fix(fresh_cuda_state):
    with pytest.raises(CudaLibraryError, match=r"libcublasLt\.so\.12.*pip install -e \"\.\[gpu\]\""):
        resolve_ct2_device("cuda", loader=_refuse, devices=lambda: 1)
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        resolve_ct2_device("cuda", loader=_refuse, devices=lambda: 0)
    with pytest.raises(ValueError, match="device must be"):
        resolve_ct2_device("gpu", devices=lambda: 1)


def test_cublas12_is_found_in_the_gpu_extras_wheel_folder_first(fresh_cuda_state, tmp_path, monkeypatch):
    wheel_dir = tmp_path / "site" / "nvidia" / "cublas" / "lib"
    wheel_dir.mkdir(parents=True)
    for name in cuda_libs.CUBLAS12:
        (wheel_dir / name).write_bytes(b"")
    monkeypatch.setattr(cuda_libs, "_site_dirs", lambda: [tmp_path / "site"])
    assert candidate_paths("libcublas.so.12") == [str(wheel_dir / "libcublas.so.12"), "libcublas.so.12"]
    tried = []
    paths = load_cublas12(loader=lambda path, mode: tried.append(path))
    assert paths == {name: str(wheel_dir / name) for name in cuda_libs.CUBLAS12} and len(tried) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_the_ct2_describer_on_cuda_fails_before_any_work_on_this_machine(model_dir, tmp_path):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        Describer.load(model_dir, "ct2", device="cuda")
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps(random_cv(random.Random(0))) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "describe",
            str(model_dir),
            "--input",
            str(records),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--backend",
            "ct2",
            "--device",
            "cuda",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr and not (tmp_path / "out.jsonl").exists()


def test_hf_precision_is_selectable_and_the_guard_keeps_sentences_faithful(model_dir):

    records = [random_cv(random.Random(seed), max_detections=6) for seed in range(6)]
    bf16 = Describer.load(model_dir, "hf", device="cpu", dtype="bf16")
    assert next(bf16.backend.model.parameters()).dtype == torch.bfloat16
    assert all(result.faithful for result in bf16.describe_detailed(records, batch_size=3))
    with pytest.raises(ValueError, match="dtype must be one of"):
        Describer.load(model_dir, "hf", dtype="half-ish")
    with pytest.raises(ValueError, match="compute_type must be one of"):
        Describer.load(model_dir, "ct2", compute_type="int3")


def test_published_shapes_build_with_the_right_sizes():
    from helpers.training import SHAPES, build_model
    from helpers.training.scratch_model import train_tokenizer

    tokenizer = train_tokenizer(["two plastic items on grass", "one glass item"] * 20)
    model = build_model(tokenizer, "flan-t5-small")
    config = model.config
    assert (config.d_model, config.d_ff, config.num_layers, config.num_heads) == (512, 1024, 8, 6)
    assert not config.scale_decoder_outputs  # untied output layer, as flan-t5
    # flan-t5-small: 76,961,152 parameters, of which two 32,128 x 512 word matrices (input, output);
    # transformers 5 ties T5's output matrix to the input one, and only the vocabulary differs here
    total = sum(p.numel() for p in model.parameters())
    assert total - config.vocab_size * config.d_model == 76_961_152 - 2 * 32128 * 512
    assert set(SHAPES) == {"flan-t5-small", "flan-t5-base", "flan-t5-large"}


def test_describe_benchmark_at_a_shape_prints_the_ratio_rows(model_dir):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "bench",
            "describe",
            str(model_dir),
            "--shape",
            "tiny",
            "--records",
            "8",
            "--batch_size",
            "4",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("random-init tiny:")
    rows = [line for line in lines if " vs HF " in line]
    assert [row.split()[:2] for row in rows] == [["hf", "batch"], ["ct2", "float32"], ["ct2", "int8"]]
    assert all("guarded faithful 100.0%" in row for row in rows)


def _decoded_at(image: Image.Image, side: int) -> np.ndarray:
    return np.asarray(image.resize((side, side * 3 // 4), Image.Resampling.BILINEAR), dtype=float)


def test_draft_decoding_keeps_the_size_and_gives_the_models_the_same_picture(tiny_demo, tmp_path):
    photos = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:4]
    assert len(photos) == 4
    for photo in photos:  # demo photos are no larger than a 640-pixel model's input: decoded in full
        small = ImageItem(photo.parent, photo.name, None)
        assert np.array_equal(np.asarray(decode_image(small, 640)[0]), np.asarray(decode_image(small)[0]))
        big_path = tmp_path / photo.name
        with Image.open(photo) as image:
            image.resize((image.width * 4, image.height * 4), Image.Resampling.BICUBIC).save(big_path, quality=95)
        big = ImageItem(tmp_path, big_path.name, None)
        drafted, size = decode_image(big, 160)
        full, full_size = decode_image(big)
        assert size == full_size == full.size and drafted.width == full.width // 4  # 1/4 still >= 160 both ways
        difference = np.abs(_decoded_at(drafted, 160) - _decoded_at(full, 160))
        # measured on the demo photos: mean 0.17-0.20 grey levels, largest 4 (of 255)
        assert difference.mean() < 0.5 and difference.max() <= 8


def test_exif_rotated_photos_record_the_size_a_person_sees(tmp_path):
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.new("RGB", (1600, 1200), (90, 120, 60)).save(path, exif=exif)
    image, size = decode_image(ImageItem(tmp_path, path.name, None), 300)
    assert size == (1200, 1600) and image.size == (300, 400)


def test_the_null_detector_pipeline_matches_full_decoding_and_records_the_photo_size(tmp_path, tiny_demo):
    from helpers.cv.pipeline_bench import _extract, write_photos

    _, demo_drafted = _extract(tiny_demo / "data.yaml", tmp_path / "demo_draft.jsonl", True, 640, 2)
    _, demo_full = _extract(tiny_demo / "data.yaml", tmp_path / "demo_full.jsonl", False, 640, 2)
    assert demo_drafted == demo_full and len(demo_full) == 12

    write_photos(tmp_path / "photos", 3, (1280, 960))
    assert (
        write_photos(tmp_path / "again", 3, (1280, 960))[0].read_bytes()
        == (tmp_path / "photos" / "photo_0000.jpg").read_bytes()
    )
    _, drafted = _extract(tmp_path / "photos", tmp_path / "draft.jsonl", True, 320, 2)
    _, full = _extract(tmp_path / "photos", tmp_path / "full.jsonl", False, 320, 2)
    assert drafted == full and [(r["width"], r["height"]) for r in full] == [(1280, 960)] * 3
    assert [len(r["detections"]) for r in full] == [3, 3, 3]


def _per_box_sources(per_model, names, fused) -> list[list[str]]:
    """The attribution rule, one input box at a time (the old implementation), as the reference."""
    sources = [set() for _ in fused]
    for name, detections in zip(names, per_model):
        for box, label in zip(detections.boxes, detections.labels):
            candidates = [i for i, record in enumerate(fused) if record["label"] == label]
            if candidates:
                overlaps = box_iou(box[None], np.array([fused[i]["bbox"] for i in candidates]))[0]
                if overlaps.max() > 0:
                    sources[candidates[int(overlaps.argmax())]].add(name)
    return [[n for n in names if n in found] for found in sources]


def test_fusion_at_hundreds_of_boxes_attributes_sources_as_box_by_box():
    rng = np.random.default_rng(3)

    def detections(count):
        corner = rng.random((count, 2)) * 0.85
        boxes = np.concatenate([corner, corner + rng.random((count, 2)) * 0.1 + 0.01], axis=1)
        labels = [str(label) for label in rng.choice(["plastic", "metal", "paper"], count)]
        return Detections(boxes, rng.random(count) * 0.5 + 0.5, labels)

    per_model, names = [detections(300), detections(280)], ["yolo", "hf"]
    fused = fuse(per_model, names, [1.0, 2.0])
    assert 300 < len(fused) < 580  # overlapping boxes were merged
    assert [r["sources"] for r in fused] == _per_box_sources(per_model, names, fused)


def test_extraction_syncs_to_disk_only_when_asked(tmp_path, monkeypatch):
    from helpers.cv.config import ExtractConfig
    from helpers.cv.extract import run_extraction
    from helpers.cv.pipeline_bench import NullDetector, NullScene, write_photos

    write_photos(tmp_path / "photos", 4, (320, 240))
    syncs = []
    monkeypatch.setattr("os.fsync", lambda fd: syncs.append(os.readlink(f"/proc/self/fd/{fd}")))
    for fsync in (False, True):
        config = ExtractConfig(
            images=str(tmp_path / "photos"),
            output=str(tmp_path / f"out{fsync}.jsonl"),
            batch_size=2,
            fsync=fsync,
            yolo_weights="null.pt",  # a name for the NullDetector below
        )
        run_extraction(config, [NullDetector(s.name) for s in config.detector_specs()], NullScene())
    # the records go to the work-in-progress file, renamed to the output when complete
    outputs = [path for path in syncs if path.endswith(".jsonl.partial") and "errors" not in path]
    assert outputs == [str(tmp_path / ".outTrue.jsonl.partial")] * 2  # once per batch (two), in the run that asked


def test_demo_detectors_declare_their_input_side(tiny_cv_models):
    from helpers.cv.detectors import HFDetector, SceneClassifier, UltralyticsDetector
    from helpers.cv.extract import decode_side

    hf = HFDetector(tiny_cv_models / "rtdetr", device="cpu")
    yolo = UltralyticsDetector(tiny_cv_models / "yolo_detector.pt", imgsz=320, device="cpu")
    scene = SceneClassifier(tiny_cv_models / "scene_classifier.pt", imgsz=64, device="cpu")
    size = hf.processor.size
    assert hf.input_side == max(v for v in dict(size).values() if isinstance(v, int)) > 0
    assert decode_side([hf, yolo, scene]) == max(hf.input_side, 320)
    assert decode_side([hf, object()]) == 0  # a model that does not say: decode in full


def test_sharded_describing_merges_into_the_file_one_job_writes(model_dir, tmp_path):

    rng = random.Random(5)
    lines = [json.dumps({"id": f"r{i}", **random_cv(rng, max_detections=4)}) for i in range(13)]
    lines[4] = "{not json"
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")

    from helpers.commands.describe import main as describe_command

    def describe(*extra):  # the command in this process: four runs share one start (its CLI has tests of its own)
        arguments = [str(model_dir), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl")]
        # the fixture's briefly trained model leaves many lines to the grammar: not what this tests
        return describe_command([*arguments, "--max_grammar_share", "1", *extra])

    assert describe() == 1  # one broken line
    for index in range(3):
        assert describe("--num_shards", "3", "--shard_index", str(index)) == (1 if index == 1 else 0)
    shards = [str(tmp_path / f"out.shard-{k}of3.jsonl") for k in range(3)]
    assert [len(open(s).read().splitlines()) for s in shards] == [4, 4, 5]

    def merge(*paths):
        command = [sys.executable, "-m", "helpers", "describe", "merge", str(tmp_path / "merged.jsonl"), *paths]
        return subprocess.run(command, capture_output=True, text=True)

    assert merge(*reversed(shards)).returncode == 0
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "out.jsonl").read_bytes()
    missing = merge(shards[0], shards[2])
    assert missing.returncode == 2 and "missing [1]" in missing.stderr
    (tmp_path / "out.shard-1of3.manifest.json").unlink()
    assert "unfinished" in merge(*shards).stderr


def test_lora_trains_few_parameters_and_exports_a_plain_model(pairs_dir, tmp_path):
    from transformers import AutoModelForSeq2SeqLM

    from helpers.describer.export_ct2 import export
    from helpers.training.train import TrainConfig, train

    folder = tmp_path / "lora"
    summary = train(
        TrainConfig(
            pairs_dir=str(pairs_dir),
            output_dir=str(folder),
            adapter="lora",
            max_steps=6,
            eval_steps=3,
            eval_samples=4,
            batch_size=8,
            logging_steps=3,
        )
    )
    assert summary["adapter"] == "lora" and 0 < summary["trainable_parameters"] < summary["parameters"] / 4
    assert not list(folder.glob("adapter_*"))  # merged: no adapter files
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]
    assert not any("lora" in name for name, _ in model.named_parameters())
    export(folder)
    assert Describer.load(folder, "ct2").describe([random_cv(random.Random(1))])


def test_adapter_comparison_runs_each_in_its_own_process(pairs_dir):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "bench",
            "train",
            "--pairs_dir",
            str(pairs_dir),
            "--compare_adapters",
            "--shape",
            "tiny",
            "--steps",
            "2",
            "--batch_size",
            "4",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    full, lora = json.loads(done.stdout.splitlines()[-1])
    assert full["trainable_parameters"] == full["parameters"] == lora["parameters"]
    assert lora["trainable_parameters"] < full["trainable_parameters"]
    assert full["peak_memory_mib"] > 0 and lora["peak_memory_mib"] > 0


def test_gpu_check_smoke_runs_each_part_and_writes_json_lines(tmp_path):
    from helpers.commands.gpu_check import PARTS

    # lora on the CPU is `compare_adapters` (two fresh processes), run by the adapter comparison test above
    parts = [part for part in PARTS if part != "lora"]
    command = [sys.executable, "-m", "helpers", "gpu-check", "--smoke", "--parts", ",".join(parts)]
    done = subprocess.run([*command, "--output", str(tmp_path / "check.jsonl")], capture_output=True, text=True)
    rows = [json.loads(line) for line in (tmp_path / "check.jsonl").read_text().splitlines()]
    assert done.returncode == 0, [row for row in rows if "error" in row] or done.stderr[-2000:]
    assert {row["part"] for row in rows} == {"env", "train", "describe", "extract", "guard"}
    guard = [row for row in rows if row["part"] == "guard"]
    assert [row["guard_workers"] for row in guard] == [0, 1], "the guard timed in this process and on a worker"
    assert all(row["faithful"] == 1.0 and row["plain_records_per_second"] > 0 for row in guard)
    assert all(row["command_records_per_second"] > 0 for row in guard), "desclm describe's file path timed too"
    describe = [row for row in rows if row["part"] == "describe"]
    assert {(row["backend"], row["compute_type"]) for row in describe} == {
        ("hf", "float32"),
        ("ct2", "float32"),
        ("ct2", "int8"),
    }
    assert all(row["faithful"] == 1.0 and row["records_per_second"] > 0 for row in describe)


def test_gpu_check_table_names_a_broken_line_and_prints_the_rest(tmp_path, capsys, caplog):
    from helpers.commands.gpu_check import main

    saved = Path("docs/measurements/gpu_check_h200.jsonl").read_bytes()
    assert main(["--table", "docs/measurements/gpu_check_h200.jsonl"]) == 0
    clean_table = capsys.readouterr().out
    assert clean_table.count("\n") == 2 + sum(b'"part": "env"' not in line for line in saved.splitlines())
    broken = tmp_path / "check.jsonl"
    broken.write_bytes(saved + b'{"part": "describe", "backe\n')  # a run killed mid-line
    assert main(["--table", str(broken)]) == 1
    assert capsys.readouterr().out == clean_table
    broken_line = saved.count(b"\n") + 1
    assert f"{broken}:{broken_line}" in caplog.text


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu sse2 avx512f avx512bw", False), ("fpu avx512f avx512_bf16 avx512_vnni", True), ("fpu amx_bf16", True)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    from helpers.core.device import cpu_has_native_bf16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: some CPU\nflags\t\t: {flags}\n")
    assert cpu_has_native_bf16(str(cpuinfo)) is native
    assert cpu_has_native_bf16(str(tmp_path / "absent")) is False  # not Linux: float32


def test_ultralytics_trains_under_cpu_bf16_inside_the_context_only():
    """Ultralytics' own `autocast` refuses bf16 on the CPU; inside the context its trainer gets torch's
    CPU autocast for `amp="bf16"` and stays as it was for anything else; outside, Ultralytics' again."""
    from ultralytics.engine import trainer

    from helpers.demo.models import DemoModelsSpec
    from helpers.demo.yolo import ultralytics_cpu_bf16

    original = trainer.autocast
    with pytest.raises(RuntimeError):
        original(torch.bfloat16, device="cpu")  # what the context works around (fails once Ultralytics allows it)
    with ultralytics_cpu_bf16():
        with trainer.autocast(torch.bfloat16, device="cpu"):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
        with trainer.autocast(False, device="cpu"):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    assert trainer.autocast is original
    assert not DemoModelsSpec(cpu_bf16=False).trains_in_bf16("cpu") and not DemoModelsSpec().trains_in_bf16("cuda")

"""One check of desclm on the users' hardware and sizes: JSON lines out, one per measurement.

    desclm gpu-check [--smoke] [--parts env,train,describe,extract,lora] [--output FILE.jsonl]
    desclm gpu-check --table FILE.jsonl     # a run's lines as the README's Markdown table

Parts, each guarded (a failure is one {"part", "error"} line, the rest still runs):
- env: torch, the GPU, CTranslate2 and whether CUDA 12's cuBLAS loads for it;
- train: bf16 (on a GPU) training steps of the tiny scratch model and a flan-t5-small-shaped one, at
  batch 32 and at the batch `batch_size: 0` (auto) picks;
- describe: guarded describer throughput, HF float32/bfloat16 vs CTranslate2 float16/int8_float16
  (CPU: float32/int8), batch 32 and 256, on a random-init flan-t5-small-shaped model;
- extract: models alone, the library and the tensor pipelines (`preprocess`, `precision` auto: fp16 on a
  GPU) and the forward-only ceiling, with YOLOv8x- and RT-DETR-R101-shaped random models (and a
  YOLOv8s-cls scene classifier) on generated 12-megapixel JPEGs (`desclm bench extract`);
- lora: full fine-tuning vs LoRA at flan-t5-base's shape (trainable parameters, examples/s, memory);
- guard: the guarded describer against plain `generate` on the same inputs (greedy, batch 1024, bf16 on
  a GPU), with the guard in this process and on worker processes (`guard_workers`), at flan-t5-small's
  shape and, with `--describer`, a trained describer (make demo's: models/description_llm); through
  the API and through `desclm describe`'s file path (its workers also read and write the lines); and
  the batch `batch_size: 0` (auto) picks for each.
Random weights: throughput only, never quality. `--smoke` runs every part at tiny sizes on the CPU
(the test suite does). A command: it spans all stages on purpose.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import helpers  # noqa: F401 - offline switches before transformers is imported
from helpers.commands.parsing import SettingsParser
from helpers.core.io import iter_jsonl
from helpers.core.settings import setting

PARTS = ("env", "train", "describe", "extract", "lora", "guard")
logger = logging.getLogger(__name__)


def _texts(count: int, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Synthetic records and their (input, description) texts."""
    from helpers.core.contract import Policy
    from helpers.text.grammar import describe
    from helpers.text.linearize import linearize
    from helpers.text.synthetic import random_cv

    rng = random.Random(seed)
    records = [random_cv(rng, max_detections=12) for _ in range(count)]
    pairs = [{"input": linearize(r, "linked", Policy()), "output": describe(r, rng)} for r in records]
    return pairs, [text for pair in pairs for text in pair.values()]


def check_env(device: str, smoke: bool) -> list[dict]:
    import ctranslate2
    import torch

    from helpers.core.cuda_libs import CudaLibraryError, ct2_cuda_devices, load_cublas12

    row = {"torch": torch.__version__, "torch_cuda": torch.version.cuda, "ctranslate2": ctranslate2.__version__}
    row["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    row["ct2_cuda_devices"] = ct2_cuda_devices()
    try:
        row["cublas12"] = load_cublas12() if row["ct2_cuda_devices"] else "no GPU"
    except CudaLibraryError as error:
        row["cublas12"] = f"missing: {error}"
    return [row]


def check_train(device: str, smoke: bool) -> list[dict]:
    import torch

    from helpers.training.batch import DEFAULT_BATCH_SIZE, measured_batch, needs_probe
    from helpers.training.bench import batches_ours, time_steps
    from helpers.training.scratch_model import build_model, train_tokenizer

    pairs, texts = _texts(64 if smoke else 4096)
    tokenizer = train_tokenizer(texts)
    rows, steps = [], 2 if smoke else 20
    bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    on_gpu = device.startswith("cuda")
    for shape in ("tiny",) if smoke else ("tiny", "flan-t5-small"):
        model = build_model(tokenizer, shape)
        auto = DEFAULT_BATCH_SIZE
        if needs_probe("scratch", shape, on_gpu):  # the batch `batch_size: 0` would train this shape at
            longest = {"input": 0, "output": 0}
            for pair in pairs:
                longest["input"] = max(longest["input"], len(tokenizer(pair["input"])["input_ids"]))
                longest["output"] = max(longest["output"], len(tokenizer(text_target=pair["output"])["input_ids"]))
            auto, _ = measured_batch(model, longest, {"bf16": bf16, "fp16": False})
        for batch_size, how in (((8 if smoke else 32), "given"), (auto, "auto")):
            batches = batches_ours(tokenizer, pairs, batch_size, 0)
            with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                seconds = time_steps(model, batches, steps, device)
            rows.append(
                {
                    "shape": shape,
                    "precision": "bf16" if bf16 else "fp32",
                    "batch_size": batch_size,
                    "batch": how,
                    "examples_per_second": steps * batch_size / seconds,
                }
            )
    return rows


def _describer_folder(target: Path, shape: str, seed: int = 0) -> Path:
    """A model folder with a tokenizer, settings and a random-init model of `shape`, exported to CT2."""
    from helpers.core.contract import InputSpec, ModelSettings, Policy, write_model_settings
    from helpers.describer.bench import shaped_model
    from helpers.training.scratch_model import train_tokenizer

    source = target.with_name(target.name + ".tokenizer")
    source.mkdir(parents=True, exist_ok=True)
    train_tokenizer(_texts(512, seed)[1]).save_pretrained(source)
    settings = ModelSettings(
        InputSpec("linked", Policy()),
        base_model="scratch",
        max_source_length=96,
        max_target_length=40,
        max_new_tokens=40,
        num_beams=4,
    )
    write_model_settings(source, settings)
    from helpers.training import build_model

    return shaped_model(source, shape, target, build_model, seed)


def check_describe(device: str, smoke: bool) -> list[dict]:
    from helpers.describer.bench import benchmark_records, measure
    from helpers.describer.describe import Describer

    gpu = device.startswith("cuda")
    settings = [("hf", "float32"), ("hf", "bfloat16"), ("ct2", "float16"), ("ct2", "int8_float16")]
    if not gpu:
        settings = [("hf", "float32"), ("ct2", "float32"), ("ct2", "int8")]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        shape = "tiny" if smoke else "flan-t5-small"
        folder = _describer_folder(Path(work) / "model", shape)
        records = benchmark_records(16 if smoke else 1024)
        for backend, precision in settings:
            try:
                options = {"dtype": precision} if backend == "hf" else {"compute_type": precision}
                describer = Describer.load(folder, backend, device="cuda" if gpu else "cpu", **options)
            except Exception as error:  # noqa: BLE001 - one setting failing must not hide the others
                rows.append({"backend": backend, "precision": precision, "error": f"{type(error).__name__}: {error}"})
                continue
            for batch_size in (4, 8) if smoke else (32, 256):
                row = measure(describer, records, batch_size, describer.settings.num_beams, backend, precision)
                rows.append({**asdict(row), "records_per_second": row.records_per_second, "shape": shape})
    return rows


def check_guard(device: str, smoke: bool, describer: str = "") -> list[dict]:
    """Guarded describing vs plain `generate` (issue 31, item 2): records/s of each and their ratio,
    through the API (`describe_detailed` on a list) and through `desclm describe`'s file path
    (`describe_file`: the lines read, checked and written on the guard's workers)."""
    from helpers.describer.bench import benchmark_records
    from helpers.describer.describe import Describer
    from helpers.describer.guard import guard_workers
    from helpers.describer.run import describe_file

    gpu = device.startswith("cuda")
    dtype, batch_size = ("bfloat16" if gpu else "float32"), (16 if smoke else 1024)
    records = benchmark_records(4 * batch_size)
    workers = guard_workers("auto", device) if gpu else 1  # on the CPU auto is 0: one worker, to time the pool
    rows = []
    with tempfile.TemporaryDirectory() as work:
        shape = "tiny" if smoke else "flan-t5-small"
        models = [(f"{shape} shape", _describer_folder(Path(work) / "model", shape))]
        models += [(describer, Path(describer))] if describer else []
        source = Path(work) / "cv.jsonl"
        source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        for name, folder in models:
            for pool in (0, workers):
                model = Describer.load(folder, device="cuda" if gpu else "cpu", dtype=dtype, guard_workers=pool)
                inputs, new_tokens = model.inputs(records), model.settings.max_new_tokens
                auto_batch = model.generation_batch_size()  # what `--batch_size 0` (the default) would use here
                model.describe_detailed(records[:batch_size], batch_size, 1)  # warm-up (and the pool's start)
                started = time.perf_counter()
                model.backend.hypotheses(inputs, 1, new_tokens, batch_size)
                plain = len(records) / (time.perf_counter() - started)
                started = time.perf_counter()
                results = model.describe_detailed(records, batch_size, 1)
                guarded = len(records) / (time.perf_counter() - started)
                model.close()
                started = time.perf_counter()  # the command's path, its workers' start included
                describe_file(model, source, Path(work) / f"described.{pool}.jsonl", batch_size)
                command = len(records) / (time.perf_counter() - started)
                rows.append(
                    {
                        "model": name,
                        "dtype": dtype,
                        "batch_size": batch_size,
                        "auto_batch_size": auto_batch,
                        "records": len(records),
                        "guard_workers": pool,
                        "plain_records_per_second": plain,
                        "guarded_records_per_second": guarded,
                        "guarded_vs_plain": guarded / plain,
                        "command_records_per_second": command,
                        "command_vs_plain": command / plain,
                        "faithful": sum(r.faithful for r in results) / len(results),
                        "grammar_share": sum(r.source == "grammar" for r in results) / len(results),
                    }
                )
    return rows


def _detection_models(folder: Path, smoke: bool) -> dict:
    """Random-init YOLOv8x (Ultralytics), RT-DETR-R101-shaped (HF) and YOLOv8s-cls, saved as files."""
    import torch
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor, RTDetrResNetConfig
    from ultralytics import YOLO

    from helpers.demo.rtdetr import small_rtdetr_config

    torch.manual_seed(0)
    names = ["plastic", "metal", "paper", "glass", "organic"]
    yolo = YOLO("yolov8n.yaml" if smoke else "yolov8x.yaml")
    scene = YOLO("yolov8n-cls.yaml" if smoke else "yolov8s-cls.yaml")
    yolo.save(folder / "yolo.pt")
    scene.save(folder / "scene.pt")
    if smoke:
        config = small_rtdetr_config(names)
    else:  # ResNet-101's depths with the published r101vd encoder/decoder widths
        backbone = RTDetrResNetConfig(
            embedding_size=64,
            hidden_sizes=[256, 512, 1024, 2048],
            depths=[3, 4, 23, 3],
            layer_type="bottleneck",
            out_features=["stage2", "stage3", "stage4"],
        )
        config = RTDetrConfig(
            backbone_config=backbone,
            encoder_in_channels=[512, 1024, 2048],
            encoder_hidden_dim=384,
            encoder_ffn_dim=2048,
            d_model=256,
            decoder_in_channels=[384, 384, 384],
            decoder_ffn_dim=1024,
            decoder_layers=6,
            num_queries=300,
            id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)},
        )
    model = RTDetrForObjectDetection(config)
    model.save_pretrained(folder / "rtdetr")
    RTDetrImageProcessor(size={"height": 640, "width": 640}).save_pretrained(folder / "rtdetr")
    parameters = {"hf": sum(p.numel() for p in model.parameters())}
    parameters["yolo"] = sum(p.numel() for p in yolo.model.parameters())
    return {"yolo": folder / "yolo.pt", "hf": folder / "rtdetr", "scene": folder / "scene.pt", "parameters": parameters}


def check_extract(device: str, smoke: bool) -> list[dict]:
    from helpers.cv.bench import benchmark
    from helpers.cv.config import ExtractConfig
    from helpers.cv.pipeline_bench import write_photos

    with tempfile.TemporaryDirectory() as work:
        models = _detection_models(Path(work), smoke)
        size = (640, 480) if smoke else (4000, 3000)
        write_photos(Path(work) / "photos", 4 if smoke else 48, size)
        config = ExtractConfig(
            images=str(Path(work) / "photos"),
            yolo_weights=str(models["yolo"]),
            hf_model=str(models["hf"]),
            scene_weights=str(models["scene"]),
            imgsz=640,
            batch_size=2 if smoke else 16,
            device=device,
            loader_threads=2 if smoke else 0,
            ensemble_weights_file="",
        )
        result = benchmark(config, repeats=1)
    return [{**result, "photo_size": list(size), "parameters": models["parameters"]}]


def check_lora(device: str, smoke: bool) -> list[dict]:
    from helpers.training.bench import adapter_run, compare_adapters

    pairs, texts = _texts(64 if smoke else 512)
    shape, steps, batch_size = ("tiny", 2, 8) if smoke else ("flan-t5-base", 10, 32)
    if not device.startswith("cuda"):  # peak resident memory is a process's own: one fresh process each
        return compare_adapters(texts, pairs, shape, steps, batch_size, 0, device)
    return [adapter_run(texts, pairs, shape, adapter, steps, batch_size, 0, device) for adapter in ("none", "lora")]


CHECKS = {
    "env": check_env,
    "train": check_train,
    "describe": check_describe,
    "guard": check_guard,
    "extract": check_extract,
    "lora": check_lora,
}


def run_checks(parts: list[str], smoke: bool, device: str, output=sys.stdout, describer: str = "") -> list[dict]:
    """Runs each part; every result (or error) is one JSON line on `output`, written as it comes."""
    rows = []
    for part in parts:
        started = time.perf_counter()
        extra = {"describer": describer} if part == "guard" else {}
        try:
            results = [{"part": part, **row} for row in CHECKS[part](device, smoke, **extra)]
        except Exception as error:  # noqa: BLE001 - each part is guarded: report and go on
            results = [{"part": part, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc(-3)}]
        for row in results:
            row["part_seconds"] = round(time.perf_counter() - started, 1)
            output.write(json.dumps(row, default=str) + "\n")
            output.flush()
        rows += results
    return rows


def _row(row: dict) -> tuple[str, str, str]:
    part = row["part"]
    if "error" in row:
        setting = " ".join(str(row[k]) for k in ("backend", "precision", "shape") if k in row)
        return part, setting, "not measured: " + row["error"].split(". ")[0].split(" (")[0]
    if part == "env":
        return part, f"{row['gpu'] or 'no GPU'}", f"torch {row['torch']}, CTranslate2 {row['ctranslate2']}"
    if part == "describe":
        setting = f"{row['backend'].upper()} {row['compute_type']}, batch {row['batch_size']}, {row['num_beams']} beams"
        setting = f"{row['shape']} shape, {setting}" if "shape" in row else setting
        return part, setting, f"{row['records_per_second']:.1f} records/s (guarded faithful {row['faithful']:.0%})"
    if part == "guard":
        setting = f"{row['model']}, {row['dtype']}, batch {row['batch_size']}, {row['guard_workers']} guard workers"
        result = (
            f"guarded {row['guarded_records_per_second']:.0f} vs plain generate "
            f"{row['plain_records_per_second']:.0f} records/s ({row['guarded_vs_plain']:.0%})"
        )
        if "command_records_per_second" in row:  # rows written before the command's path was timed lack it
            result += f"; desclm describe {row['command_records_per_second']:.0f} ({row['command_vs_plain']:.0%})"
        if "auto_batch_size" in row:
            result += f"; auto batch here {row['auto_batch_size']}"
        return part, setting, result
    if part == "train":
        batch = f"batch {row['batch_size']}" + (" (auto)" if row.get("batch") == "auto" else "")
        setting = f"{row['shape']} shape, {row['precision']}, {batch}"
        return part, setting, f"{row['examples_per_second']:.0f} examples/s"
    if part == "lora":
        adapter = "full fine-tuning" if row["adapter"] == "none" else row["adapter"]
        return (
            part,
            f"{row['shape']} shape, {adapter}",
            (
                f"{row['trainable_parameters'] / 1e6:.1f}M of {row['parameters'] / 1e6:.1f}M trainable, "
                f"{row['examples_per_second']:.0f} examples/s, peak {row['peak_memory_mib']:.0f} MiB"
            ),
        )
    width, height = row["photo_size"]
    if "tensor_agreement" not in row:  # a run from before the tensor pipeline
        inside = sum(row["pipeline_model_seconds"].values())
        return (
            part,
            f"{row['images']} photos {width}x{height}, batch {row['batch_size']}",
            (
                f"models alone (full decode) {row['models_alone_images_per_second']:.1f} images/s; pipeline "
                f"{row['extraction_images_per_second']:.1f} images/s ({inside:.1f} s in the models, "
                f"{row['pipeline_other_seconds']:.1f} s around them)"
            ),
        )
    agreement = row["tensor_agreement"]
    return (
        part,
        f"{row['images']} photos {width}x{height}, batch {row['batch_size']}",
        (
            f"library pipeline {row['extraction_images_per_second']:.1f} images/s (models alone "
            f"{row['models_alone_images_per_second']:.1f}); tensor pipeline, {row['tensor_precision']}: "
            f"{row['tensor_extraction_images_per_second']:.1f} images/s, {row['tensor_share_of_ceiling']:.0%} of the "
            f"forward-only ceiling {row['ceiling_images_per_second']:.1f}"
            + (
                f" ({agreement['matched_share']:.1%} of boxes as the library pipeline's)"
                if agreement["matched_share"] is not None
                else " (no boxes to compare: random weights)"
            )
        ),
    )


def markdown_table(rows: list[dict]) -> str:
    """The JSON lines of a run as the table the README shows (the env line goes in its caption)."""
    lines = ["| check | setting | result |", "| --- | --- | --- |"]
    lines += ["| " + " | ".join(_row(row)) + " |" for row in rows if row["part"] != "env"]
    return "\n".join(lines) + "\n"


@dataclass
class GpuCheckOptions:
    """The GPU check's settings."""

    smoke: bool = setting(False, "tiny sizes, on the CPU (for the test suite)")
    parts: str = setting(",".join(PARTS), "comma-separated parts to run")
    device: str = setting("auto", "auto (CUDA when available), cpu or cuda")
    output: str = setting("", "also append the JSON lines to this file")
    describer: str = setting("", "guard part: also time this trained describer (make demo's: models/description_llm)")
    table: str = setting("", "print a run's JSON lines (this file) as a Markdown table; run nothing")


def main(argv: list[str], prog: str = "desclm gpu-check") -> int:
    parser = SettingsParser(GpuCheckOptions, prog=prog, description=__doc__.split("\n\n")[0])
    options, _ = parser.parse(argv)
    if options.table:
        lines = list(iter_jsonl(options.table))  # lines end at "\n" only; a broken line is named, not fatal
        for line in lines:
            if line.error:
                logger.warning("skipped %s", line.error)
        print(markdown_table([line.record for line in lines if line.record is not None]), end="")
        return 1 if any(line.error for line in lines) else 0
    parts = [p for p in options.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    from helpers.core.device import resolve_device

    device = "cpu" if options.smoke else resolve_device(options.device)
    with open(options.output or os.devnull, "a", encoding="utf-8") as file:
        rows = run_checks(parts, options.smoke, device, _Tee(sys.stdout, file), options.describer)
    return 1 if any("error" in row for row in rows) else 0


class _Tee:
    """Writes to several streams (stdout and the --output file, each line as it comes)."""

    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, text: str) -> None:
        for stream in self.streams:
            stream.write(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

"""01's engine: run the detector ensemble and the scene classifier over an image set.

    desclm extract --params FILE.yaml      # FILE: ExtractConfig fields (or a pipeline file)
    desclm extract merge OUT.jsonl SHARD.jsonl [SHARD.jsonl ...]

One JSONL record per image (see `helpers.cv.ground_truth`), written a batch at a time and flushed
to `.<output name>.partial`, so a killed run loses at most the batch in flight; the output (and
its errors file) appears under its own name only when complete, and the manifest then says
`"complete": true`. Rerunning with the same output skips the images already there (by path),
repairs a half-written last line, and retries images that failed before. One run at a time
writes an output (a second refuses, naming the first), and no output may be one of the run's
inputs (a listed photo, the list, a model file). Unreadable images go to
`<output stem>.errors.jsonl` with the reason; they never stop a run. A photo that ends the process
itself (a crash in a decoder's native code, a kill for memory) cannot be caught: after a run that
did not finish, the photos it may have held unwritten are tried one at a time, each named first in
`.<output name>.trying`, so the run after a second death writes the photo named there as an error
line (`"crashed": true`) and goes on; such photos are not retried unless `retry_crashed` is set.
`<output stem>.manifest.json`
records the models and settings, and a rerun with other models or settings refuses to append to
the same output. `num_shards`/`shard_index` split the images by a stable hash of their path;
each shard writes `<stem>.shard-KofN.jsonl` and `merge` combines the shard files once every
shard of the run is complete, refusing overlaps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from helpers.core.contract import Policy
from helpers.core.io import atomic_write_text, iter_jsonl, side_files, write_jsonl
from helpers.core.logs import progress
from helpers.core.outputs import (
    OutputLock,
    check_not_listed,
    check_writable,
    check_writes,
    lock_path,
    partial_paths,
)
from helpers.core.paths import resolve
from helpers.core.remote import is_remote
from helpers.core.video_frames import DEFAULT_VIDEO_INTERVAL
from helpers.cv.batch import BatchExtractor, BatchResult, ModelLoadError, decode_batches, decode_side  # noqa: F401 - re-exported: callers import them from here
from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import DetectorSpec, SceneClassifier
from helpers.cv.files import scan_keys
from helpers.cv.hf_truth import DEFAULT_BBOX_FORMAT
from helpers.cv.sources import ImageItem, ImageSource, select

logger = logging.getLogger(__name__)


def _flat(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}.{key}" if prefix else key).items()
        }
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        names = [str(v.get("name", i)) for i, v in enumerate(value)]
        return {k: v for name, item in zip(names, value) for k, v in _flat(item, f"{prefix}[{name}]").items()}
    return {prefix: value}


def check_resumable(output: Path, manifest: Path, settings: dict) -> None:
    """Refuses to add to an output made with other settings, naming what changed, or made with
    settings nobody recorded (its manifest deleted).

    Raises:
        ValueError: The output holds records and its manifest is missing or differs.
    """
    if not output.exists() or output.stat().st_size == 0:
        return
    if not manifest.exists():
        raise ValueError(
            f"{output} holds records but its manifest {manifest} is missing, so the settings that made them "
            "are unknown; restore the manifest, choose another output, or delete the output to start over"
        )
    previous = json.loads(manifest.read_text())
    if previous.get("fingerprint") == settings["fingerprint"]:
        return
    old, new = _flat({k: previous.get(k) for k in settings if k != "fingerprint"}), _flat(settings)
    changed = [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in sorted(set(old) | set(new) - {"fingerprint"})
        if old.get(key) != new.get(key)
    ]
    raise ValueError(
        f"{output} holds records of other models or settings ({'; '.join(changed) or 'see ' + str(manifest)}); "
        "choose another output, or delete it or set restart_on_change to start over"
    )


def settings_fingerprint(config: ExtractConfig, specs: list[DetectorSpec]) -> dict:
    """What decides a record's content; a resumed or merged output must agree on it."""

    def size(path: str) -> int | None:
        p = resolve(path) if path else None
        if p and p.is_dir():  # a model folder: all its files
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size if p and p.is_file() else None

    models = [{**asdict(s), "size_bytes": size(s.weights)} for s in specs]
    settings = {
        "detections_from": config.detections_from,
        "detectors": models if config.detections_from == "models" else [],
        "scene": {
            "weights": config.scene_weights,
            "size_bytes": size(config.scene_weights),
            "imgsz": config.scene_imgsz,
        }
        if config.detections_from == "models"
        else "labels",
        "label_map": config.label_map,
        "fusion": asdict(config.fusion()),
        "imgsz": config.imgsz,
        "draft_decode": config.draft_decode,
        "save_model_detections": config.save_model_detections,
        "read_exif": config.read_exif,
        # each detector's threshold is mapped to the describer's before fusion (helpers.cv.fusion)
        "scores_aligned_to": Policy().min_confidence if config.detections_from == "models" else None,
    }
    # only when set, so that outputs made before these settings existed keep their fingerprint
    settings |= {
        name: getattr(config, name)
        for name in ("prediction_names", "image_root", "image_column", "key_column", "objects_column")
        if getattr(config, name)
    }
    if config.bbox_format != DEFAULT_BBOX_FORMAT:
        settings["bbox_format"] = config.bbox_format
    if config.video_interval != DEFAULT_VIDEO_INTERVAL:  # which frames of a video are listed
        settings["video_interval"] = config.video_interval
    if config.slice_size and config.detections_from == "models":
        settings["slicing"] = {"size": config.slice_size, "overlap": config.slice_overlap}
    # like `device`, `auto` follows where the models run (records differ in the last digits between devices)
    settings |= {name: getattr(config, name) for name in ("preprocess", "precision") if getattr(config, name) != "auto"}
    settings["fingerprint"] = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]
    return settings


class ExtractionEngine(Protocol):
    """Where the models run: `LocalEngine` (this process) or `helpers.engine.RayEngine` (a Ray cluster).

    `prepare` loads (or checks) everything it needs before the run writes anything; `run` yields one
    `BatchResult` per batch of the photos to do, in any order; `forward_seconds` says, when it can,
    how long each model's forward passes took.
    """

    def prepare(self, config: ExtractConfig, source: ImageSource) -> None: ...

    def run(self, todo: list[ImageItem]) -> Iterator[BatchResult]: ...

    def forward_seconds(self) -> dict[str, float] | None: ...


class LocalEngine:
    """The models in this process; photos decoded by threads two batches ahead (the default engine).

    Args:
        detectors: Already loaded detectors matching the config's (to reuse them across runs);
            None loads them.
        scene_model: Likewise, the loaded scene classifier.
    """

    # Batches this process holds but has not written, were it to die: one being finished, one in the
    # models, two decoding. After an unfinished run, that many photos are tried alone (`_extract`).
    unwritten_batches = 4

    def __init__(self, detectors: list | None = None, scene_model: SceneClassifier | None = None) -> None:
        self.detectors, self.scene_model = detectors, scene_model
        self.extractor: BatchExtractor | None = None

    def prepare(self, config: ExtractConfig, source: ImageSource) -> None:
        self.config = config
        self.extractor = BatchExtractor(config, source, self.detectors, self.scene_model)

    def run(self, todo: list[ImageItem]) -> Iterator[BatchResult]:
        config = self.config
        batches = decode_batches(
            todo,
            config.batch_size,
            config.decoding_threads(self.extractor.source.root),
            self.extractor.min_side,
            config.read_exif,
            config.video_interval,
        )
        yield from self.extractor.overlapped(batches)

    def forward_seconds(self) -> dict[str, float]:
        return self.extractor.forward_seconds()


def run_extraction(
    config: ExtractConfig,
    detectors: list | None = None,
    scene_model: SceneClassifier | None = None,
    engine: ExtractionEngine | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> dict:
    """Runs (or resumes) one extraction; returns its summary (counts, timings, paths).

    Args:
        config: What to run.
        detectors: Already loaded detectors matching `config`'s (to reuse them across runs);
            None loads them.
        scene_model: Likewise, the loaded scene classifier.
        engine: Where the models run (default: `LocalEngine(detectors, scene_model)`).
        on_batch: Called with each batch's result once its lines are written (`desclm annotate`).

    Raises:
        ValueError: An input or setting is wrong, an output file is one of the inputs, or another
            run is writing the same output (`OutputBusyError`); all before any model loads.
        OSError: An input cannot be read, or the output's folder cannot be written.
    """
    config.check_inputs(models_loaded=detectors is not None)
    engine = engine or LocalEngine(detectors, scene_model)
    output = config.output_path()
    files = side_files(output)
    partial, partial_errors = (partial_paths(path)[0] for path in (output, files["errors"]))
    source = config.image_source()
    if config.detections_from == "labels" and not source.has_ground_truth:
        raise ValueError(
            "detections_from='labels' needs a YOLO data.yaml, a COCO .json or a Hugging Face dataset with boxes (an "
            f"hf export's with --objects), got {source.kind} {config.images}"
        )
    selected = select(
        source.items, max_images=config.max_images, num_shards=config.num_shards, shard_index=config.shard_index
    )
    specs = config.detector_specs() if config.detections_from == "models" else []
    written_files = [output, partial, files["errors"], partial_errors, files["manifest"], lock_path(output)]
    written_files.append(trying_path(output))
    check_writes(written_files, _named_inputs(config, source))
    check_not_listed(  # by file name first: no Path made for each of 10^7 photos
        written_files, source.items, name=lambda item: item.key.rpartition("/")[2], path=lambda item: item.path
    )
    check_writable(output)
    with OutputLock(output):  # a second run on this output refuses, naming this one
        return _extract(config, source, selected, specs, output, engine, on_batch)


def _named_inputs(config: ExtractConfig, source) -> list[Path]:
    """The files a run reads besides the photos: the source's list or data.yaml, models, settings."""
    named = [] if source.kind == "folder" or is_remote(config.images) else [resolve(config.images)]  # (no file here)
    paths = (config.yolo_weights, config.hf_model, config.scene_weights, config.ensemble_weights_file)
    paths += (config.yolo_predictions, config.hf_predictions)
    return named + [resolve(path) for path in paths if path and resolve(path).is_file()]


def _extract(config: ExtractConfig, source, selected: list, specs: list, output: Path, engine, on_batch) -> dict:
    """`run_extraction` once its output is locked: resume, load, run, then put the output in place."""
    files = side_files(output)
    partial, partial_errors = (partial_paths(path)[0] for path in (output, files["errors"]))
    settings = settings_fingerprint(config, specs)
    # Work in progress lives in `.<name>.partial`; the output appears under its name only when complete.
    current = partial if partial.exists() else output
    try:
        check_resumable(current, files["manifest"], settings)
    except ValueError as error:
        if not config.restart_on_change:
            raise
        logger.warning("%s: starting it over (restart_on_change)", str(error).split(";")[0])
        output.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
        current = partial
    unfinished = current == partial  # an earlier run on this output did not finish
    done, repaired = scan_keys(current)
    errors_file = partial_errors if partial_errors.exists() else files["errors"]
    old_errors = [line.record for line in iter_jsonl(errors_file)] if errors_file.exists() else []
    old_errors = [error for error in old_errors if isinstance(error, dict)]
    # photos that ended a process when tried alone wait for `retry_crashed`: retried, they would end this one
    crashed = set() if config.retry_crashed else {e.get("image") for e in old_errors if e.get("crashed") is True}
    todo = [item for item in selected if item.key not in done and item.key not in crashed]
    journal = trying_path(output)
    died_on = journal.read_bytes().decode("utf-8", "surrogateescape") if journal.exists() else None
    engine.prepare(config, source)  # models load before anything is written: a failure leaves no file behind
    if current == output and output.exists():
        # the finished file becomes the work in progress again (also with nothing to add: the run
        # writes through the partial file, which then replaces the output)
        os.replace(output, partial)
    # Images that failed before are retried now, and images no longer in the source are gone:
    # their old error lines go; errors of images outside this run's selection stay. (Sets of the
    # failed images only: of every key, they would take a GB at 10^7 photos.)
    failed_before = {error.get("image") for error in old_errors}
    todo_keys = {item.key for item in todo if item.key in failed_before}
    existing = {item.key for item in source.items if item.key in failed_before}
    errors = [e for e in old_errors if e.get("image") in existing and e.get("image") not in todo_keys]
    lost = [] if config.retry_crashed else [item for item in todo if item.key == died_on]  # a process died on it, alone
    if lost:
        logger.warning("%s ended the last run's process when tried alone: written as an error, left out", died_on)
        errors.append({"image": died_on, "split": lost[0].split, "error": CRASHED_ALONE, "crashed": True})
        todo = [item for item in todo if item.key != died_on]
    write_jsonl(partial_errors, errors)
    # After an unfinished run, the photos it may have held unwritten when it died go one at a time
    suspects = todo[: getattr(engine, "unwritten_batches", 0) * config.batch_size] if unfinished else []
    manifest = {
        **settings,
        "images": str(config.images),
        "image_root": str(source.root),
        "source_kind": source.kind,
        "num_shards": config.num_shards,
        "shard_index": config.shard_index,
        "output": str(output),
        "complete": False,  # true once every selected image is in the output or its errors file
    }
    atomic_write_text(files["manifest"], json.dumps(manifest, indent=2) + "\n")

    started, written, failed, truth_errors, taken_problems = time.perf_counter(), 0, 0, 0, 0
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(partial, "a") as out,
        open(partial_errors, "a") as err,
        progress(total=len(todo), desc="extract", unit="img") as bar,
    ):
        for result in _results(engine, todo, suspects, journal):
            out.write("".join(result.lines))  # whole lines per batch; a kill mid-write leaves one partial line
            err.write("".join(result.error_lines))
            out.flush()
            err.flush()
            if config.fsync:  # a killed process loses nothing flushed; a power cut needs the sync
                os.fsync(out.fileno())
            written, failed = written + len(result.lines), failed + len(result.error_lines)
            truth_errors += result.truth_errors
            taken_problems += result.taken_problems
            if on_batch:
                on_batch(result)
            bar.update(result.inputs)
    journal.unlink(missing_ok=True)
    if taken_problems:
        logger.warning(
            "%d photos' EXIF capture time or GPS position could not be read: left out of their records' `taken`, "
            "each named in its `taken.problems`",
            taken_problems,
        )
    if partial.exists():
        os.replace(partial, output)
    os.replace(partial_errors, files["errors"])
    atomic_write_text(files["manifest"], json.dumps({**manifest, "complete": True}, indent=2) + "\n")
    seconds = time.perf_counter() - started
    forward = engine.forward_seconds()
    return {
        "output": str(output),
        "errors_output": str(files["errors"]),
        "manifest": str(files["manifest"]),
        "selected_images": len(selected),
        "already_done": sum(1 for item in selected if item.key in done),
        "processed": written,
        "failed": failed + len(lost),
        "crashed_left_out": len(crashed & {item.key for item in selected}),  # not retried (`retry_crashed`)
        "repaired_partial_line": repaired,
        "ground_truth_errors": truth_errors,  # photos whose label file is unreadable (named in their record)
        "taken_problems": taken_problems,  # photos whose EXIF time or position is unreadable (named in their record)
        "seconds": seconds,
        "images_per_second": (written + failed) / seconds if seconds > 0 and todo else None,
        "forward_seconds": forward,  # None where the engine cannot say (models in other processes)
        "forward_share": sum(forward.values()) / seconds if forward is not None and seconds > 0 and todo else None,
        "weights": {spec.name: spec.weight for spec in specs},
    }


CRASHED_ALONE = (
    "ended the process when tried alone (a crash in a decoder's or model's native code, or a kill for memory): "
    "left out; set retry_crashed to try it again"
)


def trying_path(output: Path) -> Path:
    """The file naming the photo being tried alone (see the module docstring)."""
    return output.with_name(f".{output.name}.trying")


def _results(engine, todo: list[ImageItem], suspects: list[ImageItem], journal: Path) -> Iterator[BatchResult]:
    """The engine's results for `todo`: `suspects` (its first photos) one at a time, each named in
    `journal` until its result is handed on, then the rest as the engine batches them."""
    for item in suspects:
        named = journal.with_name(f"{journal.name}.new")  # renamed over it: a death mid-write leaves the last name
        named.write_bytes(item.key.encode("utf-8", "surrogateescape"))  # any file name, as the key holds it
        os.replace(named, journal)
        yield from engine.run([item])  # the caller writes the result before asking for the next
    journal.unlink(missing_ok=True)
    yield from engine.run(todo[len(suspects) :])


@dataclass
class ExtractionResult:
    """What a CV-output run produced: records, failures, and where they were written."""

    records: list[dict]
    errors: list[dict] = field(default_factory=list)
    output: Path | None = None
    errors_output: Path | None = None

    def class_counts(self) -> dict[str, int]:
        return dict(Counter(d["label"] for r in self.records for d in r["detections"]).most_common())

    def scene_counts(self) -> dict[str, int]:
        return dict(Counter(r["scene"]["class"] for r in self.records).most_common())


def ground_truth_outputs(data_yaml: str | Path, output: str | Path, max_images: int = 0) -> ExtractionResult:
    """Writes CV output records made from a YOLO dataset's labels and its `scenes.csv`.

    The same run as notebook 01 with `detections_from="labels"` (resumes an existing output).

    Args:
        data_yaml: The dataset's `data.yaml`.
        output: JSONL to write; failures go to `<output stem>.errors.jsonl` beside it.
        max_images: Use only the first N images in split order (0 = all).

    Returns:
        The records and the failures (unreadable images, malformed label files).
    """
    run = run_extraction(
        ExtractConfig(images=str(data_yaml), output=str(output), max_images=max_images, detections_from="labels")
    )
    return ExtractionResult(
        records=[line.record for line in iter_jsonl(run["output"])],
        errors=[line.record for line in iter_jsonl(run["errors_output"])],
        output=Path(run["output"]),
        errors_output=Path(run["errors_output"]),
    )

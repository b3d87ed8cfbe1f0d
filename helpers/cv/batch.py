"""One batch of photos through the models: the work every extraction engine shares.

`BatchExtractor` holds the loaded detectors and scene classifier and turns a batch of decoded
photos into CV output lines and error lines. The local engine (`helpers.cv.extract`) calls it in
this process; the Ray engine (`helpers.engine`) calls the same code inside each actor of its pool,
so both write the same records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial as partial_call
from typing import NamedTuple

from PIL import Image

from helpers.core.camera_motion import camera_motion
from helpers.core.contract import Policy
from helpers.core.device import cpu_cores
from helpers.core.paths import resolve
from helpers.core.remote import is_remote
from helpers.core.tar_photos import MEMBER, read_members, split_key
from helpers.core.video_frames import DEFAULT_VIDEO_INTERVAL, FRAME
from helpers.cv.config import ExtractConfig
from helpers.cv.detectors import (
    UNKNOWN_SCENE,
    DetectorSpec,
    SceneClassifier,
    load_detector,
    resolve_device,
    uses_half,
    uses_tensors,
)
from helpers.cv.fusion import align_scores, fuse
from helpers.cv.ground_truth import add_ground_truth, labelled_truth
from helpers.cv.predictions import PredictedDetector, read_names
from helpers.cv.slicing import sliced
from helpers.cv.sources import ImageItem, ImageSource, decode_photo

logger = logging.getLogger(__name__)


class Decoded(NamedTuple):
    """A photo of a batch, decoded or not."""

    item: ImageItem
    image: Image.Image | None  # None: it could not be decoded
    size: tuple[int, int]  # its full size, as a person sees it
    error: str  # why it could not be decoded ("": it was)
    taken: dict | None = None  # when and where (`helpers.cv.exif`), when asked for and known
    motion: list | None = None  # a video's frame: the camera's motion since the frame listed before, when measured


def decode_item(
    item: ImageItem,
    min_side: int = 0,
    taken: bool = False,
    video_interval: float = DEFAULT_VIDEO_INTERVAL,
    data: bytes | None = None,
) -> Decoded:
    """The photo decoded (see `decode_photo`; from `data`, its bytes when read already), or why it cannot be:
    never raises for the file. A video's frame also has the camera's motion since the frame listed
    `video_interval` seconds before (`helpers.core.camera_motion`; None where not measured: the frame before
    unreadable is its own error)."""
    try:
        image, size, when_where = decode_photo(item, min_side, taken, data)
    except Exception as error:  # noqa: BLE001 - any unreadable image is reported, never fatal
        return Decoded(item, None, (0, 0), f"{type(error).__name__}: {error}")
    motion = None
    if item.column == FRAME:
        try:
            motion = camera_motion(item.path, item.row, image, round(video_interval * 1000), min_side)
        except Exception:  # noqa: BLE001 - the frame before cannot be decoded: its own record says so
            motion = None
    return Decoded(item, image, size, "", when_where, motion)


def decode_batches(
    items: list[ImageItem],
    batch_size: int,
    threads: int,
    min_side: int = 0,
    taken: bool = False,
    video_interval: float = DEFAULT_VIDEO_INTERVAL,
) -> Iterator[list[Decoded]]:
    """Batches of decoded images, decoded by threads (PIL's and FFmpeg's decoders release the GIL) one
    batch ahead of the models (a video's frames in runs, `decoding_runs`, as many as cores, not threads; a batch's
    photos of a remote tar shard read in one request, `shard_runs`, then decoded by every thread); JPEGs at a
    reduced scale when `min_side` allows (see `decode_photo`), with when and where each was taken when `taken`, and
    a video frame's camera motion since the frame `video_interval` seconds before (`decode_item`)."""
    load = partial_call(decode_item, min_side=min_side, taken=taken, video_interval=video_interval)

    def decode(chunk: list[ImageItem]):  # a thread decodes each run of the chunk, once its shard's photos are read
        read: dict[int, tuple[Future, int]] = {}  # by the item's id: its shard's request and its place in it
        for run in shard_runs(chunk):  # queued before the decoding that waits for it: a thread takes it first
            request = pool.submit(read_members, run[0].path, [item.row for item in run])
            read.update((id(item), (request, place)) for place, item in enumerate(run))

        def decode_run(run: list[ImageItem]) -> list[Decoded]:
            return [load(item, data=_read(read.get(id(item)))) for item in run]

        # a video's frames split among the cores, not the threads (more threads than cores wait on remote photos'
        # requests; more runs of a video would each seek and, remote, read ahead on their own)
        return pool.map(decode_run, decoding_runs(chunk, min(threads, cpu_cores())))

    chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = [decode(chunk) for chunk in chunks[:2]]
        for index in range(len(chunks)):
            batch = [decoded for run in pending.pop(0) for decoded in run]
            if index + 2 < len(chunks):
                pending.append(decode(chunks[index + 2]))
            yield batch


def _read(found: tuple[Future, int] | None) -> bytes | None:
    """A photo's bytes from its shard's run's request (`shard_runs`), when it had one."""
    return found[0].result()[found[1]] if found else None


def decoding_runs(items: list[ImageItem], threads: int) -> list[list[ImageItem]]:
    """The items as the decoding threads take them, in order: a photo alone; a video's consecutive frames in
    runs of up to len(items)/threads, which one thread decodes on through (`helpers.core.video_frames`),
    where frames dealt one by one would have every thread decode the same stretch of the video."""
    longest = max(1, -(-len(items) // max(threads, 1)))
    runs: list[list[ImageItem]] = []
    for item in items:
        last = runs[-1][-1] if runs else None
        same_video = last is not None and item.column == last.column == FRAME and item.path == last.path
        if same_video and len(runs[-1]) < longest:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def shard_runs(items: list[ImageItem]) -> list[list[ImageItem]]:
    """The runs of consecutive photos of one remote tar shard among the items (two or more), each read in as few
    requests as `read_members` can (one, mostly) before they are decoded, each photo still its own error."""
    runs: list[list[ImageItem]] = []
    shard = None
    for item in items:
        this = split_key(item.key)[0] if item.column == MEMBER and is_remote(item.root) else None
        if this is not None and this == shard:
            runs[-1].append(item)
        elif this is not None:
            runs.append([item])
        shard = this
    return [run for run in runs if len(run) > 1]


def read_shard_runs(items: list[ImageItem]) -> list[bytes | None]:
    """Each item's bytes where it is in a run of a remote shard's photos (`shard_runs`, read here), else None."""
    read = {
        id(item): data
        for run in shard_runs(items)
        for item, data in zip(run, read_members(run[0].path, [i.row for i in run]))
    }
    return [read.get(id(item)) for item in items]


def predict_with(model, images: list[Image.Image], photos):
    """`model`'s predictions for a batch: from the photos already on its device (`helpers.cv.tensors`)
    when uploaded and the model takes them, else from the decoded images."""
    if photos is not None and hasattr(model, "predict_tensors"):
        return model.predict_tensors(photos)
    return model.predict(images)


def decode_side(models: list) -> int:
    """The smallest image side every model still gets at full detail (its `input_side`); 0 (decode
    in full) when a model does not say."""
    sides = [getattr(model, "input_side", 0) for model in models]
    return max(sides) if sides and all(sides) else 0


class ModelLoadError(ValueError):
    """A model file or folder exists but its library cannot load it (corrupt, or another kind of file)."""


def loaded(weights: str, load):
    """`load()`, its failure (any library's exception) as one ModelLoadError naming the weights."""
    try:
        return load()
    except (FileNotFoundError, ModelLoadError):
        raise
    except Exception as error:  # noqa: BLE001 - Ultralytics and transformers raise KeyError, RuntimeError, ...
        message = " ".join(str(error).split())[:300]
        raise ModelLoadError(
            f"{resolve(weights)} could not be loaded as a model: {type(error).__name__}: {message}"
        ) from error


@dataclass
class BatchResult:
    """What one batch gave: CV output lines and error lines (JSON text, each ending in a newline)."""

    inputs: int  # photos in the batch
    lines: list[str] = field(default_factory=list)
    error_lines: list[str] = field(default_factory=list)
    truth_errors: int = 0  # records whose label file is unreadable (named in the record)
    taken_problems: int = 0  # records whose EXIF time or position is unreadable (named in the record's `taken`)
    described: list[str] | None = None  # `desclm annotate` on Ray: the records' descriptions, made by actors


@dataclass
class _Inferred:
    """A batch after its models: the result so far (error lines), the photos kept, each model's detections."""

    result: BatchResult
    good: list[Decoded]  # the photos decoded, whose predictions (if read from files) were readable
    per_model: list[list]
    scenes: list[dict]


def error_line(item: ImageItem, reason: str) -> str:
    """The photo's line in the errors file: its key, split and why it has no record."""
    return json.dumps({"image": item.key, "split": item.split, "error": reason}) + "\n"


class BatchExtractor:
    """The models of one extraction, loaded; `extractor(batch)` gives the batch's `BatchResult`.

    Args:
        config: The run's settings.
        source: Where the photos come from (ground truth and predictions are read through it;
            its item list is not needed).
        detectors: Already loaded detectors matching the config's (None: load them).
        scene_model: Likewise the scene classifier.

    Raises:
        ModelLoadError: A model file cannot be loaded (FileNotFoundError: it is gone).
        ValueError: The given detectors do not match the configured ones.
    """

    def __init__(
        self,
        config: ExtractConfig,
        source: ImageSource,
        detectors: list | None = None,
        scene_model: SceneClassifier | None = None,
    ) -> None:
        self.config, self.source = config, source
        self.specs = config.detector_specs() if config.detections_from == "models" else []
        self.device = resolve_device(config.device)
        half = uses_half(config.precision, self.device)
        self.tensors = uses_tensors(config.preprocess, self.device) and config.detections_from == "models"
        if detectors is None:
            load = partial_call(
                load_detector, imgsz=config.imgsz, device=self.device, half=half, shared_label_map=config.label_map
            )
            detectors = [
                loaded(spec.weights, partial_call(predicted_detector, config, source, spec))
                if spec.backend == "predictions"
                else loaded(spec.weights, partial_call(load, spec))
                for spec in self.specs
            ]
        if scene_model is None and config.scene_weights and config.detections_from == "models":
            scene = partial_call(
                SceneClassifier, config.scene_weights, imgsz=config.scene_imgsz, device=self.device, half=half
            )
            scene_model = loaded(config.scene_weights, scene)
        given, configured = [d.name for d in detectors], [s.name for s in self.specs]
        if given != configured:
            raise ValueError(f"given detectors {given} do not match the configured {configured}")
        if config.slice_size:  # saved predictions are read as they were made
            detectors = [sliced(d, config) if not isinstance(d, PredictedDetector) else d for d in detectors]
        self.detectors, self.scene_model = detectors, scene_model

    @property
    def min_side(self) -> int:
        """The side JPEGs may be decoded down to (0: in full); see `decode_side`."""
        if not self.config.draft_decode:
            return 0
        return decode_side([*self.detectors, self.scene_model] if self.scene_model else self.detectors)

    def forward_seconds(self) -> dict[str, float]:
        forward = {d.name: d.forward_seconds for d in self.detectors}
        if self.scene_model:
            forward["scene"] = self.scene_model.forward_seconds
        return forward

    def __call__(self, batch: list[Decoded]) -> BatchResult:
        """The batch's records and error lines. Should a model fail on the batch, each photo is
        run alone, and one that still fails becomes an error line: a batch is never lost."""
        try:
            return self.finish(self.infer(batch))
        except Exception:  # noqa: BLE001 - one photo must not cost the others
            logger.warning("a batch of %d photos failed; running them one at a time", len(batch), exc_info=True)
        return self.photo_by_photo(batch)

    def overlapped(self, batches: Iterator[list[Decoded]]) -> Iterator[BatchResult]:
        """`self(batch)` for each batch, in order, with a batch's fusion and records made on a thread
        while the previous batch is written and the models run on the next (on a GPU the chip then
        waits less on Python). A failure anywhere falls back to the photo-by-photo run here, on this
        thread (the models are not shared across threads)."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="desclm-records") as finishing:
            pending: tuple[list[Decoded], Future] | None = None
            for batch in batches:
                try:
                    inferred = self.infer(batch)
                except Exception:  # noqa: BLE001
                    logger.warning("a batch of %d photos failed; running them one at a time", len(batch), exc_info=True)
                    inferred = None
                done = self._collected(*pending) if pending is not None else None
                pending = None
                if inferred is not None:  # its records start before the previous batch is handed on
                    pending = (batch, finishing.submit(self.finish, inferred))
                if done is not None:
                    yield done
                if inferred is None:
                    yield self.photo_by_photo(batch)
            if pending is not None:
                yield self._collected(*pending)

    def _collected(self, batch: list[Decoded], finished: Future) -> BatchResult:
        try:
            return finished.result()
        except Exception:  # noqa: BLE001
            logger.warning("a batch of %d photos failed; running them one at a time", len(batch), exc_info=True)
            return self.photo_by_photo(batch)

    def photo_by_photo(self, batch: list[Decoded]) -> BatchResult:
        """Each photo of the batch run alone; one that fails is an error line naming why."""
        result = BatchResult(inputs=len(batch))
        for decoded in batch:
            try:
                alone = self.finish(self.infer([decoded]))
            except Exception as error:  # noqa: BLE001
                result.error_lines.append(error_line(decoded[0], f"{type(error).__name__}: {error}"))
                continue
            result.lines += alone.lines
            result.error_lines += alone.error_lines
            result.truth_errors += alone.truth_errors
            result.taken_problems += alone.taken_problems
        return result

    def _uploaded(self, images: list[Image.Image]):
        """The batch on the models' device once, for every model that takes tensors (`preprocess`); else None."""
        takes_tensors = any(hasattr(model, "predict_tensors") for model in [*self.detectors, self.scene_model])
        if not (self.tensors and images and takes_tensors):
            return None
        from helpers.cv.tensors import DevicePhotos

        return DevicePhotos.upload(images, self.device)

    def infer(self, batch: list[Decoded]) -> _Inferred:
        """The models' part of a batch (read predictions, detectors, scene classifier): what `finish` needs."""
        specs = self.specs
        result = BatchResult(inputs=len(batch))
        good = [decoded for decoded in batch if decoded.image is not None]
        result.error_lines += [error_line(decoded.item, decoded.error) for decoded in batch if decoded.error]
        # Detectors read from files first (`helpers.cv.predictions`): a photo whose predictions are
        # unreadable is an error line, and the models do not run on it.
        predicted = {
            detector.name: detector.predict_items([decoded.item for decoded in good])
            for detector in self.detectors
            if isinstance(detector, PredictedDetector)
        }
        unreadable = {
            index: str(found)
            for results in predicted.values()
            for index, found in enumerate(results)
            if isinstance(found, ValueError)
        }
        result.error_lines += [error_line(good[index].item, reason) for index, reason in sorted(unreadable.items())]
        kept = [index for index in range(len(good)) if index not in unreadable]
        good = [good[index] for index in kept]
        images = [decoded.image for decoded in good]
        photos = self._uploaded(images)
        per_model = [
            [
                align_scores(found, spec.conf, Policy().min_confidence)
                for found in (
                    [predicted[detector.name][index] for index in kept]
                    if detector.name in predicted
                    else predict_with(detector, images, photos)
                )
            ]
            for detector, spec in zip(self.detectors, specs)
        ]
        scenes = (
            predict_with(self.scene_model, images, photos)
            if self.scene_model
            else [dict(UNKNOWN_SCENE) for _ in images]
        )
        return _Inferred(result, good, per_model, scenes)

    def finish(self, inferred: _Inferred) -> BatchResult:
        """The batch's records from its models' detections: fusion, ground truth, JSON lines (no model runs)."""
        config, source, specs = self.config, self.source, self.specs
        result, good, per_model, scenes = inferred.result, inferred.good, inferred.per_model, inferred.scenes
        names, weights = [s.name for s in specs], [s.weight for s in specs]
        for index, (item, _, (width, height), _, taken, motion) in enumerate(good):
            record = {"image": item.key, "split": item.split, "width": width, "height": height}
            if config.detections_from == "labels":
                try:
                    record["detections"], record["scene"] = labelled_truth(source, item)
                except ValueError as error:
                    result.error_lines.append(error_line(item, str(error)))
                    continue
            else:
                mine = [detections[index] for detections in per_model]
                record["detections"] = fuse(mine, names, weights, config.fusion())
                record["scene"] = scenes[index]
                if config.save_model_detections:
                    record["model_detections"] = {name: d.as_records() for name, d in zip(names, mine)}
                if source.has_ground_truth:  # what is really in the photo, for 04's truth report
                    result.truth_errors += add_ground_truth(record, source, item)
            if taken:
                record["taken"] = taken
                result.taken_problems += "problems" in taken
            if motion:  # what lets the roll-up follow an item across a moving camera's frames
                record["camera_motion"] = motion
            result.lines.append(json.dumps(record) + "\n")
        return result


def predicted_detector(config: ExtractConfig, source, spec: DetectorSpec) -> PredictedDetector:
    """A detector read from its predictions; save_txt class ids are named by `prediction_names`, else
    by the detector's weights when given (a checkpoint's or model folder's names), else by the source."""
    names = None
    if config.prediction_names:
        names = read_names(config.prediction_names)
    elif spec.name == "yolo" and config.yolo_weights:
        from ultralytics import YOLO

        model_names = YOLO(str(resolve(config.yolo_weights))).names
        names = [model_names[i] for i in sorted(model_names)]
    elif spec.name == "hf" and config.hf_model:
        from transformers import AutoConfig

        from helpers.core.offline import model_source

        id2label = AutoConfig.from_pretrained(model_source(config.hf_model, "HF detection model")).id2label
        names = [id2label[i] for i in sorted(id2label)]
    return PredictedDetector(
        spec.weights, source, names=names, conf=spec.conf, label_map=config.label_map, name=spec.name
    )

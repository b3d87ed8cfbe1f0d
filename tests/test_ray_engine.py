"""The Ray engine (issue 33) on a real local Ray cluster (2 CPUs, started once for this module): the
same records as the local engine, bad photos as error lines, a killed run resumed with every photo
once, settings changes refused by name, Parquet beside the JSONL."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from helpers.core.io import iter_jsonl
from helpers.cv.batch import BatchResult
from helpers.cv.extract import ExtractConfig, run_extraction
from helpers.cv.sources import ImageItem
from helpers.describer.describe import Describer
from helpers.describer.run import describe_file
from helpers.engine.annotate import AnnotateOptions, annotate
from helpers.engine.options import EngineOptions
from helpers.engine.ray_data import RayDescribeEngine, RayEngine, lost_line, lost_photo

# Two CPUs: a detector actor and a describer actor of half a CPU each, one CPU for decoding tasks.
RAY = EngineOptions(engine="ray", num_cpus=0.5)
# A batch whose worker dies is tried twice, a describer chunk once: each try restarts a worker (a describer
# actor's restart, loading its model, takes about 12 s here), and the decoding tasks' test tries the retry
TWICE, ONCE = replace(RAY, tries=2), replace(RAY, tries=1)
LOCAL = EngineOptions()


# On the workers' PYTHONPATH: a photo or line that holds MARK ends the process handling it, as a crash would
CRASHING_WORKER = Path(__file__).parent / "crashing_worker"
MARK = "kills-its-worker"


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster for the module, its workers with `CRASHING_WORKER` on their PYTHONPATH (this
    process has not: it reads every photo and line); yields the address other processes join it by."""
    import ray

    kept = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CRASHING_WORKER), kept]))
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    finally:  # the cluster's processes have it now; this process and its later subprocesses do not
        if kept is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = kept
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(tiny_demo, tmp_path_factory):
    """Eight demo photos in two folders (two with EXIF time and position, one of them unreadable), an
    empty file and a cut-off image."""
    folder = tmp_path_factory.mktemp("ray_photos") / "photos"
    (folder / "sub").mkdir(parents=True)
    for index, path in enumerate(sorted((tiny_demo / "train" / "images").glob("*.jpg"))[:8]):
        shutil.copy(path, folder / ("sub" if index % 2 else ".") / path.name)
    for latitude, path in zip((47.5, 95.0), sorted(folder.glob("*.jpg"))):
        exif = Image.Exif()
        exif[0x8825] = {1: "N", 2: (latitude, 0.0, 0.0), 3: "E", 4: (8.0, 15.0, 0.0)}
        exif[0x8769] = {0x9003: "2026:05:01 06:12:00"}
        with Image.open(path) as image:
            image.load()
            image.save(path, exif=exif)
    (folder / "empty.jpg").write_bytes(b"")
    good = next(folder.glob("*.jpg")).read_bytes()
    (folder / "cut.jpg").write_bytes(good[: len(good) // 3])
    return folder


def _config(tiny_cv_models, images, output, **overrides) -> ExtractConfig:
    settings = {
        "yolo_weights": str(tiny_cv_models / "yolo_detector.pt"),
        "hf_model": str(tiny_cv_models / "rtdetr"),
        "scene_weights": str(tiny_cv_models / "scene_classifier.pt"),
        "imgsz": 160,
        "scene_imgsz": 64,
        "yolo_conf": 0.01,  # the smoke-built detectors are barely trained: low thresholds give records boxes
        "hf_conf": 0.3,
        "batch_size": 3,
    }
    return ExtractConfig(images=str(images), output=str(output), **{**settings, **overrides})


def _by(path: Path, key: str) -> list[dict]:
    return sorted((line.record for line in iter_jsonl(path)), key=lambda record: json.dumps(record[key]))


def test_ray_extract_writes_the_local_engines_records_and_errors(cluster, photos, tiny_cv_models, tmp_path):
    local = run_extraction(_config(tiny_cv_models, photos, tmp_path / "local" / "cv.jsonl"))
    on_ray = run_extraction(_config(tiny_cv_models, photos, tmp_path / "ray" / "cv.jsonl"), engine=RayEngine(RAY))
    assert on_ray["processed"] == local["processed"] == 8 and on_ray["failed"] == local["failed"] == 2
    records = _by(tmp_path / "ray" / "cv.jsonl", "image")
    assert records == _by(tmp_path / "local" / "cv.jsonl", "image")
    assert [record["taken"].get("latitude") for record in records if "taken" in record] == [47.5, None]
    assert on_ray["taken_problems"] == local["taken_problems"] == 1
    assert any(record["detections"] for record in records), "the comparison covers fused boxes, not only empty records"
    errors = _by(tmp_path / "ray" / "cv.errors.jsonl", "image")
    assert [error["image"] for error in errors] == ["cut.jpg", "empty.jpg"] and all(e["error"] for e in errors)
    assert errors == _by(tmp_path / "local" / "cv.errors.jsonl", "image")
    manifests = [json.loads((tmp_path / name / "cv.manifest.json").read_text()) for name in ("local", "ray")]
    assert manifests[0]["fingerprint"] == manifests[1]["fingerprint"], "the engine is not a setting of the records"
    assert manifests[1]["complete"]

    # a rerun adds nothing, and another setting is refused by name, on either engine
    again = run_extraction(_config(tiny_cv_models, photos, tmp_path / "ray" / "cv.jsonl"), engine=RayEngine(RAY))
    assert again["already_done"] == 8 and again["processed"] == 0
    with pytest.raises(ValueError, match=r"iou_thr: 0\.55 -> 0\.7"):
        run_extraction(
            _config(tiny_cv_models, photos, tmp_path / "ray" / "cv.jsonl", iou_thr=0.7), engine=RayEngine(RAY)
        )


def _detection_dataset(tiny_demo, folder: Path) -> Path:
    """Five labelled demo photos as a Hugging Face detection dataset (`objects`: COCO boxes in pixels, class ids)."""
    import datasets

    from helpers.cv.sources import open_image_source

    yolo = open_image_source(tiny_demo / "data.yaml")
    rows = {"image": [], "objects": []}
    for item in [item for item in yolo.items if item.split == "train"][:5]:
        with Image.open(item.path) as photo:
            width, height = photo.size
        boxes = yolo.truth_boxes(item)
        rows["image"].append({"bytes": item.path.read_bytes(), "path": item.path.name})
        rows["objects"].append(
            {
                "bbox": [
                    [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height] for _, (x1, y1, x2, y2) in boxes
                ],
                "category": [yolo.class_names.index(name) for name, _ in boxes],
            }
        )
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "objects": datasets.Sequence(
                {
                    "bbox": datasets.Sequence(datasets.Value("float64"), length=4),
                    "category": datasets.ClassLabel(names=yolo.class_names),
                }
            ),
        }
    )
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(folder))
    return folder


def test_a_detection_datasets_ground_truth_reaches_the_ray_actors(cluster, tiny_demo, tiny_cv_models, tmp_path):
    """The model actors read a dataset photo's boxes by its row (they once got the photo without it)."""
    dataset = _detection_dataset(tiny_demo, tmp_path / "dataset")
    local = run_extraction(_config(tiny_cv_models, dataset, tmp_path / "local.jsonl"))
    on_ray = run_extraction(_config(tiny_cv_models, dataset, tmp_path / "ray.jsonl"), engine=RayEngine(RAY))
    assert on_ray["processed"] == local["processed"] == 5 and on_ray["failed"] == local["failed"] == 0
    records = _by(tmp_path / "ray.jsonl", "image")
    assert records == _by(tmp_path / "local.jsonl", "image")
    assert all("ground_truth" in record and "ground_truth_error" not in record for record in records)
    assert sum(len(record["ground_truth"]["detections"]) for record in records) >= 5


def test_photos_in_tar_shards_reach_the_ray_actors(cluster, tiny_demo, tiny_cv_models, tmp_path):
    """The decoding tasks read a shard's photo at its offset (the row they carry), as the local engine does."""
    from conftest import tar_shards

    tar_shards(tiny_demo, tmp_path / "shards")
    local = run_extraction(_config(tiny_cv_models, tmp_path / "shards", tmp_path / "local.jsonl"))
    on_ray = run_extraction(_config(tiny_cv_models, tmp_path / "shards", tmp_path / "ray.jsonl"), engine=RayEngine(RAY))
    assert on_ray["processed"] == local["processed"] == 5 and on_ray["failed"] == local["failed"] == 0
    assert _by(tmp_path / "ray.jsonl", "image") == _by(tmp_path / "local.jsonl", "image")


def test_a_videos_frames_reach_the_ray_actors(cluster, tiny_demo, tiny_cv_models, tmp_path):
    """The decoding tasks read a video's frame at its time (the row they carry), and the camera's motion
    since the frame before, as the local engine does."""
    from test_video_frames import _write_video

    photo = sorted((tiny_demo / "train" / "images").glob("*.jpg"))[0]
    ground = np.asarray(Image.open(photo).convert("RGB").resize((320, 160)))
    frames = [np.ascontiguousarray(ground[20:140, 12 * i : 12 * i + 160]) for i in range(3)]  # the camera pans
    (tmp_path / "clips").mkdir()
    _write_video(tmp_path / "clips" / "survey.mov", frames, 1, creation_time="2026-05-01T10:22:31Z")
    local = run_extraction(_config(tiny_cv_models, tmp_path / "clips", tmp_path / "local.jsonl"))
    on_ray = run_extraction(_config(tiny_cv_models, tmp_path / "clips", tmp_path / "ray.jsonl"), engine=RayEngine(RAY))
    assert on_ray["processed"] == local["processed"] == 3 and on_ray["failed"] == local["failed"] == 0
    assert _by(tmp_path / "ray.jsonl", "image") == _by(tmp_path / "local.jsonl", "image")
    assert all("camera_motion" in record for record in _by(tmp_path / "ray.jsonl", "image")[1:])  # pans: measured


def test_a_photo_that_kills_its_worker_costs_one_error_line(cluster, photos, tiny_cv_models, tmp_path):
    """Its batch fails each try (Ray's default is to try forever: the run hung), the batch's other photos
    come back tried alone, and the run ends with every photo written or named."""
    folder = tmp_path / "photos"
    folder.mkdir()
    good = [path for path in sorted(photos.glob("*.jpg")) if path.name not in ("cut.jpg", "empty.jpg")][:3]
    # four photos, the crashing one second: batches of two hold it with another
    for name, path in zip(["a.jpg", f"b-{MARK}.jpg", "c.jpg", "d.jpg"], [good[0], good[0], good[1], good[2]]):
        shutil.copy(path, folder / name)
    local = run_extraction(_config(tiny_cv_models, folder, tmp_path / "local" / "cv.jsonl", batch_size=2))
    on_ray = run_extraction(
        _config(tiny_cv_models, folder, tmp_path / "ray" / "cv.jsonl", batch_size=2), engine=RayEngine(TWICE)
    )
    assert local["processed"] == 4 and (on_ray["processed"], on_ray["failed"]) == (3, 1)
    local_records = [r for r in _by(tmp_path / "local" / "cv.jsonl", "image") if MARK not in r["image"]]
    assert _by(tmp_path / "ray" / "cv.jsonl", "image") == local_records
    errors = _by(tmp_path / "ray" / "cv.errors.jsonl", "image")
    assert errors == [{"image": f"b-{MARK}.jpg", "split": None, "error": lost_photo(2)}]
    assert json.loads((tmp_path / "ray" / "cv.manifest.json").read_text())["complete"]


class _BlocksLostWhole(RayEngine):
    """The driver's side of RayEngine without Ray: a block holding a photo in `crashing` comes back from no
    worker (its process died each try), whole, as on Ray; the others come back. `rounds`: block sizes run."""

    def __init__(self, crashing: set[str], batch_size: int) -> None:
        super().__init__(RAY)
        self.crashing, self.config, self.rounds = crashing, SimpleNamespace(batch_size=batch_size), []

    def _extracted(self, items, positions, batch_size, one_in_flight=False):
        from helpers.engine.ray_data import block_rows

        rows = block_rows(len(items), batch_size)
        self.rounds.append(rows)
        for start in range(0, len(items), rows):
            block = items[start : start + rows]
            if not self.crashing & {item.key for item in block}:
                lines = [json.dumps({"image": item.key}) + "\n" for item in block]
                yield list(positions[start : start + rows]), BatchResult(inputs=len(block), lines=lines)


def test_lost_photos_are_tried_in_smaller_blocks_until_one_each(monkeypatch, caplog):
    """More lost photos than Ray blocks allowed (MAX_BLOCKS, 20,000; 2 here): blocks of several, then fewer,
    then one each; when a round gives nothing back (every block fails: a failing worker, not a photo), it stops."""
    import helpers.engine.ray_data as ray_data

    monkeypatch.setattr(ray_data, "MAX_BLOCKS", 2)
    todo = [ImageItem(Path("/photos"), f"{index}.jpg", None) for index in range(8)]
    engine = _BlocksLostWhole({"1.jpg"}, batch_size=4)
    results = list(engine.run(todo))
    written = [json.loads(line)["image"] for result in results for line in result.lines]
    assert sorted(written) == [item.key for item in todo if item.key != "1.jpg"] and len(written) == 7
    errors = [json.loads(line) for result in results for line in result.error_lines]
    assert errors == [{"image": "1.jpg", "split": None, "error": lost_photo(RAY.tries)}]
    assert engine.rounds == [4, 2, 1], "the batches, then the lost 4 in blocks of 2, then the lost 2 alone"
    assert sum(result.inputs for result in results) == 8, "the progress bar counts each photo once"

    everything = _BlocksLostWhole({item.key for item in todo}, batch_size=4)
    with caplog.at_level(logging.ERROR, logger="helpers.engine.ray_data"):
        results = list(everything.run(todo))
    assert everything.rounds == [4, 4], "a round that gives nothing back ends the tries"
    assert sorted(json.loads(r.error_lines[0])["image"] for r in results) == sorted(item.key for item in todo)
    assert "every photo was lost" in caplog.text


class _ChunksLostWhole(RayDescribeEngine):
    """RayDescribeEngine's driver without Ray: a block holding a line with MARK comes back from no worker,
    whole, the others in input order, each line answered by `{"id", "line"}`."""

    def __init__(self, chunk: int) -> None:  # no cluster to join
        self.options, self.chunk, self.rounds = RAY, chunk, []

    def _described(self, listing, chunk, with_line_numbers, one_in_flight=False):
        from helpers.engine.ray_data import blocks

        self.rounds.append((listing.num_rows, len(blocks(listing, chunk))))  # lines, blocks
        for block in blocks(listing, chunk):
            numbers, raws = block.column("number").to_pylist(), block.column("raw").to_pylist()
            if not any(MARK.encode() in raw for raw in raws):
                rows = [
                    json.dumps({"id": json.loads(raw)["id"], "line": number}) + "\n"
                    for number, raw in zip(numbers, raws)
                ]
                yield {"number": np.array(numbers), "row": np.array(rows, dtype=object)}


@pytest.mark.parametrize("max_blocks", [20_000, 3])
def test_lost_lines_are_tried_alone_and_the_output_keeps_input_order(monkeypatch, max_blocks):
    """Two lost chunks, one mid-file and one at the end: the lines after the first gap wait in the spool,
    the lost chunks' lines are tried alone (in smaller blocks first when there are more than MAX_BLOCKS),
    and every line is answered in input order, the two that kill their worker by error lines."""
    import helpers.engine.ray_data as ray_data

    monkeypatch.setattr(ray_data, "MAX_BLOCKS", max_blocks)
    ids = [f"r{number}" for number in range(1, 24)]
    ids[8], ids[22] = f"r9-{MARK}", f"r23-{MARK}"  # in the second chunk of 5 and the last (a gap at the end)
    numbered = [(number, (json.dumps({"id": ident}) + "\n").encode()) for number, ident in enumerate(ids, start=1)]
    engine = _ChunksLostWhole(chunk=5)
    yielded = list(engine.run(iter(numbered), with_line_numbers=False))
    rows = [json.loads(line) for lines in yielded for line in lines]
    assert [row["id"] for row in rows] == ids, "every line answered once, in input order"
    errors = {index for index, row in enumerate(rows) if "error" in row}
    assert errors == {8, 22} and rows[8]["error"] == lost_line(RAY.tries)
    assert all(row["line"] == index + 1 for index, row in enumerate(rows) if index not in errors)
    assert all(len(lines) <= 5 for lines in yielded), "given a chunk at a time"
    lines, blocks = engine.rounds[-1]
    assert lines == blocks, "the last round tried each line alone"
    if max_blocks > len(ids):  # the chunks, then the 8 lines of the two lost chunks, one each
        assert engine.rounds == [(23, 5), (8, 8)]
    else:  # never more blocks than allowed: rounds of fewer lines, in smaller blocks
        assert len(engine.rounds) > 2 and all(blocks <= max_blocks for _, blocks in engine.rounds)


def test_a_pool_the_cluster_cannot_hold_is_refused_before_any_model_loads(cluster, photos, tiny_cv_models, tmp_path):
    # a classifier given as the detector cannot load: the pool's refusal comes first, before any model loads
    config = _config(
        tiny_cv_models, photos, tmp_path / "cv.jsonl", yolo_weights=str(tiny_cv_models / "scene_classifier.pt")
    )
    with pytest.raises(ValueError, match=r"2 CPUs.*lower --concurrency"):
        run_extraction(config, engine=RayEngine(replace(RAY, concurrency=4)))
    # half precision asked of actors without a GPU: refused likewise
    with pytest.raises(ValueError, match="fp16 needs GPU actors"):
        run_extraction(replace(config, precision="fp16"), engine=RayEngine(RAY))
    assert not list(tmp_path.iterdir()), "nothing written"


def test_ray_describe_writes_the_local_output_line_for_line(cluster, model_dir, tmp_path):
    import random

    from helpers.text.synthetic import random_cv

    rng = random.Random(3)
    lines = [json.dumps({**random_cv(rng, max_detections=6), "id": f"p{index}"}) for index in range(30)]
    lines[7] = '{"detections": [oops'  # a broken line mid-file costs that line only
    lines[16] = lines[16].replace('"p16"', f'"p16-{MARK}"')  # the worker describing its chunk dies on each try
    (tmp_path / "cv.jsonl").write_text("\n".join(lines) + "\n")
    describer = Describer.load(model_dir, device="cpu")
    describe_file(describer, tmp_path / "cv.jsonl", tmp_path / "local.jsonl", batch_size=8)
    engine = RayDescribeEngine(ONCE, str(model_dir), {}, batch_size=8, chunk=7)  # chunks unlike the local 512
    counts = describe_file(describer, tmp_path / "cv.jsonl", tmp_path / "ray.jsonl", batch_size=8, engine=engine)
    rows = [line.record for line in iter_jsonl(tmp_path / "ray.jsonl")]
    # its chunk (lines 15-21) and any chunk in flight on the same actor came back from no worker, were tried
    # line by line, and only line 17 killed its worker alone too
    assert rows[16] == {"id": f"p16-{MARK}", "error": lost_line(1)}
    ray_bytes, local_bytes = ((tmp_path / name).read_bytes().split(b"\n") for name in ("ray.jsonl", "local.jsonl"))
    assert ray_bytes[:16] + ray_bytes[17:] == local_bytes[:16] + local_bytes[17:], "the other lines, byte for byte"
    assert len(rows) == 30 and "line 8" in rows[7]["error"] and counts["error"] == 2


def test_annotate_on_ray_writes_what_extract_then_describe_write(cluster, photos, tiny_cv_models, model_dir, tmp_path):
    options = AnnotateOptions(describer=str(model_dir), described=str(tmp_path / "ray" / "described.jsonl"))
    config = _config(tiny_cv_models, photos, tmp_path / "ray" / "cv.jsonl")
    summary = annotate(config, options, replace(RAY, format="parquet"))
    assert summary["processed"] == 8 and summary["failed"] == 2
    # the same as the local engine's two steps: extract, then describe its output
    run_extraction(_config(tiny_cv_models, photos, tmp_path / "local" / "cv.jsonl"))
    describer = Describer.load(model_dir, device="cpu")
    describe_file(describer, tmp_path / "local" / "cv.jsonl", tmp_path / "local" / "described.jsonl")
    assert _by(tmp_path / "ray" / "cv.jsonl", "image") == _by(tmp_path / "local" / "cv.jsonl", "image")
    described = _by(tmp_path / "ray" / "described.jsonl", "id")
    assert described == _by(tmp_path / "local" / "described.jsonl", "id") and len(described) == 8

    # another describer setting is refused by name
    with pytest.raises(ValueError, match="num_captions: 1 -> 2"):
        annotate(config, replace(options, num_captions=2), RAY)


def test_parquet_beside_the_jsonl_holds_the_same_records(photos, tiny_cv_models, tmp_path):
    from helpers.core.parquet import write_parquet

    run_extraction(_config(tiny_cv_models, photos, tmp_path / "cv.jsonl"))
    table = pq.read_table(write_parquet(tmp_path / "cv.jsonl"))
    assert json.loads(table.schema.metadata[b"desclm_json_columns"]) == ["model_detections", "taken"], (
        "the CV contract's fields keep their types; the per-detector detections and `taken` (its fields as each "
        "photo's EXIF has them) are JSON text"
    )
    rows = table.to_pylist()
    for row in rows:
        row["model_detections"] = json.loads(row["model_detections"])
        taken = row.pop("taken")  # a column: null where a record has none
        if taken is not None:
            row["taken"] = json.loads(taken)
    assert rows == [line.record for line in iter_jsonl(tmp_path / "cv.jsonl")]


def test_a_killed_ray_run_rerun_writes_every_photo_once(
    cluster, tiny_demo, tiny_cv_models, model_dir, tmp_path, kill_part_way
):
    """Killed mid-run (the driver; Ray ends its actors), then run again joining the same cluster."""
    output, described = tmp_path / "cv.jsonl", tmp_path / "described.jsonl"
    settings = {
        **_config(tiny_cv_models, tiny_demo / "data.yaml", output).__dict__,
        "batch_size": 1,
        "describer": str(model_dir),
        "described": str(described),
        "engine": "ray",
        "address": cluster,
        "num_cpus": 0.5,
        "describe_batch_size": 1,  # the describer actors take each photo as it comes: the kill lands part-way
    }
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(settings))
    command = [sys.executable, "-m", "helpers", "annotate", "--params", str(params)]
    # Ray 2.60's local clusters (ray.init) take a token, read from ~/.ray/auth_token by a process told to use one
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "token")}
    written = kill_part_way(command, tmp_path / ".described.jsonl.partial", env=env)
    assert 3 <= written < 12, f"the kill should land part-way ({written} of 12 described)"
    assert not output.exists() and not described.exists(), "a killed run leaves no output under its final name"
    # run again, here: the command in this process, joined to the same cluster (its CLI ran above)
    from helpers.commands import main

    assert main(["annotate", "--params", str(params)]) == 0
    expected = Counter(item.key for item in _demo_items(tiny_demo))
    assert Counter(record["image"] for record in (line.record for line in iter_jsonl(output))) == expected
    assert Counter(row["id"] for row in (line.record for line in iter_jsonl(described))) == expected


def _demo_items(tiny_demo):
    from helpers.cv.sources import open_image_source

    return open_image_source(tiny_demo / "data.yaml").items


def test_annotate_describes_an_extraction_made_before(photos, tiny_cv_models, model_dir, tmp_path):
    """Locally: records written by `desclm extract` (or before a kill) but not described are described."""
    config = _config(tiny_cv_models, photos, tmp_path / "cv.jsonl", max_images=5)
    first = run_extraction(config)
    assert first["processed"] >= 1
    options = AnnotateOptions(describer=str(model_dir), described=str(tmp_path / "described.jsonl"))
    summary = annotate(replace(config, max_images=0), options, LOCAL)
    assert summary["already_done"] == first["processed"] and summary["processed"] == 8 - first["processed"]
    keys = sorted(line.record["image"] for line in iter_jsonl(tmp_path / "cv.jsonl"))
    assert sorted(line.record["id"] for line in iter_jsonl(tmp_path / "described.jsonl")) == keys and len(keys) == 8

    # other CV settings: refused naming the CV setting, or both outputs started over with restart_on_change
    changed = replace(config, max_images=0, iou_thr=0.7)
    with pytest.raises(ValueError, match=r"iou_thr: 0\.55 -> 0\.7"):
        annotate(changed, options, LOCAL)
    again = annotate(replace(changed, restart_on_change=True), options, LOCAL)
    assert again["already_done"] == 0 and again["processed"] == 8
    assert sorted(line.record["image"] for line in iter_jsonl(tmp_path / "cv.jsonl")) == keys
    assert sorted(line.record["id"] for line in iter_jsonl(tmp_path / "described.jsonl")) == keys


def test_annotate_locally_generates_a_generation_batch_of_records_at_a_time(
    photos, tiny_cv_models, model_dir, tmp_path, monkeypatch
):
    """Not an extraction batch at a time (16 photos on a GPU, against a generation batch of up to 1024):
    the records wait for a generation batch, the last ones are described at the end, and the file is
    the one extract then describe write."""
    generated, generate = [], Describer.generated_batches

    def counted(self, inputs, batch_size=0, num_beams=None):
        generated.append(len(inputs))
        return generate(self, inputs, batch_size, num_beams)

    monkeypatch.setattr(Describer, "generated_batches", counted)
    options = AnnotateOptions(
        describer=str(model_dir), described=str(tmp_path / "described.jsonl"), describe_batch_size=3
    )
    summary = annotate(_config(tiny_cv_models, photos, tmp_path / "cv.jsonl", batch_size=2), options, LOCAL)
    assert summary["processed"] == 8 and generated == [3, 3, 2], "8 records: two generation batches, then the rest"
    describer = Describer.load(model_dir, device="cpu")
    describe_file(describer, tmp_path / "cv.jsonl", tmp_path / "by_describe.jsonl")
    assert (tmp_path / "described.jsonl").read_bytes() == (tmp_path / "by_describe.jsonl").read_bytes()


def test_annotate_reconciles_its_two_outputs_reading_them_side_by_side(model_dir, tmp_path):
    """After a kill: descriptions that follow the records are kept byte for byte (the file cut, not
    rewritten), a half-written one is cut, the records after the last described ones are described; a
    description whose record is gone breaks the step, and what follows is described again."""
    import random

    from helpers.describer.run import describe_records
    from helpers.engine.annotate import _reconcile
    from helpers.text.synthetic import random_cv

    rng = random.Random(3)
    records = [json.dumps({"image": f"p{i}.jpg", **random_cv(rng)}) + "\n" for i in range(7)]
    (tmp_path / "cv.jsonl").write_text("".join(records))
    describer = Describer.load(model_dir, device="cpu")
    described = describe_records(describer, records, 4)
    partial = tmp_path / ".described.jsonl.partial"
    partial.write_text("".join(described[:3]) + described[3][:20])  # killed mid-line
    _reconcile(partial, tmp_path / "cv.jsonl", describer, batch_size=2)
    assert partial.read_text() == "".join(described), "the three kept as written, the rest described in order"
    gone = json.dumps({"id": "gone.jpg", "description": "A can.", "source": "model"}) + "\n"
    partial.write_text(described[0] + gone + "".join(described[1:5]))
    _reconcile(partial, tmp_path / "cv.jsonl", describer, batch_size=2)
    assert partial.read_text() == "".join(described)
    partial.unlink()  # a CV output made before by `desclm extract`, none described
    _reconcile(partial, tmp_path / "cv.jsonl", describer, batch_size=5)
    assert partial.read_text() == "".join(described)

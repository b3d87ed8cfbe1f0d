"""The label_studio export imported into a real Label Studio: its tasks, predictions and photos as it takes them.

The tests check the tasks against Label Studio's documented format; label-studio itself cannot join the project's
environment (its SDK pins an older numpy), so this runs in an environment of its own, with the project's `desclm`
command called as a program (Label Studio 1.23.2 does not start with sentry-sdk 3, which its requirements allow):

    uv venv -p python3.11 /tmp/lsenv && uv pip install --python /tmp/lsenv/bin/python label-studio "sentry-sdk<3"
    /tmp/lsenv/bin/python docs/measurements/label_studio_import.py --desclm .venv/bin/desclm \\
        --cv data/cv_outputs.jsonl --images data/demo --photos 40 --out docs/measurements/label_studio_import.json

It copies the first `--photos` records' photos into a scratch folder `root/photos`, describes them with the grammar
(`desclm synth`) and exports them twice: as they lie (`--images root/photos`) and copied (`--image_folder
root/copies`), both with the default URL prefix. It then starts Label Studio with `root` as its local files'
document root (as the README says to), creates a project per export from the labeling config written beside it,
adds a local files storage at the photos' folder, imports the tasks, and counts what Label Studio holds: tasks,
predictions, each task's photo fetched by its URL as the labeling page fetches it, and each prediction validated
by Label Studio's own checker (`label_studio_sdk`'s `LabelInterface.validate_prediction`, which must also refuse
a prediction with a label the config lacks: the check can fail). Then a review (`_review`): five tasks annotated,
the project exported as JSON, JSON-MIN and CSV, each through `desclm check`, and the reviewed tasks as "YOLO with
Images" read as ground truth by `desclm extract --detections_from labels` (`_yolo_truth`). Then the photos whose
descriptions are untrue to their labels (make demo's records hold them), exported with `--truth untrue` (each task's
`truth` text: its labels and what the description missed) into a third project: what Label Studio holds of them.
`--fixture tests/data` writes the reviewed tasks' exports, Label Studio's own bytes, for the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measured import commit, save

PORT = 8093
REVIEWED = 5  # tasks annotated in the review
WRONG = "There are nine plastic items."  # a description a reviewer got wrong
TOKEN = "desclm-measurement-token"
# Label Studio's exports `desclm check` reads, each written as its file name (the fixtures' names too)
EXPORTS = {
    "JSON": "label_studio_export.json",
    "JSON_MIN": "label_studio_export_min.json",
    "CSV": "label_studio_export.csv",
}
# Label Studio 1.2x turns its legacy tokens off by default; the one `--user-token` sets is allowed again here
ENABLE_TOKENS = """
import django
django.setup()
from organizations.models import Organization
for organization in Organization.objects.all():
    organization.jwt.legacy_api_tokens_enabled = True
    organization.jwt.save()
"""


def _records(cv: Path, count: int) -> list[dict]:
    records = []
    with open(cv, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if isinstance(record, dict) and "image" in record:
                records.append(record)
            if len(records) == count:
                break
    return records


def _export(desclm: str, root: Path, name: str, *extra: str) -> dict:
    done = subprocess.run(
        [desclm, "export", "described.jsonl", "--format", "label_studio", "--cv", "cv.jsonl"]
        + ["--images", "photos", "--output", f"{name}.json", *extra],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"desclm export failed ({done.returncode}): {done.stderr}")
    return json.loads((root / f"{name}.json").read_text(encoding="utf-8"))


def _start(root: Path, data: Path, env: dict) -> subprocess.Popen:
    import requests

    command = [str(Path(sys.executable).with_name("label-studio")), "start", "--no-browser", "--port", str(PORT)]
    command += ["--username", "measure@example.com", "--password", "measure-password", "--user-token", TOKEN]
    server = subprocess.Popen(command, env=env, stdout=open(data / "server.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            if requests.get(f"http://localhost:{PORT}/health", timeout=5).ok:
                return server
        except requests.ConnectionError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"label-studio ended ({server.returncode}): see {data / 'server.log'}")
        time.sleep(2)
    server.kill()
    raise SystemExit("label-studio did not answer within 600 s")


def _project(api, name: str, root: Path, tasks: list[dict], storage: Path) -> tuple[dict, int, list[dict]]:
    """A project from the export `name`'s config, a local files storage at `storage`, its tasks imported: counts,
    the project's id and the tasks Label Studio holds."""
    from label_studio_sdk.label_interface import LabelInterface

    config = (root / f"{name}.label_config.xml").read_text(encoding="utf-8")
    project = api("post", "/api/projects", json={"title": f"desclm {name}", "label_config": config})
    api("post", "/api/storages/localfiles", json={"project": project["id"], "path": str(storage), "title": name})
    imported = api("post", f"/api/projects/{project['id']}/import", json=tasks)
    held = api("get", "/api/tasks", params={"project": project["id"], "fields": "all", "page_size": len(tasks) + 1})
    held = held["tasks"] if isinstance(held, dict) else held
    photos = [api("get", task["data"]["image"], raw=True) for task in held]
    checker = LabelInterface(config)
    predictions = [prediction for task in held for prediction in task["predictions"]]
    wrong = json.loads(json.dumps(predictions[0]))
    box = next(result for result in wrong["result"] if result["type"] == "rectanglelabels")
    box["value"]["rectanglelabels"] = ["a label the config lacks"]
    counts = {
        "tasks_exported": len(tasks),
        "tasks_imported": imported["task_count"],
        "predictions_imported": imported["prediction_count"],
        "tasks_held": len(held),
        "boxes_held": sum(r["type"] == "rectanglelabels" for p in predictions for r in p["result"]),
        "boxes_exported": sum(r["type"] == "rectanglelabels" for t in tasks for r in t["predictions"][0]["result"]),
        "descriptions_held": sum(r["type"] == "textarea" for p in predictions for r in p["result"]),
        "photos_served": sum(r.status_code == 200 and r.headers["content-type"].startswith("image/") for r in photos),
        "photos_served_as_stored": sum(
            r.status_code == 200 and r.content == (storage / _served_name(t["data"]["image"])).read_bytes()
            for r, t in zip(photos, held, strict=True)
        ),
        "predictions_valid": sum(bool(checker.validate_prediction(p)) for p in predictions),
        "wrong_label_refused": not checker.validate_prediction(wrong),
        "first_url": held[0]["data"]["image"],
    }
    return counts, project["id"], held


def _review(api, project: int, held: list[dict], root: Path, desclm: str, fixture: Path | None) -> dict:
    """People's review, as Label Studio records it: the first `REVIEWED` tasks annotated (the pre-annotation
    accepted; one description made wrong, "nine plastic items"; one annotation cancelled, one task annotated
    twice), the project exported as Label Studio's JSON, JSON-MIN and CSV (every task), and `desclm check` run on
    each export: its summary. With `fixture`, each export of the reviewed tasks alone (Label Studio's own bytes)
    and their CV records are written there for the tests."""
    reviewed = held[:REVIEWED]
    for place, task in enumerate(reviewed):
        result = json.loads(json.dumps(task["predictions"][0]["result"]))
        if place == 2:
            next(r for r in result if r["type"] == "textarea")["value"]["text"] = [WRONG]
        cancelled = place == 3
        for _ in range(2 if place == 4 else 1):
            annotation = {"result": [] if cancelled else result, "was_cancelled": cancelled}
            api("post", f"/api/tasks/{task['id']}/annotations", json=annotation)
    review: dict = {"annotated": REVIEWED}
    for kind, name in EXPORTS.items():
        everything = {"exportType": kind, "download_all_tasks": "true"}
        (root / name).write_bytes(api("get", f"/api/projects/{project}/export", raw=True, params=everything).content)
        check = [desclm, "check", "--input", "cv.jsonl", "--captions", name, "--output", f"{kind}.jsonl", "-q"]
        subprocess.run(check, cwd=root)  # exit 1: the wrong description
        summary = json.loads((root / f"{kind}.summary.json").read_text(encoding="utf-8"))
        review[kind] = {
            "check": {name: summary[name] for name in ("captions", "checked", "faithful", "errors", "unreviewed")},
            "findings": {finding: count for finding, count in summary["findings"].items() if count},
        }
        if fixture:
            chosen = everything | {"ids[]": [task["id"] for task in reviewed]}
            fixture.mkdir(parents=True, exist_ok=True)
            exported = api("get", f"/api/projects/{project}/export", raw=True, params=chosen)
            (fixture / name).write_bytes(exported.content)
    exported = json.loads((root / EXPORTS["JSON"]).read_text(encoding="utf-8"))
    review |= {"tasks": len(exported), "annotations": sum(len(task["annotations"]) for task in exported)}
    review["YOLO"] = _yolo_truth(api, project, reviewed, exported, root, desclm)
    if fixture:
        keys = {task["data"]["photo_id"] for task in exported if task["id"] in {t["id"] for t in reviewed}}
        with open(root / "cv.jsonl", encoding="utf-8") as lines:
            records = [line for line in lines if json.loads(line)["image"] in keys]
        (fixture / "label_studio_cv.jsonl").write_text("".join(records), encoding="utf-8")
    return review


def _yolo_truth(api, project: int, reviewed: list[dict], exported: list[dict], root: Path, desclm: str) -> dict:
    """The reviewed tasks exported as Label Studio's "YOLO with Images" (a zip: `classes.txt`, `images/`,
    `labels/`; its plain YOLO export holds no photos) and read as ground truth by `desclm extract
    --detections_from labels`: the photos and boxes it found, against the boxes of each task's newest annotation
    that is not cancelled (what Label Studio's converter exports); and the JSON export read as ground truth by
    desclm itself (`--images label_studio_export.json --image_root photos`), against the converter's."""
    import io
    import zipfile

    chosen = {"exportType": "YOLO_WITH_IMAGES", "ids[]": [task["id"] for task in reviewed]}
    archive = api("get", f"/api/projects/{project}/export", raw=True, params=chosen).content
    with zipfile.ZipFile(io.BytesIO(archive)) as files:
        files.extractall(root / "yolo")
    extract = [desclm, "extract", "--images", "yolo", "--detections_from", "labels", "--output", "yolo_truth.jsonl"]
    subprocess.run([*extract, "-q"], cwd=root, check=True)
    with open(root / "yolo_truth.jsonl", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    expected = {}  # photo name -> its boxes, (label, x1, y1, x2, y2) in 0..1, sorted
    for task in exported:
        kept = [a for a in task["annotations"] if not a["was_cancelled"]]
        if task["id"] in {t["id"] for t in reviewed} and kept:
            newest = max(kept, key=lambda annotation: annotation["created_at"])
            boxes = [r["value"] for r in newest["result"] if r["type"] == "rectanglelabels"]
            expected[Path(task["data"]["photo_id"]).name] = sorted(
                (b["rectanglelabels"][0], *(v / 100 for v in corners))
                for b in boxes
                for corners in [(b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])]
            )
    # Label Studio names each downloaded photo `<8 hex digits>__<its name>`: the name after the prefix is the task's
    found = {
        Path(r["image"]).name.split("__", 1)[-1]: sorted((d["label"], *d["bbox"]) for d in r["detections"])
        for r in records
    }
    same = found.keys() == expected.keys() and all(
        [box[0] for box in found[name]] == [box[0] for box in expected[name]] for name in found
    )
    differences = [
        abs(u - v)
        for name in found.keys() & expected.keys()
        for a, b in zip(found[name], expected[name])
        for u, v in zip(a[1:], b[1:])
    ]
    # the JSON export read as ground truth by desclm itself, keyed as the records: the same boxes as the converter's
    json_truth = [desclm, "extract", "--images", EXPORTS["JSON"], "--image_root", "photos", "--detections_from"]
    subprocess.run([*json_truth, "labels", "--output", "json_truth.jsonl", "-q"], cwd=root, check=True)
    with open(root / "json_truth.jsonl", encoding="utf-8") as lines:
        from_json = [json.loads(line) for line in lines]
    by_name = {Path(r["image"]).name: sorted((d["label"], *d["bbox"]) for d in r["detections"]) for r in from_json}
    pairs = [(a, b) for name in by_name.keys() & found.keys() for a, b in zip(by_name[name], found[name])]
    reviewed_ids = {task["id"] for task in reviewed}
    kept = [t for t in exported if t["id"] in reviewed_ids and any(not a["was_cancelled"] for a in t["annotations"])]
    return {
        "json_export_as_truth": {
            "photos_read": len(from_json),
            "keys_as_records": sorted(r["image"] for r in from_json) == sorted(t["data"]["photo_id"] for t in kept),
            "same_as_yolo_export": by_name.keys() == found.keys()
            and all([box[0] for box in by_name[name]] == [box[0] for box in found[name]] for name in by_name),
            "largest_difference_from_yolo_export": max(
                (abs(u - v) for a, b in pairs for u, v in zip(a[1:], b[1:])), default=None
            ),
        },
        "files": sorted(str(path.relative_to(root / "yolo")) for path in (root / "yolo").rglob("*") if path.is_file()),
        "photos_read": len(records),
        "boxes_read": sum(len(r["detections"]) for r in records),
        "boxes_annotated": sum(len(boxes) for boxes in expected.values()),
        "same_photos_and_labels": same,
        "largest_coordinate_difference": max(differences, default=None),
    }


def _served_name(url: str) -> str:
    from urllib.parse import unquote

    return unquote(url.split("?d=", 1)[1]).split("/", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--desclm", default=".venv/bin/desclm", help="the project's command")
    parser.add_argument("--cv", type=Path, default=Path("data/cv_outputs.jsonl"), help="CV records (make demo's)")
    parser.add_argument("--images", type=Path, default=Path("data/demo"), help="the folder their keys are under")
    parser.add_argument("--photos", type=int, default=40, help="how many records' photos")
    parser.add_argument("--out", type=Path, help="JSON to write")
    parser.add_argument("--fixture", type=Path, help="folder to write the reviewed tasks' export to, for the tests")
    args = parser.parse_args()
    import label_studio
    import requests

    desclm = str(Path(args.desclm).resolve())
    with tempfile.TemporaryDirectory() as scratch:
        root, data = Path(scratch) / "root", Path(scratch) / "label-studio"
        data.mkdir()
        records = _records(args.cv, args.photos)
        for record in records:
            (root / "photos" / record["image"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.images / record["image"], root / "photos" / record["image"])
        (root / "cv.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        synth = [desclm, "synth", "--input", "cv.jsonl", "--output", "described.jsonl", "-q"]
        subprocess.run(synth, cwd=root, check=True)
        as_they_lie = _export(desclm, root, "tasks")
        copied = _export(desclm, root, "copied", "--image_folder", "copies")
        untrue = _export(desclm, root, "untrue", "--truth", "untrue")  # labelled photos: the sentences to review

        env = os.environ | {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data),
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root),
        }
        server = _start(root, data, env)
        try:
            django = env | {
                "DJANGO_SETTINGS_MODULE": "label_studio.core.settings.label_studio",
                "PYTHONPATH": os.path.dirname(label_studio.__file__),
            }
            subprocess.run([sys.executable, "-c", ENABLE_TOKENS], env=django, check=True, capture_output=True)
            headers = {"Authorization": f"Token {TOKEN}"}

            def api(method: str, path: str, raw: bool = False, **kwargs):
                answer = requests.request(method, f"http://localhost:{PORT}{path}", headers=headers, **kwargs)
                if raw:
                    return answer
                answer.raise_for_status()
                return answer.json()

            version = api("get", "/api/version")
            result = {
                "commit": commit(),
                "label_studio": version.get("release") or version.get("label-studio-os-package", {}).get("version"),
                "photos": len(records),
            }
            result["as_they_lie"], project, held = _project(api, "tasks", root, as_they_lie, root / "photos")
            result["image_folder"] = _project(api, "copied", root, copied, root / "copies")[0]
            result["review"] = _review(api, project, held, root, desclm, args.fixture)
            result["truth_review"], _, shown = _project(api, "untrue", root, untrue, root / "photos")
            told = [str(task["data"].get("truth", "")) for task in shown]
            result["truth_review"] |= {
                "photos_labelled": sum("ground_truth" in record for record in records),
                "tasks_with_truth_held": sum(text.startswith("labels: ") for text in told),
                "tasks_said_untrue": sum(" Untrue: " in text for text in told),
                "config_shows_truth": '<Text name="truth" value="$truth"/>'
                in (root / "untrue.label_config.xml").read_text(encoding="utf-8"),
            }
        finally:
            server.terminate()
            server.wait(timeout=60)
    save(result, args.out)


if __name__ == "__main__":
    main()

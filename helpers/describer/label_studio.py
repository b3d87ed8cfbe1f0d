"""Described photos as Label Studio tasks with pre-annotations to review (`desclm export --format label_studio`).

Label Studio imports a JSON array of tasks (its "Basic Label Studio JSON format"): each task's `data` names its
photo (`image`, a URL Label Studio serves, or a cloud storage's `s3://...`), and its `predictions` hold a model's
results, shown on the labeling page to correct rather than draw anew:

- a `rectanglelabels` result per detection given (the export gives those its description states): its box in
  percent of the photo (`x`, `y`, `width`, `height`, the top-left corner), its label as given, its confidence as
  `score`, the photo's size in pixels;
- a `textarea` result: the description, to correct as text.

The project's labeling config (`label_config`, written beside the tasks) names the same controls: an `Image`
`image`, `RectangleLabels` `label` with a `Label` per label as given, a `TextArea` `description`.

Photo files on the machine Label Studio runs on reach its page through its local files: started with
`LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true` and `LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT` a folder, it serves
`/data/local-files/?d=<path under that folder>` to a project with a local files storage holding the path, a
storage that must lie strictly below the document root (Label Studio refuses the root itself). So by default
(`local_files_prefix`) a task names its photo by the photos' folder and its key: `?d=photos/north/p1.jpg`, served
with the document root the folder holding `photos/` and a storage at `photos/`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

LOCAL_FILES = "/data/local-files/?d="  # Label Studio's local files storage, as its docs write a task's photo
MODEL_VERSION = "desclm"
# Label Studio's own limits (its import API's documentation and its data import guide): one import takes at most
# 200 MB, and a project works best with about 100k tasks
IMPORT_BYTES = 200 * 10**6
PROJECT_TASKS = 100_000


def import_limits_warning(tasks: int, size: int) -> str | None:
    """What to say when a tasks file is larger than Label Studio takes in one import, or holds more tasks than a
    project works well with (None: neither)."""
    if size <= IMPORT_BYTES and tasks <= PROJECT_TASKS:
        return None
    return (
        f"{tasks:,} tasks in {size / 10**6:,.0f} MB: Label Studio takes at most {IMPORT_BYTES / 10**6:.0f} MB in one "
        f"import and works best with about {PROJECT_TASKS:,} tasks a project; export a review set instead "
        "(--max_photos, --category, --scene, --min_items)"
    )


def local_files_prefix(folder: Path) -> str:
    """The URL prefix of photos in `folder` served as Label Studio's local files, the document root its parent (see
    the module docstring)."""
    return LOCAL_FILES + quote(folder.resolve().name, safe="") + "/"


def image_url(prefix: str, key: str) -> str:
    """A photo's URL in its task: `prefix` then its key (percent-encoded, its `/` kept)."""
    return prefix + quote(key, safe="/")


def task(
    row_id,
    image: str,
    size: tuple[int, int],
    detections: list[dict],
    description: str,
    captions: list[str],
    findings: str | None = None,
    truth: str | None = None,
) -> dict:
    """One photo's task: its `data` (`image`, `photo_id`, the `captions`, the description first; `findings`, what
    `desclm check` found in a caption it read, and `truth`, its labels and how true the description is to them, where
    given) and its `predictions` (see the module docstring); `detections` as 01 writes them (boxes [x1, y1, x2, y2]
    in 0..1)."""
    width, height = size
    results = []
    for number, detection in enumerate(detections):
        x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in detection["bbox"])
        results.append(
            {
                "id": f"box{number}",
                "type": "rectanglelabels",
                "from_name": "label",
                "to_name": "image",
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {
                    "x": 100 * x1,
                    "y": 100 * y1,
                    "width": 100 * (x2 - x1),
                    "height": 100 * (y2 - y1),
                    "rotation": 0,
                    "rectanglelabels": [detection["label"]],
                },
                "score": detection["confidence"],
            }
        )
    results.append(
        {
            "id": "description",
            "type": "textarea",
            "from_name": "description",
            "to_name": "image",
            "value": {"text": [description]},
        }
    )
    scores = [detection["confidence"] for detection in detections]
    prediction = {"model_version": MODEL_VERSION, "result": results}
    if scores:
        prediction["score"] = min(scores)  # the least sure box: Label Studio sorts tasks by it, to review first
    # `photo_id`, not `id`, and no `description`: Label Studio's JSON-MIN and CSV exports merge the data with the
    # results by name and write its own task id as `id` (desclm check joins the reviewed descriptions by photo_id)
    data = {"image": image, "photo_id": row_id, "captions": captions}
    data |= {"findings": findings} if findings is not None else {}
    return {"data": data | ({"truth": truth} if truth is not None else {}), "predictions": [prediction]}


FINDINGS_HEADER = "What desclm check found in the caption"
TRUTH_HEADER = "The photo's labels (its ground truth)"


def label_config(labels: list[str], findings: bool = False, truth: bool = False) -> str:
    """The labeling config the tasks' results name (see the module docstring), each label as given; with
    `findings`, the tasks' `findings` shown under the photo (a `Text`), what the check found in each caption; with
    `truth`, the tasks' `truth` so, each photo's labels and how true its description is to them."""
    choices = "".join(f"\n    <Label value={quoteattr(label)}/>" for label in labels)
    shown = f'  <Header value="{FINDINGS_HEADER}"/>\n  <Text name="findings" value="$findings"/>\n' if findings else ""
    shown += f'  <Header value="{TRUTH_HEADER}"/>\n  <Text name="truth" value="$truth"/>\n' if truth else ""
    return (
        "<View>\n"
        '  <Image name="image" value="$image"/>\n'
        f'  <RectangleLabels name="label" toName="image">{choices}\n  </RectangleLabels>\n'
        f"{shown}"
        '  <TextArea name="description" toName="image" editable="true" maxSubmissions="1" rows="3"/>\n'
        "</View>\n"
    )

"""How true the demo's sentences are about photos it never saw.

    desclm demo truth [--seed 1] [--photos 40] [--output data/eval/unseen_truth.json]

Builds a fresh demo set with another seed (test photos only), runs 01 on it with the demo models
and the calibrated ensemble, describes every photo with the trained describer, and measures the
sentences against the photos exactly as notebook 04 does (`helpers.describer.truth`): the sentence
from the detectors, the describer given the ground truth, and the detectors' output. The last line
states the end-to-end truth rate. Goal (issue 14): at least 60% of unseen photos described truly,
no littered photo called clean, the describer on ground truth at 100%.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

from helpers.core.io import iter_jsonl
from helpers.core.paths import resolve

logger = logging.getLogger(__name__)


def unseen_truth(seed: int, photos: int, model_dir: str = "models/description_llm", **extract) -> dict:
    """The truth summary (see `helpers.describer.truth`) on `photos` fresh demo photos of `seed`;
    `extract`: 01 parameters other than the demo's (`DEMO_DETECTORS`)."""
    from helpers.cv import ExtractConfig, run_extraction
    from helpers.demo.dataset import DemoDatasetSpec, build_dataset
    from helpers.demo.notebooks import DEMO_DETECTORS
    from helpers.describer import Describer, summarise_truth, truth_record, truth_rows

    with tempfile.TemporaryDirectory(prefix="desclm-unseen-") as work:
        build_dataset(Path(work) / "demo", DemoDatasetSpec(seed=seed, n_train=0, n_valid=0, n_test=photos))
        output = Path(work) / "cv.jsonl"
        images = str(Path(work) / "demo" / "data.yaml")
        run_extraction(ExtractConfig(images=images, output=str(output), **{**DEMO_DETECTORS, **extract}))
        records = [{"id": r["image"], **r} for r in (line.record for line in iter_jsonl(output)) if r]
    describer = Describer.load(model_dir)
    described = describer.describe_detailed(records)
    labelled = [r for r in records if "ground_truth" in r]
    on_truth = describer.describe_detailed([truth_record(r) for r in labelled])
    rows = truth_rows(labelled, [d for r, d in zip(records, described) if "ground_truth" in r], on_truth)
    summary = summarise_truth(rows, len(records), sum("ground_truth_error" in r for r in records))
    return {"seed": seed, "model_dir": str(resolve(model_dir)), **summary}


def error_kind(said: Counter, truth: Counter) -> str:
    """What kind of wrong a photo's counts (per category) are: exact, only misses, only extras, the right
    total with a wrong class, or mixed."""
    if said == truth:
        return "exact"
    if all(said[k] <= truth[k] for k in said | truth):
        return "only misses"
    if all(said[k] >= truth[k] for k in said | truth):
        return "only extras"
    return "right total, wrong class" if said.total() == truth.total() else "mixed"


def unseen_detections(models: str, seeds: tuple[int, ...] = (1, 2, 3), photos: int = 40) -> tuple[dict, list]:
    """Each demo detector's detections (at calibration's collection threshold, `helpers.cv.collect_detections`)
    and the labelled counts on the test photos of fresh demo sets of `seeds`: for measuring ensemble
    settings on photos the models never saw without running the detectors again."""
    from helpers.cv import ExtractConfig, collect_detections
    from helpers.demo.dataset import DemoDatasetSpec, build_dataset

    per_model: dict[str, list] = {}
    truths: list = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="desclm-unseen-") as work:
            build_dataset(Path(work) / "demo", DemoDatasetSpec(seed=seed, n_train=0, n_valid=0, n_test=photos))
            config = ExtractConfig(
                images=str(Path(work) / "demo" / "data.yaml"),
                yolo_weights=f"{models}/yolo_detector.pt",
                hf_model=f"{models}/rtdetr",
                scene_weights="",
                ensemble_weights_file="",
                device="cpu",
            )
            found, truth = collect_detections(config, "test")
        for name, detections in found.items():
            per_model.setdefault(name, []).extend(detections)
        truths += truth
    return per_model, truths

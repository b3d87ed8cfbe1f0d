"""Demo detector recipes side by side (issue 14), run once on a lent GPU machine.

    python docs/measurements/demo_recipe_sweep.py --out DIR [--round 2] [--quick] [--deadline 480]

Builds demo image sets (objects of the first demo set's size and larger ones), trains the demo YOLO with several
recipes and the demo HF RT-DETR for several step counts, all at once (the cores shared out, one GPU),
and writes `DIR/demo_recipe_sweep.json`: per run its settings, the mAP@0.5 that the demo manifest
reports (helpers' metric, conf 0.05, val and test) and Ultralytics' validation mAP@0.5 per epoch.
A GPU changes how long a run takes, not what it learns per step: the 2-core CPU cost of a recipe is
measured separately (seconds per epoch), so the two together say what fits in `make demo`.
Round 1 ran on the demo set's generator 2 (its objects are no longer drawn by this code), rounds 2
and 3 on generator 3 (each class its own colour family).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

DATASETS = {  # name -> DemoDatasetSpec overrides
    "d0": {"min_object": 22, "max_object": 64},  # the first demo set's sizes, in 384x288 photos
    "d1": {"min_object": 32, "max_object": 88},  # a closer camera: the demo set's default since round 2
    "d2": {"min_object": 40, "max_object": 110},
}
YOLO_RUNS = [  # (dataset, imgsz, width, epochs, extra Ultralytics settings)
    ("d0", 256, 0.25, 20, {}),  # make demo today
    ("d0", 256, 0.25, 40, {}),
    ("d0", 320, 0.25, 30, {}),
    ("d0", 384, 0.25, 30, {}),
    ("d0", 256, 0.25, 20, {"scale": 0.25}),
    ("d0", 256, 0.125, 40, {}),  # width 0.125: a third of the CPU seconds per epoch of 0.25
    ("d0", 256, 0.125, 60, {}),
    ("d0", 320, 0.125, 40, {}),
    ("d0", 384, 0.125, 40, {}),
    ("d0", 256, 0.25, 80, {}),  # what more training would give
    ("d1", 256, 0.25, 20, {}),
    ("d1", 256, 0.25, 40, {}),
    ("d1", 256, 0.125, 40, {}),
    ("d1", 256, 0.125, 60, {}),
    ("d1", 320, 0.125, 40, {}),
    ("d2", 256, 0.125, 40, {}),
]
# Round 2, on demo set generator 3 (each class its own colour family; round 1 ran on generator 2)
ROUND_2 = [
    ("d0", 256, 0.25, 20, {}),
    ("d1", 256, 0.25, 20, {}),
    ("d0", 256, 0.25, 30, {}),
    ("d1", 256, 0.25, 30, {}),
    ("d1", 256, 0.25, 25, {}),
    ("d1", 224, 0.25, 30, {}),
]
RESULTS_CSV = "runs/detector/results.csv"  # where train_yolo_detector's Ultralytics run writes its epochs
RTDETR_ROUND_3 = [("d1", 250, 5e-4), ("d1", 500, 5e-4), ("d1", 1000, 5e-4), ("d1", 2000, 5e-4)]  # generator 3
RTDETR_RUNS = [("d0", 1000, 5e-4), ("d0", 3000, 5e-4), ("d0", 3000, 1e-3), ("d1", 3000, 5e-4)]  # make demo: 200 steps


def build_dataset_named(root: Path, name: str, quick: bool) -> Path:
    from helpers.demo.dataset import DemoDatasetSpec, build_dataset

    sizes = {"n_train": 8, "n_valid": 4, "n_test": 4} if quick else {}
    build_dataset(root / name, DemoDatasetSpec(**sizes, **DATASETS[name]))
    return root / name / "data.yaml"


def _maps(detector, data: str) -> dict[str, float]:
    from helpers.demo.models import detector_map50, split_truth

    return {split: detector_map50(detector, *split_truth(Path(data), split)[:2]) for split in ("val", "test")}


def yolo_job(job: dict) -> dict:
    """make demo's YOLO recipe (`train_yolo_detector`) with the job's size, width and epochs, on the GPU."""
    from helpers.cv import UltralyticsDetector
    from helpers.demo.models import DemoModelsSpec
    from helpers.demo.yolo import train_yolo_detector

    work = Path(job["work"])
    work.mkdir(parents=True, exist_ok=True)
    spec = DemoModelsSpec(yolo_epochs=job["epochs"], yolo_imgsz=job["imgsz"], yolo_width=job["width"])
    started = time.perf_counter()
    weights = train_yolo_detector(Path(job["data"]), work, spec, work, device=job["device"], val=True, **job["extra"])
    seconds = time.perf_counter() - started
    detector = UltralyticsDetector(weights, device=job["device"], conf=0.05)
    curve = _ultralytics_curve(work / RESULTS_CSV)
    return {"map50": _maps(detector, job["data"]), "gpu_seconds": round(seconds, 1), "curve": curve}


def _ultralytics_curve(path: Path) -> list[float]:
    import csv

    if not path.exists():
        return []
    with open(path) as handle:
        return [round(float(row["metrics/mAP50(B)"]), 3) for row in csv.DictReader(handle)]


def rtdetr_job(job: dict) -> dict:
    from helpers.cv import HFDetector
    from helpers.demo.models import DemoModelsSpec
    from helpers.demo.rtdetr import train_rtdetr

    work = Path(job["work"])
    work.mkdir(parents=True, exist_ok=True)
    spec = DemoModelsSpec(rtdetr_steps=job["steps"], rtdetr_lr=job["lr"])
    started = time.perf_counter()
    train_rtdetr(Path(job["data"]), work, spec, device=job["device"])
    seconds = time.perf_counter() - started
    detector = HFDetector(work / "rtdetr", device=job["device"], conf=0.05)
    return {"map50": _maps(detector, job["data"]), "gpu_seconds": round(seconds, 1), "spec": asdict(spec)}


def run_child(job: dict, log: Path, deadline: float) -> dict:
    """One job in its own process, pinned to its cores, killed at the deadline (its curve so far is kept)."""
    command = [sys.executable, __file__, "--job", json.dumps(job)]
    threads = str(len(job["cores"]))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with open(log, "w") as handle:
        child = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        try:
            child.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return {"error": "stopped at the deadline", "curve": _ultralytics_curve(Path(job["work"]) / RESULTS_CSV)}
    result_path = Path(job["work"]) / "result.json"
    if child.returncode or not result_path.exists():
        return {"error": f"exit {child.returncode}: " + log.read_text()[-600:]}
    return json.loads(result_path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="sweep_out", help="result folder (default: %(default)s)")
    parser.add_argument("--work", default="/tmp/demo_sweep", help="data and runs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny sets, 1 epoch, 2 steps: a smoke run")
    parser.add_argument("--deadline", type=float, default=480, help="seconds before jobs are stopped")
    parser.add_argument("--round", type=int, default=2, choices=(1, 2, 3), help="which runs (default: %(default)s)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:  # a child: pin to its cores before torch starts its threads
        job = json.loads(args.job)
        os.sched_setaffinity(0, set(job["cores"]))
        result = (yolo_job if job["kind"] == "yolo" else rtdetr_job)(job)
        Path(job["work"], "result.json").write_text(json.dumps(result))
        return 0

    import torch

    deadline = time.monotonic() + args.deadline
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ProcessPoolExecutor(len(DATASETS)) as pool:
        data = dict(
            zip(DATASETS, pool.map(build_dataset_named, *zip(*[(work / "data", n, args.quick) for n in DATASETS])))
        )
    data_seconds = round(time.perf_counter() - started, 1)
    jobs = []
    for dataset, imgsz, width, epochs, extra in {1: YOLO_RUNS, 2: ROUND_2, 3: []}[args.round]:
        name = f"yolo {dataset} imgsz {imgsz} width {width} epochs {epochs}" + "".join(
            f" {k} {v}" for k, v in extra.items()
        )
        jobs.append({"kind": "yolo", "name": name, "dataset": dataset, "imgsz": imgsz, "width": width,
                     "epochs": 1 if args.quick else epochs, "extra": extra})  # fmt: skip
    for dataset, steps, lr in {1: RTDETR_RUNS, 2: [], 3: RTDETR_ROUND_3}[args.round]:
        jobs.append({"kind": "rtdetr", "name": f"rtdetr {dataset} steps {steps} lr {lr}", "dataset": dataset,
                     "steps": 2 if args.quick else steps, "lr": lr})  # fmt: skip
    cores = sorted(os.sched_getaffinity(0))
    for index, job in enumerate(jobs):
        share = max(1, len(cores) // len(jobs))  # fewer jobs than cores: several cores each
        job.update(data=str(data[job["dataset"]]), device=device, work=str(work / f"job{index}"),
                   cores=[cores[(index * share + k) % len(cores)] for k in range(share)])  # fmt: skip
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:  # all at once; the GPU is shared
        results = list(pool.map(lambda j: run_child(j, work / f"job{jobs.index(j)}.log", deadline), jobs))
    report = {
        "command": f"python docs/measurements/demo_recipe_sweep.py --round {args.round}" + " --quick" * args.quick,
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "data_seconds": data_seconds,
        "datasets": DATASETS,
        "runs": {job["name"]: {**result, "epochs": job.get("epochs")} for job, result in zip(jobs, results)},
    }
    (out / "demo_recipe_sweep.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({name: r.get("map50", r.get("error", "")[:200]) for name, r in report["runs"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

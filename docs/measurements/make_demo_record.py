"""Keeps what a `make demo` run wrote about itself in one file the docs can cite.

    git clone . /tmp/fresh && (cd /tmp/fresh && make demo)
    python docs/measurements/make_demo_record.py /tmp/fresh --out docs/measurements/make_demo_fresh_clone_cpu.json

Copies, unchanged, the run's `reports/demo/timings.json` (each notebook's seconds and `total`, install
included), the demo models' `models/demo/manifest.json` (scores, training seconds, the calibrated
ensemble) and notebook 04's verdict (`data/eval/metrics.json`), with the commit the run was made from,
and where notebook 03's training time went (steps, evaluations; from the trainer's own state file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from pathlib import Path

MODEL_KEYS = ("spec", "data", "scores", "ensemble_weights", "ensemble", "seconds", "precision", "total_seconds")


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def record(run: Path) -> dict:
    commit = subprocess.run(["git", "-C", str(run), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    models = json.loads((run / "models/demo/manifest.json").read_text())
    return {
        "commit": commit.stdout.strip(),
        "machine": f"{_cpu()}, {os.cpu_count()} CPU cores",
        "timings": json.loads((run / "reports/demo/timings.json").read_text()),
        "models": {k: models[k] for k in MODEL_KEYS},
        "verdict": json.loads((run / "data/eval/metrics.json").read_text())["verdict"],
        "describer_training": _training(run / "models/description_llm/trainer_state.json"),
    }


def _training(state_file: Path) -> dict | None:
    """Where notebook 03's time went: steps, and the evaluations' share (each generates validation sentences)."""
    if not state_file.is_file():
        return None
    history = json.loads(state_file.read_text())["log_history"]
    evaluations = [entry["eval_runtime"] for entry in history if "eval_runtime" in entry]
    train = next(entry for entry in history if "train_runtime" in entry)
    return {
        "steps": train["step"],
        "train_runtime_seconds": train["train_runtime"],
        "evaluations": len(evaluations),
        "evaluation_seconds": round(sum(evaluations), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the folder make demo ran in (a fresh clone)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    Path(args.out).write_text(json.dumps(record(args.run), indent=2) + "\n")


if __name__ == "__main__":
    main()

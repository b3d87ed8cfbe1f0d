"""`desclm`: one command for every step, like `yolo` or `huggingface-cli`.

    desclm extract --images photos/ --yolo_weights best.pt         # stage 01: CV outputs from photos
    desclm pairs --cv_outputs data/cv_outputs.jsonl                 # stage 02: training pairs
    desclm train --pairs_dir data/pairs                             # stage 03: the T5 describer
    desclm describe models/description_llm --input cv.jsonl --output described.jsonl
    desclm <command> --help                                         # every option, its help and default

`python -m helpers` is the same command. Each subcommand lives in its own module here and is
imported only when run, so `--help` answers without loading a model library. Paths are taken
from the working directory. Exit status: 0 done; 1 some lines or images failed (each named in the
output); 2 a usage error (an option, a missing file or folder), before any model loads; 3 the
describer's model wrote too few of the sentences (see `describe --max_grammar_share`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

INTERRUPTED_EXIT_STATUS = 130  # the shell's for a process stopped by Ctrl-C (128 + SIGINT)
# name -> (module under helpers.commands, one line for `desclm --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "extract": ("extract", "stage 01: CV outputs (detections, scene) from photos; `extract merge` joins shards"),
    "calibrate": ("calibrate", "choose detector thresholds, weights and fusion on labelled validation photos"),
    "pairs": ("pairs", "stage 02: training pairs (CV output -> sentence) from CV outputs, split by image"),
    "synth": ("synth", "describe CV outputs with the grammar alone (no model)"),
    "train": ("train", "stage 03: train the T5 describer on the pairs"),
    "export-ct2": ("export_ct2", "export a trained describer to CTranslate2 (faster CPU inference)"),
    "describe": ("describe", "stage 04: describe CV outputs with the guarded describer; `describe merge` joins shards"),
    "annotate": ("annotate", "extract and describe photos in one streamed run (--engine ray: on a Ray cluster)"),
    "check": ("check", "check captions written anywhere (a VLM, people) against their CV records"),
    "export": (
        "export",
        "described photos as a Hugging Face dataset, WebDataset shards, LLaVA JSON, COCO captions or detections, "
        "Label Studio tasks, a YOLO dataset, a GeoJSON map, CSV",
    ),
    "summarize": ("summarize", "a counted paragraph per folder, day or site of CV records, for a report"),
    "gallery": ("gallery", "an HTML page to look through described photos: boxes, sentences, filters, search"),
    "pipeline": ("pipeline", "run the notebooks 01 -> 04 with papermill; reports to reports/<run>/"),
    "demo": ("demo", "the embedded demo: photo set, demo CV models, truth on fresh photos, notebook parameters"),
    "bench": ("bench", "throughput benchmarks: `bench extract`, `bench train`, `bench describe`"),
    "gpu-check": ("gpu_check", "on a GPU: extraction, training and describing speed in one run"),
}


def top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desclm",
        description="Teach a small T5 model to describe, in one faithful sentence, what litter detectors saw.",
        epilog="Run `desclm COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"desclm {metadata.version('desclm')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (_, line) in COMMANDS.items():
        commands.add_parser(name, help=line, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs `desclm COMMAND ...`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        parser = top_parser()
        if not argv:
            parser.print_help()
            return 2
        parser.parse_args(argv[:1])  # --help, or an unknown command: argparse says which
        return 2
    module = importlib.import_module(f"helpers.commands.{COMMANDS[argv[0]][0]}")
    try:
        return module.main(argv[1:], prog=f"desclm {argv[0]}")
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback from wherever it landed
        print(
            f"desclm {argv[0]}: interrupted. No output is left half-written under its name; run it again: extract, "
            "describe, annotate, train and export --format hf go on from where they stopped.",
            file=sys.stderr,
        )
        return INTERRUPTED_EXIT_STATUS

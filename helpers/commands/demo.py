"""`desclm demo`: the embedded demo (`helpers.demo`).

desclm demo dataset [--out data/demo] [--seed 0] [--n_train 240]   # the synthetic photo set
desclm demo models [--quick]                                        # the demo CV models, calibrated
desclm demo truth [--seed 1] [--photos 40]                          # how true the sentences are on fresh photos
desclm demo notebooks [--write]                                     # parameters cells vs the stages' settings
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from helpers.commands.parsing import SettingsParser, subcommand
from helpers.core.paths import DEMO_DATA_DIR, DEMO_MODELS_DIR
from helpers.core.settings import setting
from helpers.demo.dataset import DemoDatasetSpec

logger = logging.getLogger(__name__)


@dataclass
class DatasetOptions:
    """Where the demo photo set goes."""

    out: str = setting(str(DEMO_DATA_DIR), "output folder")
    force: bool = setting(False, "rebuild even if a matching set exists")


@dataclass
class ModelsOptions:
    """The demo models' build."""

    data: str = setting(str(DEMO_DATA_DIR / "data.yaml"), "the demo set's data.yaml (`desclm demo dataset`)")
    out: str = setting(str(DEMO_MODELS_DIR), "output folder")
    seed: int = setting(0, "seed of the models' training")
    quick: bool = setting(False, "a few images and steps: a smoke build for tests (useless models)")
    force: bool = setting(False, "rebuild even if matching models exist")


@dataclass
class TruthOptions:
    """The truth check on fresh demo photos."""

    seed: int = setting(1, "seed of the fresh photos (the demo set's is 0)")
    photos: int = setting(40, "fresh photos")
    model_dir: str = setting("models/description_llm", "the trained describer")
    output: str = setting("data/eval/unseen_truth.json", "summary JSON to write")


@dataclass
class NotebooksOptions:
    """The notebooks' parameters cells."""

    write: bool = setting(False, "rewrite the cells that differ (else only list them, exit status 1)")


DEMO_COMMANDS = {
    "dataset": "generate the synthetic YOLO photo set",
    "models": "train the demo CV models (YOLO detector, HF RT-DETR, scene classifier) and calibrate them",
    "truth": "how true the sentences are on fresh demo photos (end to end, and the describer on the labels)",
    "notebooks": "check (or --write) each notebook's parameters cell against its stage's settings",
}


def main(argv: list[str], prog: str = "desclm demo") -> int:
    if subcommand(argv, prog, "The embedded demo.", DEMO_COMMANDS) is None:
        return 2
    name, argv, prog = argv[0], argv[1:], f"{prog} {argv[0]}"
    if name == "dataset":
        parser = SettingsParser([DatasetOptions, DemoDatasetSpec], prog=prog, description=DEMO_COMMANDS[name])
        options, spec, _ = parser.parse(argv)
        from helpers.demo.dataset import build_dataset

        build_dataset(options.out, spec, force=options.force)
        return 0
    if name == "models":
        options, _ = SettingsParser(ModelsOptions, prog=prog, description=DEMO_COMMANDS[name]).parse(argv)
        from helpers.demo.models import QUICK, DemoModelsSpec, build_models

        spec = QUICK if options.quick else DemoModelsSpec()
        build_models(
            options.data, options.out, DemoModelsSpec(**{**asdict(spec), "seed": options.seed}), force=options.force
        )
        return 0
    if name == "truth":
        options, _ = SettingsParser(TruthOptions, prog=prog, description=DEMO_COMMANDS[name]).parse(argv)
        return truth(options)
    options, _ = SettingsParser(NotebooksOptions, prog=prog, description=DEMO_COMMANDS[name]).parse(argv)
    from helpers.demo.notebooks import stale_notebooks

    stale = stale_notebooks(write=options.write)
    if stale:
        logger.info("%s: %s", "rewritten" if options.write else "differ from their settings", ", ".join(stale))
    return 1 if stale and not options.write else 0


def truth(options: TruthOptions) -> int:
    from helpers.core.io import atomic_write_text
    from helpers.core.paths import resolve
    from helpers.demo.truth_bench import unseen_truth

    result = unseen_truth(options.seed, options.photos, options.model_dir)
    atomic_write_text(resolve(options.output), json.dumps(result, indent=2) + "\n")
    end, own = result["end_to_end"], result["describer_on_truth"]
    print(json.dumps({k: result[k] for k in ("end_to_end", "describer_on_truth", "detectors")}, indent=2))
    print(
        f"unseen demo photos (seed {options.seed}): {100 * end['true']:.0f}% of {result['with_ground_truth']} "
        f"described truly end to end; littered photos called clean: {end['littered_called_clean']} of "
        f"{end['littered_photos']}; describer on ground truth: {100 * own['true']:.0f}% (goal: >= 60%, 0, 100%)"
    )
    return 0

"""The notebooks' parameter cells, generated from the stages' settings with the demo's inputs.

Each notebook's `parameters` cell is every field of its stage's config, then of its report's
settings, with the one default each field has, except the demo's inputs below: the notebooks
walk through the demo, while commands (`desclm extract ...`) default to no demo file at all.
`desclm demo notebooks` checks the cells (`--write` rewrites them); a test does the same.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers.core.paths import DEMO_DATA_DIR, DEMO_MODELS_DIR, NOTEBOOKS, NOTEBOOKS_DIR
from helpers.core.settings import parameters_cell

# The demo's detectors for stage 01 (`make demo` builds them): what notebook 01 and the demo's tools run.
DEMO_DETECTORS = {
    "yolo_weights": str(DEMO_MODELS_DIR / "yolo_detector.pt"),
    "hf_model": str(DEMO_MODELS_DIR / "rtdetr"),
    "scene_weights": str(DEMO_MODELS_DIR / "scene_classifier.pt"),
    "ensemble_weights_file": str(DEMO_MODELS_DIR / "ensemble.json"),
}
DEMO_VALUES: dict[str, dict] = {"01": {"images": str(DEMO_DATA_DIR / "data.yaml"), **DEMO_DETECTORS}}


def notebook_settings() -> dict[str, list[type]]:
    """Each notebook's settings classes: its stage's config, then its report's."""
    from helpers.cv.config import ExtractConfig
    from helpers.cv.report import ExtractReport
    from helpers.describer.evaluate import EvalConfig, EvalReport
    from helpers.pairs.config import SynthConfig
    from helpers.pairs.report import PairsReport
    from helpers.training.config import TrainConfig
    from helpers.training.report import TrainReport

    return {
        "01": [ExtractConfig, ExtractReport],
        "02": [SynthConfig, PairsReport],
        "03": [TrainConfig, TrainReport],
        "04": [EvalConfig, EvalReport],
    }


def expected_cell(key: str) -> str:
    """The parameters cell notebook `key` should have."""
    return parameters_cell(notebook_settings()[key], DEMO_VALUES.get(key))


def _parameters_cell(notebook: dict, path: Path) -> dict:
    cells = [cell for cell in notebook["cells"] if "parameters" in cell["metadata"].get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path}: expected one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def stale_notebooks(write: bool = False) -> list[str]:
    """The notebooks whose parameters cell differs from its settings; `write` rewrites those cells."""
    stale = []
    for key, name in NOTEBOOKS.items():
        path = NOTEBOOKS_DIR / f"{name}.ipynb"
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = _parameters_cell(notebook, path)
        wanted = expected_cell(key)
        if "".join(cell["source"]) != wanted:
            stale.append(name)
            if write:
                cell["source"] = wanted.splitlines(keepends=True)
                path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return stale

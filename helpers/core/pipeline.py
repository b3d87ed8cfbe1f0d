"""Runs the notebooks in order with papermill and renders each executed copy to HTML.

    desclm pipeline [--params FILE.yaml] [--only 01,02] [--run NAME]

The parameters file holds a `shared` section, given to every notebook that declares the
parameter, and one section per notebook (keyed `01_cv_extract` or `01`) whose names must be
parameters of that notebook. Reports go to `reports/<run>/` with `timings.json` (each notebook's
seconds; `--total-since` adds the whole run's, as `make demo` does from before its install); the
run stops at the first failing notebook, naming it and the failing cell's error.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
import yaml
from nbconvert import HTMLExporter

import helpers  # noqa: F401 - sets the offline switches before papermill starts kernels
from helpers.core.io import atomic_write_text
from helpers.core.logs import REPORT_ENV
from helpers.core.paths import NOTEBOOKS, NOTEBOOKS_DIR, REPORTS_DIR, require_file, resolve

logger = logging.getLogger(__name__)
TIMINGS_FILE = "timings.json"  # per run folder: each notebook's wall-clock seconds


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""


@dataclass
class NotebookReport:
    """Where one executed notebook went."""

    name: str
    notebook: Path
    html: Path


def load_params(path: str | Path | None) -> dict[str, dict]:
    """Reads a pipeline parameters file; checks that its sections are `shared` or notebooks."""
    if path is None:
        return {}
    params_path = require_file(path, "Pipeline parameters file")
    params = yaml.safe_load(params_path.read_text()) or {}
    allowed = {"shared", *NOTEBOOKS, *NOTEBOOKS.values()}
    if not isinstance(params, dict) or any(not isinstance(v, dict | None) for v in params.values()):
        raise ValueError(
            f"{params_path}: expected sections (shared, 01_cv_extract, ...) each holding name: value pairs"
        )
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"{params_path}: unknown section(s) {unknown}; expected any of {sorted(allowed)}")
    return {key: value or {} for key, value in params.items()}


def notebook_parameters(params: dict[str, dict], key: str, declared: set[str]) -> dict:
    """The values one notebook receives: the shared ones it declares, then its own section.

    Raises:
        ValueError: The notebook's own section names a parameter the notebook does not declare.
    """
    name = NOTEBOOKS[key]
    values = {k: v for k, v in params.get("shared", {}).items() if k in declared}
    own = {**params.get(key, {}), **params.get(name, {})}
    unknown = sorted(set(own) - declared)
    if unknown:
        raise ValueError(f"{name}: unknown parameter(s) {unknown}; it declares {sorted(declared)}")
    return {**values, **own}


# Outputs that are progress, not results: a widget bar (frozen at its last state in HTML) and
# stderr streams drawn with carriage returns (tqdm's text bars).
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _is_progress(output: dict) -> bool:
    if output.get("output_type") == "stream":
        return output.get("name") == "stderr" and "\r" in "".join(output.get("text", ""))
    return WIDGET_VIEW in output.get("data", {})


def render_html(notebook_path: Path) -> Path:
    """Writes the report a person reads and pastes next to the executed notebook: its HTML without
    code cells (`nbconvert --no-input`; the code stays in the .ipynb) and without progress bars."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs if not _is_progress(output)]
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    return atomic_write_text(notebook_path.with_suffix(".html"), body)


def run_notebook(key: str, parameters: dict, out_dir: Path) -> NotebookReport:
    """Executes one notebook with papermill; the executed copy and its HTML go to `out_dir`.

    Raises:
        NotebookFailed: A cell raised; the partial report is still written.
    """
    name = NOTEBOOKS[key]
    source = require_file(NOTEBOOKS_DIR / f"{name}.ipynb", "Notebook")
    executed = out_dir / f"{name}.ipynb"
    previous = os.environ.get(REPORT_ENV)
    os.environ[REPORT_ENV] = "1"  # the kernel inherits it: no progress bars in the report (`start_notebook`)
    try:
        papermill.execute_notebook(source, executed, parameters=parameters, kernel_name="python3", progress_bar=True)
    except papermill.PapermillExecutionError as error:
        render_html(executed)
        raise NotebookFailed(
            f"{name} failed in cell {error.cell_index} (In [{error.exec_count}]): {error.ename}: {error.evalue}\n"
            f"  partial report: {executed}"
        ) from None
    finally:
        if previous is None:
            os.environ.pop(REPORT_ENV, None)
        else:
            os.environ[REPORT_ENV] = previous
    return NotebookReport(name, executed, render_html(executed))


def run_pipeline(
    params_file: str | Path | None = None,
    only: list[str] | None = None,
    run: str = "default",
    reports_dir: str | Path = REPORTS_DIR,
) -> list[NotebookReport]:
    """Runs the selected notebooks (all by default) in order; stops at the first failure.

    Args:
        params_file: YAML with `shared` and per-notebook sections.
        only: Notebook keys such as ["01", "02"]; None runs all four.
        run: Report folder name under `reports_dir`.
        reports_dir: Where report folders go.

    Returns:
        One report per executed notebook.
    """
    params = load_params(params_file)
    keys = only or list(NOTEBOOKS)
    unknown = [k for k in keys if k not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebook key(s) {unknown}; expected some of {list(NOTEBOOKS)}")
    # Validate every section before running anything: a typo in 04's section should not cost a 03 run.
    plan = []
    for key in sorted(keys):
        notebook = require_file(NOTEBOOKS_DIR / f"{NOTEBOOKS[key]}.ipynb", "Notebook")
        plan.append((key, notebook_parameters(params, key, set(papermill.inspect_notebook(str(notebook))))))
    out_dir = resolve(reports_dir) / run
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for key, parameters in plan:
        logger.info(f"\n=== {NOTEBOOKS[key]} ({', '.join(f'{k}={v!r}' for k, v in parameters.items()) or 'defaults'})")
        began = time.perf_counter()
        reports.append(run_notebook(key, parameters, out_dir))
        record_seconds(out_dir / TIMINGS_FILE, NOTEBOOKS[key], time.perf_counter() - began)
        logger.info("    report: %s", reports[-1].html)
    return reports


def record_seconds(path: Path, name: str, seconds: float) -> None:
    """Adds one step's wall-clock seconds to a run's timings file (other steps' entries are kept, so
    `--only` runs and `make demo`'s own total add up in one place)."""
    try:
        timings = json.loads(path.read_text())
    except (OSError, ValueError):
        timings = {}
    timings[name] = round(seconds, 1)
    atomic_write_text(path, json.dumps(timings, indent=2) + "\n")

"""`desclm pipeline`: the notebooks 01 -> 04 run with papermill; executed copies and HTML in reports/<run>/.

desclm pipeline --params helpers/demo/pipeline.yaml --run demo     # what `make demo` runs
desclm pipeline --params my.yaml --only 03,04                      # some notebooks only
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from helpers.commands.parsing import SettingsParser
from helpers.core.paths import REPORTS_DIR
from helpers.core.settings import setting

logger = logging.getLogger(__name__)


@dataclass
class PipelineOptions:
    """The pipeline command's settings."""

    params: str = setting("", "YAML with a 'shared' section and one per notebook (01_cv_extract: {...}, ...)")
    only: str = setting("", "comma-separated notebook keys to run, e.g. 01,02 (empty: all)")
    run: str = setting("default", "report folder name under --reports_dir")
    reports_dir: str = setting(str(REPORTS_DIR), "where report folders go")
    total_since: float | None = setting(None, "Unix time the whole run began: its seconds go to timings.json as total")


def main(argv: list[str], prog: str = "desclm pipeline") -> int:
    parser = SettingsParser(
        PipelineOptions,
        prog=prog,
        description="Run the notebooks in order with papermill and render each executed copy to HTML.",
        params_sections=None,  # --params is the pipeline file itself
    )
    options, _ = parser.parse(argv)
    from helpers.core.paths import resolve
    from helpers.core.pipeline import TIMINGS_FILE, NotebookFailed, record_seconds, run_pipeline

    only = [key.strip() for key in options.only.split(",") if key.strip()] or None
    try:
        reports = run_pipeline(options.params or None, only, options.run, options.reports_dir)
    except (OSError, ValueError) as error:  # checked before any notebook runs
        parser.error(str(error))
    except NotebookFailed as error:
        logger.error("Pipeline stopped: %s", error)
        return 1
    out_dir = resolve(options.reports_dir) / options.run
    if options.total_since is not None:
        record_seconds(out_dir / TIMINGS_FILE, "total", time.time() - options.total_since)
    logger.info("Reports in %s:\n%s", out_dir, "\n".join(f"  {report.html}" for report in reports))
    return 0

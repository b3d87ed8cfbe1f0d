"""Logging for commands and notebooks: desclm's own messages, libraries kept quiet, progress bars."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from helpers.core.paths import enter_project_root

logger = logging.getLogger(__name__)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a message comes (pytest and Jupyter swap it), never to a
    stream closed since the handler was made."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler sets it; the current stderr is always used
        pass


def setup_logging(verbosity: int = 0, stream=None) -> None:
    """Logs desclm's messages (INFO; DEBUG at verbosity > 0, WARNING below 0) to `stream` (stderr),
    and keeps libraries to their errors unless verbose: their warnings and bars mean nothing to a user."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    handler = logging.StreamHandler(stream) if stream else _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s"))
    root = logging.getLogger("helpers")
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(verbose=verbosity > 0)
    show_progress(verbosity >= 0)


_PROGRESS = {"shown": True}


def progress(*args, **kwargs):
    """tqdm.auto's progress bar, unless bars are off (`-q`)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not _PROGRESS["shown"])
    return tqdm(*args, **kwargs)


def show_progress(shown: bool) -> None:
    """Progress bars on or off for desclm (`progress`) and the libraries (Hugging Face's switch; tqdm reads
    TQDM_DISABLE in processes started later), so `-q` prints no bar at all."""
    _PROGRESS["shown"] = shown
    for name in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        if shown:
            os.environ.pop(name, None)
        else:
            os.environ[name] = "1"
    if "transformers" in sys.modules:
        hf_logging = sys.modules["transformers"].utils.logging
        if not shown:
            hf_logging.disable_progress_bar()
        elif not _hub_bars_forced_off():
            hf_logging.enable_progress_bar()


def _hub_bars_forced_off() -> bool:
    """Whether Hugging Face Hub read HF_HUB_DISABLE_PROGRESS_BARS=1 when it was imported: its bars stay off (asked
    to show them, it warns instead; a notebook run from a process with `-q` behind it inherits that variable)."""
    constants = sys.modules.get("huggingface_hub.constants")
    return getattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", None) is True


class _LevelFloor(logging.Filter):
    """Drops a logger's records below `level`: Ultralytics sets its logger's own level back to INFO when it is
    imported, which commands do after setting it (its "Loading best.onnx ..." lines printed under -q)."""

    def __init__(self) -> None:
        super().__init__()
        self.level = logging.NOTSET

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


_ULTRALYTICS_FLOOR = _LevelFloor()


def quiet_libraries(verbose: bool = False) -> None:
    """transformers, datasets and Ultralytics: errors only (and no dataset-map bars) unless verbose.

    Libraries not imported yet read the same choice from their environment variables later, so a
    command that never needs transformers does not pay for importing it here.
    """
    os.environ["TRANSFORMERS_VERBOSITY"] = "info" if verbose else "error"
    os.environ["DATASETS_VERBOSITY"] = "warning" if verbose else "error"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "0" if verbose else "1"
    if "transformers" in sys.modules:
        transformers = sys.modules["transformers"]
        transformers.logging.set_verbosity_info() if verbose else transformers.logging.set_verbosity_error()
    if "datasets" in sys.modules:
        datasets = sys.modules["datasets"]
        datasets.logging.set_verbosity_warning() if verbose else datasets.logging.set_verbosity_error()
        datasets.enable_progress_bars() if verbose else datasets.disable_progress_bars()
    ultralytics = logging.getLogger("ultralytics")
    ultralytics.setLevel(logging.INFO if verbose else logging.WARNING)
    _ULTRALYTICS_FLOOR.level = ultralytics.level
    if _ULTRALYTICS_FLOOR not in ultralytics.filters:
        ultralytics.addFilter(_ULTRALYTICS_FLOOR)


REPORT_ENV = "DESCLM_REPORT"  # set (to 1) for a notebook run as a report: no progress bars in it


def start_notebook() -> Path:
    """A notebook's set-up: relative parameters from the project root, desclm's log on stdout (a
    report shows no red stderr boxes), libraries quiet. Run as a report (`desclm pipeline` sets
    DESCLM_REPORT=1 for its kernels; so can a papermill user), no progress bars at all: a bar in an
    executed notebook is frozen where it was. Returns the project root."""
    root = enter_project_root()
    setup_logging(0, stream=sys.stdout)
    if os.environ.get(REPORT_ENV) == "1":
        show_progress(False)
    return root

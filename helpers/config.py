"""Project paths in one place, and how user-given paths are resolved.

Every stage reads its default locations from here, so a notebook never hard-codes a
folder and moving `data/` or `models/` is a one-line change.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DATA_DIR = PROJECT_ROOT / "data"
MODELS_DIR = PROJECT_ROOT / "models"
REPORTS_DIR = PROJECT_ROOT / "reports"
CACHE_DIR = PROJECT_ROOT / ".cache"

DEMO_DATA_DIR = DATA_DIR / "demo"
DEMO_MODELS_DIR = MODELS_DIR / "demo"

# The pipeline's notebooks, in execution order; the short key is what `--only` takes.
NOTEBOOKS: dict[str, str] = {
    "01": "01_cv_extract",
    "02": "02_synth_descriptions",
    "03": "03_train_t5",
    "04": "04_evaluate",
}


def resolve(path: str | Path) -> Path:
    """Resolves a user-given path: absolute paths stay, relative ones are taken from the project root.

    Notebooks run with whatever working directory papermill or Jupyter gives them, so
    relative paths in parameters are anchored at the project root, never at the cwd.

    Args:
        path: A path as written in a parameter.

    Returns:
        The absolute path.
    """
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def require_file(path: str | Path, what: str, hint: str = "") -> Path:
    """Returns the resolved path if it exists, else raises an error that names it.

    Args:
        path: File or folder that must exist.
        what: What the file is, for the message (e.g. "YOLO detector checkpoint").
        hint: How to create it, appended to the message.

    Returns:
        The resolved, existing path.

    Raises:
        FileNotFoundError: The path does not exist.
    """
    resolved = resolve(path)
    if not resolved.exists():
        message = f"{what} not found: {resolved}"
        if hint:
            message += f" ({hint})"
        raise FileNotFoundError(message)
    return resolved

"""Project paths in one place, and how user-given paths are resolved.

Two rules, as a user of command-line tools expects:
- **Commands and the Python API** take relative paths from the current working directory
  (`desclm describe mymodel --input in.jsonl` means `./mymodel` and `./in.jsonl`).
- **Notebooks** take relative parameters from the project root: their set-up cell calls
  `enter_project_root()`, so papermill or Jupyter may start them from any folder.

The project root is `$DESCLM_HOME` when set, else the source checkout this package runs from
(an editable install), else the current working directory (an installed package).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from helpers.core.io import SHARD_SUFFIX
from helpers.core.remote import is_remote, remote_folder, remote_path
from helpers.core.video_frames import VIDEO_SUFFIXES

# The files a remote `--images` may be instead of a folder: a tar shard, a video, a dataset's Parquet file, a list
REMOTE_PHOTO_FILES = (SHARD_SUFFIX, ".parquet", ".txt", *sorted(VIDEO_SUFFIXES))

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _project_root() -> Path:
    home = os.environ.get("DESCLM_HOME")
    if home:
        return Path(home).expanduser().resolve()
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "notebooks").is_dir():
        return _SOURCE_ROOT
    return Path.cwd()


def _cache_dir(root: Path) -> Path:
    # An installed package without DESCLM_HOME keeps its cache (Ultralytics' settings, a font) per user,
    # not in whatever folder it was started from.
    if os.environ.get("DESCLM_HOME") or root == _SOURCE_ROOT:
        return root / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "desclm"


PROJECT_ROOT = _project_root()
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
CACHE_DIR = _cache_dir(PROJECT_ROOT)

# Default locations, relative: commands take them from the working directory, notebooks from the root.
DATA_DIR = Path("data")
MODELS_DIR = Path("models")
REPORTS_DIR = Path("reports")
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
    """A user-given path as an absolute path: relative ones are taken from the working directory.

    Args:
        path: A path as given on the command line, to a function, or in a notebook parameter.

    Returns:
        The absolute path (`~` expanded; symbolic links are kept).
    """
    if is_remote(path):  # else Path would make "s3:/bucket/x" of it, a folder in the working directory
        raise ValueError(
            f"{path}: a remote location where a path on this machine is expected (photos are read where they lie in "
            "object storage as --images, a folder of them; other inputs and the outputs are local)"
        )
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def enter_project_root() -> Path:
    """Makes the project root the working directory (notebooks call this first); returns it."""
    os.chdir(PROJECT_ROOT)
    return PROJECT_ROOT


def require_photos(images: str | Path, what: str):
    """`require_file` of photos that may lie in object storage: a URL (`s3://bucket/photos/`) is checked
    there and returned as its `UPath` (`helpers.core.remote.remote_folder`; a folder, or one tar shard, video or
    Parquet file), a path as `require_file` returns it."""
    if is_remote(images):
        return remote_folder(str(images), what, files=REMOTE_PHOTO_FILES)
    return require_file(images, what)


def photos_root(image_root: str | Path | None, default: Path):
    """The folder a labels file's photo names are relative to: `image_root`, else `default` (the file's folder),
    resolved; a URL (`s3://bucket/photos/`) as its `UPath`, the photos read where they lie (nothing asked of the
    storage here)."""
    if image_root and is_remote(image_root):
        return remote_path(str(image_root).rstrip("/"), "image_root")
    return Path(image_root).resolve() if image_root else default.resolve()


def key_under(root_url: str, name: str) -> str | None:
    """The key below the remote folder `root_url` of the photo `name` names: a relative name (`..` taken out
    lexically), or a URL inside the folder. None when it lies outside: a photo's key is its path below the root."""
    base = root_url.rstrip("/") + "/"
    inside = name[len(base) :] if name.startswith(base) else name
    if not inside or is_remote(inside):
        return None
    key = posixpath.normpath(inside)
    return None if key.startswith(("../", "/")) or key in (".", "..") else key


def photo_under(root, name: str, where: str):
    """The photo `name` names, relative to `root` (`photos_root`'s) or absolute, `..` taken out lexically (Label
    Studio's COCO export goes up a folder); under a remote root, as `key_under` finds it.

    Raises:
        ValueError: Under a remote root, a name that lies outside it; under a folder here, a URL; naming `where`
            (the entry).
    """
    if not is_remote(root) and not is_remote(name):
        return Path(os.path.abspath(root / name))
    key = key_under(str(root), name) if is_remote(root) else None  # a URL is in no folder here
    if key is None:
        raise ValueError(
            f"{where}: {name} lies outside image_root {root}: give image_root a folder the photos lie under"
        )
    return root / key


def require_file(path: str | Path, what: str, hint: str = "", kind: str = "") -> Path:
    """Returns the resolved path if it exists (and is of `kind`, and readable), else raises an error
    whose one line names the path and what it should be.

    Args:
        path: File or folder that must exist.
        what: What the file is, for the message (e.g. "YOLO detector checkpoint").
        hint: How to create it, appended to the message.
        kind: "file" or "folder" to require that kind; "" accepts either.

    Returns:
        The resolved, existing path.

    Raises:
        FileNotFoundError: The path does not exist.
        IsADirectoryError / NotADirectoryError: It is not of `kind`.
        PermissionError: It cannot be read.
    """
    resolved = resolve(path)
    suffix = f" ({hint})" if hint else ""
    if not resolved.exists():
        raise FileNotFoundError(f"{what} not found: {resolved}{suffix}")
    if kind == "file" and resolved.is_dir():
        raise IsADirectoryError(f"{what} should be a file, got a folder: {resolved}{suffix}")
    if kind == "folder" and not resolved.is_dir():
        raise NotADirectoryError(f"{what} should be a folder, got a file: {resolved}{suffix}")
    if not os.access(resolved, os.R_OK | (os.X_OK if resolved.is_dir() else 0)):
        raise PermissionError(f"{what} is not readable (permissions): {resolved}")
    return resolved

"""Offline by construction: environment switches that must be set before Ultralytics or
Hugging Face libraries are imported. `import helpers` applies them, so notebooks and
commands import `helpers` first.

- Ultralytics: `YOLO_OFFLINE=true` (no online checks, no analytics), `YOLO_CONFIG_DIR` in the
  project cache, and a local font saved there as `Arial.ttf` (its dataset check and plotting
  otherwise download one).
- Hugging Face: offline by default (`HF_HUB_OFFLINE=1`, `TRANSFORMERS_OFFLINE=1`,
  `HF_DATASETS_OFFLINE=1`), and nothing is asked of the network at import. Only when a hub id is
  actually requested (`model_source`) is the hub probed, once; if it answers, the libraries go
  online for the download, else a model missing from the local cache fails at once, naming the id.
  A value the user set is never overridden; `DESCLM_OFFLINE=1` keeps everything offline, unprobed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

from helpers.core.device import cpu_cores
from helpers.core.paths import CACHE_DIR

HUB_HOST = ("huggingface.co", 443)
DEFAULTED = "DESCLM_HUB_OFFLINE_BY_DEFAULT"  # set when the offline switch is desclm's default, not the user's
FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def hub_reachable(timeout: float = 2.0) -> bool:
    """True when a TCP connection to the Hugging Face hub opens within `timeout` seconds.

    Runs in a daemon thread because name resolution ignores socket timeouts and can hang.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(HUB_HOST, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _matplotlib_font() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    font = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.exists() else None


def install_local_fonts(config_dir: Path) -> None:
    """Copies matplotlib's DejaVuSans into Ultralytics' config folder under the names it looks for."""
    target_dir = config_dir / "Ultralytics"
    missing = [name for name in FONT_NAMES if not (target_dir / name).exists()]
    font = _matplotlib_font() if missing else None
    if font is None:
        return
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in missing:
        partial = target_dir / f".{name}.partial"
        shutil.copyfile(font, partial)
        partial.replace(target_dir / name)


def configure() -> dict[str, str]:
    """Sets the offline switches (idempotent). Returns the variables it set or found."""
    os.environ.setdefault("YOLO_OFFLINE", "true")
    # else importing Ultralytics sets it to 1 for every later torch import (see helpers.core.device.use_all_cores)
    os.environ.setdefault("OMP_NUM_THREADS", str(cpu_cores()))
    config_dir = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE_DIR / "ultralytics")))
    try:
        install_local_fonts(config_dir)
    except OSError:
        pass  # a read-only checkout: Ultralytics falls back to its own lookup, still offline
    if "HF_HUB_OFFLINE" not in os.environ:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ[DEFAULTED] = "1"  # ours, not the user's: model_source may lift it for a hub id
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    names = ("YOLO_OFFLINE", "YOLO_CONFIG_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    return {name: os.environ[name] for name in names if name in os.environ}


def go_online() -> None:
    """Lifts desclm's default offline mode (the hub answered and a hub id was asked for), also in
    libraries already imported, which read the switch once."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "0"
    os.environ[DEFAULTED] = "0"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = False


def hub_offline() -> bool:
    """True when the Hugging Face libraries are set to offline mode."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def model_source(name_or_path: str | Path, what: str) -> str:
    """Checks a `from_pretrained` argument before any library sees it; returns what to pass.

    A local folder is returned as an absolute path (relative ones start at the project root).
    Something that looks like a path but does not exist, or a hub id that is not in the local
    cache while the hub is offline, raises at once with the path or id in the message, instead
    of the libraries' generic "couldn't connect" error or a download attempt.

    Args:
        name_or_path: A local folder, or a hub id such as "google/flan-t5-small".
        what: What the model is, for the message (e.g. "T5 base model").

    Raises:
        FileNotFoundError: Neither a local folder nor usable from the hub.
    """
    from helpers.core.paths import resolve

    text = str(name_or_path)
    local = resolve(text)
    if local.exists():
        return str(local)
    looks_like_path = Path(text).is_absolute() or text.startswith((".", "~")) or text.count("/") > 1 or "\\" in text
    if looks_like_path:
        raise FileNotFoundError(f"{what} not found: {local}")
    forced = os.environ.get("DESCLM_OFFLINE", "").lower() in {"1", "true", "yes"}
    if not forced and os.environ.get(DEFAULTED) == "1" and hub_offline() and hub_reachable():  # probed only now
        go_online()
    if hub_offline():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(text, "config.json"), str):
            raise FileNotFoundError(
                f"{what} {text!r} is not a local folder ({local} does not exist) and is not in the Hugging Face "
                "cache, and the hub is offline (HF_HUB_OFFLINE=1). Download it where the hub is reachable, "
                "or pass the path of a local copy."
            )
    return text

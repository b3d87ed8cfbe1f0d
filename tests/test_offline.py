"""Offline by construction: no download is ever attempted, missing models fail fast and name the path."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from helpers.core.paths import CACHE_DIR


def _python(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "YOLO_", "TRANSFORMERS_", "DESCLM_"))}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_import_helpers_sets_ultralytics_offline_with_a_local_font():
    code = (
        "import helpers, os\n"
        "from ultralytics.utils import is_online\n"
        "from ultralytics.utils.checks import check_font\n"
        "print(os.environ['YOLO_OFFLINE'], os.environ['YOLO_CONFIG_DIR'], is_online(), check_font('Arial.ttf'))\n"
    )
    finished = _python(code)
    assert finished.returncode == 0, finished.stderr
    # the last line: Ultralytics may first announce a settings file it created
    offline, config_dir, online, font = finished.stdout.strip().splitlines()[-1].split()
    assert offline == "true" and config_dir == str(CACHE_DIR / "ultralytics") and online == "False"
    assert font == str(CACHE_DIR / "ultralytics" / "Ultralytics" / "Arial.ttf")


def test_user_settings_are_respected_and_desclm_offline_forces_hub_offline():
    code = "import helpers, os; print(os.environ.get('HF_HUB_OFFLINE'), os.environ['YOLO_CONFIG_DIR'])"
    assert _python(code, HF_HUB_OFFLINE="0", YOLO_CONFIG_DIR="/tmp/mine").stdout.split() == ["0", "/tmp/mine"]
    assert _python(code, DESCLM_OFFLINE="1").stdout.split()[0] == "1"


def test_a_missing_hub_model_fails_fast_and_names_the_id(tmp_path):
    """With the hub offline, an id that is not cached errors at once, naming the id and the local path tried."""
    code = (
        "import helpers\n"
        "from helpers.core.offline import model_source\n"
        "try:\n"
        "    model_source('google/flan-t5-small', 'T5 base model')\n"
        "except FileNotFoundError as error:\n"
        "    print(error)\n"
    )
    started = time.monotonic()
    finished = _python(code, DESCLM_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    assert "'google/flan-t5-small' is not a local folder" in finished.stdout, finished.stdout + finished.stderr
    assert "HF_HUB_OFFLINE" in finished.stdout
    assert time.monotonic() - started < 90, "no download retries"


def test_model_source_accepts_local_folders_and_names_missing_paths(tmp_path):
    from helpers.core.offline import model_source

    (tmp_path / "model").mkdir()
    assert model_source(tmp_path / "model", "model") == str(tmp_path / "model")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        model_source(tmp_path / "nope", "T5 base model")
    with pytest.raises(FileNotFoundError, match="models/missing/rt-detr"):
        model_source("models/missing/rt-detr", "RT-DETR checkpoint")


def test_a_missing_yolo_checkpoint_names_the_path(tmp_path):
    code = f"import helpers\nfrom ultralytics import YOLO\nYOLO({str(tmp_path / 'best.pt')!r})\n"
    finished = _python(code)
    assert finished.returncode != 0
    assert f"No such file or directory: '{tmp_path / 'best.pt'}'" in finished.stderr, "the whole path, no download"
    assert "Downloading" not in finished.stderr


def test_import_asks_nothing_of_the_network_and_a_hub_id_probes_once(tmp_path):
    """Issue 15, item 13: offline by default; the hub is looked up only when a hub id is asked for."""
    code = (
        "import socket\n"
        "calls = []\n"
        "def refuse(*args, **kwargs):\n"
        "    calls.append(args)\n"
        "    raise OSError('no network here')\n"
        "socket.create_connection = refuse\n"
        "import helpers, os\n"
        "from helpers.core.offline import model_source\n"
        "print(len(calls), os.environ['HF_HUB_OFFLINE'])\n"
        "model_source(os.environ['HF_HOME'], 'a local folder')\n"
        "print(len(calls))\n"
        "try:\n"
        "    model_source('google/flan-t5-small', 'T5 base model')\n"
        "except FileNotFoundError as error:\n"
        "    print(len(calls), 'HF_HUB_OFFLINE' in str(error))\n"
    )
    (tmp_path / "hf").mkdir()
    finished = _python(code, HF_HOME=str(tmp_path / "hf"))
    assert finished.stdout.split() == ["0", "1", "0", "1", "True"], finished.stdout + finished.stderr

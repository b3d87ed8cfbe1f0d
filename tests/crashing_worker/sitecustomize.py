"""On the PYTHONPATH of the Ray workers that tests/test_ray_engine.py starts, so every worker process
imports it first: a photo whose file name holds MARK, or a JSON text that holds it, ends the process
that opens or parses it, as a crash in native code (or a kill for memory) would. Nothing is raised:
the process is gone, and Ray sees a dead worker."""

import json
import os

import PIL.Image

MARK = "kills-its-worker"
CRASHED = 139  # the status of a process ended by SIGSEGV, as a shell reports it

_open, _loads = PIL.Image.open, json.loads


def _open_or_crash(fp, *args, **kwargs):
    if MARK in os.path.basename(str(fp)):
        os._exit(CRASHED)
    return _open(fp, *args, **kwargs)


def _loads_or_crash(text, *args, **kwargs):
    if (MARK.encode() if isinstance(text, bytes | bytearray) else MARK) in text:
        os._exit(CRASHED)
    return _loads(text, *args, **kwargs)


PIL.Image.open = _open_or_crash
json.loads = _loads_or_crash

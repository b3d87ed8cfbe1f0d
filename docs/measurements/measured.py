"""What the measurement scripts beside this file share: the commit measured, and the result saved.

from measured import commit, save     # a script here is run as `python docs/measurements/NAME.py`
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def commit() -> str | None:
    """The checkout's short commit (None outside a git checkout)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def save(result: dict, out: Path | None) -> None:
    """Prints the result as JSON, and writes it to `out` when given."""
    text = json.dumps(result, indent=2) + "\n"
    if out:
        out.write_text(text)
    print(text, end="")

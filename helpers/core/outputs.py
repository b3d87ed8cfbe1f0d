"""Who may write an output: one run at a time, and never over any of its own inputs.

Every command that writes files takes both rules from here, so they hold by construction:

- `OutputLock(output)`: a run owns `.<name>.lock` beside its output for as long as it writes. A
  second run on the same output refuses at once, naming the first (its process id, machine,
  start time and command line). The lock is the kernel's (`flock`), so a killed run holds nothing.
- `check_writes(outputs, inputs)`: before any work, refuses a command whose outputs (with the
  side files it writes next to them: partial files, stamps, locks, error files, manifests) include
  any of its inputs, through symbolic links, `..` and hard links alike.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

try:
    import fcntl
except ImportError:  # Windows: runs are not locked there (no flock)
    fcntl = None


T = TypeVar("T")


class OutputBusyError(ValueError):
    """Another run is writing the same output."""


def lock_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.lock")


def partial_paths(output: Path) -> list[Path]:
    """The side files a resumable output is written through: `.<name>.partial` and its stamp."""
    return [output.with_name(f".{output.name}.partial"), output.with_name(f".{output.name}.partial.json")]


class OutputLock:
    """Holds `output` for this run (see the module docstring); a context manager.

    Raises (on entering):
        OutputBusyError: Another run holds it.
        OSError: The lock file cannot be made (a read-only folder, a name too long, a parent
            that is a file): the output could not be written either, and nothing has started.
    """

    def __init__(self, output: Path) -> None:
        self.output = Path(output)
        self.path = lock_path(self.output)
        self._fd: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> OutputLock:
        if fcntl is None:
            return self
        missing = self.path.parent
        while not missing.exists() and missing != missing.parent:
            self._made.append(missing)  # deepest first: removed on leaving when the run left them empty
            missing = missing.parent
        try:
            self._take()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _take(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip()
                os.close(fd)
                raise OutputBusyError(
                    f"{self.output} is being written by another run ({_describe_holder(holder)}); "
                    "wait for it to finish, or choose another output"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the run before removed the file between our open and lock: take the new one
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        os.write(fd, json.dumps(holder).encode())
        self._fd = fd

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # before unlocking: a waiting run then finds a fresh file
            os.close(self._fd)
            self._fd = None
        for folder in self._made:  # a run that failed before writing leaves no folder behind either
            try:
                folder.rmdir()
            except OSError:
                break


def check_writable(output: Path) -> None:
    """Refuses, before any work (and without writing anything), an output that cannot be written:
    its folder is a file or read-only, or its name leaves no room for the side files beside it.

    Raises:
        OSError: Naming the output and why.
    """
    existing = output.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {output}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"cannot write {output}: the folder {existing} is read-only")
    longest = max(len(path.name.encode("utf-8", "surrogateescape")) for path in partial_paths(output))
    limit = os.pathconf(existing, "PC_NAME_MAX")
    if longest > limit:
        raise OSError(
            errno.ENAMETOOLONG,
            f"cannot write {output}: its name is {len(output.name)} characters, and the files written beside it "
            f"({partial_paths(output)[1].name[:20]}...) would pass this file system's {limit}",
        )


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"process {holder['pid']} on {holder['host']}, started {holder['started']}: {holder['command']}"
    except (ValueError, KeyError, TypeError):
        return "a run that has not said which yet"


def _same(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def check_writes(outputs: Iterable[Path], inputs: Iterable[Path]) -> None:
    """Refuses, before any work, outputs that are folders or that would write over an input.

    Args:
        outputs: Every path the command writes, side files included.
        inputs: Every path it reads.

    Raises:
        ValueError: Naming the output and the input it would overwrite, or the folder.
    """
    inputs = [Path(path) for path in inputs]
    for output in map(Path, outputs):
        if output.is_dir():
            raise ValueError(f"output {output} is a folder; give a file path")
        for source in inputs:
            if _same(output, source):
                name = "" if output == source else f" (writing {output.name} would overwrite {source})"
                raise ValueError(
                    f"output {output} is an input file of this command{name}; inputs are never overwritten"
                )


def check_not_listed(
    outputs: Iterable[Path], listed: Iterable[T], name: Callable[[T], str], path: Callable[[T], Path]
) -> None:
    """`check_writes` for inputs by the million (the photos of a folder): a listed input is compared
    with the outputs only when its file `name` is an output's, so the check costs no system call, and
    makes no `path`, per input.

    Raises:
        ValueError: Naming the output and the listed file it would overwrite.
    """
    outputs = [Path(output) for output in outputs]
    names = {output.name for output in outputs} | {Path(os.path.realpath(output)).name for output in outputs}
    check_writes(outputs, [path(entry) for entry in listed if name(entry) in names])

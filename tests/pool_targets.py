"""Targets for `helpers.core.workers.WorkerPool` in tests, in a module of their own: a spawned
worker imports it (and nothing heavier) to unpickle one."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Dying:
    """A pool target whose `square` ends the worker process running it on `fatal` (as a kill for
    memory would), every time, or (with `once`, a file) the first time only."""

    parent: int
    fatal: int
    once: str = ""

    def square(self, number: int) -> int:
        if number == self.fatal and os.getpid() != self.parent:
            if not self.once or not os.path.exists(self.once):
                if self.once:
                    open(self.once, "w").close()
                os._exit(137)
        return number * number

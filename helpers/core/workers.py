"""Worker processes that call one picklable object's methods, results in order (`WorkerPool`): the
guard beside the model, `desclm describe`'s and `desclm check`'s lines, the grammar's sentences of
`desclm synth`, an export's photos written again. The work is Python; the processes share nothing."""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

logger = logging.getLogger(__name__)

_WORKER_TARGET: list = []  # a pool worker's object, set once by its initializer


def _start(target) -> None:
    # Ctrl-C reaches the whole process group: the parent stops its workers (`WorkerPool.close`), so a
    # worker ignores it rather than print its own traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_TARGET[:] = [target]


def _call(method: str, *args):
    return getattr(_WORKER_TARGET[0], method)(*args)


class WorkerPool:
    """Methods of one picklable object (a `helpers.describer.guard.Guard`, a
    `helpers.describer.lines.LineWork`, the grammar's `helpers.pairs.synth.SynthLines`) called on
    `workers` processes, or in this process when `workers` is 0 (each call done when it is made).

    Workers are started with "spawn" (a fresh interpreter: the parent's torch threads are not
    forked) and import only what the object's module does: the text layer, not the model.
    """

    def __init__(self, target, workers: int) -> None:
        self.target, self.workers = target, workers
        self._pool = None
        self.starts = 0  # how many times the processes were started (again, after one ended)
        self._open()

    def _open(self) -> None:
        if self.workers:
            workers = self.workers
            self.starts += 1
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(self.target,))
            # Every worker now (a task each, given faster than one starts), not one per submit as the pool
            # would: a worker it starts while it breaks (another one killed) is never stopped, and closing
            # it then waits forever (CPython 3.11's ProcessPoolExecutor).
            for _ in range(workers):
                self._pool.submit(int)

    def submit(self, method: str, *args) -> Future:
        """`target.method(*args)`, as a future (its exception re-raised by `result()`; a pool whose
        worker ended raises `BrokenProcessPool` there, as the futures it held do)."""
        future: Future = Future()
        if self._pool is not None:
            try:
                return self._pool.submit(_call, method, *args)
            except BrokenProcessPool as broken:
                future.set_exception(broken)
                return future
        try:
            future.set_result(getattr(self.target, method)(*args))
        except Exception as error:  # noqa: BLE001 - raised again where the result is asked for, as a worker's is
            future.set_exception(error)
        return future

    def ordered(self, method: str, calls: Iterable[tuple], ahead: int) -> Iterator:
        """`target.method(*args)` for each `args` of `calls`, the results in order; `calls` is drawn
        while earlier ones run, at most `ahead` waiting besides the one whose result is given next.
        A call that raised re-raises here, at its place.

        A worker that ends (killed for memory, a crash) costs no result: the processes start again
        and each call the pool held runs again there; a call that ends a worker a second time runs
        in this process (the targets' work is Python: a worker is killed for the machine's memory,
        not for a call's).
        """
        pending: deque[tuple[tuple, Future, int]] = deque()  # each call's args, future and pool start
        for args in calls:
            pending.append((args, self.submit(method, *args), self.starts))
            while len(pending) > ahead:
                yield self._result(method, *pending.popleft())
        while pending:
            yield self._result(method, *pending.popleft())

    def _result(self, method: str, args: tuple, future: Future, start: int):
        """The call's result; where its worker ended, the call again (see `ordered`)."""
        try:
            return future.result()
        except BrokenProcessPool:
            if start == self.starts:  # the first of the ended pool's calls asked for: it starts again
                logger.warning("a worker process ended (killed for memory, or a crash): starting the workers again")
                self.restart()
        start = self.starts
        try:
            return self.submit(method, *args).result()
        except BrokenProcessPool:
            logger.warning("a %s call ended a worker twice: doing it in this process", method)
            if start == self.starts:
                self.restart()
        return getattr(self.target, method)(*args)

    def restart(self) -> None:
        """Stops the processes (one ended: the pool is broken) and starts new ones."""
        self.close()
        self._open()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

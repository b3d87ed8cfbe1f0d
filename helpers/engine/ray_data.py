"""The Ray engine: extraction and description as Ray Data pipelines over actor pools.

    photos listed here ─▶ decode (Ray tasks) ─▶ detector actors ─▶ [describer actors] ─▶ written here

The driver (this process) lists the photos, checks and resumes the outputs exactly as the local
engine does (`helpers.cv.extract.run_extraction`, `helpers.describer.run.describe_file`: the
same manifests, the same refusals), and writes every result it streams back; the models run in
actor pools (`concurrency` actors, `num_gpus` each) on whatever cluster `address` names, or on a
local one. Each actor runs the very code of the local engine (`helpers.cv.batch.BatchExtractor`,
`helpers.describer.run.described_lines`), so both engines write the same records. A photo that
cannot be read, or on which a model fails, is an error line.

A worker that dies (a crash in native code, a kill for memory, a lost node) is restarted by Ray and
its batch tried again, `tries` times in all (3): Ray's own default is to try forever, and one
photo that kills every process it is decoded in would then hang the run. A batch still failing is
left out of the stream, and once the stream ends its photos are tried again one at a time: the
photos that come back are written as ever, and one that still kills its worker is one error line.
Describing on Ray (`desclm describe --engine ray`) does the same with lines, keeping input order: the
output after a lost chunk waits in a temporary file until its lines have been tried alone.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image

from helpers.core.records import chunks, input_line, json_line
from helpers.core.video_frames import DEFAULT_VIDEO_INTERVAL
from helpers.cv.batch import BatchExtractor, BatchResult, Decoded, decode_item, error_line, read_shard_runs
from helpers.cv.config import ExtractConfig
from helpers.cv.sources import ImageItem, ImageSource
from helpers.describer.batch import planned_batch_size
from helpers.engine.options import AUTO_GPUS, EngineOptions

logger = logging.getLogger(__name__)
DECODE_CPUS = 1.0  # each decoding task
DECODE_MEMORY_PER_PHOTO = 48 * 2**20  # bytes a decoding task asks for per photo of its batch
# A block is the unit Ray schedules and returns: results stream back a block at a time, and every block
# costs the driver some bookkeeping. One batch per block, unless that makes more than MAX_BLOCKS.
MAX_BLOCKS = 20_000
NO_IMAGE = np.zeros((1, 1, 3), dtype=np.uint8)  # stands in for a photo that could not be decoded


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def lost_photo(tries: int) -> str:
    """The error line's reason for a photo whose worker died `tries` times with its batch and as many alone."""
    return (
        f"lost on the Ray workers: the process running this photo died {_times(tries)} with its batch and "
        f"{_times(tries)} alone (a crash in native code, or killed for memory; see the workers' logs)"
    )


def lost_line(tries: int) -> str:
    """The error line's reason for an input line whose worker died `tries` times with its chunk and as many alone."""
    return (
        f"lost on the Ray workers: the process describing this line died {_times(tries)} with its chunk and "
        f"{_times(tries)} alone (a crash in native code, or killed for memory; see the workers' logs)"
    )


@contextmanager
def _retries_given() -> Iterator[None]:
    """Ray 2.60 warns that `map_batches`' free Ray arguments go in 2.64, but the number of tries has no
    named parameter yet: that warning is quiet here, and the `ray` extra stays below 2.64."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        yield


@contextmanager
def _data_context(**settings) -> Iterator[None]:
    """Ray Data's context (a global of this process) with `settings` while the block runs."""
    import ray.data

    context = ray.data.DataContext.get_current()
    kept = {name: getattr(context, name) for name in settings}
    for name, value in settings.items():
        setattr(context, name, value)
    try:
        yield
    finally:
        for name, value in kept.items():
            setattr(context, name, value)


def connect(address: str = "") -> dict[str, float]:
    """Joins the cluster at `address` ("auto", "HOST:PORT", "ray://..."); with "", Ray's own choice:
    `RAY_ADDRESS`, else the cluster `ray start` made on this machine, else a new local one (this
    machine's cores and GPUs, stopped with the process). Nothing when this process is connected
    already. Returns the cluster's resources; Ray's own progress bars are off (the commands show theirs)."""
    import ray
    import ray.data

    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(logging_level=logging.WARNING, include_dashboard=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray.cluster_resources()


def gpus_per_actor(options: EngineOptions, resources: dict[str, float]) -> float:
    """`options.num_gpus`, with -1 (auto) read as one GPU per actor when the cluster has GPUs."""
    if options.num_gpus != AUTO_GPUS:
        return options.num_gpus
    return 1.0 if resources.get("GPU", 0) >= 1 else 0.0


def block_rows(count: int, batch: int) -> int:
    """Rows per Ray block for `count` rows in batches of `batch`: one batch, or a whole number of
    batches when that would make more than MAX_BLOCKS blocks (10^7 photos in batches of 16: 512)."""
    return batch * max(1, -(-count // (batch * MAX_BLOCKS)))


def blocks(table: pa.Table, batch: int) -> list[pa.Table]:
    """`table` cut into Ray blocks of `block_rows` rows."""
    rows = block_rows(table.num_rows, batch)
    return [table.slice(start, rows) for start in range(0, table.num_rows, rows)] or [table]


def check_resources(
    resources: dict[str, float], pools: list[tuple[str, int, float, float]], decoding: bool = True
) -> None:
    """Refuses pools the cluster cannot hold at once (with a CPU left for decoding photos, if any).

    Args:
        resources: `ray.cluster_resources()`.
        pools: (name, actors, CPUs each, GPUs each) per actor pool.
        decoding: Whether decoding tasks run beside the pools (photos in: extract, annotate).

    Raises:
        ValueError: Naming what the pools ask for, what the cluster has, and the settings to lower.
    """
    actor_cpus = sum(actors * each for _, actors, each, _ in pools)
    gpus = sum(actors * each for _, actors, _, each in pools)
    have_cpus, have_gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    if actor_cpus + (DECODE_CPUS if decoding else 0) > have_cpus or gpus > have_gpus:
        asked = ", ".join(f"{name}: {actors} x ({cpu} CPU, {gpu} GPU)" for name, actors, cpu, gpu in pools)
        decode = f" and decoding needs {DECODE_CPUS:g} CPU more" if decoding else ""
        raise ValueError(
            f"the Ray cluster has {have_cpus:g} CPUs and {have_gpus:g} GPUs; the actor pools ask for "
            f"{actor_cpus:g} CPUs and {gpus:g} GPUs ({asked}){decode}: lower --concurrency, --num_cpus or "
            "--num_gpus, or join a bigger cluster (--address)"
        )


ITEM_COLUMNS = ("key", "split", "row", "column")  # a photo in Ray's rows: `ImageItem`'s fields but its root


def _item(root: Path, key, split, row, column) -> ImageItem:
    """A photo from its Ray row's values (numpy scalars; `row` -1 and `split` "" for none)."""
    return ImageItem(root, str(key), str(split) or None, None if int(row) < 0 else int(row), str(column))


def _decode_rows(
    batch: dict, min_side: int, root: Path, taken: bool, video_interval: float = DEFAULT_VIDEO_INTERVAL
) -> dict:
    """A Ray task: the batch's photos decoded (`decode_item`), as arrays; a failure is its row's `error`
    (their `position` and `ITEM_COLUMNS` go along); when and where each was taken, and a video frame's
    camera motion, as JSON ("": unknown)."""
    columns: dict[str, list] = {name: [] for name in ("image", "width", "height", "error", "taken", "motion")}
    items = [_item(root, *values) for values in zip(*(batch[name] for name in ITEM_COLUMNS))]
    for item, data in zip(items, read_shard_runs(items)):  # a remote shard's photos: a request a run
        decoded = decode_item(item, min_side, taken, video_interval, data)
        array = NO_IMAGE if decoded.image is None else np.asarray(decoded.image)
        width, height = decoded.size
        known = [json.dumps(value) if value else "" for value in (decoded.taken, decoded.motion)]
        for name, value in zip(columns, (array, width, height, decoded.error, *known)):
            columns[name].append(value)
    passed = {name: batch[name] for name in (*ITEM_COLUMNS, "position")}
    return {**passed, **columns, "image": _tensor_column(columns["image"])}


def _tensor_column(images: list[np.ndarray]) -> np.ndarray:
    """One uint8 tensor when the photos share a shape, else an array of arrays (Ray's variable-shaped tensors)."""
    if len({image.shape for image in images}) == 1:
        return np.stack(images)
    column = np.empty(len(images), dtype=object)
    for index, image in enumerate(images):
        column[index] = image
    return column


def lines_of(text: str) -> list[str]:
    """JSON lines joined in one text, split again on "\\n" only (a description may hold U+2028,
    which `str.splitlines` would split on)."""
    return [line + "\n" for line in str(text).split("\n") if line]


def _start_worker(num_cpus: float) -> None:
    """An actor's set-up: torch threads for the CPUs Ray gave it (not every core of its node, which
    the actors beside it share), and its libraries quiet, without progress bars (its output is the
    driver's log)."""
    import os

    from helpers.core.device import CORES_ENV
    from helpers.core.logs import quiet_libraries, show_progress

    os.environ[CORES_ENV] = str(max(1, round(num_cpus)))
    quiet_libraries()
    show_progress(False)


def _one_row(result: BatchResult, positions: Iterable[int]) -> dict:
    """A batch's result as one Ray row (its lines joined; `positions`: its photos' places in the run's
    list, for the driver to see which came back): the driver writes a batch at a time."""
    return {
        "positions": [json.dumps([int(position) for position in positions])],
        "inputs": [result.inputs],
        "lines": ["".join(result.lines)],
        "error_lines": ["".join(result.error_lines)],
        "truth_errors": [result.truth_errors],
        "taken_problems": [result.taken_problems],
    }


class ExtractActor:
    """A Ray actor: the extraction's models, loaded once; each call runs one batch of decoded photos."""

    def __init__(self, config: ExtractConfig, source: ImageSource, use_gpu: bool, num_cpus: float) -> None:
        _start_worker(num_cpus)
        self.extractor = BatchExtractor(replace(config, device="cuda" if use_gpu else "cpu"), source)
        self.root = source.root

    def __call__(self, batch: dict) -> dict:
        decoded = [
            Decoded(
                _item(self.root, *values),
                None if error else Image.fromarray(np.asarray(image, dtype=np.uint8)),
                (int(width), int(height)),
                str(error),
                json.loads(str(taken)) if str(taken) else None,
                json.loads(str(motion)) if str(motion) else None,
            )
            for *values, image, width, height, error, taken, motion in zip(
                *(batch[name] for name in (*ITEM_COLUMNS, "image", "width", "height", "error", "taken", "motion"))
            )
        ]
        return _one_row(self.extractor(decoded), batch["position"])


class DescribeActor:
    """A Ray actor: the describer, loaded once. Two kinds of batch: raw input lines (`number`, `raw`:
    `desclm describe`) give one output line each; extraction results (`lines`: `desclm annotate`)
    gain their records' descriptions (`described`)."""

    def __init__(
        self, model_dir: str, load: dict, batch_size: int, use_gpu: bool, num_cpus: float, numbered: bool = False
    ) -> None:
        from helpers.describer.describe import Describer

        _start_worker(num_cpus)
        self.describer = Describer.load(model_dir, device="cuda" if use_gpu else "cpu", **load)
        self.batch_size, self.numbered = batch_size, numbered

    def __call__(self, batch: dict) -> dict:
        from helpers.describer.run import describe_records, described_lines

        if "raw" in batch:
            lines = [input_line(int(number), bytes(raw)) for number, raw in zip(batch["number"], batch["raw"])]
            rows = described_lines(self.describer, lines, self.batch_size, self.numbered)
            return {"number": batch["number"], "row": rows}
        described = [
            "".join(describe_records(self.describer, lines_of(text), self.batch_size)) for text in batch["lines"]
        ]
        return {**{name: list(values) for name, values in batch.items()}, "described": described}


class RayEngine:
    """`helpers.cv.extract.ExtractionEngine` on Ray Data; with `describe`, each batch is described
    too (`desclm annotate`: results then carry `described`).

    Args:
        options: The cluster, pool sizes and resources.
        describe: For annotate: (model folder, `Describer.load` keyword arguments, batch size,
            describer actors).
    """

    def __init__(self, options: EngineOptions, describe: tuple[str, dict, int, int] | None = None) -> None:
        self.options, self.describe = options, describe

    def prepare(self, config: ExtractConfig, source: ImageSource) -> None:
        """Connects, checks the cluster can hold the pools, and loads the models once here on the CPU:
        a model that cannot load stops the run before it writes anything, and the models' input
        sizes say how far the decoding tasks may reduce a JPEG."""
        self.resources = connect(self.options.address)
        self.gpus = gpus_per_actor(self.options, self.resources)
        pools = [("detectors", self.options.concurrency, self.options.num_cpus, self.gpus)]
        if self.describe:
            pools.append(("describer", self.describe[3], self.options.num_cpus, self.gpus))
        check_resources(self.resources, pools)
        if config.precision == "fp16" and not self.gpus:
            raise ValueError("precision fp16 needs GPU actors; the detector actors get none (--num_gpus, or fp32/auto)")
        # here on the CPU, in the CPU's precision: a check that the models load, and their input sizes
        self.min_side = BatchExtractor(replace(config, device="cpu", precision="auto"), source).min_side
        self.config, self.source = config, replace(source, items=[])  # actors need no list of every photo

    def run(self, todo: list[ImageItem]) -> Iterator[BatchResult]:
        """One result per batch, as the actors finish them; the photos of a batch that failed `tries`
        times come after, tried one at a time, and one that fails alone too is an error line."""
        if not todo:
            return
        returned = np.zeros(len(todo), dtype=bool)  # by place in `todo`: a bit per photo, not its key
        # a batch that fails its tries is left out (`_extracted`): its photos are known by what came back
        for positions, result in self._extracted(todo, np.arange(len(todo)), self.config.batch_size):
            returned[positions] = True
            yield result
        lost = np.flatnonzero(~returned)
        if len(lost):
            logger.warning(
                "%d photos came back from no Ray worker (their batch's worker died %d times): trying each alone",
                len(lost),
                self.options.tries,
            )
        # alone: a block of one photo each, unless there are more than MAX_BLOCKS (a process that dies then
        # costs its block, and that block's photos are tried again in smaller blocks), until one each or
        # until a round gives nothing back (then it is not a photo that fails)
        while len(lost):
            rows = block_rows(len(lost), 1)
            for positions, result in self._extracted([todo[i] for i in lost], lost, 1, one_in_flight=True):
                returned[positions] = True
                yield result
            lost, before = np.flatnonzero(~returned), len(lost)
            if rows == 1 or len(lost) == before:
                break
        if len(lost) and len(lost) == len(todo):
            logger.error("every photo was lost on the Ray workers: a failing worker or model, not bad photos?")
        for item in (todo[i] for i in lost):
            yield BatchResult(
                inputs=1,
                error_lines=[error_line(item, lost_photo(self.options.tries))],
                described=[] if self.describe else None,
            )

    def _extracted(
        self, items: list[ImageItem], positions: np.ndarray, batch_size: int, one_in_flight: bool = False
    ) -> Iterator[tuple[list[int], BatchResult]]:
        """`items` (at `positions` in the run's list) through Ray Data in batches of `batch_size`: the
        batch's positions and its result, per batch. With `one_in_flight`, an actor holds one batch at a
        time, so a dying one takes no other batch along."""
        import ray.data

        options, config = self.options, self.config
        in_flight = 1 if one_in_flight else None  # None: Ray Data's default
        listing = pa.table(  # columns, not a dict per photo: the driver holds 10^7 photos in a few hundred MB
            {
                "key": [item.key for item in items],  # each photo's root is the source's: `_decode_rows` takes it
                "split": [item.split or "" for item in items],
                "row": [-1 if item.row is None else item.row for item in items],  # a dataset's photo, a shard's
                "column": [item.column for item in items],
                "position": positions,
            }
        )
        with _data_context(max_errored_blocks=-1):  # a block that fails its tries is left out, not the run's end
            with _retries_given():  # the tries of a dying worker's batch
                dataset = ray.data.from_arrow(blocks(listing, batch_size)).map_batches(
                    _decode_rows,
                    fn_kwargs={
                        "min_side": self.min_side,
                        "root": self.source.root,  # a Path, or a remote folder's UPath (its file system's options)
                        "taken": config.read_exif,
                        "video_interval": config.video_interval,
                    },
                    batch_size=batch_size,
                    num_cpus=DECODE_CPUS,
                    # what a batch may take decoded (a 12 MP photo in full: 36 MB); the request also keeps Ray from
                    # fusing decoding into the model actors, whose processes would then decode one batch at a time
                    memory=batch_size * DECODE_MEMORY_PER_PHOTO,
                    max_retries=options.tries - 1,
                )
                dataset = dataset.map_batches(
                    ExtractActor,
                    fn_constructor_kwargs={
                        "config": config,
                        "source": self.source,
                        "use_gpu": self.gpus > 0,
                        "num_cpus": options.num_cpus,
                    },
                    batch_size=batch_size,
                    compute=ray.data.ActorPoolStrategy(
                        size=options.concurrency, max_tasks_in_flight_per_actor=in_flight
                    ),
                    num_cpus=options.num_cpus,
                    num_gpus=self.gpus,
                    # a dead actor is restarted (Ray Data's default), its batch tried again
                    max_task_retries=options.tries - 1,
                )
                if self.describe:
                    model_dir, load, describe_batch, actors = self.describe
                    planned = planned_batch_size(describe_batch, self.gpus > 0)  # an auto batch: each actor's own
                    dataset = dataset.map_batches(
                        DescribeActor,
                        fn_constructor_kwargs={
                            "model_dir": model_dir,
                            "load": load,
                            "batch_size": describe_batch,
                            "use_gpu": self.gpus > 0,
                            "num_cpus": options.num_cpus,
                        },
                        # extraction batches per generation batch; one at a time when tried alone
                        batch_size=1 if one_in_flight else max(1, planned // batch_size),
                        compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=in_flight),
                        num_cpus=options.num_cpus,
                        num_gpus=self.gpus,
                        max_task_retries=options.tries - 1,
                    )
            for row in dataset.iter_rows():
                yield (
                    json.loads(row["positions"]),
                    BatchResult(
                        inputs=int(row["inputs"]),
                        lines=lines_of(row["lines"]),
                        error_lines=lines_of(row["error_lines"]),
                        truth_errors=int(row["truth_errors"]),
                        taken_problems=int(row["taken_problems"]),
                        described=lines_of(row["described"]) if "described" in row else None,
                    ),
                )

    def forward_seconds(self) -> None:
        return None  # the models ran in other processes


class RayDescribeEngine:
    """`helpers.describer.run.DescribeEngine` on Ray Data: input lines to a pool of describer actors,
    output lines back in input order.

    Args:
        options: The cluster, pool size and resources.
        model_dir: The describer folder.
        load: `Describer.load` keyword arguments (backend, guard, style, ...; not the device).
        batch_size: Records per generation batch (0: each actor's auto batch).
        chunk: Lines per Ray batch (at least a generation batch).
    """

    def __init__(self, options: EngineOptions, model_dir: str, load: dict, batch_size: int, chunk: int = 512) -> None:
        self.options, self.model_dir, self.load = options, model_dir, load
        self.resources = connect(options.address)
        self.gpus = gpus_per_actor(options, self.resources)
        # an auto batch is each actor's own: a chunk holds the most it can come to
        self.batch_size, self.chunk = batch_size, max(chunk, planned_batch_size(batch_size, self.gpus > 0))
        pool = ("describer", options.concurrency, options.num_cpus, self.gpus)
        check_resources(self.resources, [pool], decoding=False)

    def run(self, numbered: Iterable[tuple[int, bytes]], with_line_numbers: bool) -> Iterator[list[str]]:
        """Output lines in input order, a chunk at a time. After a chunk that failed its tries (a gap),
        later chunks go to a spool file until the stream ends; then the gaps' lines are tried one at a
        time, and the rest of the output is given in order: a line that kills its worker alone too is
        an error line, the lines around it are described."""
        # Arrow blocks of `chunk` lines, built as the file is read: the raw bytes and their numbers only
        # (no Python object per line), merged to at most MAX_BLOCKS blocks
        tables = [
            pa.table({"number": [number for number, _ in chunk], "raw": [raw for _, raw in chunk]})
            for chunk in chunks(numbered, self.chunk)
        ]
        if not tables:
            return
        listing = pa.concat_tables(tables)
        numbers = listing.column("number").to_numpy()  # increasing: the input's order
        gaps: list[tuple[int, int]] = []  # [start, end) places in `listing` of chunks that came back from no worker
        with tempfile.TemporaryFile() as spool:  # output lines after the first gap (bytes: split on b"\n" only)
            answered = 0  # places of `listing` answered so far, or spooled
            for batch in self._described(listing, self.chunk, with_line_numbers):
                first = int(np.searchsorted(numbers, batch["number"][0]))
                if first > answered:
                    gaps.append((answered, first))
                rows = [str(line) for line in batch["row"]]
                if gaps:
                    spool.write("".join(rows).encode())
                else:
                    yield rows
                answered = first + len(rows)
            if answered < len(numbers):
                gaps.append((answered, len(numbers)))
            if not gaps:
                return
            places = np.concatenate([np.arange(start, end) for start, end in gaps])
            logger.warning(
                "%d lines came back from no Ray worker (their chunk's worker died %d times): trying each alone",
                len(places),
                self.options.tries,
            )
            again: dict[int, str] = {}  # line number -> its output line, tried alone
            remaining = places  # in blocks of one line, or more when there are over MAX_BLOCKS (see RayEngine.run)
            while len(remaining):
                rows_per_block = block_rows(len(remaining), 1)
                for batch in self._described(listing.take(remaining), 1, with_line_numbers, one_in_flight=True):
                    again.update((int(number), str(row)) for number, row in zip(batch["number"], batch["row"]))
                before = len(remaining)
                remaining = np.array([place for place in remaining if int(numbers[place]) not in again], dtype=int)
                if rows_per_block == 1 or len(remaining) == before:
                    break
            spool.seek(0)
            lost, rows = set(places.tolist()), []
            for place in range(gaps[0][0], len(numbers)):
                if place not in lost:
                    rows.append(spool.readline().decode())
                elif int(numbers[place]) in again:
                    rows.append(again[int(numbers[place])])
                else:
                    rows.append(self._lost_line(listing.slice(place, 1), with_line_numbers))
                if len(rows) == self.chunk:
                    yield rows
                    rows = []
            if rows:
                yield rows

    def _described(
        self, listing: pa.Table, chunk: int, with_line_numbers: bool, one_in_flight: bool = False
    ) -> Iterator[dict]:
        """`listing`'s lines through the describer actors, `chunk` at a time, in order: numpy batches of
        `number` and `row`. A chunk that fails its tries is left out (not the run's end); with
        `one_in_flight`, an actor holds one chunk at a time, so a dying one takes no other chunk along."""
        import ray.data

        context = ray.data.DataContext.get_current()
        kept = context.execution_options.preserve_order
        context.execution_options.preserve_order = True  # output line i answers input line i
        try:
            with _data_context(max_errored_blocks=-1):
                with _retries_given():
                    dataset = ray.data.from_arrow(blocks(listing, chunk)).map_batches(
                        DescribeActor,
                        fn_constructor_kwargs={
                            "model_dir": self.model_dir,
                            "load": self.load,
                            "batch_size": self.batch_size,
                            "use_gpu": self.gpus > 0,
                            "num_cpus": self.options.num_cpus,
                            "numbered": with_line_numbers,
                        },
                        batch_size=chunk,
                        compute=ray.data.ActorPoolStrategy(
                            size=self.options.concurrency, max_tasks_in_flight_per_actor=1 if one_in_flight else None
                        ),
                        num_cpus=self.options.num_cpus,
                        num_gpus=self.gpus,
                        # a dead actor is restarted (Ray Data's default), its chunk tried again
                        max_task_retries=self.options.tries - 1,
                    )
                yield from dataset.iter_batches(batch_size=None, batch_format="numpy")
        finally:
            context.execution_options.preserve_order = kept

    def _lost_line(self, line: pa.Table, with_line_numbers: bool) -> str:
        """The error line of `line` (its number and raw bytes), which killed its worker with its chunk and alone."""
        number, raw = line.column("number")[0].as_py(), line.column("raw")[0].as_py()
        row = {"id": input_line(number, raw).id, "error": lost_line(self.options.tries)}
        return json_line({**row, "line": number} if with_line_numbers else row)

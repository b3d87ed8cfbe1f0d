"""What the functions desclm gives `datasets.Dataset.map` share (`helpers.cv.dataset_map`'s CV records,
`helpers.describer.dataset_map`'s descriptions): how they run `map` (`mapped`, over each split: `each_split`),
the arguments it passes after a batch, the device of its process k, the columns they must not overwrite, what
its fingerprint sees of the models, and when its processes would hang.

`map(num_proc=k)` starts its processes by fork unless told otherwise. A process forked after this one ran
torch's CPU threads waits for them forever (they are not there after a fork), and CUDA does not start in a
forked process at all; so once desclm's models have run here, `map`'s forked processes are refused
(`check_processes`), and with spawn (`multiprocess.set_start_method("spawn")`) each starts clean.
"""

from __future__ import annotations

import os
from pathlib import Path

_MODELS_RAN_IN: set[int] = set()  # the processes (ids) in which a map's models were loaded


def models_loaded() -> None:
    """Notes that this process loaded a map's models (and so runs torch's threads): see `check_processes`."""
    _MODELS_RAN_IN.add(os.getpid())


def check_processes(num_proc: int | None) -> None:
    """Refuses `num_proc` processes started by fork from a process whose models have run (see the module
    docstring).

    Raises:
        RuntimeError: Saying how to start them instead.
    """
    if not num_proc or num_proc < 2 or os.getpid() not in _MODELS_RAN_IN:
        return
    import multiprocess

    if multiprocess.get_start_method(allow_none=True) in (None, "fork"):
        raise RuntimeError(
            f"num_proc={num_proc}: this process has run the models, and datasets' processes start by fork here, "
            "where torch's threads hang (and CUDA cannot start): call multiprocess.set_start_method('spawn') "
            "before the map (as datasets' documentation does for GPUs), or map with num_proc in a fresh process"
        )


def files_stamp(*locations: str) -> list:
    """What `map`'s fingerprint sees of the models: each file's (or a folder's files') path, size and time; a
    name that is no file or folder here (a hub id, "") as it is."""
    stamp: list = []
    for location in locations:
        path = Path(location) if location else None
        if path is not None and path.is_file():
            status = path.stat()
            stamp.append([str(path.resolve()), status.st_size, status.st_mtime_ns])
        elif path is not None and path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            stamp.append([str(path.resolve()), [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]])
        else:
            stamp.append(location)
    return stamp


def split_extra(extra: tuple) -> tuple[list[int] | None, int | None]:
    """`map`'s arguments after the batch: its rows' indices (`with_indices`, a list) and the process's rank
    (`with_rank`, a number or None), in either order and each optional."""
    indices = next((value for value in extra if isinstance(value, list)), None)
    rank = next((value for value in extra if isinstance(value, int) and not isinstance(value, bool)), None)
    return indices, rank


def rank_device(device: str, rank: int | None) -> str:
    """The device of `map`'s process `rank`: with CUDA, GPU `rank` modulo the GPUs there are, where `device`
    leaves the GPU open (auto, cuda); else `device`."""
    if rank is None or device not in ("auto", "cuda"):
        return device
    import torch

    return f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else device


def refuse_taken_columns(names, added: tuple[str, ...]) -> None:
    """Refuses a batch (or dataset) that already has a column `map` would add: it would be overwritten.

    Raises:
        ValueError: Naming the columns.
    """
    if taken := [name for name in added if name in names]:
        raise ValueError(
            f"the dataset already has the column(s) {', '.join(taken)} that this map adds: remove or rename them "
            f"first (dataset.remove_columns({taken!r}))"
        )


def each_split(dataset, call):
    """`call(dataset)`, or of a `DatasetDict` (`IterableDatasetDict`) the same kind of dict of `call(split)`."""
    from datasets import DatasetDict, IterableDatasetDict

    if isinstance(dataset, DatasetDict | IterableDatasetDict):
        return type(dataset)({name: call(part) for name, part in dataset.items()})
    return call(dataset)


def known_features(dataset):
    """The dataset's features.

    Raises:
        ValueError: They are not known before it is read (an `IterableDataset` that was not told them).
    """
    if dataset.features is None:
        raise ValueError("the dataset's features are unknown (an IterableDataset): give it them (dataset.cast)")
    return dataset.features


def mapped(dataset, function, features, batch_size: int, num_proc: int | None, map_arguments: dict | None, desc: str):
    """`dataset.map(function)` as desclm's maps run it: batched, with the rows' indices (for their errors' names),
    typed by `features`, `num_proc` processes each told its rank (`check_processes` first), `map_arguments` over
    these, and a progress bar named `desc` (an iterable dataset's map shows none)."""
    arguments = {"batched": True, "batch_size": batch_size, "with_indices": True, "features": features}
    arguments |= map_arguments or {}
    if num_proc:
        check_processes(num_proc)
        arguments |= {"num_proc": num_proc, "with_rank": True}
    if hasattr(dataset, "num_rows"):
        arguments.setdefault("desc", desc)
    return dataset.map(function, **arguments)


def rows_with(dataset, column: str) -> int:
    """How many rows of a mapped dataset have `column` set (an error column: its failed rows); 0 for a streamed
    one, which is not read here."""
    return dataset.num_rows - dataset.data.column(column).null_count if hasattr(dataset, "num_rows") else 0

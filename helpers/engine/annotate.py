"""`desclm annotate`: photos to CV records to descriptions in one streamed run (no intermediate file).

    desclm annotate --images photos/ --yolo_weights best.pt --describer models/description_llm \
        --output data/cv.jsonl --described data/described.jsonl [--engine ray]

Photos are extracted a batch at a time and their records written; their descriptions follow:
`output` is the same file `desclm extract` writes (with its errors file and manifest), and
`described` holds one line per record, `{"id": <the photo>, "description", "source"}` or
`{"id", "error"}`, as `desclm describe` would write from that file. On Ray the describer runs in
its own actor pool, streamed behind the detectors; locally, in this process, a generation batch
(`describe_batch_size`) of records at a time as the extraction batches fill it (on a GPU the
generation batch is up to 1024, an extraction batch 16).

Resuming: the CV output resumes by its own rules (its manifest); a photo whose record was written
but not described (a kill before its generation batch was described, or an output made earlier by
`desclm extract`) is described from its record, and a description whose record is gone is dropped.
`described` has its own manifest (the describer's settings and the CV settings' fingerprint): a
rerun with another describer or other CV settings is refused, naming what changed
(`restart_on_change` starts both over).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from helpers.core.io import atomic_write_text, side_files
from helpers.core.outputs import OutputLock, check_writable, check_writes, lock_path, partial_paths
from helpers.core.paths import require_file, resolve
from helpers.core.records import parse_line
from helpers.core.remote import is_remote
from helpers.core.settings import setting
from helpers.cv.batch import BatchResult
from helpers.cv.config import ExtractConfig
from helpers.cv.extract import LocalEngine, check_resumable, run_extraction, settings_fingerprint
from helpers.describer.options import DescribeOptions
from helpers.engine.options import EngineOptions

logger = logging.getLogger(__name__)


@dataclass
class AnnotateOptions:
    """The describing half of `desclm annotate` (the extraction's settings are `extract`'s)."""

    describer: str = setting(help="trained describer folder (`desclm train`'s output)")
    described: str = setting(
        "data/described.jsonl", 'JSONL of descriptions: {"id": <photo>, "description", "source"} or {"id", "error"}'
    )
    backend: str = setting(DescribeOptions.backend, "hf (transformers) or ct2 (CTranslate2)")
    guard: bool = setting(DescribeOptions.guard, "check every sentence against its record (--no_guard: the top beam)")
    dtype: str = setting(DescribeOptions.dtype, "hf only: float32, float16 or bfloat16 (half precision on a GPU)")
    style: str = setting(DescribeOptions.style, 'a wording it learned ("": its default)')
    num_captions: int = setting(DescribeOptions.num_captions, "distinct checked sentences per photo (rows: 'captions')")
    describe_batch_size: int = setting(
        DescribeOptions.batch_size, "records per generation batch (0: auto, as `desclm describe --batch_size`)"
    )
    describe_concurrency: int = setting(1, "ray: describer actors (beside --concurrency detector actors)")

    def load_arguments(self) -> dict:
        """`Describer.load` keyword arguments (all but the folder and the device)."""
        return {
            "backend": self.backend,
            "guard": self.guard,
            "dtype": self.dtype,
            "style": self.style or None,
            "num_captions": self.num_captions,
        }


def annotate(config: ExtractConfig, options: AnnotateOptions, engine_options: EngineOptions) -> dict:
    """Runs (or resumes) one annotation; returns the extraction's summary with the described counts.

    Raises:
        ValueError: An input or setting is wrong, `described` is one of the inputs or the CV
            output's files, or it was made with another describer or other CV settings.
        OSError: An input cannot be read or an output folder cannot be written.
    """
    from helpers.describer.describe import Describer
    from helpers.describer.run import output_settings, source_counts

    described = resolve(options.described)
    partial, manifest_file = partial_paths(described)[0], side_files(described)["manifest"]
    cv_output = config.output_path()
    cv_files = [cv_output, *partial_paths(cv_output), *side_files(cv_output).values(), lock_path(cv_output)]
    photos = [] if is_remote(config.images) else [resolve(config.images)]  # (none of this machine's files in storage)
    check_writes([described, partial, manifest_file, lock_path(described)], [*cv_files, *photos])
    check_writable(described)
    model_dir = require_file(options.describer, "Describer model folder (`desclm train`'s output)", kind="folder")
    config.check_inputs()
    # on Ray, this copy only checks the folder and gives the settings (the actors describe); here, it describes
    device = "cpu" if engine_options.engine == "ray" else "auto"
    describer = Describer.load(model_dir, device=device, **options.load_arguments())
    specs = config.detector_specs() if config.detections_from == "models" else []
    cv_settings = settings_fingerprint(config, specs)
    settings = {"describer": output_settings(describer), "cv": cv_settings["fingerprint"]}
    settings["fingerprint"] = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    with OutputLock(described):
        cv_partial = partial_paths(cv_output)[0]
        try:  # the CV output first: its refusal names the CV setting that changed
            cv_current = cv_partial if cv_partial.exists() else cv_output
            check_resumable(cv_current, side_files(cv_output)["manifest"], cv_settings)
            check_resumable(partial if partial.exists() else described, manifest_file, settings)
        except ValueError as error:
            if not config.restart_on_change:
                raise
            logger.warning("%s: starting both outputs over (restart_on_change)", str(error).split(";")[0])
            for path in (described, partial, cv_output, cv_partial):
                path.unlink(missing_ok=True)
        if described.exists() and not partial.exists():
            os.replace(described, partial)  # the finished file is the work in progress again, until this run ends
        atomic_write_text(manifest_file, json.dumps({**settings, "complete": False}, indent=2) + "\n")
        batch_size = describer.generation_batch_size(options.describe_batch_size)  # here: the local engine's
        _reconcile(partial, cv_output, describer, batch_size)

        describing = _Describing(partial, describer, batch_size)  # the local engine's records

        def write_described(result: BatchResult) -> None:
            if result.described is not None:  # Ray: described by its actors
                _append_described(partial, result.described)
            else:
                describing.add(result.lines)

        if engine_options.engine == "ray":
            from helpers.engine.ray_data import RayEngine

            pool = (str(model_dir), options.load_arguments(), options.describe_batch_size, options.describe_concurrency)
            engine = RayEngine(engine_options, pool)
        else:
            engine = LocalEngine()
        summary = run_extraction(config, engine=engine, on_batch=write_described)
        describing.flush()
        os.replace(partial, described)
        atomic_write_text(manifest_file, json.dumps({**settings, "complete": True}, indent=2) + "\n")
    return {**summary, "described": str(described), "described_counts": dict(source_counts(described))}


def _complete_lines(path: Path) -> Iterator[bytes]:
    """The file's whole lines as read (a half-written last line, from a kill, left out); none if it is absent."""
    if not path.exists():
        return
    with open(path, "rb") as file:
        for raw in file:
            if raw.endswith(b"\n") and raw.strip():
                yield raw


def _reconcile(partial: Path, cv_output: Path, describer, batch_size: int) -> None:
    """Makes the descriptions match the CV records already written (see the module docstring).

    Both files are written batch by batch in one order, each description after its record, so they
    are read side by side, neither held: the descriptions that follow the records are kept (the
    file is cut after the last of them, not rewritten), and from the first record without its
    description on, the records are described now, a batch at a time, and appended. A description
    whose record is gone breaks the step, so it and those after it are dropped and made again."""

    cv_partial = partial_paths(cv_output)[0]
    records = (  # (line, its photo) of each record
        (raw, record["image"])
        for raw in _complete_lines(cv_partial if cv_partial.exists() else cv_output)
        if isinstance(record := parse_line(raw)[0], dict) and "image" in record
    )
    kept, waiting = 0, []  # bytes of descriptions kept; the first record without its description
    if partial.exists():
        with open(partial, "rb") as described:
            for raw, image in records:
                row_raw = described.readline()
                row = parse_line(row_raw)[0] if row_raw.endswith(b"\n") else None
                if not isinstance(row, dict) or row.get("id") != image:
                    waiting = [raw.decode("utf-8")]
                    break
                kept += len(row_raw)
    with open(partial, "ab") as file:
        file.truncate(kept)
    describing = _Describing(partial, describer, batch_size)
    describing.add(waiting)
    for raw, _ in records:  # the rest, after the first not described (when there was one)
        describing.add([raw.decode("utf-8")])
    describing.flush()
    if describing.described:
        logger.info(
            "annotate: %d record(s) written before were not described; described them now", describing.described
        )


class _Describing:
    """CV records (JSON lines) described a generation batch at a time as they are added, their
    description lines appended to `partial`; `flush` describes the last, fewer."""

    def __init__(self, partial: Path, describer, batch_size: int) -> None:
        self.partial, self.describer, self.batch_size = partial, describer, batch_size
        self.waiting: list[str] = []
        self.described = 0

    def add(self, record_lines: list[str]) -> None:
        self.waiting.extend(record_lines)
        full = len(self.waiting) // self.batch_size * self.batch_size
        if full:
            self._describe(self.waiting[:full])
            del self.waiting[:full]

    def flush(self) -> None:
        if self.waiting:
            self._describe(self.waiting)
            self.waiting = []

    def _describe(self, record_lines: list[str]) -> None:
        from helpers.describer.run import describe_records

        self.described += _append_described(
            self.partial, describe_records(self.describer, record_lines, self.batch_size)
        )


def _append_described(partial: Path, lines: list[str]) -> int:
    with open(partial, "a", encoding="utf-8") as file:
        file.write("".join(lines))
    return len(lines)

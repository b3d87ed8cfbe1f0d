"""CV output files on disk: the side files, resuming (scan and repair), and merging shards.

An output `X.jsonl` has `X.errors.jsonl` (images that failed, with the reason) and
`X.manifest.json` (models and settings, with a fingerprint) beside it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from helpers.core.io import atomic_write_text, iter_jsonl, side_files, write_jsonl
from helpers.core.lines import LineIndex, repair_last_line
from helpers.core.outputs import OutputLock, check_writes, lock_path
from helpers.core.paths import require_file, resolve
from helpers.core.records import parse_line
from helpers.core.shards import check_complete_set


def record_key(output: Path, number: int, raw: bytes) -> str | None:
    """The image key of line `number` of a CV output (None for a blank line); a line that is no record
    raises ValueError naming the file and line."""
    if not raw.strip():
        return None
    record, problem = parse_line(raw)
    if problem or "image" not in record:
        raise ValueError(f"{output}:{number}: not a CV output record ({problem or 'no image key'})")
    return record["image"]


def scan_keys(output: Path) -> tuple[set[str], bool]:
    """The image keys already in `output` (read as a stream: only the keys are kept, so resuming 10^7
    photos holds no records), after truncating a half-written last line.

    Returns:
        The keys, and whether a partial last line was repaired.

    Raises:
        ValueError: naming the file and line, for a malformed line that is not the last one.
    """
    if not output.exists():
        return set(), False
    repaired = repair_last_line(output)
    with open(output, "rb") as file:
        keys = {record_key(output, number, raw) for number, raw in enumerate(file, start=1)}
    return keys - {None}, repaired


def merge_shards(shards: list[str | Path], output: str | Path) -> dict:
    """Combines the shard outputs of one run (and their error files) into one, sorted by image path,
    the records' lines as written (sorted on disk, `helpers.core.lines`: 10^7 are not held).

    Raises:
        ValueError: A shard has no manifest or is unfinished, shards were made with different
            settings or split differently, a shard of the run is missing or given twice, an image
            is in two shards, or `output` (or a file written beside it) is one of the files read.
    """
    output = resolve(output)
    paths = [require_file(resolve(shard), "Shard output", kind="file") for shard in shards]
    manifests = []
    for shard in paths:
        manifest = side_files(shard)["manifest"]
        if not manifest.is_file():
            raise ValueError(f"{shard} has no {manifest.name}: its settings are unknown, so it cannot be merged")
        manifests.append(json.loads(manifest.read_text()))
        if not manifests[-1].get("complete"):
            raise ValueError(f"{shard} is unfinished (its manifest says so): run that shard again to complete it")
    fingerprints = {m.get("fingerprint") for m in manifests}
    if len(fingerprints) > 1:
        raise ValueError(
            f"shards were made with different models or settings: fingerprints {sorted(map(str, fingerprints))}"
        )
    check_complete_set(manifests)
    written = [output, *side_files(output).values(), lock_path(output)]
    read = [*paths, *(path for shard in paths for path in side_files(shard).values())]
    check_writes(written, read)
    errors: list[dict] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    with OutputLock(output), tempfile.TemporaryDirectory(prefix=".merge-", dir=output.parent) as scratch:
        with LineIndex(Path(scratch)) as index:  # 10^7 records sorted on disk, not held: their keys and offsets
            for shard in paths:  # complete shards (their manifests say so): read as they are, never repaired
                added = index.add(shard, lambda number, raw, shard=shard: record_key(shard, number, raw))
                if added.repeated:
                    named = sorted({str(where) for _, where in added.examples})
                    raise ValueError(
                        f"{added.repeated} image(s) are in {shard} and in {named}, "
                        f"e.g. {[key for key, _ in added.examples]}"
                    )
                shard_errors = side_files(shard)["errors"]
                if shard_errors.exists():
                    errors += [line.record for line in iter_jsonl(shard_errors)]
            records = len(index)
            lines = (raw.decode("utf-8").rstrip("\r\n") + "\n" for raw in index.in_key_order())
            atomic_write_text(output, lines)
        write_jsonl(side_files(output)["errors"], errors)
        atomic_write_text(
            side_files(output)["manifest"], json.dumps(_merged_manifest(manifests, paths, output), indent=2) + "\n"
        )
    return {"output": str(output), "records": records, "errors": len(errors), "shards": len(shards)}


def _merged_manifest(manifests: list[dict], paths: list[Path], output: Path) -> dict:
    return {
        **manifests[0],
        "merged_from": [str(s) for s in paths],
        "num_shards": len(paths),
        "shard_index": None,
        "output": str(output),
    }

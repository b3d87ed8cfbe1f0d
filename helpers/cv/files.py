"""CV output files on disk: the side files, resuming (scan and repair), and merging shards.

An output `X.jsonl` has `X.errors.jsonl` (images that failed, with the reason) and
`X.manifest.json` (models and settings, with a fingerprint) beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers.core.io import atomic_write_text, iter_jsonl, side_files, write_jsonl
from helpers.core.outputs import OutputLock, check_writes, lock_path
from helpers.core.paths import require_file, resolve
from helpers.core.shards import check_complete_set


def scan_output(output: Path) -> tuple[dict[str, dict], bool]:
    """Reads the records already in `output`; truncates a half-written last line.

    Returns:
        Records by image key, and whether a partial last line was repaired.

    Raises:
        ValueError: naming the file and line, for a malformed line that is not the last one.
    """
    if not output.exists():
        return {}, False
    data = output.read_bytes()
    repaired = False
    if data and not data.endswith(b"\n"):  # a killed run stopped mid-line: drop the fragment
        keep = data.rfind(b"\n") + 1
        with open(output, "r+b") as handle:
            handle.truncate(keep)
        repaired = True
    done = {}
    for line in iter_jsonl(output):
        if line.error or not isinstance(line.record, dict) or "image" not in line.record:
            raise ValueError(f"{output}:{line.line_number}: not a CV output record ({line.error or 'no image key'})")
        done[line.record["image"]] = line.record
    return done, repaired


def merge_shards(shards: list[str | Path], output: str | Path) -> dict:
    """Combines the shard outputs of one run (and their error files) into one, sorted by image path.

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
    records: dict[str, tuple[Path, dict]] = {}
    errors: list[dict] = []
    for shard in paths:
        done, _ = scan_output(shard)
        overlap = sorted(set(done) & set(records))
        if overlap:
            others = sorted({str(records[k][0]) for k in overlap})
            raise ValueError(f"{len(overlap)} image(s) are in {shard} and in {others}, e.g. {overlap[:5]}")
        records.update({key: (shard, record) for key, record in done.items()})
        shard_errors = side_files(shard)["errors"]
        if shard_errors.exists():
            errors += [line.record for line in iter_jsonl(shard_errors)]
    manifest = {
        **manifests[0],
        "merged_from": [str(s) for s in paths],
        "num_shards": len(paths),
        "shard_index": None,
        "output": str(output),
    }
    with OutputLock(output):
        write_jsonl(output, [records[key][1] for key in sorted(records)])
        write_jsonl(side_files(output)["errors"], errors)
        atomic_write_text(side_files(output)["manifest"], json.dumps(manifest, indent=2) + "\n")
    return {"output": str(output), "records": len(records), "errors": len(errors), "shards": len(shards)}

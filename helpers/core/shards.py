"""Shards: one run split into several jobs (e.g. a Slurm job array), for extract and describe alike.

    desclm extract --images photos/ --num_shards 4 --shard_index 0 ...   # ...3: an image's shard is a hash of its key
    desclm describe MODEL --input cv.jsonl --output out.jsonl --num_shards 4 --shard_index 0   # ...3: line blocks
    desclm describe merge out.jsonl out.shard-*of4.jsonl

Both name shard K of N's output `<stem>.shard-KofN<suffix>` (`shard_path`) and check K and N the
same way (`check_shard`). Extraction assigns each image by a stable hash of its key (`shard_of`),
so adding photos moves no others; its merge is `helpers.cv.files.merge_shards`. Description shard
K of N describes a contiguous block of the input's lines (block sizes differ by at most one) into
`<stem>.shard-KofN.jsonl`, each row with its input `line` number, and writes
`<stem>.shard-KofN.manifest.json` when it is complete (input stamp, settings, its line range). The
merge checks that every shard of one run is there, made from the same input with the same settings,
and writes the rows in input order without the `line` field: the same file one job would write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helpers.core.io import atomic_write_text, iter_jsonl, write_jsonl
from helpers.core.outputs import OutputLock, check_writes, lock_path
from helpers.core.paths import require_file, resolve


def check_shard(num_shards: int, shard_index: int) -> None:
    """Raises ValueError unless 0 <= shard_index < num_shards."""
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ValueError(
            f"shard_index must be in 0..num_shards-1 and num_shards >= 1, got {shard_index} of {num_shards}"
        )


def shard_of(key: str, num_shards: int) -> int:
    """The shard an image belongs to: a stable hash of its key, so adding images moves no others."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % num_shards


def shard_range(total: int, num_shards: int, shard_index: int) -> tuple[int, int]:
    """The [start, end) positions of shard `shard_index`'s block of `total` lines."""
    check_shard(num_shards, shard_index)
    return total * shard_index // num_shards, total * (shard_index + 1) // num_shards


def shard_path(output: Path, num_shards: int, shard_index: int) -> Path:
    """`out.jsonl` -> `out.shard-KofN.jsonl` (unchanged for one shard)."""
    if num_shards == 1:
        return output
    return output.with_name(f"{output.stem}.shard-{shard_index}of{num_shards}{output.suffix}")


def check_complete_set(manifests: list[dict]) -> None:
    """Raises ValueError unless the shards' manifests are shards 0..N-1 of one N, each once (both merges)."""
    counts = sorted({str(manifest.get("num_shards")) for manifest in manifests})
    total = manifests[0].get("num_shards") or 0
    indices = sorted((manifest.get("shard_index") for manifest in manifests), key=lambda i: -1 if i is None else i)
    if len(counts) > 1 or indices != list(range(total)):
        missing = sorted(set(range(total)) - set(indices))
        raise ValueError(
            f"shards {indices} of {'/'.join(counts)} given: every shard of one run is needed, once each "
            f"(missing {missing})"
        )


def manifest_path(shard: Path) -> Path:
    return shard.with_name(f"{shard.stem}.manifest.json")


def write_manifest(shard: Path, stamp: dict, num_shards: int, shard_index: int, lines: tuple[int, int], total: int):
    """Written when a shard is complete: what the merge checks."""
    manifest = {**stamp, "num_shards": num_shards, "shard_index": shard_index, "lines": list(lines), "total": total}
    return atomic_write_text(manifest_path(shard), json.dumps(manifest, indent=2, default=str) + "\n")


def merge_described(shards: list[str | Path], output: str | Path) -> dict:
    """Writes the shards' rows to `output` in input order; returns counts.

    Raises:
        ValueError: A shard is unfinished (no manifest), shards differ in input, settings or
            count, a shard is missing or given twice, the rows do not match the shard's range, or
            `output` is one of the files the merge reads (a shard, a manifest, the shards' input).
    """
    paths = [require_file(resolve(shard), "Shard output") for shard in shards]
    manifests = []
    for path in paths:
        if not manifest_path(path).is_file():
            raise ValueError(f"{path} has no {manifest_path(path).name}: the shard is unfinished; run it again")
        manifests.append(json.loads(manifest_path(path).read_text()))
    output = resolve(output)
    sources = [Path(m["input"]["path"]) for m in manifests if isinstance(m.get("input"), dict) and "path" in m["input"]]
    check_writes([output, lock_path(output)], [*paths, *map(manifest_path, paths), *sources])
    first = manifests[0]
    for path, manifest in zip(paths, manifests):
        for key in ("input", "settings", "num_shards", "total"):
            if manifest.get(key) != first.get(key):
                raise ValueError(f"{path} differs from {paths[0]} in {key!r}: the shards are not of one run")
    check_complete_set(manifests)
    counts = {"lines": 0, "errors": 0}

    def rows():  # each shard's rows in turn, in input order: 10^7 rows are streamed, not held
        for path, manifest in sorted(zip(paths, manifests), key=lambda pair: pair[1]["lines"][0]):
            start, end = manifest["lines"]
            expected = start + 1
            for line in iter_jsonl(path):
                if line.error:
                    raise ValueError(f"shard {line.error}")
                if line.record.get("line") != expected or expected > end:
                    raise ValueError(f"{path}: its rows are not input lines {start + 1}..{end} as its manifest says")
                expected += 1
                counts["lines"] += 1
                counts["errors"] += "error" in line.record
                yield {k: v for k, v in line.record.items() if k != "line"}
            if expected != end + 1:
                raise ValueError(f"{path}: its rows are not input lines {start + 1}..{end} as its manifest says")

    with OutputLock(output):
        write_jsonl(output, rows())
    return {"shards": len(paths), **counts}

"""`desclm check` on the hand-written captions: how many faithful ones it accepts, how many unfaithful.

    python docs/measurements/check_captions.py --out docs/measurements/check_captions.json

Each set in `tests/data/` (captions written by hand, each with its CV record and a hand label) is split
into the two files a user has, a CV JSONL and a captions JSONL, and run through `check_file` (what
the command runs) with the sets' lexicon; its verdicts are then compared with the hand labels.
`captions.jsonl` is the development set (the reader was extended on its failures), and
`captions_held_out.jsonl` was written afterwards and checked once.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

DATA = Path("tests/data")
SETS = ("captions.jsonl", "captions_held_out.jsonl")


def measure(name: str, folder: Path) -> dict:
    from helpers.describer.check import check_file
    from helpers.text.lexicon import load_lexicon

    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    cv, captions, verdicts = (
        folder / f"{name}.cv.jsonl",
        folder / f"{name}.captions.jsonl",
        folder / f"{name}.out.jsonl",
    )
    cv.write_text("".join(json.dumps({"id": row["id"], **row["record"]}) + "\n" for row in rows))
    captions.write_text("".join(json.dumps({"id": row["id"], "caption": row["caption"]}) + "\n" for row in rows))
    summary = check_file(cv, captions, verdicts, lexicon=load_lexicon(DATA / "captions_lexicon.yaml"))
    said = {row["id"]: row["faithful"] for row in map(json.loads, verdicts.read_text().splitlines())}
    faithful = [row for row in rows if row["faithful"]]
    unfaithful = [row for row in rows if not row["faithful"]]
    return {
        "captions": len(rows),
        "faithful_by_hand": len(faithful),
        "faithful_accepted": sum(said[row["id"]] for row in faithful),
        "faithful_accepted_share": sum(said[row["id"]] for row in faithful) / len(faithful),
        "faithful_rejected": [row["id"] for row in faithful if not said[row["id"]]],
        "unfaithful_by_hand": len(unfaithful),
        "unfaithful_accepted": sum(said[row["id"]] for row in unfaithful),
        "findings": summary["findings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/measurements/check_captions.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {name: measure(name, Path(folder)) for name in SETS}
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""House styles: a team's way of writing its reports, learned from examples.

A house style is a JSONL file of examples, `<examples_dir>/<name>.jsonl`, one per line:
`{"record": {CV record}, "sentence": "the team's sentence for it"}`. 02 mixes the examples into
training under the style `house:<name>` (`helpers.core.contract.Style`), the model learns to
write it, and `desclm describe --style house:<name>` asks for it. Every example must be faithful
(the guard's reader finds exactly the record's facts in it); one that is not is that line's error.

The style check: a sentence's *frame* (`helpers.text.frames`) is the sentence with every counted
phrase replaced by `{item}` (a list of them by one `{items}`) and the scene's word by `{scene}`, in
lower case: "Inventory: 2 plastic, 1 glass. Ground: grass." -> "inventory: {items}. ground:
{scene}.". A sentence is in the house style when its frame is one of the examples' frames. The guard accepts a
model sentence for a house style only when it is faithful and in the style; otherwise the grammar
writes the record's sentence in its default style.
"""

from __future__ import annotations

from pathlib import Path

from helpers.core.contract import Policy
from helpers.core.records import read_lines
from helpers.text.fallback import said
from helpers.text.frames import frame_errors, frame_of
from helpers.text.grammar import RecordError, facts, validate_record


def house_errors(text: str, record: dict, frames: tuple[str, ...]) -> list[str]:
    """Why `text` is not in a house style whose examples have `frames` (empty: it is)."""
    return frame_errors(text, record, frames, "house style")


def load_examples(path: str | Path, policy: Policy = Policy()) -> tuple[list[tuple[dict, str]], list[dict]]:
    """A house style's examples and the lines that cannot be used (each an error naming its line).

    Raises:
        FileNotFoundError: The file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"house style examples not found: {path} (one JSON object per line: record, sentence)")
    examples, errors = [], []
    for line in read_lines(path):
        try:
            if line.error:
                raise RecordError(line.error)
            record, sentence = line.record.get("record"), line.record.get("sentence")
            validate_record(record, f"line {line.number}: record", policy)
            if not isinstance(sentence, str) or not sentence.strip():
                raise RecordError(f"line {line.number}: 'sentence' must be a non-empty string")
            stated, expected = said(sentence, record), facts(record, policy)
            if (stated.counts, stated.scene) != (expected.counts, expected.scene):
                says, wants = f"{stated.counts} {stated.scene!r}", f"{expected.counts} {expected.scene!r}"
                raise RecordError(f"line {line.number}: the sentence says {says}, the record {wants}")
        except RecordError as error:
            errors.append({"source": str(path), "line": line.number, "error": str(error)})
            continue
        examples.append((record, sentence.strip()))
    return examples, errors


def house_frames(examples: list[tuple[dict, str]]) -> tuple[str, ...]:
    """The frames of a house style's examples, sorted: what its style check accepts."""
    return tuple(sorted({frame_of(sentence, record) for record, sentence in examples}))

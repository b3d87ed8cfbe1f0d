"""What `desclm describe` does to its input lines apart from the model, so that worker processes can
do it while the model generates: on a GPU the chip, not the Python around it, sets the pace.

A block of numbered raw lines goes through `LineWork.prepare` (each line read, its record validated
and linearised: its model input, or why it has none) and, once the model has written each input's
sentences, `LineWork.finish` (the guard chooses or writes each sentence: the block's output lines).
Neither needs the model, so a `LineWork` pickles and runs on processes that import the text layer
only (`helpers.core.workers.WorkerPool`); `helpers.describer.run.LocalDescribeEngine` drives it.

A line that cannot be described costs that line only, with the message `Describer.describe_all`
gives: unreadable ("line 7: not JSON ..."), invalid ("line 7: detections[0].confidence ..."), or an
exception in the model or the guard ("line 7: RuntimeError: ...").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from helpers.core.records import InputLine, input_line, json_line
from helpers.describer.guard import DescribeError, Description, Guard, ModelInput

logger = logging.getLogger(__name__)
NumberedLines = list[tuple[int, bytes]]  # (line number, the raw line) for each line of a block


@dataclass(frozen=True)
class Prepared:
    """A block's lines ready for the model: each one's model input, or the error it has instead."""

    inputs: list[str | None]  # None where the line has an error
    errors: list[str | None]


def output_row(line: InputLine, result: Description | DescribeError | None, num_captions: int) -> dict:
    """The output row of one input line: its description and source (and captions), or its error
    (`result` None: the line could not be read, `line.error` says why)."""
    if result is None or result.error:
        return {"id": line.id, "error": line.error if result is None else result.error}
    row = {"id": line.id, "description": result.text, "source": result.source}
    if num_captions > 1:
        row |= {"captions": list(result.captions), "caption_sources": list(result.caption_sources)}
    return row


def output_lines(rows: list[dict], lines: list[InputLine], numbered: bool) -> list[str]:
    """The rows as JSON lines; `numbered`: each with its input `line` (a shard's: the merge orders by it)."""
    if numbered:
        rows = [{**row, "line": line.number} for row, line in zip(rows, lines, strict=True)]
    return [json_line(row) for row in rows]


@dataclass(frozen=True)
class LineWork:
    """The describer's work on a block of input lines but generation (see the module docstring).

    Args:
        model_input: Turns a valid record into the model's input.
        guard: Turns a record's generated sentences into its description.
        numbered: Output rows carry their input line's number.
    """

    model_input: ModelInput
    guard: Guard
    numbered: bool = False

    def prepare(self, block: NumberedLines) -> Prepared:
        """Each line's model input, or why it has none."""
        inputs: list[str | None] = []
        errors: list[str | None] = []
        for number, raw in block:
            line = input_line(number, raw)
            text, error = (None, line.error) if line.error else self.model_input.of(line.record, f"line {number}")
            inputs.append(text)
            errors.append(error)
        return Prepared(inputs, errors)

    def finish(self, block: NumberedLines, prepared: Prepared, hypotheses: list[list[str] | str | None]) -> list[str]:
        """The block's output lines, from each line's generated sentences (best first; the error of
        its generation as text; None for a line `prepare` gave an error)."""
        lines = [input_line(number, raw) for number, raw in block]
        results: list[Description | DescribeError | None] = [None] * len(lines)
        described = []  # positions of the lines the guard describes
        for position, (line, error) in enumerate(zip(lines, prepared.errors, strict=True)):
            if error is None:
                described.append(position)
            elif not line.error:
                results[position] = DescribeError(f"line {line.number}", error)
        guarded = self.guard.describe_each(
            [lines[i].record for i in described],
            [prepared.inputs[i] for i in described],
            [hypotheses[i] for i in described],
            [f"line {lines[i].number}" for i in described],
        )
        for position, result in zip(described, guarded, strict=True):
            results[position] = result
        rows = [output_row(line, result, self.guard.num_captions) for line, result in zip(lines, results, strict=True)]
        return output_lines(rows, lines, self.numbered)

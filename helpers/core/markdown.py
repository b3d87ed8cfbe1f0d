"""Text written into Markdown (the roll-up's report, a dataset card) reads back exactly as given.

A label or folder name is data: `<bottle>` would vanish as an HTML tag, `*cap*` turn italic, `a|b` split its
table cell, a line break end a table row. Each character a Markdown reader (CommonMark, GitHub's, Jupyter's)
takes as inline syntax is escaped with a backslash, which CommonMark allows before any ASCII punctuation; line
breaks, and whitespace at either end (which a table cell or a line drops), are written as character
references. Block syntax (`#`, `-`, `1.`) counts only at a line's start, where this text never stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_INLINE_SYNTAX = re.compile(r"([\\`*_\[\]<>&|~$])")  # code, emphasis, links, HTML, entities, cells, math
_ENDS = re.compile(r"^\s+|\s+$")  # what a table cell or a line drops (Unicode spaces too)


def markdown_text(value) -> str:
    """`value` (as `str` writes it) as Markdown text that renders as exactly that text, in a paragraph or a
    table cell."""
    escaped = _INLINE_SYNTAX.sub(r"\\\1", str(value))
    escaped = escaped.replace("\r", "&#13;").replace("\n", "&#10;")
    return _ENDS.sub(lambda blank: "".join(f"&#{ord(char)};" for char in blank.group()), escaped)


def markdown_row(values: Iterable) -> str:
    """One row of a Markdown (GitHub) table, each value written as given (`markdown_text`)."""
    return "| " + " | ".join(markdown_text(value) for value in values) + " |"

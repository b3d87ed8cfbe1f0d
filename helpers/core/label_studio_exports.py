"""What Label Studio's exports of a project look like, as the readers of a review take them back
(`helpers.describer.check`: the reviewers' descriptions; `helpers.cv.label_studio_truth`: their boxes).

Its JSON export is the tasks as imported, each with its `data` and its `annotations`; its JSON-MIN and CSV
exports write one object (or row) per annotation, the task's data and each control's results merged by name,
with columns of their own that every such object has (`MIN_COLUMNS`) and Label Studio's task id as `id`.
"""

from __future__ import annotations

MIN_COLUMNS = ("annotation_id", "lead_time")  # what the JSON-MIN and CSV exports write for each annotation


def is_min_entry(entry) -> bool:
    """Whether a JSON entry (or CSV row) is an annotation of a JSON-MIN (or CSV) export."""
    return isinstance(entry, dict) and "data" not in entry and all(name in entry for name in MIN_COLUMNS)

"""Markdown written for people (the roll-up's report, a dataset card) shows names and labels exactly as given:
rendered by a CommonMark reader with GitHub's tables, each reads back as the text it was."""

from __future__ import annotations

from conftest import rendered_markdown
from hypothesis import given, settings
from hypothesis import strategies as st

# any text but control characters other than tab and line breaks (Markdown has no way to write them: a
# character reference to one reads as U+FFFD; labels holding one are refused) and lone surrogates (not text)
CONTROLS = "".join(chr(code) for code in [*range(32), *range(127, 160)] if chr(code) not in "\t\n\r")
NAMES = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters=CONTROLS), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(name=NAMES, label=NAMES)
def test_any_text_reads_back_as_given_in_a_table_cell_and_a_paragraph(name, label):
    from helpers.core.markdown import markdown_row, markdown_text

    table = "\n".join([markdown_row(["group", label]), "| --- | --- |", markdown_row([name, 3])])
    texts = rendered_markdown(f"{table}\n\nSeen: {markdown_text(label)}; at {markdown_text(name)}.\n")
    assert texts.cells == ["group", label, name, "3"]
    assert texts.paragraphs == [f"Seen: {label}; at {name}."]


def test_a_rollup_report_shows_folder_names_and_labels_as_given(tmp_path):
    import json

    from helpers.commands.summarize import main

    records = [
        {
            "image": f"<north>_*{index}*/p.jpg",
            "detections": [
                {"label": "<bottle> & *cap*", "confidence": 0.9, "bbox": [0.1, 0.1, 0.2, 0.2]},
                {"label": "~foil~ `x`", "confidence": 0.9, "bbox": [0.5, 0.5, 0.6, 0.6]},
            ],
            "scene": {"class": "grass", "confidence": 0.9},
        }
        for index in range(2)
    ]
    cv = tmp_path / "cv.jsonl"
    cv.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assert main([str(cv), "--output", str(tmp_path / "r.md"), "--title", "Beach [north] *draft*", "-q"]) == 0
    report = (tmp_path / "r.md").read_text(encoding="utf-8")
    summaries = json.loads(
        main([str(cv), "--output", str(tmp_path / "r.json"), "-q"]) == 0 and (tmp_path / "r.json").read_text()
    )["groups"]
    texts = rendered_markdown(report)
    assert "<north>_*0*" in texts.cells and "<north>_*1*" in texts.cells
    assert {"<bottle> & *cap*", "~foil~ `x`"} <= set(texts.cells)
    assert texts.paragraphs == [summary["paragraph"] for summary in summaries]
    assert report.startswith("# Beach \\[north\\] \\*draft\\*\n")

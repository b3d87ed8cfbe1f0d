"""Labels as given (issue 32, item 8): a label is written exactly as the detector names it
(hyphens, apostrophes, digits, case), the guard rejects a sentence that alters it, multiword and
digit-led labels take English plurals, a byte-order mark opens any JSONL input, and a bad box is
refused naming the field."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers.describer import check_caption
from helpers.text.facts import extract
from helpers.text.fallback import fallback_sentence
from helpers.text.grammar import RecordError, describe, facts, validate_record
from helpers.text.lexicon import PREPOSITIONS, LexEntry, label_forms

# (label, its form for more than one, as a describer must write them)
AS_GIVEN = [
    ("e-waste", "pieces of e-waste"),
    ("t-shirt", "t-shirts"),
    ("7up can", "7up cans"),
    ("Wendy's cup", "Wendy's cups"),
    ("PET bottle", "PET bottles"),
    ("CD", "CDs"),
    ("iPhone", "iPhones"),
]


def _record(*labels: str, scene: str = "grass") -> dict:
    return {
        "detections": [{"label": label, "confidence": 0.9} for label in labels],
        "scene": {"class": scene, "confidence": 0.9},
    }


@pytest.mark.parametrize(("label", "written"), AS_GIVEN)
def test_the_grammar_writes_the_label_as_given_with_its_plural(label, written):
    record = _record(label, label)
    texts = {describe(record, random.Random(seed)) for seed in range(12)}
    assert all(f" {written} " in f" {text.rstrip('.')} " for text in texts), texts
    assert all(extract(text, [label]).counts == {label: 2} for text in texts), texts


@pytest.mark.parametrize(
    ("label", "altered"),
    [
        ("e-waste", "Two pieces of e waste lie on the grass."),  # the hyphen dropped (the old normalisation)
        ("e-waste", "Two pieces of E-Waste lie on the grass."),  # the case changed
        ("t-shirt", "Two t shirts lie on the grass."),
        ("7up can", "Two 7UP cans lie on the grass."),
        ("iPhone", "Two Iphones lie on the grass."),
    ],
)
def test_the_guard_rejects_a_sentence_that_alters_a_label(label, altered):
    verdict = check_caption(_record(label, label), altered)
    assert not verdict.faithful, verdict
    assert "missed_category" in {finding.kind for finding in verdict.findings}, verdict.findings
    as_given = f"Two {label_forms(label)[1]} lie on the grass."
    assert check_caption(_record(label, label), as_given).faithful, as_given


def test_a_label_opening_a_sentence_may_take_a_capital_as_english_does():
    assert check_caption(_record("t-shirt"), "T-shirt 1, on the grass.").faithful
    assert not check_caption(_record("t-shirt"), "On the grass: T-shirt 1.").faithful, "mid-sentence: as given"


# Labels of English-looking words in any case, with digits, hyphens and apostrophes.
WORD = st.from_regex(r"[A-Za-z][a-z]{1,7}|[0-9][a-z]{1,4}|[A-Z]{2,3}", fullmatch=True)
LABEL = st.builds(
    lambda words, joiners: "".join(w + j for w, j in zip(words, joiners, strict=False)) + words[-1],
    st.lists(WORD, min_size=1, max_size=3),
    st.lists(st.sampled_from([" ", "-", "'"]), min_size=2, max_size=2),
)


@given(labels=st.lists(LABEL, min_size=1, max_size=3, unique=True), counts=st.lists(st.integers(1, 4), min_size=3))
@example(labels=["Aa Aa", "OF OF"], counts=[1, 1, 1])  # a random draw's: a label of prepositions
@example(labels=["on", "bottle"], counts=[1, 2, 1])
@settings(max_examples=150, deadline=None)
def test_any_label_reads_back_exactly_as_given(labels, counts):
    """The grammar's wording reads back as the record's facts, each label as given; a label holding a preposition
    ("of", "ON") ends the noun phrase it stands in, so no wording states it: the fallback's sentence does (the
    enumeration, `helpers.text.fallback`), as the describer and `desclm synth` write it."""
    record = _record(*[label for label, n in zip(labels, counts, strict=False) for _ in range(n)])
    expected = facts(record)
    text = describe(record, random.Random(0))
    if not any(word.lower() in PREPOSITIONS for label in labels for word in re.split(r"[ '-]", label)):
        assert extract(text, labels).counts == expected.counts, text
    sentence, stated = fallback_sentence(record, "0")
    assert stated == expected and extract(sentence, labels).counts == expected.counts, sentence


def _index_in_one_piece(labels: frozenset[str], lexicon: frozenset[tuple[str, str]]) -> dict:
    """The reader's index as its docstrings define it, built whole: every phrase of the lists (the litter
    lexicon, then the user's words) under its first word in any case; then each form of the input's labels,
    written as given, replacing a list's phrase of the same words; longest first, ties in that order."""
    from helpers.text.facts import _TOKEN, _fold
    from helpers.text.lexicon import MASS_NOUNS, count_noun_entries, counter_entries, label_entries, litter_lexicon

    entries = dict(litter_lexicon())
    for surface, label in sorted(lexicon):
        if surface.rsplit(" ", 1)[-1] in MASS_NOUNS:
            entries[surface] = LexEntry(label, None, mass=True)
            entries.update(counter_entries(surface, label))
        else:
            entries.update(count_noun_entries(surface, label))
    exact = {}
    for label in sorted(labels):
        exact.update(label_entries(label))
    index: dict = {}
    for surface, entry in entries.items():
        tokens = tuple(_TOKEN.findall(_fold(surface)))
        index.setdefault(tokens[0], []).append((tokens, entry, None))
    for surface, entry in exact.items():
        tokens = tuple(_TOKEN.findall(_fold(surface)))
        written = tuple(_TOKEN.findall(unicodedata.normalize("NFC", surface)))
        candidates = index.setdefault(tokens[0], [])
        candidates[:] = [c for c in candidates if c[0] != tokens or c[2]]
        candidates.append((tokens, entry, written if len(written) == len(tokens) else None))
    return {first: sorted(candidates, key=lambda c: -len(c[0])) for first, candidates in index.items()}


# Labels the lists hold, or hold in another case, and scripts whose lower case is longer or folds ligatures
LIST_LIKE = st.sampled_from(
    ["piece of plastic", "Pieces of Glass", "bottle", "E-Waste", "e-waste", "İstanbul bag", "ﬁsh net"]
)
USERS_WORDS = st.sets(
    st.tuples(st.sampled_from(["bottle", "can", "sludge", "rope", "e waste"]), st.sampled_from(["plastic", "metal"]))
)


@given(labels=st.sets(st.one_of(LABEL, LIST_LIKE), max_size=6), lexicon=USERS_WORDS)
@settings(max_examples=100, deadline=None)
def test_the_readers_index_of_a_records_labels_is_the_index_built_whole(labels, lexicon):
    """The reader adds a record's labels to the lists' index, shared by every record (a dataset's records
    hold many sets of labels: built whole for each, the index cost more than the rest of the reading), and
    reads with what it would read built whole; the shared index stays as it was."""
    from helpers.text.facts import _LITTER_INDEX, _index_with
    from helpers.text.lexicon import litter_lexicon

    shared = {first: list(candidates) for first, candidates in _LITTER_INDEX.items()}
    extra = frozenset(label for label in labels if label not in litter_lexicon())
    assert _index_with(extra, frozenset(lexicon)) == _index_in_one_piece(extra, frozenset(lexicon))
    assert _LITTER_INDEX == shared == _index_in_one_piece(frozenset(), frozenset())


def test_describe_takes_a_bom_and_gives_labels_back_exactly(model_dir, tmp_path):
    """Through the command, as a user runs it: a Windows export (BOM first) of labels as given."""
    records = [_record(label, label) | {"id": label} for label, _ in AS_GIVEN]
    text = "".join(json.dumps(record, ensure_ascii=False) + "\r\n" for record in records)
    (tmp_path / "in.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    command = [sys.executable, "-m", "helpers", "describe", str(model_dir), "--input", "in.jsonl"]
    command += ["--output", "out.jsonl", "--max_grammar_share", "1", "-q"]
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == [label for label, _ in AS_GIVEN], "line 1 (after the BOM) is a record"
    for (label, written), row in zip(AS_GIVEN, rows, strict=True):
        assert "error" not in row and f" {written} " in f" {row['description'].rstrip('.')} ", row
        assert check_caption(_record(label, label), row["description"]).faithful


@pytest.mark.parametrize(
    ("bbox", "says"),
    [
        ([0.1, float("nan"), 0.3, 0.4], "finite"),
        ([0.1, 0.2, float("inf"), 0.4], "finite"),
        ([0.1, 0.2, 0.3], "[x1, y1, x2, y2]"),
        ([0.5, 0.2, 0.3, 0.4], "corner after its opposite"),
        ([10, 40, 20, 30], "corner after its opposite"),  # pixels too: the order does not depend on the units
    ],
)
def test_a_bad_box_is_refused_naming_the_field(bbox, says):
    record = {
        "detections": [{"label": "plastic", "confidence": 0.9}, {"label": "glass", "confidence": 0.8, "bbox": bbox}]
    }
    with pytest.raises(RecordError, match=r"line 7: detections\[1\]\.bbox") as raised:
        validate_record(record, "line 7")
    assert says in str(raised.value)

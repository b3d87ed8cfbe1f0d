"""Which described photos a gallery or an export takes, by what their sentences state (`Selection`), and which split of
a dataset each goes to (`SplitPlan`).

    desclm gallery described.jsonl --cv cv.jsonl --category tire,metal --min_items 2
    desclm export described.jsonl --format label_studio --cv cv.jsonl --images photos/ --category tire --max_photos 500

A photo is chosen by its sentence, read back as the gallery's filters read it (`helpers.text.facts`, the CV record's
labels as the vocabulary when there is one): the categories it counts, the scene it states and how many items. A row
without a sentence (01's CV records, the batch requests' input; a line `desclm check` could not check, joined to its
record) is chosen by what a faithful description of its CV record states at the describer's thresholds (`stated`:
`helpers.text.grammar.facts`): `--category tire` asks a paid model about the photos the detectors saw a tire in, not
all 10^7. Of labelled photos (the records' `ground_truth`), `truth` chooses those whose sentence is true, or untrue,
to the labels. Chosen before any sample is drawn: the photos with a tire among 10^7, then 500 of them. A split is
decided by a hash of the seed and the photo (or its folder), or by the record's own split: the same photo in the
same split whatever the order it is read in. Light to import (the commands' settings use it): the sentence reader is
imported when a sentence is read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from helpers.core.contract import Policy
from helpers.core.settings import setting


def category_setting():
    """The `category` setting, as each command that chooses photos takes it."""
    return setting(
        "",
        "only photos whose sentence counts one of these categories (comma-separated; case aside); of CV records, "
        "whose detections at --min_confidence do (named as the descriptions name them, or as the detector wrote them)",
    )


def scene_setting():
    """The `scene` setting, as each command that chooses photos takes it."""
    return setting(
        "", "only photos whose sentence states this scene (case aside); of CV records, at --scene_min_confidence"
    )


def min_items_setting():
    """The `min_items` setting, as each command that chooses photos takes it."""
    return setting(
        0, "only photos whose sentence counts at least this many items; of CV records, detections at --min_confidence"
    )


CHECKED = "checked"  # the source of a caption `desclm check` checked, read as a row (`exports.verdict_rows`)
VERDICTS = ("unfaithful", "faithful")  # what `--verdict` chooses a checked caption by, or a kind of finding
# ... and what it chooses to ask again by: answers stopped at their token limit; lines the check could not check (a
# failed request, a refusal, an answer it could not read): the batch requests' alone, those have no caption
ASK_AGAIN = ("token_limit", "error")


# what `--truth` chooses a labelled photo by: its sentence true to its labels, or not; a labelled item no stated
# detection found, a stated detection on no label (`helpers.describer.truth.unmatched_boxes`)
TRUTHS = ("true", "untrue", "missed", "false")


def truth_setting():
    """The `truth` setting, as each command that chooses photos takes it."""
    return setting(
        "",
        "of photos with labels (their CV records' ground_truth: 01 read a data.yaml, COCO, ...), only those whose "
        "sentence (of CV records: what one would state) is true to them (every count exact, the scene not wrong, as "
        "04's truth report counts) or untrue: the sentences to review among 10^7; missed: a labelled item that no "
        "detection at --min_confidence found (by category, IoU 0.5); false: such a detection on no label; unlabelled "
        "photos are not chosen",
    )


def verdict_setting():
    """The `verdict` setting, as each command that reads `desclm check`'s verdicts takes it."""
    return setting(
        "",
        "of desclm check's verdicts, only the captions with this verdict, chosen before the sample: unfaithful, "
        "faithful, or a kind of finding (wrong_count, misplaced_box, ...): a model's mistakes among 10^7 captions; "
        "token_limit: answers stopped at their token limit; error (the batch requests: to ask again; the gallery: to "
        "look at): the photos whose lines the check could not check, a failed request, a refusal, an answer it could "
        "not read",
    )


def check_verdict(verdict: str) -> None:
    """Raises ValueError unless `verdict` is "", one of `VERDICTS` or `ASK_AGAIN`, or a kind of finding."""
    from helpers.text.check import FINDINGS  # here: --help loads no more than the settings

    if verdict not in ("", *VERDICTS, *ASK_AGAIN, *FINDINGS):
        raise ValueError(f"--verdict must be one of {', '.join((*VERDICTS, *ASK_AGAIN, *FINDINGS))}, got {verdict!r}")


def kept_by_verdict(verdict: str, row) -> bool:
    """Whether a verdict's row (`ExportRow`: a checked caption, its `findings`) is of `verdict` ("unfaithful",
    "faithful", a kind of finding, or `ASK_AGAIN`'s: stopped at its token limit, not checked), as the gallery's verdict
    filter keeps it."""
    if verdict in ASK_AGAIN:
        return row.token_limit if verdict == "token_limit" else row.unchecked is not None
    findings = row.findings or []
    if row.unchecked is not None:
        return False
    if verdict == "faithful":
        return not findings
    if verdict == "unfaithful":
        return bool(findings)
    return any(isinstance(finding, dict) and finding.get("kind") == verdict for finding in findings)


def said(row):
    """What a described row's sentence states (`helpers.text.facts.Extraction`: counts per category, scene),
    its CV record's labels as the vocabulary: the gallery's categories, and what a `Selection` chooses by."""
    from helpers.text.facts import extract

    vocabulary = [str(d.get("label")) for d in (row.record or {}).get("detections") or []]
    return extract(row.description, vocabulary)


def stated(row, policy: Policy):
    """What a row states, for a `Selection`: its sentence's reading (`said`); of a row without a caption (a CV record,
    a line the check could not check) what a faithful description of its CV record states at `policy`'s thresholds
    (`helpers.text.grammar.facts`: counts by category as the descriptions name them, the scene), nothing without one.

    Raises:
        RecordError: The row's CV record is not one the grammar reads (naming the field).
    """
    from helpers.text.grammar import Facts, facts, validate_record

    if row.captions:
        return said(row)
    if row.record is None:
        return Facts()
    validate_record(row.record, "its CV record")
    return facts(row.record, policy)


def given_labels(row, policy: Policy) -> list[str]:
    """A row without a caption's labels as its CV record's detections at `policy`'s threshold write them (spaces
    around aside: `Plastic_Bottle`, which the descriptions call plastic), for `--category` to name too; none of a
    described row (its sentence's names are what it states). The record is valid (`stated` read it)."""
    if row.captions or row.record is None:
        return []
    kept = (d for d in row.record["detections"] if d["confidence"] >= policy.min_confidence)
    return list(dict.fromkeys(d["label"].strip() for d in kept))


@dataclass(frozen=True)
class Selection:
    """The photos whose sentence counts one of `category` (comma-separated, case aside), states `scene` and
    counts at least `min_items` items, and of `desclm check`'s verdicts the captions with `verdict` (`VERDICTS`, or
    a kind of finding: `kept_by_verdict`); the empty selection takes every photo. A row without a sentence (a CV
    record) is chosen by what its record states at `policy`'s thresholds (`stated`)."""

    category: str = ""
    scene: str = ""
    min_items: int = 0
    verdict: str = ""
    policy: Policy = Policy()
    truth: str = ""

    def __post_init__(self) -> None:
        if self.min_items < 0:
            raise ValueError(f"min_items must be >= 0, got {self.min_items}")
        if self.truth not in ("", *TRUTHS):
            raise ValueError(f"truth must be one of {', '.join(TRUTHS)}, got {self.truth!r}")

    @property
    def asked(self) -> bool:
        """Whether it chooses at all."""
        return self.states or bool(self.verdict)

    @property
    def states(self) -> bool:
        """Whether it chooses by what the sentence states (`keeps`), or by how true that is to the labels (`truth`)."""
        return bool(self.categories or self.scene.strip() or self.min_items or self.truth)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(name.strip().casefold() for name in self.category.split(",") if name.strip())

    def keeps(self, statement, given: Iterable[str] = ()) -> bool:
        """Whether a row's statement (`stated`: its sentence's reading) is chosen; `given`: the labels its CV record's
        detections counted there are written with, as given (`given_labels`), which `category` names too."""
        wanted, scene = self.categories, self.scene.strip().casefold()
        return (
            (not wanted or any(label.casefold() in wanted for label in (*statement.counts, *given)))
            and (not scene or (statement.scene or "").casefold() == scene)
            and sum(statement.counts.values()) >= self.min_items
        )

    def chooses(self, row) -> bool:
        """Whether a row (`ExportRow`) is chosen: by its verdict's findings (a checked caption's), then by what it
        states (`keeps`: its sentence's reading, or its CV record's, `stated`).

        Raises:
            RecordError: A row without a sentence whose CV record the grammar cannot read (the row's problem).
        """
        if self.verdict and not kept_by_verdict(self.verdict, row):
            return False
        return not self.states or self.chooses_statement(row, stated(row, self.policy))

    def chooses_statement(self, row, statement) -> bool:
        """Whether a row whose statement is `statement` (`stated`) is chosen: by what it states (`keeps`), then by
        how true it is to the row's labels (`truth`: its CV record's `ground_truth`, as 04's truth report compares).

        Raises:
            RecordError: The row's ground truth cannot be read (the row's problem).
        """
        if not self.keeps(statement, given_labels(row, self.policy)):
            return False
        if not self.truth:
            return True
        from helpers.describer.truth import LABELS_UNREADABLE, compare, truth_facts, unmatched_boxes
        from helpers.text.grammar import RecordError

        try:
            truth = truth_facts(row.record or {})
            if truth is not None and self.truth in ("missed", "false"):
                missed, false = unmatched_boxes(row.record, self.policy.min_confidence)
                return bool(missed if self.truth == "missed" else false)
        except LABELS_UNREADABLE as error:
            raise RecordError(f"its ground truth cannot be read: {type(error).__name__}: {error}") from error
        return truth is not None and compare(statement, truth)["true"] == (self.truth == "true")

    def as_dict(self) -> dict:
        """The settings it was asked with (the gallery's URL fragment names, `min` for `min_items`), in order; the
        thresholds CV records are chosen at where they are not the describer's defaults."""
        asked = {"category": self.category.strip(), "scene": self.scene.strip(), "min": self.min_items}
        asked |= {"verdict": self.verdict, "truth": self.truth}
        chosen = {name: value for name, value in asked.items() if value}
        thresholds = {"min_confidence": self.policy.min_confidence}
        thresholds["scene_min_confidence"] = self.policy.scene_min_confidence
        if self.states and thresholds != {name: getattr(Policy, name) for name in thresholds}:
            chosen |= thresholds
        return chosen

    def __str__(self) -> str:
        """The settings as a command takes them (`--category tire --min_items 3`), for the log."""
        asked = {"category": self.category.strip(), "scene": self.scene.strip(), "min_items": self.min_items}
        asked |= {"verdict": self.verdict, "truth": self.truth}
        return " ".join(f"--{name} {value}" for name, value in asked.items() if value) or "every photo"


SPLIT_NAME = re.compile(r"^[A-Za-z0-9][\w-]*$")  # a split's name, as the Hub and `datasets` take it
RECORD_SPLITS = {"train": "train", "val": "validation", "valid": "validation", "validation": "validation"}
RECORD_SPLITS |= {"test": "test"}  # a record's `split` (a data.yaml's, a dataset's) -> the Hub's split name


def splits_setting():
    """The `splits` setting of the exports that split (`SPLIT_FORMATS`)."""
    return setting(
        "",
        "hf, webdataset, yolo, llava, grounded, coco, coco_instances: split the photos, named shares "
        "(train=0.9,validation=0.05,test=0.05), each photo's split by a seeded hash (--seed) of it or its folder "
        "(--split_by), or 'records': each CV record's own split (a data.yaml's train/val/test); a folder per split "
        "(hf, webdataset: loading as a DatasetDict; yolo: images/<split>/, named in data.yaml), or a file per split "
        "beside --output (llava, grounded, coco, coco_instances: out.json -> out_train.json, ...); default: one train "
        "split",
    )


def split_by_setting():
    """The `split_by` setting of the exports that split (`SPLIT_FORMATS`)."""
    return setting(
        "photo",
        "with --splits: what decides a photo's split, the photo itself or its folder (folder: a drone flight's "
        "overlapping photos, or a trail camera's, all in one split, none leaking into another)",
    )


@dataclass(frozen=True)
class SplitPlan:
    """Named shares of the photos (`("train", 0.9), ("validation", 0.1)`): each photo's split decided by a hash of
    `seed` and the photo's key (`by` "photo") or its folder (`by` "folder"), so the same photo lands in the same
    split whatever the files' order, and a folder's photos together; or (`by` "records", no shares) each CV
    record's own split (`RECORD_SPLITS`). The empty plan: one split, "train"."""

    shares: tuple[tuple[str, float], ...] = ()
    by: str = "photo"
    seed: int = 0

    def __post_init__(self) -> None:
        names = [name for name, _ in self.shares]
        if self.by not in ("photo", "folder", "records"):
            raise ValueError(f"split_by must be 'photo' or 'folder', got {self.by!r}")
        if self.by == "records":
            if self.shares:
                raise ValueError("splits: the records' own splits take no shares")
            return
        if len(set(names)) != len(names) or not all(SPLIT_NAME.match(name) for name in names):
            raise ValueError(f"splits: distinct names of letters, digits, - and _, got {', '.join(names)}")
        if self.shares and (
            len(self.shares) < 2
            or not all(0 < share <= 1 for _, share in self.shares)
            or abs(sum(share for _, share in self.shares) - 1) > 1e-6
        ):
            raise ValueError(f"splits: two or more shares above 0 that add up to 1, got {self.shares}")

    @classmethod
    def parse(cls, text: str, by: str = "photo", seed: int = 0) -> SplitPlan:
        """A plan from the setting's text, `train=0.9,validation=0.1`.

        Raises:
            ValueError: A part that is not `name=share`, or shares as `__post_init__` refuses.
        """
        if text.strip() == "records":
            return cls((), "records", seed)
        shares = []
        for part in (part.strip() for part in text.split(",") if part.strip()):
            name, equals, share = part.partition("=")
            try:
                shares.append((name.strip(), float(share)))
            except ValueError:
                raise ValueError(f"splits: each part name=share (train=0.9), got {part!r}") from None
            if not equals:
                raise ValueError(f"splits: each part name=share (train=0.9), got {part!r}")
        return cls(tuple(shares), by, seed)

    @property
    def asked(self) -> bool:
        return bool(self.shares) or self.by == "records"

    @property
    def names(self) -> tuple[str, ...]:
        if self.by == "records":
            return tuple(dict.fromkeys(RECORD_SPLITS.values()))
        return tuple(name for name, _ in self.shares)

    def split_of(self, image: str, recorded=None) -> str | None:
        """The split of the photo whose key is `image` (`a/b.jpg`; by folder: `a`), or by records, of the photo
        whose record says `recorded` (None when it names none of `RECORD_SPLITS`)."""
        if self.by == "records":
            return RECORD_SPLITS.get(recorded.lower()) if isinstance(recorded, str) else None
        group = image.rpartition("/")[0] if self.by == "folder" else image  # the photos at the top: folder ""
        digest = hashlib.sha256(f"{self.seed}:{group}".encode()).digest()
        point, edge = int.from_bytes(digest[:8], "big") / 2**64, 0.0
        for name, share in self.shares:
            edge += share
            if point < edge:
                return name
        return self.shares[-1][0]  # the sum's last bit of rounding

    def as_dict(self) -> dict:
        return {"shares": [list(share) for share in self.shares], "by": self.by, "seed": self.seed}

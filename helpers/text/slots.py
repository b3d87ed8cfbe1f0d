"""Slots: names the model never has to spell.

The grammar treats a category outside the five classes ("tire", "kite", anything a detector
calls its objects) and a scene without phrases of its own as an opaque name: it only writes it,
in the form `helpers.text.lexicon.label_forms` gives it for its count, and puts an
article before it. A model that has to copy such names letter by letter learns it slowly and
fails on names it never saw (measured on the demo's stress group of held-out names: 0-3% of
descriptions right with a learned subword vocabulary, 9% with names spelled in letters, both
after 8,400 steps). So, as in
delexicalised data-to-text generation (Wen et al., 2015; Dusek & Jurcicek, 2016), the model sees
and writes placeholders instead, and the names go back in after generation:

    input:  litter: 2 plastic; 3 slotA after plastic; end after slotA | scene: slotScene
    model:  Two plastic items and three slotA lie in a slotScene setting.
    text:   Two plastic items and three kites lie in a forest setting.

`relexicalize` writes each name in the form the grammar would (`label_forms` by the input's
count, "a"/"an" by the name), so the model never has to
know anything about a name. Slots are numbered in the order the description names the
categories (A, B, ..., Z, AA, ...).
"""

from __future__ import annotations

import re

from helpers.core.contract import Policy
from helpers.text.grammar import UNKNOWN_SCENES, description_order, facts
from helpers.text.lexicon import CLASSES, SCENE_PHRASES, article, generic_scene_phrase, label_forms

SCENE_SLOT = "slotScene"
_SCENE_SLOT_PHRASE = "in a slotScene setting"
_SLOT = re.compile(r"(?:\b([Aa])n? )?\b(slot(?:[A-Z]+|Scene))\b")


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


def slot_names(record: dict, policy: Policy = Policy()) -> dict[str, str]:
    """Placeholder -> name for every name the description of a valid record copies verbatim."""
    fact = facts(record, policy)
    copied = [label for label in description_order(fact.counts) if label not in CLASSES]
    names = {f"slot{_letters(i)}": label for i, label in enumerate(copied)}
    if fact.scene and fact.scene not in SCENE_PHRASES and fact.scene not in UNKNOWN_SCENES:
        names[SCENE_SLOT] = fact.scene
    return names


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _surface(name: str, count: int) -> str:
    """A category name as the grammar writes it after its count."""
    one, many = label_forms(name)
    return one if count == 1 else many


def delexicalize(text: str, record: dict, policy: Policy = Policy()) -> str:
    """A description with each copied name (in any form the grammar writes it) replaced by its
    slot, and "an" before a slot written "a" (the article is the name's, `relexicalize` sets it)."""
    names = slot_names(record, policy)
    if SCENE_SLOT in names:  # only where the grammar names a scene (a category may share its name)
        phrase = generic_scene_phrase(names[SCENE_SLOT])
        for shape in (phrase, _capitalize(phrase)):  # the phrase may open the sentence
            text = text.replace(shape, _SCENE_SLOT_PHRASE if shape == phrase else _capitalize(_SCENE_SLOT_PHRASE))
    for slot, name in sorted(names.items(), key=lambda item: -len(item[1])):
        if slot == SCENE_SLOT:
            continue
        forms = {name, *label_forms(name), f"piece of {name}", f"pieces of {name}"}
        alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
        text = re.sub(rf"(?<![\w-])(?:{alternatives})(?![\w-])", slot, text)
    return re.sub(r"\b([Aa])n (slot[A-Z]+)\b", r"\1 \2", text)


def relexicalize(text: str, record: dict, policy: Policy = Policy()) -> str:
    """The model's text with every known slot replaced by its name in the grammar's form; an
    unknown slot stays as written (and the fact extractor then finds the text unfaithful)."""
    names = slot_names(record, policy)
    counts = facts(record, policy).counts
    if SCENE_SLOT in names:  # the scene's whole phrase: its article and form are the name's
        phrase = generic_scene_phrase(names[SCENE_SLOT])
        text = re.sub(r"\b(?:in an? slotScene setting|at an? slotScene site)\b", phrase, text)
        text = re.sub(r"\b(?:In an? slotScene setting|At an? slotScene site)\b", _capitalize(phrase), text)

    def fill(match: re.Match) -> str:
        given_article, slot = match.group(1), match.group(2)
        if slot not in names:
            return match.group(0)
        if slot == SCENE_SLOT:
            return (match.group(0)[: match.start(2) - match.start(0)]) + names[slot]
        form = _surface(names[slot], counts[names[slot]])
        if given_article is None:
            return form
        chosen = article(form)
        return f"{chosen.capitalize() if given_article.isupper() else chosen} {form}"

    return _SLOT.sub(fill, text)

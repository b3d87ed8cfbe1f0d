"""The contract between stages 02, 03 and 04, and the model folder's settings file.

What a description says depends on two choices: the *model input format* (how a CV record is
written for the model) and the *policy* (which detections and scenes a sentence mentions). They
travel as one `InputSpec`: notebook 02 writes it into `pairs_config.json`, training reads it from
there and records it, with the generation settings, in the model folder's `llm_config.json`
(`ModelSettings`), and the describer, the CTranslate2 export and the evaluation read it back.
This module is the only place that names those files, gives those values a default, and parses
them; a broken or incomplete file fails with an error that names the file and the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from helpers.core.io import atomic_write_text

LLM_CONFIG = "llm_config.json"  # a finished model folder holds this file
PAIRS_CONFIG = "pairs_config.json"  # 02's settings beside its pairs
CT2_DIR = "ct2"  # the CTranslate2 export inside a model folder

# The model input formats (`helpers.text.linearize` implements each); the first is the default.
INPUT_FORMATS = ("linked_slots", "linked_end", "linked", "compact", "seed_json")
# Wording styles (`helpers.text.style`): "plain" adds no claim beyond the labels and the scene class,
# "varied" uses the original's richer phrase lists. Numerals: "words" (number words up to ten; a
# sentence with a larger count is all digits) or "digits". The first of each is the default.
STYLE_NAMES = ("plain", "varied")
NUMERALS = ("words", "digits")
# A team's own style, learned from its examples (`helpers.text.house`): "house:<name>", numerals as its examples.
HOUSE_PREFIX = "house:"


class ContractError(ValueError):
    """A settings file is missing, unreadable, or lacks or mistypes a key; the message names both."""


@dataclass(frozen=True)
class Policy:
    """Which detections and scenes a description mentions."""

    min_confidence: float = 0.5  # detections below are not described
    scene_min_confidence: float = 0.8  # the scene is mentioned only at or above
    spatial: bool = False  # also say where each category is, from its boxes (helpers.text.spatial)

    def __post_init__(self) -> None:
        for name in ("min_confidence", "scene_min_confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in 0..1, got {value!r}")
        if not isinstance(self.spatial, bool):
            raise ValueError(f"spatial must be true or false, got {self.spatial!r}")


@dataclass(frozen=True)
class Style:
    """How a description words what it says (what it says is the `Policy`'s business)."""

    name: str = STYLE_NAMES[0]
    numerals: str = NUMERALS[0]

    def __post_init__(self) -> None:
        house = self.name.startswith(HOUSE_PREFIX)
        if not house and self.name not in STYLE_NAMES:
            raise ValueError(f"style must be one of {list(STYLE_NAMES)} or house:<name>, got {self.name!r}")
        if house and not re.fullmatch(r"[A-Za-z0-9_\-]+", self.name[len(HOUSE_PREFIX) :]):
            raise ValueError(f"a house style is house:<name> (letters, digits, _ and -), got {self.name!r}")
        if self.numerals not in NUMERALS:
            raise ValueError(f"numerals must be one of {list(NUMERALS)}, got {self.numerals!r}")

    @property
    def is_house(self) -> bool:
        """A team's style learned from examples (`helpers.text.house`), not the grammar's."""
        return self.name.startswith(HOUSE_PREFIX)

    @property
    def house_name(self) -> str:
        return self.name[len(HOUSE_PREFIX) :]

    @property
    def tag(self) -> str:
        """How the style is written in settings files and model inputs: "plain words", "house:inventory"."""
        return self.name if self.is_house else f"{self.name} {self.numerals}"

    @classmethod
    def parse(cls, value: Style | str) -> Style:
        """ "plain words", "varied digits", "plain" (default numerals), "house:inventory" or a Style."""
        if isinstance(value, Style):
            return value
        if str(value).strip().startswith(HOUSE_PREFIX):
            return cls(str(value).strip())
        parts = str(value).split()
        if not 1 <= len(parts) <= 2:
            raise ValueError(f"a style is NAME [NUMERALS] such as 'plain words', got {value!r}")
        return cls(*parts)


def parse_styles(value: str | list | tuple) -> tuple[Style, ...]:
    """ "plain words, varied words" (or a list) -> the styles, first the default; no duplicates."""
    items = value.split(",") if isinstance(value, str) else list(value)
    styles = tuple(Style.parse(item.strip() if isinstance(item, str) else item) for item in items)
    if not styles or len(set(styles)) != len(styles):
        raise ValueError(f"styles must name at least one style, each once, got {value!r}")
    return styles


@dataclass(frozen=True)
class InputSpec:
    """How a CV record becomes model input, what its description mentions, and the styles the model writes."""

    input_format: str = INPUT_FORMATS[0]
    policy: Policy = field(default_factory=Policy)
    styles: tuple[Style, ...] = (Style(),)  # the first is the describer's default
    # Wordings learned per record, each chosen by a " | variant: k" input (`helpers.text.variants`):
    # beam search then varies its wording across photos as the grammar does. 0: no variant input.
    variants: int = 8
    # Per house style among `styles`, the frames of its examples: its style check (`helpers.text.house`).
    house_frames: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {list(INPUT_FORMATS)}, got {self.input_format!r}")
        parse_styles(self.styles)  # at least one, no duplicates
        if isinstance(self.variants, bool) or not isinstance(self.variants, int) or self.variants < 0:
            raise ValueError(f"variants must be an integer >= 0, got {self.variants!r}")
        houses = {style.house_name for style in self.styles if style.is_house}
        if houses != {name for name, _ in self.house_frames}:
            given = [name for name, _ in self.house_frames]
            raise ValueError(f"house styles {sorted(houses)} need their frames, got frames of {given}")

    def frames_of(self, style: Style) -> tuple[str, ...]:
        """The frames a house style's sentences must have (its examples')."""
        return dict(self.house_frames)[style.house_name]

    def style(self, requested: Style | str | None = None) -> Style:
        """The requested style (default: the first), which must be one the model learned."""
        style = self.styles[0] if requested is None else Style.parse(requested)
        if style not in self.styles:
            raise ValueError(f"style {style.tag!r} was not trained; this model writes {[s.tag for s in self.styles]}")
        return style

    def to_dict(self) -> dict[str, Any]:
        """The flat keys both settings files use."""
        styles = [s.tag for s in self.styles]
        return {
            "input_format": self.input_format,
            **asdict(self.policy),
            "styles": styles,
            "variants": self.variants,
            "house_frames": {name: list(frames) for name, frames in self.house_frames},
        }

    @classmethod
    def from_dict(cls, values: dict, source: str | Path) -> InputSpec:
        """Reads the flat keys; every key must be there (no silent defaults between stages)."""
        try:
            return cls(
                _key(values, "input_format", str, source),
                Policy(
                    _key(values, "min_confidence", float, source),
                    _key(values, "scene_min_confidence", float, source),
                    _key(values, "spatial", bool, source),
                ),
                parse_styles(_key(values, "styles", list, source)),
                _key(values, "variants", int, source),
                # folders written before house styles existed have no such key: no house style
                tuple((name, tuple(frames)) for name, frames in values.get("house_frames", {}).items()),
            )
        except ValueError as error:
            if isinstance(error, ContractError):
                raise
            raise ContractError(f"{source}: {error}") from None


@dataclass(frozen=True)
class ModelSettings:
    """A trained describer's `llm_config.json`: its input spec and the generation settings inference reuses."""

    spec: InputSpec
    base_model: str
    max_source_length: int
    max_target_length: int
    max_new_tokens: int
    num_beams: int
    model_type: str = "t5"
    data_fingerprint: str | None = None
    parameters: int | None = None
    global_step: int | None = None
    validation: dict = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.spec.policy

    @property
    def input_format(self) -> str:
        return self.spec.input_format

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "spec"}
        return {**self.spec.to_dict(), **values}


_REQUIRED_INTS = ("max_source_length", "max_target_length", "max_new_tokens", "num_beams")


def _key(values: dict, key: str, kind: type, source: str | Path) -> Any:
    if key not in values:
        raise ContractError(f"{source}: key {key!r} is missing")
    value = values[key]
    accepted = (int, float) if kind is float else (kind,)
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accepted):
        raise ContractError(f"{source}: key {key!r} must be {kind.__name__}, got {value!r}")
    return float(value) if kind is float else value


def _read_json(path: Path, what: str, hint: str) -> dict:
    if not path.is_file():
        raise ContractError(f"{what} not found: {path} ({hint})")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ContractError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(values, dict):
        raise ContractError(f"{path}: expected a JSON object, got {type(values).__name__}")
    return values


def write_model_settings(folder: str | Path, settings: ModelSettings) -> Path:
    """Writes `folder/llm_config.json` atomically."""
    return atomic_write_text(Path(folder) / LLM_CONFIG, json.dumps(settings.to_dict(), indent=2) + "\n")


def load_model_settings(folder: str | Path) -> ModelSettings:
    """Reads and checks a model folder's `llm_config.json`.

    Raises:
        ContractError: The file is missing or broken, or a key is missing or of the wrong type.
    """
    path = Path(folder) / LLM_CONFIG
    values = _read_json(path, "Model settings", "the folder is not a finished desclm model; train one with notebook 03")
    spec = InputSpec.from_dict(values, path)
    required = {key: _key(values, key, int, path) for key in _REQUIRED_INTS}
    for key in ("max_new_tokens", "num_beams"):
        if required[key] < 1:
            raise ContractError(f"{path}: key {key!r} must be >= 1, got {required[key]}")
    validation = values.get("validation") or {}
    return ModelSettings(
        spec,
        base_model=str(values.get("base_model", "unknown")),
        model_type=str(values.get("model_type", "t5")),
        data_fingerprint=values.get("data_fingerprint"),
        parameters=values.get("parameters"),
        global_step=values.get("global_step"),
        validation=validation if isinstance(validation, dict) else {},
        **required,
    )


def write_pairs_settings(folder: str | Path, spec: InputSpec, extra: dict) -> Path:
    """Writes 02's `pairs_config.json`: the input spec plus 02's own settings and fingerprint."""
    return atomic_write_text(Path(folder) / PAIRS_CONFIG, json.dumps({**extra, **spec.to_dict()}, indent=2) + "\n")


def load_pairs_settings(folder: str | Path) -> tuple[InputSpec, dict]:
    """02's input spec and its other settings (fingerprint, seed, ...) from `folder/pairs_config.json`.

    Raises:
        ContractError: The file is missing or broken, or a spec key is missing or mistyped.
    """
    path = Path(folder) / PAIRS_CONFIG
    values = _read_json(path, "Pairs settings", "run notebook 02 first")
    return InputSpec.from_dict(values, path), values


def pairs_cv_outputs(folder: str | Path) -> str | None:
    """The CV outputs file 02 made the pairs in `folder` from (its `pairs_config.json`), or None
    when that is not recorded; for reports, so a missing or broken file is no error here."""
    path = Path(folder) / PAIRS_CONFIG
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("cv_outputs")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None

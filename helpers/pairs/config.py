"""The pairs stage's settings (notebook 02, `desclm pairs`) and the grammar command's (`desclm synth`).

Light to import: `--help` loads no text or model library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.core.contract import HOUSE_PREFIX, INPUT_FORMATS, InputSpec, Policy, Style, parse_styles
from helpers.core.device import worker_processes
from helpers.core.settings import setting


@dataclass
class SynthConfig:
    """Parameters of the pairs stage (notebook 02's parameters, validated)."""

    cv_outputs: str = field(default="data/cv_outputs.jsonl", metadata={"help": "01's CV outputs (JSONL)"})
    output_dir: str = field(default="data/pairs", metadata={"help": "folder for train/val/test.jsonl"})
    seed: int = field(default=0, metadata={"help": "seed of every random choice"})
    variations_per_image: int = field(
        default=3, metadata={"help": "descriptions per image, each another variant (distinct ones when variants is 0)"}
    )
    # The input spec (helpers.core.contract): recorded with the pairs, then with the trained model.
    min_confidence: float = field(
        default=Policy.min_confidence, metadata={"help": "detections below are not described"}
    )
    scene_min_confidence: float = field(
        default=Policy.scene_min_confidence, metadata={"help": "scene mentioned only at or above"}
    )
    spatial: bool = field(
        default=Policy.spatial, metadata={"help": "also say where each category is, from its boxes (experimental)"}
    )
    input_format: str = field(
        default=INPUT_FORMATS[0], metadata={"help": f"model input format: {', '.join(INPUT_FORMATS)}"}
    )
    styles: str = field(
        default=Style().tag,
        metadata={"help": "styles the model learns, comma-separated ('plain words, varied digits'); first: default"},
    )
    variants: int = field(
        default=InputSpec.variants,
        metadata={"help": "wordings learned per record, chosen by a variant input (0: none; helpers.text.variants)"},
    )
    synthetic_records: int = field(default=2000, metadata={"help": "random CV outputs added to train (0: none)"})
    validation_hard_records: int = field(
        default=120,
        metadata={"help": "hard generated records (long lists, variants, noise, new names, weak scenes) added to val"},
    )
    house_styles: str = field(
        default="",
        metadata={"help": "house styles to learn from examples, comma-separated names: <examples_dir>/<name>.jsonl"},
    )
    examples_dir: str = field(
        default="data/examples", metadata={"help": "folder of house style examples ({record, sentence} per line)"}
    )
    house_weight: int = field(default=4, metadata={"help": "times each house style example is repeated in train"})
    extra_pairs: str = field(default="", metadata={"help": "JSONL of human-written {cv, output} pairs for train"})
    extra_pairs_must_be_faithful: bool = field(
        default=True, metadata={"help": "reject extra pairs the extractor finds unfaithful"}
    )

    def __post_init__(self) -> None:
        if any(style.is_house for style in parse_styles(self.styles)):
            raise ValueError("styles are the grammar's (plain, varied); name house styles in house_styles")
        self.spec = InputSpec(
            self.input_format,
            Policy(self.min_confidence, self.scene_min_confidence, self.spatial),
            parse_styles(self.styles),
            self.variants,
        )
        self.policy = self.spec.policy
        if self.variations_per_image < 1:
            raise ValueError(f"variations_per_image must be >= 1, got {self.variations_per_image}")
        if self.synthetic_records < 0 or self.validation_hard_records < 0:
            raise ValueError("synthetic_records and validation_hard_records must be >= 0")
        if self.house_weight < 1:
            raise ValueError(f"house_weight must be >= 1, got {self.house_weight}")
        self.houses = tuple(
            Style(f"{HOUSE_PREFIX}{name.strip()}") for name in self.house_styles.split(",") if name.strip()
        )


@dataclass
class SynthOptions:
    """The synth command's settings: the grammar's description of each input line."""

    input: str = setting(help="JSONL of CV output records (- : standard input; a pipe works too)")
    output: str = setting(help='JSONL to write: one {"id", "description"} or {"id", "error"} per input line')
    seed: int = setting(0, "seed of the grammar's choices")
    min_confidence: float = setting(Policy.min_confidence, "detections below are not described")
    scene_min_confidence: float = setting(Policy.scene_min_confidence, "the scene is mentioned only at or above")
    style: str = setting(Style().tag, "wording: plain or varied, then words or digits")
    spatial: bool = setting(Policy.spatial, "also say where each category is, from its boxes")
    num_captions: int = setting(
        1,
        "sentences per record: above 1, each row also holds `captions`, the description first, then other distinct "
        "grammar sentences of it (fewer where the grammar has fewer wordings), as describe --num_captions writes them",
    )
    workers: str = setting(
        "auto",
        "processes writing the sentences while this one reads and writes the lines (0: none, all in this process; "
        "auto: one per core, none on one core)",
    )

    def __post_init__(self) -> None:
        if self.num_captions < 1:
            raise ValueError(f"num_captions must be a whole number >= 1, got {self.num_captions!r}")
        self.policy = Policy(self.min_confidence, self.scene_min_confidence, self.spatial)
        self.wording = Style.parse(self.style)
        self.worker_count = worker_processes(self.workers)

"""Stage 04: the guarded describer (HF or CTranslate2), its CLI, the CTranslate2 export, the
evaluation, its report and benchmark.

Public API for other stages: `Describer`, `Description` (and `DescribeError`, `describe_all`'s
stand-in for a record it could not describe), the truth measures (`truth_record`,
`truth_rows`, `summarise_truth`), the roll-up (`summarize`), the check of any caption against
its detections (`check_caption`, the guard's reader: `helpers.text.check`) and the descriptions as a Hugging
Face dataset's columns (`with_descriptions`, `DescribeColumns`: `Dataset.map`; `save_records` writes them as
desclm's files).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpers.describer.describe import DescribeError, Describer, Description

__all__ = [
    "DescribeColumns",
    "DescribeError",
    "Describer",
    "Description",
    "check_caption",
    "summarise_truth",
    "summarize",
    "truth_record",
    "save_records",
    "truth_rows",
    "with_descriptions",
]


def __getattr__(name: str):
    # Lazy: importing a light submodule (the report, say) must not load transformers.
    if name in ("Describer", "Description", "DescribeError"):
        from helpers.describer import describe

        return getattr(describe, name)
    if name == "check_caption":
        from helpers.text.check import check_caption

        return check_caption
    if name in ("DescribeColumns", "with_descriptions", "save_records"):
        from helpers.describer import dataset_map

        return getattr(dataset_map, name)
    if name == "summarize":
        from helpers.describer.rollup import summarize

        return summarize
    if name in __all__:
        from helpers.describer import truth

        return getattr(truth, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

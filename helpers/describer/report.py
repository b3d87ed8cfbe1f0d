"""Tables and figures for notebook 04 (the evaluation report)."""

from __future__ import annotations

import random
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers.core.io import iter_jsonl
from helpers.describer.evaluate import WRITERS, WRITING_CHECKS, worst_failures
from helpers.text.facts import SLOT_ERRORS
from helpers.text.linearize import linearize


def faithfulness_table(result: dict) -> pd.DataFrame:
    """Faithful share (%) per group for the raw model, the guarded describer and the grammar, plus guard paths."""
    rows = []
    for group, summary in result["groups"].items():
        row = {"group": group, "records": summary["records"]}
        row.update({f"{writer} %": 100 * summary[writer]["faithful"] for writer in WRITERS})
        row.update({f"guard: {path}": count for path, count in summary["guard_paths"].items()})
        row["fallback %"] = 100 * summary["fallback_rate"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("group").round(1)


def slot_error_table(result: dict) -> pd.DataFrame:
    """Slot errors per group and kind, as "raw model / guarded" counts (one narrow table)."""
    kinds = (*SLOT_ERRORS, *WRITING_CHECKS)  # writing: "six metal object", "broken glass" in plain, "2 and three"
    rows = [
        {"group": group, **{kind: f"{summary['raw_model'][kind]} / {summary['guarded'][kind]}" for kind in kinds}}
        for group, summary in result["groups"].items()
    ]
    return pd.DataFrame(rows).set_index("group")


def text_quality_table(result: dict) -> pd.DataFrame:
    return pd.DataFrame(result["text_quality"]).T.round(3)


def plot_faithfulness(result: dict, path: Path) -> Path:
    """Grouped bars: faithful % per group and writer; stacked guard paths beside."""
    table = faithfulness_table(result)
    fig, (faith_ax, path_ax) = plt.subplots(1, 2, figsize=(13, 4.6))
    table[[f"{w} %" for w in WRITERS]].plot.bar(ax=faith_ax, rot=30, color=["tab:orange", "tab:green", "tab:gray"])
    faith_ax.set(title="Faithful descriptions (%)", ylim=(0, 105), xlabel="")
    faith_ax.legend(
        ["raw model", "guarded describer", "grammar"], loc="upper center", bbox_to_anchor=(0.5, -0.42), ncol=3
    )
    paths = table[["guard: model", "guard: rerank", "guard: grammar"]]
    (paths.div(paths.sum(axis=1), axis=0) * 100).plot.bar(
        ax=path_ax, stacked=True, rot=30, color=["tab:green", "tab:blue", "tab:red"]
    )
    path_ax.legend(["model", "rerank", "grammar"], loc="upper center", bbox_to_anchor=(0.5, -0.42), ncol=3)
    path_ax.set(title="Guard path (% of records)", ylim=(0, 100), xlabel="")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_speed(rows: list[dict], path: Path) -> Path:
    """Records/s per backend, for each batch size and beam setting."""
    table = pd.DataFrame(rows)
    table["setting"] = "batch " + table["batch_size"].astype(str) + ", beams " + table["num_beams"].astype(str)
    pivot = table.pivot(index="setting", columns="backend", values="records_per_second")
    ax = pivot.plot.bar(rot=0, figsize=(9, 3.5), logy=True)
    ax.set(title="Describer throughput (records/s, guard on, log scale)", xlabel="")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)
    return path


def failure_gallery(result: dict, count: int, input_format: str, policy) -> pd.DataFrame:
    """The raw model's worst outputs with their inputs, what went wrong, and what the guard returned."""
    rows = []
    for failure in worst_failures(result["rows"], count):
        row = failure["row"]
        wrong = ", ".join(f"{k} {v}" for k, v in row["raw_model"]["errors"].items() if v)
        rows.append(
            {
                "group": failure["group"],
                # slots filled: a reader wants the names, not slotA (the model saw the slotted form)
                "input (names shown)": linearize(
                    row["record"], "linked_end" if input_format == "linked_slots" else input_format, policy
                ),
                "raw model": row["raw_model"]["text"],
                "errors": wrong,
                "guarded": row["guarded"]["text"],
                "path": row["source"],
            }
        )
    return pd.DataFrame(rows)


def plot_rollup(summaries: list[dict], path: Path, max_groups: int = 12) -> Path:
    """One small bar chart per group (`helpers.describer.rollup.summarize`): items per category,
    titled with the group's photos and photos with litter."""
    shown = summaries[:max_groups]
    columns = min(4, max(1, len(shown)))
    rows = -(-len(shown) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.8 * rows), squeeze=False)
    for ax, summary in zip(axes.flat, shown):
        counts = summary["items_per_category"]
        ax.bar(list(counts), list(counts.values()), color="tab:green")
        ax.set_title(
            f"{summary['group']}\n{summary['photos']} photos, {summary['photos_with_litter']} with litter", fontsize=9
        )
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.set_ylabel("items")
        if not counts:
            ax.text(0.5, 0.5, "no litter", ha="center", va="center", transform=ax.transAxes)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sample_generations(model_dir: Path, pairs_file: Path, count: int, seed: int) -> pd.DataFrame:
    """Generated descriptions for a seeded sample of test images, beside the references (notebook 03)."""
    from helpers.describer.describe import Describer

    pairs = [line.record for line in iter_jsonl(pairs_file) if line.record]
    by_image: dict[str, list[dict]] = {}
    for pair in pairs:
        by_image.setdefault(pair["image"], []).append(pair)
    images = random.Random(seed).sample(sorted(by_image), min(count, len(by_image)))
    if not images:
        return pd.DataFrame(columns=["input", "generated", "reference", "faithful"])
    records = [by_image[image][0]["cv"] for image in images]
    results = Describer.load(model_dir, guard=False).describe_detailed(records)  # the raw model, as trained
    return pd.DataFrame(
        {
            "input": [by_image[image][0]["input"] for image in images],
            "generated": [result.text for result in results],
            "reference": [by_image[image][0]["output"] for image in images],
            "faithful": [result.faithful for result in results],
        }
    )

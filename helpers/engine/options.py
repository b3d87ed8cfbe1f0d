"""Where a command's work runs: its engine settings (light to import: `--help` loads neither Ray nor a model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from helpers.core.settings import setting

ENGINES = ("local", "ray")
OUTPUT_FORMATS = ("jsonl", "parquet")
AUTO_GPUS = -1.0  # num_gpus: one GPU per model actor when the cluster has GPUs, else none


@dataclass
class EngineOptions:
    """The engine settings `extract`, `describe` and `annotate` share."""

    engine: Literal["local", "ray"] = setting(
        "local", "local: this process; ray: Ray Data actor pools on a Ray cluster (which one: --address)"
    )
    address: str = setting(
        "",
        'ray: the cluster to join (HOST:PORT, ray://..., auto); "": Ray\'s default: RAY_ADDRESS, else the cluster '
        "`ray start` made on this machine, else a new one for this run",
    )
    concurrency: int = setting(1, "ray: model actors in each pool (one per GPU to keep busy)")
    num_gpus: float = setting(
        AUTO_GPUS, "ray: GPUs per model actor (-1: 1 when the cluster has GPUs, else 0; 0.5: two share one)"
    )
    num_cpus: float = setting(1.0, "ray: CPUs per model actor (decoding tasks take 1 each)")
    tries: int = setting(
        3,
        "ray: tries of a batch whose worker process dies (a crash in native code, a kill for memory, a lost node); "
        "then its photos (describe: lines) are tried alone, and one that still fails is an error line",
    )
    format: Literal["jsonl", "parquet"] = setting(
        "jsonl", "jsonl; parquet: also <stem>.parquet beside each JSONL output once it is complete"
    )

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {self.engine!r}")
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(f"format must be one of {list(OUTPUT_FORMATS)}, got {self.format!r}")
        if self.concurrency < 1 or self.tries < 1:
            raise ValueError(f"concurrency and tries must be >= 1, got {self.concurrency}, {self.tries}")
        if self.num_cpus <= 0 or (self.num_gpus < 0 and self.num_gpus != AUTO_GPUS):
            raise ValueError(f"num_cpus must be > 0 and num_gpus >= 0 or -1, got {self.num_cpus}, {self.num_gpus}")
        if self.engine == "local" and self.address:
            raise ValueError("--address joins a Ray cluster: it needs --engine ray")

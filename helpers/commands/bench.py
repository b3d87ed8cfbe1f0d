"""`desclm bench`: throughput benchmarks that print ratios measured side by side in one run.

desclm bench extract --images data.yaml --yolo_weights best.pt   # library vs tensor pipelines, models, ceiling
desclm bench null --count 24                                      # the pipeline's own ceiling, null models
desclm bench train --pairs_dir data/pairs [--compare_adapters]    # this setup vs the original's batching
desclm bench describe models/description_llm                      # HF vs CTranslate2
desclm bench engines --images data.yaml --yolo_weights best.pt    # the Ray engine vs the local engine
"""

from __future__ import annotations

from dataclasses import dataclass

from helpers.commands.parsing import SettingsParser, notebook_sections, subcommand
from helpers.core.settings import setting
from helpers.cv.config import ExtractConfig


@dataclass
class BenchExtractOptions:
    """Extraction benchmark settings (beside extraction's own)."""

    count: int = setting(96, "photos timed")
    repeats: int = setting(2, "timed runs of each way")
    save: str = setting("", "also write the result to this JSON file")


@dataclass
class BenchEnginesOptions:
    """Engine benchmark settings (beside extraction's and the Ray engine's own)."""

    count: int = setting(96, "photos timed")
    repeats: int = setting(2, "timed runs of each engine")
    results: str = setting("", "also write the result (JSON) to this file")


@dataclass
class BenchNullOptions:
    """The pipeline's ceiling: null detectors on generated 12 MP JPEGs."""

    count: int = setting(24, "photos timed")
    side: int = setting(640, "the null models' input side")
    repeats: int = setting(2, "timed runs of each way")


@dataclass
class BenchTrainOptions:
    """Training benchmark settings."""

    pairs_dir: str = setting("data/pairs", "02's output folder (train.jsonl is timed)")
    steps: int = setting(80, "timed steps per setup")
    batch_size: int = setting(8, "pairs per step")
    shape: str = setting("tiny", "scratch preset or published shape, e.g. flan-t5-small")
    compare_adapters: bool = setting(False, "full fine-tuning vs LoRA at --shape instead")
    device: str = setting("auto", "auto (CUDA when available), cpu or cuda")
    seed: int = setting(0, "seed of the model's initialisation and the batches")


@dataclass
class BenchDescribeOptions:
    """Describer benchmark settings."""

    model_dir: str = setting(help="trained describer folder", positional=True)
    records: int = setting(256, "inputs timed per setting")
    batch_size: int = setting(32, "records per generation batch")
    beams: int = setting(0, "beams (0: the model's setting)")
    shape: str = setting("", "time a random-init model of this shape (flan-t5-small, ...) instead of MODEL_DIR's")


BENCHES = {
    "extract": "extraction vs its models alone on the same photos",
    "null": "the extraction pipeline's own ceiling with null detectors on generated 12 MP JPEGs",
    "train": "training steps: this setup vs the original notebook's batching (or LoRA vs full)",
    "describe": "the describer: HF vs CTranslate2",
    "engines": "extraction on the Ray engine vs the local engine, same photos (--engine is ignored: both run)",
}


def main(argv: list[str], prog: str = "desclm bench") -> int:
    if subcommand(argv, prog, __doc__.split("\n\n")[0], BENCHES) is None:
        return 2
    name, argv, prog = argv[0], argv[1:], f"{prog} {argv[0]}"
    if name == "extract":
        parser = SettingsParser(
            [ExtractConfig, BenchExtractOptions],
            prog=prog,
            description=BENCHES[name],
            params_sections=notebook_sections("01"),
        )
        config, options, _ = parser.parse(argv)
        try:
            config.check_inputs()
        except (OSError, ValueError) as error:
            parser.error(str(error))
        from helpers.cv.bench import run_benchmark

        options.extract = config
        return run_benchmark(options)
    if name == "engines":
        from helpers.engine.options import EngineOptions

        parser = SettingsParser(
            [ExtractConfig, EngineOptions, BenchEnginesOptions],
            prog=prog,
            description=BENCHES[name],
            params_sections=notebook_sections("01"),
        )
        config, engine_options, options, _ = parser.parse(argv)
        try:
            config.check_inputs()
        except (OSError, ValueError) as error:
            parser.error(str(error))
        from helpers.engine.bench import run_benchmark as engines_benchmark

        return engines_benchmark(config, engine_options, options.count, options.repeats, options.results)
    if name == "null":
        options, _ = SettingsParser(BenchNullOptions, prog=prog, description=BENCHES[name]).parse(argv)
        from helpers.cv.pipeline_bench import null_benchmark, print_null_benchmark

        print_null_benchmark(null_benchmark(options.count, options.side, repeats=options.repeats))
        return 0
    if name == "train":
        options, _ = SettingsParser(BenchTrainOptions, prog=prog, description=BENCHES[name]).parse(argv)
        from helpers.training.bench import run_benchmark

        return run_benchmark(options)
    options, _ = SettingsParser(BenchDescribeOptions, prog=prog, description=BENCHES[name]).parse(argv)
    from helpers.describer.bench import run_benchmark
    from helpers.training import build_model

    return run_benchmark(options, build_model)

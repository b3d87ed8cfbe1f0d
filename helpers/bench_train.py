"""Entry point `python -m helpers.bench_train`: training-speed benchmark.

The code lives in `helpers.training.bench`.
"""

from helpers.training.bench import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

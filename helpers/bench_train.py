"""Entry point `python -m helpers.bench_train` (training-speed benchmark); the code lives in `helpers.training.bench`."""

from helpers.training.bench import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

"""Entry point `python -m helpers.train`: stage 03: training the describer.

The code lives in `helpers.training.train`.
"""

from helpers.training.train import TrainConfig, main, train  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

"""Entry point `python -m helpers.calibrate`: ensemble calibration on a labelled validation split.

The code lives in `helpers.cv.calibrate`.
"""

from helpers.cv.calibrate import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

"""Entry point `python -m helpers.extract`: stage 01: CV outputs from images.

The code lives in `helpers.cv.extract`.
"""

from helpers.cv.extract import ExtractConfig, main, run_extraction  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

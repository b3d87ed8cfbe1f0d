"""Entry point `python -m helpers.bench_extract`: extraction benchmark.

The code lives in `helpers.cv.bench`.
"""

from helpers.cv.bench import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

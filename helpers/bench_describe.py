"""Entry point `python -m helpers.bench_describe`: describer benchmark, HF vs CTranslate2.

The code lives in `helpers.describer.bench`.
"""

from helpers.describer.bench import main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

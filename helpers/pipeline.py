"""Entry point `python -m helpers.pipeline`: the papermill runner over notebooks 01-04.

The code lives in `helpers.core.pipeline`.
"""

from helpers.core.pipeline import main, run_pipeline  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

"""Entry point `python -m helpers.pipeline` (the papermill runner over notebooks 01-04); the code lives in `helpers.core.pipeline`."""

from helpers.core.pipeline import run_pipeline, main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

"""Entry point `python -m helpers.demo dataset|models` (see `helpers.demo.dataset`)."""

from helpers.demo.dataset import main

if __name__ == "__main__":
    raise SystemExit(main())

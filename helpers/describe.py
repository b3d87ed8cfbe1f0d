"""Entry point `python -m helpers.describe`: the describer CLI and API.

The code lives in `helpers.describer.describe`.
"""

from helpers.describer.describe import Describer, Description, describe_file, main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

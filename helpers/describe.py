"""Entry point `python -m helpers.describe`: the describer CLI and API.

The code lives in `helpers.describer.describe` (the API) and `helpers.describer.cli`.
"""

from helpers.describer.cli import DescribeOptions, describe_file, main  # noqa: F401
from helpers.describer.describe import Describer, Description  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

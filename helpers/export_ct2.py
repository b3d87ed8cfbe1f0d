"""Entry point `python -m helpers.export_ct2`: CTranslate2 export of a trained describer.

The code lives in `helpers.describer.export_ct2`.
"""

from helpers.describer.export_ct2 import export, main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

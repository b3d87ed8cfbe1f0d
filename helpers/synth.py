"""Entry point `python -m helpers.synth`: stage 02: training pairs, and the grammar's CLI.

The code lives in `helpers.pairs.synth`.
"""

from helpers.pairs.synth import SynthConfig, build_pairs, describe_file, main  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())

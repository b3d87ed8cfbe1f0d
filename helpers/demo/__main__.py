"""Entry point `python -m helpers.demo dataset|models|truth` (see `helpers.demo.dataset` and
`helpers.demo.truth_bench`)."""

import sys

from helpers.demo.dataset import main

if __name__ == "__main__":
    if sys.argv[1:2] == ["truth"]:
        from helpers.demo.truth_bench import main as truth_main

        raise SystemExit(truth_main(sys.argv[2:]))
    raise SystemExit(main())

"""`python -m helpers`: the same as the `desclm` command."""

from helpers.commands import main

if __name__ == "__main__":  # not when a worker process (the guard's pool) imports this module
    raise SystemExit(main())

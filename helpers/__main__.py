"""`python -m helpers`: the same as the `desclm` command."""

from helpers.commands import main

raise SystemExit(main())

"""desclm helpers: the importable code behind the notebooks.

Importing this package first sets the offline switches (see `helpers.core.offline`), which must
happen before Ultralytics or Hugging Face libraries are imported.
"""

from helpers.core import offline as _offline

_offline.configure()

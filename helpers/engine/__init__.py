"""Engines: where extraction and description run, beyond this process.

- `local` (the default): this process (`helpers.cv.extract.LocalEngine`,
  `helpers.describer.run.LocalDescribeEngine`).
- `ray`: Ray Data pipelines over actor pools on a Ray cluster (`helpers.engine.ray_data`; the
  `ray` extra: `pip install -e ".[ray]"`), the same records either way.

`helpers.engine.annotate` streams photos through both stages in one run (`desclm annotate`).
"""

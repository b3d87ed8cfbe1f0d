"""Engines: where extraction and description run, beyond this process.

- `local` (the default): this machine (`helpers.cv.extract.LocalEngine`, in this process;
  `helpers.describer.run.LocalDescribeEngine`, the model in this process and the rest of describing
  on its `guard_workers` processes).
- `ray`: Ray Data pipelines over actor pools on a Ray cluster (`helpers.engine.ray_data`; the
  `ray` extra: `pip install -e ".[ray]"`), the same records either way.

`helpers.engine.annotate` streams photos through both stages in one run (`desclm annotate`).
"""

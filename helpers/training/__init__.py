"""Stage 03: pairs -> a trained T5 describer folder. Scratch models, the trainer, the export, its
report and benchmark.
"""

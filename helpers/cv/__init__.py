"""Stage 01: images -> CV outputs. Image sources, detector backends, fusion, the resumable
extraction, detection metrics, its report and benchmark.
"""

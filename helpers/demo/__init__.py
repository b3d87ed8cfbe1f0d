"""The demo: a synthetic field-photo set in YOLO layout and small CV models trained on it.

python -m helpers.demo dataset|models
"""

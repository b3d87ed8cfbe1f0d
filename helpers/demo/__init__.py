"""The demo: a synthetic field-photo set in YOLO layout and small CV models trained on it.

desclm demo dataset|models
"""

"""Class names to labels: what a detector, a YOLO dataset or a COCO file calls a class, as the
records write it."""

from __future__ import annotations


def normalise_label(name: str, label_map: dict[str, str] | None = None) -> str:
    """A class name as the records write it: mapped by `label_map` (keys matched case-insensitively
    and without surrounding spaces), else as given, trimmed ("  PET bottle " -> "PET bottle").
    The same map applies to the detectors' names and to the ground truth's, so both speak one vocabulary."""
    key = str(name).strip()
    mapping = {str(k).strip().lower(): str(v).strip() for k, v in (label_map or {}).items()}
    return mapping.get(key.lower(), key)

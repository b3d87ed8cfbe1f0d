"""Figures more than one stage draws: where photos were taken (01's report, `desclm summarize`'s)."""

from __future__ import annotations

import io
import math
from collections import Counter

import numpy as np

MAP_POINTS = 20_000  # photos a map draws at most (a seeded sample of more: `helpers.core.sampling.Reservoir`)
# how a record's `taken` writes a place, whoever read it (EXIF, a video's location, a flight record)
COORDINATE_DECIMALS = 7  # about a centimetre
ALTITUDE_DECIMALS = 2


def is_number(value) -> bool:
    """Whether a record's value is a finite number (not a boolean, not NaN or infinite)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def position_of(taken) -> tuple[float, float] | None:
    """(longitude, latitude) of a record's `taken`, when it holds a place on Earth; else None."""
    if not isinstance(taken, dict):
        return None
    place = (taken.get("longitude"), taken.get("latitude"))
    if not all(is_number(value) for value in place):
        return None
    return place if abs(place[0]) <= 180 and abs(place[1]) <= 90 else None


def positions_map(points: np.ndarray, title: str, value: str):
    """A dot per photo at its longitude and latitude (`points`' first two columns), coloured by its third
    (`value` names it), on a local map's axes (a degree of longitude drawn shorter by the cosine of the
    latitude); no background map (no network). None when there are no points."""
    import matplotlib.pyplot as plt

    if not len(points):
        return None
    figure, axis = plt.subplots(figsize=(6.5, 5))
    size = float(np.clip(4000 / len(points), 4, 40))  # a few photos: large dots; thousands: small ones
    shown = axis.scatter(points[:, 0], points[:, 1], c=points[:, 2], cmap="viridis", s=size, edgecolors="none")
    figure.colorbar(shown, ax=axis, label=value)
    axis.set_aspect(1 / max(np.cos(np.radians(np.mean(points[:, 1]))), 0.01))
    axis.set(title=title, xlabel="longitude", ylabel="latitude")
    axis.ticklabel_format(useOffset=False)
    figure.tight_layout()
    return figure


LABELS_DRAWN = 9  # labels a map of items tells apart by colour (the rest drawn as "other")


def labelled_map(points: list[tuple[float, float, str]], title: str):
    """A dot per item at its longitude and latitude, a colour per label (the `LABELS_DRAWN` most common; the
    rest grey, "other"), on a local map's axes as `positions_map`'s; None when there are no points."""
    import matplotlib.pyplot as plt

    if not points:
        return None
    common = [label for label, _ in Counter(label for *_, label in points).most_common(LABELS_DRAWN)]
    figure, axis = plt.subplots(figsize=(6.5, 5))
    size = float(np.clip(4000 / len(points), 3, 30))
    groups = [(label, [p for p in points if p[2] == label]) for label in common]
    groups.append(("other", [p for p in points if p[2] not in common]))
    for index, (label, members) in enumerate(groups):
        if members:
            colour = "0.6" if label == "other" else plt.get_cmap("tab10")(index)
            xy = np.array([p[:2] for p in members], dtype=float)
            axis.scatter(xy[:, 0], xy[:, 1], s=size, color=colour, label=f"{label} ({len(members)})", edgecolors="none")
    latitudes = np.array([p[1] for p in points], dtype=float)
    axis.set_aspect(1 / max(np.cos(np.radians(np.mean(latitudes))), 0.01))
    axis.set(title=title, xlabel="longitude", ylabel="latitude")
    axis.ticklabel_format(useOffset=False)
    axis.locator_params(axis="x", nbins=5)  # a field's longitudes are long numbers: fewer, apart
    axis.legend(fontsize="small", markerscale=max(1.0, 30 / size) ** 0.5)
    figure.tight_layout()
    return figure


def png_bytes(figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (to write atomically); the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()

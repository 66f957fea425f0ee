"""Scalars of a finished run, read back from its TensorBoard event files: the model card quotes
what the run logged, and the benchmark reports build on it rather than re-deriving it."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from checks import MissingInput


class Point(NamedTuple):
    step: int
    value: float
    wall_time: float


def read_scalars(folder: Path) -> dict[str, list[Point]]:
    """Every scalar tag of the event files in ``folder``, each as its points in logged order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not folder.is_dir():  # TensorBoard's own error is a traceback about a deleted directory
        raise MissingInput(f"no run folder at {folder}")

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {
        tag: [Point(e.step, e.value, e.wall_time) for e in events.Scalars(tag)]
        for tag in events.Tags()["scalars"]
    }

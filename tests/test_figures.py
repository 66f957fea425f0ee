"""scripts/figures.py draws from the results files, and its committed figures stay small."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.figures import FIGURES, FIGURES_BY_NAME, RESULTS, markdown_table

MAX_BYTES = 100_000  # a figure is committed; keep the repository light


def test_tables_are_read_from_the_results() -> None:
    rows = markdown_table(RESULTS / "sandbox_throughput.md", "method")
    rates = {row["method"]: float(row["programs/s (median of rounds)"]) for row in rows}
    assert {"htl", "tora", "sandbox"} <= set(rates) and all(rate > 0 for rate in rates.values())
    with pytest.raises(ValueError, match="no table with a 'nothing' column"):
        markdown_table(RESULTS / "sandbox_throughput.md", "nothing")


def test_every_figure_is_committed_and_small() -> None:
    for name in FIGURES_BY_NAME:
        path = FIGURES / name
        assert path.is_file(), f"{path}: run python scripts/figures.py"
        assert path.stat().st_size < MAX_BYTES


def test_the_figures_render(tmp_path: Path) -> None:
    from scripts.figures import render  # needs the docs extra (matplotlib): CI installs it

    for name, (draw, _) in FIGURES_BY_NAME.items():
        assert render(name, draw, tmp_path).read_bytes().startswith(b"\x89PNG")

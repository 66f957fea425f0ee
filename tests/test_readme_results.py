"""The README's real-model table says what the record says: every cell is read back against
``benchmarks/results/real_model.json`` (regenerate the table when the record changes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.reports.real_model_report import SETS
from scripts.figures import REAL_MODEL_CONDITIONS

ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = {label: key for key, label in REAL_MODEL_CONDITIONS.items()}  # the figure's labels


def readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in CONDITIONS:
            rows[CONDITIONS[cells[0]]] = cells[1:]
    return rows


def test_the_readme_table_matches_the_record() -> None:
    record = json.loads((ROOT / "benchmarks" / "results" / "real_model.json").read_text())
    rows = readme_rows()
    assert set(rows) == set(record["ci95"]), "a condition is missing from one of the two"
    for condition, cells in rows.items():
        expected = [f"{100 * record['sets'][name][condition]:.1f}" for name in SETS]
        low, high = record["ci95"][condition]["all"]
        mean = record["details"][condition]["all"]["exec_acc"]
        expected.append(f"{100 * mean:.1f} ({100 * low:.1f}-{100 * high:.1f})")
        assert cells == expected, condition
    assert all(re.fullmatch(r"[\d.]+", cell) for cells in rows.values() for cell in cells[:-1])

"""Scripts that measure the project, run as modules from the repository root
(``python -m benchmarks.<kind>.<name> --help``), grouped by what they measure: ``speed``,
``fidelity``, ``experiments`` and ``reports``. Their results go to ``RESULTS_DIR``, the
project's record, which the docs cite by path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"


def parser(doc: str, results: Path) -> argparse.ArgumentParser:
    """A script's command line: its docstring's first line and where its results go, so that
    ``--help`` says both and runs nothing."""
    where = f"Results go to {results.relative_to(ROOT)}."
    return argparse.ArgumentParser(description=doc.split("\n")[0], epilog=where)


def record_part(path: Path, keys: tuple[str, ...], value: Any) -> None:
    """Writes ``value`` at ``keys`` of the JSON record at ``path``, keeping its other parts
    (several scripts share one results file, e.g. ``rl.json``)."""
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    part = recorded
    for key in keys[:-1]:
        part = part.setdefault(key, {})
    part[keys[-1]] = value
    path.write_text(json.dumps(recorded, indent=2) + "\n")

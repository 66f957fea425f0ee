"""Build the shared data folder (the benchmark sets the recipes and tests read) from the Hub.

    python scripts/fetch_data.py --out ../shared/data       # then the recipes' ../shared/data works
    THINKCODE_SHARED_DATA=/path/to/data python -m pytest    # or point the tests at an existing copy

Each set is downloaded with ``datasets`` from the hub copy ``datamodules.sources.benchmarks`` names
and written where the project reads it (``<out>/benchmarks/<set>/<file>``), rows as the hub gives
them (the set's adapter reads the hub's field names). Its row count and a checksum of its
question/answer pairs (as the adapter reads them) are then compared with the copy the project's
results were measured on (``scripts/data_manifest.json``): some public copies are not that file
(ASDiv, MAWPS, NumGLUE), and SimulEq and the MathCoder trajectories have no known hub copy.
``--record DIR`` rewrites the manifest from a local copy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.errors import run_entry_point
from datamodules.sources.benchmarks import (
    BENCHMARKS,
    Benchmark,
    HubSource,
    _hub_records,
    json_records,
)

MANIFEST = Path(__file__).with_name("data_manifest.json")
Record = dict[str, Any]
HubRows = Callable[[Benchmark], Iterable[Record]]
NO_HUB_COPY = {
    "benchmarks/simuleq/test.json": "copy it from HTL's repository (seamoke/Human-Think-Language)",
    "trajectories/mathcoder-cl-7b_svamp.jsonl": "MathCoder-CL-7B's outputs are not on the hub",
    "trajectories/mathcoder-cl-7b_simuleq.jsonl": "MathCoder-CL-7B's outputs are not on the hub",
}


@dataclass(frozen=True)
class DataFile:
    """One file of the layout and the set (with its hub copy) it holds."""

    path: str  # relative to the data folder
    spec: Benchmark


def data_files() -> list[DataFile]:
    """Every benchmark file the project reads: each set's test file, and GSM8K's training split
    (the real-model recipes train on it)."""
    files = [
        DataFile(f"benchmarks/{name}/{spec.filenames[0]}", spec)
        for name, spec in BENCHMARKS.items()
        if spec.hub is not None
    ]
    gsm8k = BENCHMARKS["gsm8k"]
    train = replace(gsm8k, hub=HubSource("openai/gsm8k", "train", ("main",)))
    return [DataFile("benchmarks/gsm8k/train.jsonl", train), *files]


def fingerprint(spec: Benchmark, records: Iterable[Record]) -> dict[str, Any]:
    """Row count and sha256 of the (question, answer) pairs the set's adapter reads: the same
    for the same problems, whatever the field names or key order of the copy."""
    digest, rows = hashlib.sha256(), 0
    for record in records:
        question, answer = spec.convert(record)
        digest.update(json.dumps([question, answer], ensure_ascii=False).encode() + b"\n")
        rows += 1
    return {"rows": rows, "sha256": digest.hexdigest()}


def write_records(path: Path, records: list[Record]) -> None:
    """A ``.json`` file as one JSON list, anything else as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    else:
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    path.write_text(text, encoding="utf-8")


def hub_rows(spec: Benchmark) -> Iterable[Record]:
    """The rows of the set's hub copy, through ``datasets``."""
    return (dict(row) for _, row in _hub_records(spec)[1])


def fetch(out: Path, load: HubRows = hub_rows) -> list[str]:
    """Writes every file that has a hub copy under ``out``; one report line per file."""
    expected = json.loads(MANIFEST.read_text())
    report = []
    for file in data_files():
        records = list(load(file.spec))
        write_records(out / file.path, records)
        got, want = fingerprint(file.spec, records), expected[file.path]
        if got == want:
            verdict = "the same problems as the project's copy"
        else:
            verdict = f"differs from the project's copy ({want['rows']} rows, other problems)"
        report.append(f"{file.path}: {got['rows']} rows from {file.spec.hub.path}, {verdict}")
    report += [f"{path}: not fetched, {why}" for path, why in NO_HUB_COPY.items()]
    return report


def record_manifest(data: Path) -> dict[str, dict[str, Any]]:
    """The fingerprints of a local copy's files, as the manifest stores them."""
    return {
        file.path: fingerprint(file.spec, (record for _, record in json_records(data / file.path)))
        for file in data_files()
    }


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="the data folder to build (e.g. ../shared/data)")
    parser.add_argument("--record", type=Path, help="rewrite the manifest from this local copy")
    args = parser.parse_args(argv)
    if args.record:
        MANIFEST.write_text(json.dumps(record_manifest(args.record), indent=2) + "\n")
        print(f"{MANIFEST}: {len(data_files())} files from {args.record}")
    elif args.out:
        print("\n".join(fetch(args.out)))
    else:
        parser.error("give --out DIR (or --record DIR)")


if __name__ == "__main__":
    sys.exit(run_entry_point(run))

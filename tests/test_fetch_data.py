"""scripts/fetch_data.py: hub rows become the files the project reads, checked against here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datamodules.sources.benchmarks import BENCHMARKS, Benchmark, load_benchmark
from scripts.fetch_data import MANIFEST, fetch, fingerprint, record_manifest
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
# One row per set, with the fields (and extra fields) of each hub copy the project names.
HUB_ROWS = {
    "gsm8k": {"question": "Tom has 3 cats and gets 2. How many?", "answer": "3+2=5\n#### 5"},
    "gsm-hard": {"input": "What is 1,000,001 * 2?", "code": "print(2000002)", "target": 2000002.0},
    "numglue": {"question": "What is 8 times 6?", "answer": 48, "type": "Type_1"},
    "math": {
        "problem": "Compute $\\frac{1}{2}+\\frac{1}{2}$.",
        "level": "Level 1",
        "type": "Algebra",
        "solution": "It is $\\boxed{1}$.",
    },
    "svamp": {
        "ID": "chal-1",
        "Body": "Jack had 8 pens.",
        "Question": "He gave away 3. How many are left?",
        "Equation": "( 8.0 - 3.0 )",
        "Answer": 5.0,
        "Type": "Subtraction",
    },
    "mawps": {
        "id": "mawps_1",
        "question": "Joan found 70 seashells and gave 43 away. How many are left?",
        "chain": "<gadget>70-43</gadget>",
        "result": "27",
        "result_float": 27.0,
    },
    "asdiv": {
        "body": "Seven red apples and two green apples are in the basket.",
        "question": "How many apples are in the basket?",
        "solution_type": "Addition",
        "answer": "9 (apples)",
        "formula": "7+2=9",
    },
}
EXPECTED = {  # (question, answer) as the project reads each written file back
    "gsm8k": ("Tom has 3 cats and gets 2. How many?", "5"),
    "gsm-hard": ("What is 1,000,001 * 2?", "2000002"),
    "numglue": ("What is 8 times 6?", "48"),
    "math": ("Compute $\\frac{1}{2}+\\frac{1}{2}$.", "1"),
    "svamp": ("Jack had 8 pens. He gave away 3. How many are left?", "5"),
    "mawps": ("Joan found 70 seashells and gave 43 away. How many are left?", "27"),
    "asdiv": (
        "Seven red apples and two green apples are in the basket. "
        "How many apples are in the basket?",
        "9",
    ),
}


def fake_hub(spec: Benchmark) -> list[dict]:
    return [dict(HUB_ROWS[spec.name])]


def test_hub_rows_become_files_the_benchmarks_read(tmp_path: Path) -> None:
    report = fetch(tmp_path, load=fake_hub)
    for name, (question, answer) in EXPECTED.items():
        [sample] = load_benchmark(name, tmp_path / "benchmarks")
        assert (sample.question, sample.answer) == (question, answer)
    assert json.loads((tmp_path / "benchmarks/numglue/test.json").read_text())[0]["answer"] == 48
    assert (tmp_path / "benchmarks/gsm8k/train.jsonl").is_file()
    # one row is not the project's copy: every fetched file says so, with the expected count
    assert (
        "benchmarks/gsm8k/test.jsonl: 1 rows from openai/gsm8k, differs from the project's "
        "copy (1319 rows, other problems)" in report
    )
    assert any(line.startswith("benchmarks/simuleq/test.json: not fetched") for line in report)
    assert len(report) == 8 + 3


def test_the_checksum_reads_problems_not_field_names() -> None:
    local = {"input": "What is 2 + 2?", "code": "print(4)", "target": 4.0, "idx": 0}
    hub = {"target": 4, "input": "What is 2 + 2?", "code": "x = 4\nprint(x)"}
    spec = BENCHMARKS["gsm-hard"]
    assert fingerprint(spec, [local]) == fingerprint(spec, [hub])
    assert fingerprint(spec, [local]) != fingerprint(spec, [{**hub, "target": 5}])
    assert fingerprint(spec, [local, local])["rows"] == 2


@pytest.mark.slow
def test_the_manifest_is_the_shared_data() -> None:
    assert record_manifest(SHARED_DATA) == json.loads(MANIFEST.read_text())


@pytest.mark.slow  # a wall-clock bound: the fast subset stays load-proof
def test_offline_it_fails_in_one_line(tmp_path: Path) -> None:
    unreachable = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    command = [sys.executable, "scripts/fetch_data.py", "--out", str(tmp_path / "data")]
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **unreachable},
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot reach the Hugging Face Hub for 'openai/gsm8k'")
    assert "HF_HUB_OFFLINE=1" in line

"""The eight evaluation-set adapters, on the real files in ../shared/data/benchmarks."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import datasets
import pytest

from checks import InputError, MissingInput
from datamodules.sample import Sample
from datamodules.sources.base import DataRecordError
from datamodules.sources.benchmarks import (
    BENCHMARKS,
    BenchmarkProblems,
    format_number,
    load_benchmark,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"
COUNTS = {
    "gsm8k": 1319,
    "gsm-hard": 1319,
    "numglue": 1042,
    "math": 5000,
    "simuleq": 514,
    "svamp": 1000,
    "mawps": 2065,
    "asdiv": 2215,
}


@cache
def real(name: str) -> list[Sample]:
    return load_benchmark(name, DATA)


def test_registry_holds_the_eight_htl_sets() -> None:
    assert set(BENCHMARKS) == set(COUNTS)


@pytest.mark.parametrize("name", COUNTS)
def test_every_real_file_loads_completely(name: str) -> None:
    samples = real(name)
    assert len(samples) == COUNTS[name]
    assert len({sample.id for sample in samples}) == len(samples)
    for sample in samples:
        assert sample.dataset == name
        assert sample.question.strip() and sample.answer.strip()
        assert sample.blocks == ()


@pytest.mark.parametrize(
    ("name", "index", "answer"),
    [
        ("gsm8k", 0, "18"),
        ("gsm8k", 146, "2125"),  # "#### 2,125": thousands separators dropped
        ("gsm-hard", 0, "-9867630"),
        ("gsm-hard", 7, "3244047.1"),  # float noise (3244047.0999999996) dropped
        ("gsm-hard", 29, "0.0016791648"),
        ("numglue", 0, "1536"),
        ("numglue", 2, "B"),
        ("math", 0, "2"),
        ("math", 2, "\\dfrac{9}{7}"),  # the last \boxed{} of the solution
        ("math", 6, "x \\in [-2,7]"),
        ("simuleq", 0, "15"),
        ("svamp", 0, "145"),
        ("mawps", 0, "43"),
        ("asdiv", 0, "9"),  # "9 (apples)"
        ("asdiv", 1007, "14"),  # "14  (seats)"
        ("asdiv", 29, "Mrs. Hilt"),
    ],
)
def test_gold_answers(name: str, index: int, answer: str) -> None:
    assert real(name)[index].answer == answer


def test_questions_join_the_split_fields() -> None:
    svamp = load_benchmark("svamp", DATA, limit=1)[0]
    assert svamp.question == (
        "There are 87 oranges and 290 bananas in Philip's collection. If the bananas are "
        "organized into 2 groups and oranges are organized into 93 groups How big is each group "
        "of bananas?"
    )
    asdiv = load_benchmark("asdiv", DATA, limit=1)[0]
    assert asdiv.question == (
        "Seven red apples and two green apples are in the basket. "
        "How many apples are in the basket?"
    )
    assert load_benchmark("gsm-hard", DATA, limit=1)[0].question.startswith("Janet’s ducks")


def test_any_local_path_and_name_spelling() -> None:
    by_root = load_benchmark("GSM_Hard", DATA, limit=3)
    by_folder = load_benchmark("gsm-hard", DATA / "gsm-hard", limit=3)
    by_file = load_benchmark("gsm-hard", str(DATA / "gsm-hard" / "test.jsonl"), limit=3)
    assert by_root == by_folder == by_file
    assert [sample.id for sample in by_root] == ["gsm-hard-0", "gsm-hard-1", "gsm-hard-2"]
    train = load_benchmark("gsm8k", DATA / "gsm8k" / "train.jsonl")
    assert len(train) == 7473


def test_limit_reads_only_the_first_records() -> None:
    assert [s.id for s in load_benchmark("simuleq", DATA, limit=2)] == ["simuleq-0", "simuleq-1"]
    assert load_benchmark("math", DATA, limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        load_benchmark("math", DATA, limit=-1)


def test_unknown_set_and_missing_path() -> None:
    with pytest.raises(InputError, match="unknown benchmark"):
        load_benchmark("aime", DATA)
    with pytest.raises(MissingInput, match="no svamp file"):
        load_benchmark("svamp", DATA / "no-such-folder")


def write_lines(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    return path


GOOD = {
    "gsm8k": {"question": "q?", "answer": "1 + 1 = 2\n#### 2"},
    "math": {"problem": "p", "solution": "\\boxed{2}"},
    "svamp": {"Body": "b.", "Question": "q?", "Answer": 2.0},
    "mawps": {"input": "q", "target": 2.0},
    "asdiv": {"body": "b.", "question": "q?", "answer": "2 (cats)"},
    "numglue": {"question": "q", "answer": 2},
}


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("gsm8k", {"question": "q?", "answer": "no final line"}, "####"),
        ("math", {"problem": "p", "solution": "unboxed 5"}, "boxed"),
        ("svamp", {"Body": "b", "Answer": 3.0}, "'Question'"),
        ("mawps", {"input": "q", "target": None}, "missing field"),
        ("asdiv", {"body": "", "question": "q", "answer": "1"}, "non-empty string"),
        ("numglue", {"question": "q", "answer": True}, "number or a string"),
        ("gsm8k", ["a", "list"], "JSON object"),
    ],
)
def test_a_malformed_record_names_its_file_and_line(
    tmp_path: Path, name: str, bad: object, message: str
) -> None:
    path = write_lines(tmp_path / "broken.jsonl", [GOOD[name], GOOD[name], bad])
    assert [sample.answer for sample in load_benchmark(name, path, limit=2)] == ["2", "2"]
    with pytest.raises(DataRecordError, match=message) as caught:
        load_benchmark(name, path)
    assert (caught.value.path, caught.value.line) == (path, 3)
    assert "broken.jsonl:3:" in str(caught.value)


def test_invalid_json_line_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mawps.jsonl"
    path.write_text('{"input": "q", "target": 1.0}\n\n{"input": \n')
    with pytest.raises(DataRecordError, match=r"mawps.jsonl:3: invalid JSON"):
        load_benchmark("mawps", path)


def test_json_list_records_report_the_line_they_start_on(tmp_path: Path) -> None:
    records = [{"question": "q1", "answer": "1"}, {"question": "q2", "answer": 2}, {"question": ""}]
    path = tmp_path / "simuleq.json"
    path.write_text(json.dumps(records, indent=2))
    with pytest.raises(DataRecordError) as caught:
        load_benchmark("simuleq", path)
    assert caught.value.line == 10
    assert [s.answer for s in load_benchmark("simuleq", path, limit=2)] == ["1", "2"]
    path.write_text('[{"question": "q", "answer": "1"}\n {"question": "q", "answer": "2"}]')
    with pytest.raises(DataRecordError, match=r"simuleq.json:2: expected ','"):
        load_benchmark("simuleq", path)


def test_format_number() -> None:
    assert format_number(18.0) == "18"
    assert format_number(-9867630.0) == "-9867630"
    assert format_number(14053029.666666666) == "14053029.6666667"
    assert format_number(1536) == "1536"
    assert format_number(" 4.17 ") == "4.17"
    assert format_number(1e20) == "1e+20"


class FakeHub:
    """Stands in for ``datasets.load_dataset``: records its calls and returns canned rows."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows, self.calls = rows, []

    def __call__(self, path: str, name: str | None = None, *, split: str) -> list[dict]:
        self.calls.append((path, name, split))
        return self.rows


def test_without_a_path_the_hub_copy_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub([{"question": "How many?", "answer": "2 + 2 = <<2+2=4>>4\n#### 4"}])
    monkeypatch.setattr(datasets, "load_dataset", hub)
    samples = load_benchmark("gsm8k")
    assert hub.calls == [("openai/gsm8k", "main", "test")]
    assert [(s.id, s.question, s.answer) for s in samples] == [("gsm8k-0", "How many?", "4")]


def test_hub_math_reads_every_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub([{"problem": "p", "solution": "so \\boxed{\\frac{1}{2}}", "level": "Level 1"}])
    monkeypatch.setattr(datasets, "load_dataset", hub)
    samples = load_benchmark("math", limit=3)
    assert [call[0] for call in hub.calls] == ["EleutherAI/hendrycks_math"] * 3
    assert [call[1] for call in hub.calls] == ["algebra", "counting_and_probability", "geometry"]
    assert {call[2] for call in hub.calls} == {"test"}
    assert [s.answer for s in samples] == ["\\frac{1}{2}"] * 3


@pytest.mark.parametrize(
    ("name", "row", "call", "answer"),
    [
        (
            "gsm-hard",
            {"input": "q", "target": 2.5},
            ("reasoning-machines/gsm-hard", None, "train"),
            "2.5",
        ),
        (
            "svamp",
            {"Body": "b.", "Question": "q?", "Answer": 3.0},
            ("ChilleD/SVAMP", None, "train+test"),
            "3",
        ),
        (
            "asdiv",
            {"body": "b.", "question": "q?", "answer": "7 (cats)"},
            ("EleutherAI/asdiv", None, "validation"),
            "7",
        ),
        ("mawps", {"question": "q", "result": "4"}, ("MU-NLPC/Calc-mawps", None, "test"), "4"),
        ("numglue", {"question": "q", "answer": "12"}, ("HHazard/numglue", None, "test"), "12"),
    ],
)
def test_hub_ids_and_field_names(
    monkeypatch: pytest.MonkeyPatch, name: str, row: dict, call: tuple, answer: str
) -> None:
    hub = FakeHub([row])
    monkeypatch.setattr(datasets, "load_dataset", hub)
    assert [s.answer for s in load_benchmark(name)] == [answer]
    assert hub.calls == [call]


def test_simuleq_has_no_hub_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = FakeHub([])
    monkeypatch.setattr(datasets, "load_dataset", hub)
    with pytest.raises(ValueError, match="pass path="):
        load_benchmark("simuleq")
    assert hub.calls == []


def test_benchmark_source_feeds_the_datamodule() -> None:
    source = BenchmarkProblems("svamp", str(DATA / "svamp"), limit=5)
    samples = list(source)
    assert len(samples) == 5 and all(sample.dataset == "svamp" for sample in samples)
    with pytest.raises(InputError, match="unknown benchmark"):
        BenchmarkProblems("nonesuch")

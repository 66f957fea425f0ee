"""The released-CoGEX-data adapter and CoTACS task files, on small hand-made files in their
schemas: what they read, and one line naming file, line and field for what they cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamodules.formats import CoGEXFormat
from datamodules.formats.cogex import Emulation, answer_text
from datamodules.sources.base import DataRecordError
from datamodules.sources.cogex import CoGEXRecords, read_task_examples

PROGRAM = (
    "def classify_review(review):\n"
    '    """Decide whether a review is positive or negative."""\n'
    "    # Step 1: find the words that carry the sentiment\n"
    "    cues = find_sentiment_words(review)\n"
    "    # Step 2: weigh them\n"
    "    label = weigh_sentiment(cues)\n"
    "    return {'cues': cues, 'answer': label}"
)
RELEASED = [  # the schema of mkhalifa/CoGEX: instruction, input, code_prompt, code_output
    {
        "instruction": "Classify the sentiment of the review.",
        "input": "The food was lovely.",
        "code_prompt": PROGRAM + "\n>>> classify_review('The food was lovely.')",
        "code_output": "{'cues': ['lovely'], 'answer': 'positive'}",
    },
    {  # no call line: built from the last def and the input
        "instruction": "Classify the sentiment of the review.",
        "input": "Cold soup.",
        "code_prompt": PROGRAM,
        "code output": "{'cues': ['cold'], 'answer': 'negative'}",
    },
    {  # no input, a function without parameters, the output as a JSON object
        "instruction": "Name three primary colors.",
        "input": "",
        "code_prompt": "def primary_colors():\n    return {'answer': list_primary_colors()}",
        "code_output": {"answer": ["red", "yellow", "blue"]},
    },
]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("layout", ["jsonl", "json"])
def test_released_records_become_cogex_samples(tmp_path: Path, layout: str) -> None:
    path = tmp_path / f"cogex.{layout}"
    if layout == "json":
        path.write_text(json.dumps(RELEASED, indent=1), encoding="utf-8")
    else:
        write_jsonl(path, RELEASED)
    samples = list(CoGEXRecords(path=str(path)))
    assert [s.answer for s in samples] == ["positive", "negative", "['red', 'yellow', 'blue']"]
    assert (
        samples[0].question == "Classify the sentiment of the review.\nInput: The food was lovely."
    )
    assert samples[2].question == "Name three primary colors."
    calls = [s.blocks[1].content for s in samples]
    assert calls == [
        "classify_review('The food was lovely.')",
        "classify_review('Cold soup.')",
        "primary_colors()",
    ]
    assert samples[0].blocks[0].content == PROGRAM
    fmt = CoGEXFormat()
    for sample in samples:
        (spans,) = fmt.render(sample)
        text = "".join(span.text for span in spans[1:])
        reading = fmt.read(text)
        assert isinstance(reading, Emulation) and answer_text(reading.answer) == sample.answer
    assert samples[2].blocks[2].content == "{'answer': ['red', 'yellow', 'blue']}"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"instruction": ""}, "field 'instruction' must be a non-empty string"),
        ({"code_prompt": None}, "missing field 'code_prompt'"),
        ({"code_output": "{'label': 1}"}, "field 'code_output': the output dict has no 'answer'"),
        ({"code_output": "not a dict ("}, "field 'code_output': not a Python literal"),
        ({"code_prompt": "x = 1"}, "field 'code_prompt' has no '>>> ' line and no function"),
        ({"code_prompt": "def f(a, b):\n    pass"}, "function f takes 2 arguments"),
        ({"code_prompt": PROGRAM + "\n>>> 1 + 1"}, "field 'code_prompt': not a call"),
        ({"input": 3}, "field 'input' must be a string"),
    ],
)
def test_a_malformed_record_names_file_line_and_field(
    tmp_path: Path, change: dict, reason: str
) -> None:
    broken = {**RELEASED[0], **change}
    path = write_jsonl(tmp_path / "cogex.jsonl", [RELEASED[0], broken, RELEASED[1]])
    with pytest.raises(DataRecordError) as error:
        list(CoGEXRecords(path=str(path)))
    assert str(error.value).startswith(f"{path}:2: ") and reason in str(error.value)
    source = CoGEXRecords(path=str(path), on_error="skip")
    assert len(list(source)) == 2 and source.skipped == 1


def test_records_need_one_origin_and_a_file_that_exists(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of `path` and `hub`"):
        CoGEXRecords()
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        list(CoGEXRecords(path=str(tmp_path / "missing.jsonl")))
    path = write_jsonl(tmp_path / "cogex.jsonl", RELEASED)
    assert len(list(CoGEXRecords(path=str(path), limit=2))) == 2


def test_task_files_group_examples_by_task(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "reviews.jsonl",
        [
            {"instruction": "Classify.", "input": "Lovely.", "answer": "positive"},
            {"instruction": "Count.", "input": "a b", "output": 2, "task": "count", "id": "c1"},
            {"instruction": "Classify.", "input": "Awful.", "answer": "negative"},
        ],
    )
    tasks = read_task_examples(path)
    assert list(tasks) == ["reviews", "count"]
    assert [e.answer for e in tasks["reviews"]] == ["positive", "negative"]
    assert tasks["count"][0].answer == "2" and tasks["count"][0].id == "c1"
    assert tasks["reviews"][1].id == "reviews-3"
    assert tasks["reviews"][0].call("classify") == "classify('Lovely.')"
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"instruction": "Classify.", "input": "x"}])
    with pytest.raises(DataRecordError, match=r"bad.jsonl:1: missing field 'answer' / 'output'"):
        read_task_examples(bad)

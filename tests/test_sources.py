"""Sources name the file and line of a bad record; skipping is explicit and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamodules.sources.base import DataRecordError, decode_utf8
from datamodules.sources.files import LCETrajectories, SampleFile


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps(
    {
        "id": "a",
        "question": "1+1?",
        "answer": "2",
        "blocks": [{"kind": "text", "content": "two"}, {"kind": "code", "content": "print(2)"}],
    }
)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.jsonl"):
        list(SampleFile(tmp_path / "nowhere.jsonl"))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("{not json", "Expecting property name"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "b", "answer": "1"}', "missing field 'question'"),
        ('{"question": "q", "blocks": [{"kind": "video", "content": "x"}]}', "block kind"),
    ],
)
def test_malformed_record_names_file_and_line(tmp_path: Path, bad: str, reason: str) -> None:
    path = write_lines(tmp_path / "samples.jsonl", [GOOD, "", bad, GOOD])
    with pytest.raises(DataRecordError, match=reason) as error:
        list(SampleFile(path))
    assert error.value.line == 3 and error.value.path == path
    assert str(error.value).startswith(f"{path}:3:")


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + GOOD.replace("two", "caf\xe9").encode("latin-1"))
    with pytest.raises(DataRecordError, match=r"not UTF-8 text \(byte 0xe9 at column \d+\)"):
        list(SampleFile(path))
    source = SampleFile(path, on_error="skip")
    assert len(list(source)) == 1 and source.skipped == 1
    with pytest.raises(DataRecordError) as error:
        decode_utf8(path, path.read_bytes())
    assert str(error.value).startswith(f"{path}:2: not UTF-8")


def test_skip_mode_counts_what_it_leaves_out(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "samples.jsonl", [GOOD, "{broken", GOOD, '{"x": 1}'])
    source = SampleFile(path, on_error="skip")
    samples = list(source)
    assert len(samples) == 2 and source.skipped == 2
    assert samples[0].blocks[1].content == "print(2)"


def test_lce_trajectory_row_becomes_blocks(tmp_path: Path) -> None:
    row = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "content": "sys"}]},
            {"role": "user", "content": [{"type": "text", "content": "What is 2+2?"}]},
        ],
        "ground_truth": {"solution": "", "answer": 4.0},
        "debug_result": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "text", "content": "Add."},
            {"role": "code", "content": "2+2"},
            {"role": "execution", "content": "4"},
        ],
    }
    path = write_lines(tmp_path / "traj.jsonl", [json.dumps(row), json.dumps({"messages": []})])
    with pytest.raises(DataRecordError, match=r"traj.jsonl:2: no user turn"):
        list(LCETrajectories(path))
    (sample,) = list(LCETrajectories(path, on_error="skip"))
    assert sample.question == "What is 2+2?" and sample.answer == "4.0"
    assert [block.kind for block in sample.blocks] == ["text", "code", "execution"]

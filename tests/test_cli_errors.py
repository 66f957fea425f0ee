"""A user's mistake prints one line on stderr and a non-zero status; --debug shows the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from main import summarize

ROOT = Path(__file__).resolve().parents[1]
BAD_RECORD = '{"question": "q", "blocks": [{"kind": "video", "content": "x"}], "answer": "1"}\n'
NESTED = """Parser key "data":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'datamodules.sft.SFTDataModule'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'datamodules.sft.SFTDataModule':
        Parser key "train":
          Does not validate against any of the Union subtypes
          Errors:
            - Problem with given class_path 'datamodules.sources.SyntheticProblems':
                Option 'path' is not accepted
            - Expected a <class 'NoneType'>
          Given value type: <class 'jsonargparse._util.NestedArg'>
    - Expected a <class 'NoneType'>"""


def test_a_nested_parse_error_becomes_place_and_reason() -> None:
    assert summarize(NESTED) == (
        "data.train (datamodules.sources.SyntheticProblems): Option 'path' is not accepted"
    )
    assert summarize("trainer.max_steps: Expected an int") == "trainer.max_steps: Expected an int"
    assert summarize("x" * 1000).endswith("x…") and len(summarize("x" * 1000)) == 241


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "main.py", "fit", "--config", "configs/quickstart.yaml", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.slow
def test_bad_data_and_bad_keys_print_one_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(BAD_RECORD, encoding="utf-8")
    source = ["--data.train", "datamodules.sources.SampleFile"]
    bad_data = run_cli(*source, "--data.train.init_args.path", str(data))
    assert bad_data.returncode == 1 and "Traceback" not in bad_data.stderr
    assert error_lines(bad_data.stderr) == [
        f"error: {data}:1: block kind must be one of ('text', 'code', 'execution'), got 'video' "
        "(--debug for details)"
    ]
    bad_key = run_cli("--data.train.init_args.path", str(data))  # the recipe's source has none
    assert bad_key.returncode == 2 and "usage:" not in bad_key.stderr
    [line] = error_lines(bad_key.stderr)
    assert "data.train" in line and "'path' is not accepted" in line

    debug = run_cli(*source, "--data.train.init_args.path", str(data), "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.slow
def test_a_recipe_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    recipe = tmp_path / "latin1.yaml"
    recipe.write_bytes("trainer:\n  max_steps: 3  # café\n".encode("latin-1"))
    result = run_cli("--config", str(recipe))
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"error: {recipe}:2: not UTF-8 text (byte 0xe9 at column 22) (--debug for details)"
    ]

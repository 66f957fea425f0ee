"""A user's mistake prints one line on stderr and a non-zero status; --debug shows the rest."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError
from lightning.fabric.utilities.exceptions import MisconfigurationException

from checks import InputError, MissingInput
from cli.errors import DEBUG_ENV, reading_input, run_entry_point, summarize
from cli.hub import hub_failure
from cli.suggest import did_you_mean
from main import SUBCOMMANDS, command_line
from tests.test_cli import tiny_run

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
            - Problem with given class_path 'datamodules.sources.synthetic.SyntheticProblems':
                Option 'path' is not accepted
            - Expected a <class 'NoneType'>
          Given value type: <class 'jsonargparse._util.NestedArg'>
    - Expected a <class 'NoneType'>"""


def test_a_nested_parse_error_becomes_place_and_reason() -> None:
    assert summarize(NESTED) == (
        "data.train (datamodules.sources.synthetic.SyntheticProblems): "
        "Option 'path' is not accepted"
    )
    assert summarize("trainer.max_steps: Expected an int") == "trainer.max_steps: Expected an int"
    assert summarize("x" * 1000).endswith("x…") and len(summarize("x" * 1000)) == 241


OPTIMIZER_KEY = """Parser key "model":
  Errors:
    - Problem with given class_path 'lightning_modules.sft.SFTModule':
        Parser key "optimization.optimizer":
          Type typing.Callable[[collections.abc.Iterable], torch.optim.optimizer.Optimizer] \
expects a function or a callable class: Option 'lrr' is not accepted. Got value: \
Namespace(class_path='torch.optim.AdamW', init_args=Namespace(lrr='1e-3'))
    - Expected a <class 'NoneType'>"""


def test_an_unknown_option_names_its_class_and_the_closest_option() -> None:
    assert summarize(OPTIMIZER_KEY) == (
        "model.optimization.optimizer (torch.optim.AdamW): Option 'lrr' is not accepted; "
        "did you mean 'lr'?"
    )
    assert summarize(NESTED.replace("'path'", "'cout'")).endswith("did you mean 'count'?")
    assert did_you_mean("zzz", ["lr", "betas"]) == ""


def hub_error(url: str) -> OSError:
    """What transformers raises for a model it can neither download nor find in the cache."""
    try:
        try:
            raise LocalEntryNotFoundError(f"cannot connect to {url}")
        except LocalEntryNotFoundError as error:
            raise OSError("We couldn't connect to 'https://huggingface.co'") from error
    except OSError as error:
        return error


def test_a_missing_hub_names_the_repository_and_the_offline_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    error = hub_error("https://huggingface.co/org/modle/resolve/main/config.json")
    line = hub_failure(error)
    assert line is not None and "'org/modle'" in line and "HF_HUB_OFFLINE=1" in line
    unreachable = ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (OfflineModeIsEnabled)")
    assert "'openai/gsm8k'" in (hub_failure(unreachable) or "")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "unset HF_HUB_OFFLINE" in (hub_failure(error) or "")
    assert hub_failure(ValueError("data.jsonl:2: bad")) is None


def test_help_says_what_each_subcommand_does() -> None:
    result = subprocess.run(
        [sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for name, sentence in SUBCOMMANDS.items():
        assert f"{name} {sentence}" in text
    assert "--model.help CLASS" in text


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "main.py", "fit", "--config", "configs/quickstart.yaml", *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment
    )


@pytest.mark.slow
def test_misspelt_keys_get_a_suggestion() -> None:
    optimizer = run_cli("--model.init_args.optimization.optimizer.init_args.lrr", "1e-3")
    [line] = error_lines(optimizer.stderr)
    assert "(torch.optim.AdamW): Option 'lrr' is not accepted; did you mean 'lr'?" in line
    trainer = run_cli("--trainer.max_stepz", "3")
    [line] = error_lines(trainer.stderr)
    assert "did you mean 'trainer.max_steps'?" in line


@pytest.mark.slow
def test_an_unreachable_hub_fails_in_seconds_with_the_hint(tmp_path: Path) -> None:
    """huggingface_hub retried each lookup five times (99 s offline) before this error."""
    model = "--model.init_args.network.pretrained"
    unreachable = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path)}
    started = time.monotonic()
    result = run_cli(model, "nobody/no-such-model", env=unreachable)
    assert time.monotonic() - started < 60
    assert result.returncode == 1 and "Retrying" not in result.stderr
    [line] = error_lines(result.stderr)
    assert "'nobody/no-such-model'" in line and "HF_HUB_OFFLINE=1" in line


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.slow
def test_bad_data_and_bad_keys_print_one_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(BAD_RECORD, encoding="utf-8")
    source = ["--data.train", "datamodules.sources.files.SampleFile"]
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


def raising(error: BaseException):
    """An entry point that fails with ``error`` once it runs."""

    def entry(args: list[str]) -> None:
        raise error

    return entry


def test_once_a_run_started_only_the_users_mistakes_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert run_entry_point(raising(InputError("data.jsonl:3: no answer")), []) == 1
    assert capsys.readouterr().err == "error: data.jsonl:3: no answer (--debug for details)\n"
    assert run_entry_point(raising(MissingInput("no run folder at runs/x")), []) == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: no run folder at runs/x (--debug for details)"
    ]
    misused = MisconfigurationException("ModelCheckpoint(monitor='val/acc') could not find it")
    assert run_entry_point(raising(misused), []) == 1  # Lightning's word for a recipe's mistake
    assert "monitor='val/acc'" in capsys.readouterr().err
    unreachable = hub_error("https://huggingface.co/org/model/resolve/main/config.json")
    assert run_entry_point(raising(unreachable), []) == 1
    assert "'org/model'" in capsys.readouterr().err
    for bug in (ValueError("a bug"), KeyError("a bug"), OSError("a bug")):
        with pytest.raises(type(bug), match="a bug"):
            run_entry_point(raising(bug), [])
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(InputError):
        run_entry_point(raising(InputError("data.jsonl:3: no answer")), [])


def test_any_error_of_bad_input_while_reading_it_is_the_users() -> None:
    with pytest.raises(InputError) as raised, reading_input():
        raise OSError("org/model does not appear to have a file named config.json")
    assert str(raised.value) == "org/model does not appear to have a file named config.json"
    assert isinstance(raised.value.__cause__, OSError)  # --debug shows where it came from
    own = MissingInput("no model at ./model")
    with pytest.raises(MissingInput) as raised, reading_input():
        raise own
    assert raised.value is own
    with pytest.raises(RuntimeError), reading_input():
        raise RuntimeError("a bug")


MAIN_BLOCK = 'if __name__ == "__main__":'


def test_every_command_reports_through_the_one_handler() -> None:
    """The top-level commands, scripts/ and every benchmark script: a user's mistake is one
    line and a bug a traceback in each, as in main.py."""
    paths = [*ROOT.glob("*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*/*.py")]
    commands = {
        str(path.relative_to(ROOT)): text
        for path in paths
        if MAIN_BLOCK in (text := path.read_text(encoding="utf-8"))
    }
    assert {"main.py", "export.py", "cotacs.py", "scripts/figures.py"} <= set(commands)
    assert [name for name, text in commands.items() if "run_entry_point(" not in text] == []


class FailsAtFirstBatch(L.Callback):
    """Raises as training starts: a ``ValueError`` of the code (``error="bug"``), or the
    ``InputError`` of a record found bad mid-run (``error="input"``)."""

    def __init__(self, error: str = "bug") -> None:
        self.error = error

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.error == "input":
            raise InputError("data.jsonl:7: a record found bad mid-run")
        raise ValueError("a bug in a training step")


def tiny_command_line(monkeypatch: pytest.MonkeyPatch, root: Path, *extra: str) -> int:
    """``main.py`` on a tiny fit of ``root``, in this process."""
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    monkeypatch.setattr(sys, "argv", ["main.py", *tiny_run(root, *extra)])
    return command_line()


@pytest.mark.slow
def test_a_bug_in_a_training_step_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = "--trainer.callbacks+=tests.test_cli_errors.FailsAtFirstBatch"
    with pytest.raises(ValueError, match="a bug in a training step") as raised:
        tiny_command_line(monkeypatch, tmp_path / "bug", failing)
    assert not isinstance(raised.value, InputError)  # raised as it was, not made one line
    assert error_lines(capsys.readouterr().err) == []

    input_error = tiny_command_line(
        monkeypatch, tmp_path / "input", failing, "--trainer.callbacks.error=input"
    )
    assert input_error == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: data.jsonl:7: a record found bad mid-run (--debug for details)"
    ]


@pytest.mark.slow
def test_errors_while_the_recipe_is_built_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lightning's own ValueError for a Trainer setting, and a --ckpt_path that is not there
    (Lightning would find out only once the run has started)."""
    assert tiny_command_line(monkeypatch, tmp_path, "--trainer.accelerator", "abacus") == 1
    [line] = error_lines(capsys.readouterr().err)
    assert "accelerator='abacus'" in line and "Traceback" not in line
    missing = tmp_path / "missing.ckpt"
    assert tiny_command_line(monkeypatch, tmp_path, "--ckpt_path", str(missing)) == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: ckpt_path: no checkpoint file or sharded checkpoint folder at {missing} "
        "(--debug for details)"
    ]

"""An exported folder carries its model card, and plain transformers reproduces the engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from cli.errors import DEBUG_ENV, run_entry_point
from datamodules.pipeline.encoding import encode_spans
from datamodules.sample import Sample
from export import export, rebuild
from export import run as export_command
from generation.engine import GenerationEngine, GenerationOptions
from main import main
from model_card import plain_prompt_ids, prompt_template
from sandbox import SandboxOptions, SandboxPool
from tests.test_cli import tiny_run

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ("Ann has 12 apples and buys 7 more. How many apples?", "What is 38 - 9?")
NEW_TOKENS = 24


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny run (validated twice, so it logged evaluation results) and its export."""
    root = tmp_path_factory.mktemp("run")
    cli = main(tiny_run(root))
    last = Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt"
    return last, export(last, root / "hf")


@pytest.mark.slow
def test_the_card_records_the_recipe_format_and_results(exported: tuple[Path, Path]) -> None:
    last, folder = exported
    card = (folder / "README.md").read_text(encoding="utf-8")
    recipe = yaml.safe_load((folder / "config.yaml").read_text())
    assert recipe == yaml.safe_load((last.parent.parent / "config.yaml").read_text())
    assert "trained from scratch" in card and '"hidden_size": 32' in card
    assert "`HTLFormat`: special tokens `<text>`, `<Code>`" in card
    module = rebuild(last)
    assert prompt_template(module.format) in card and "Question: {question}" in card
    assert "| `val/exec_acc` |" in card  # the run validated: its last value is recorded
    assert "AutoModelForCausalLM.from_pretrained" in card and "main.py test" in card
    assert "SyntheticProblems" in card  # the data section
    assert "tokenizing the joined text gives the same ids" in card


@pytest.mark.slow
def test_plain_transformers_generates_what_the_engine_generates(
    exported: tuple[Path, Path],
) -> None:
    last, folder = exported
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    module = rebuild(last)
    module.model.eval()
    engine = GenerationEngine(GenerationOptions(max_new_tokens=NEW_TOKENS))
    with SandboxPool(SandboxOptions(workers=1, wall_time_s=3.0)) as sandbox:
        for question in QUESTIONS:
            spans = module.format.prompt(Sample(id="q", dataset="q", question=question))
            ids = encode_spans(spans, module.tokenizer).input_ids
            assert plain_prompt_ids(tokenizer, module.format, question) == ids  # the card's way
            prompt = torch.tensor([ids])
            (rollout,) = engine.rollout(
                module.model,
                module.tokenizer,
                module.format,
                sandbox,
                prompt,
                torch.ones_like(prompt),
            )
            plain = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=NEW_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            generated = plain[0, len(ids) :].tolist()
            assert rollout.token_ids == generated[: len(rollout.token_ids)]
            assert len(rollout.token_ids) == NEW_TOKENS or generated[-1] == tokenizer.eos_token_id


def test_a_missing_checkpoint_is_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "export.py", str(tmp_path / "missing.ckpt"), str(tmp_path / "out")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: no checkpoint file or sharded checkpoint folder at {tmp_path / 'missing.ckpt'} "
        "(--debug for details)"
    ]


def test_a_bad_recipe_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's config.yaml is read like any recipe: a key it cannot have is one line."""
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    checkpoint.parent.mkdir()
    checkpoint.touch()
    (tmp_path / "config.yaml").write_text("trainer:\n  max_stepz: 3\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        run_entry_point(export_command, [str(checkpoint), str(tmp_path / "hf")])
    assert exit_info.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "max_stepz" in line and line.endswith("for details)")

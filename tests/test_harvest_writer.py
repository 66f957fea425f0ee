"""The harvest writer through the real CLI: a predict run that is interrupted (and whose journal
a kill tore mid-line) resumes without doing a problem twice or losing one; and the journal rules
on their own."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest

from callbacks.harvest_writer import HarvestWriter, cut_torn_tail, journal_lines
from datamodules.pipeline.encoding import encode_many
from generation.scripted import ScriptedLogits
from main import main

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = 7
BATCH = 2

TINY = {  # a 1-layer model; the scripted logits decide what it writes
    "--model.init_args.network.model_config.hidden_size": "32",
    "--model.init_args.network.model_config.intermediate_size": "64",
    "--model.init_args.network.model_config.num_hidden_layers": "1",
    "--model.init_args.evaluation.generation.max_new_tokens": "400",
    "--model.init_args.evaluation.generation.num_samples": "2",
    "--data.train.init_args.count": "200",
    "--data.vocab_size": "400",
    "--data.predict.init_args.count": str(PROBLEMS),
    "--data.eval_batch_size": str(BATCH),
}


class StopAfter(L.Callback):
    """Stands for an interruption: raises once ``batches`` predict batches are written."""

    def __init__(self, batches: int) -> None:
        self.batches = batches

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):  # type: ignore[no-untyped-def]
        if batch_idx + 1 == self.batches:
            raise RuntimeError("interrupted")


def predict(root: Path, *extra: str, stop_after: int | None = None) -> HarvestWriter:
    """Rejection sampling (configs/data/rejection_sampling.yaml) over the quickstart recipe, the
    model scripted to write each problem's own HTL solution (twice: greedy), except for the
    problems of odd index, whose program prints a wrong answer."""
    args = [  # without a subcommand: run=False builds the objects of `predict` without running it
        *("--config", str(ROOT / "configs/quickstart.yaml")),
        *("--config", str(ROOT / "configs/data/rejection_sampling.yaml")),
        *[item for pair in TINY.items() for item in pair],
        *("--trainer.default_root_dir", str(root)),
        *("--trainer.callbacks.init_args.path", str(root / "samples.jsonl")),
        *extra,
    ]
    cli = main(args, run=False)
    datamodule, module = cli.datamodule, cli.model
    datamodule.setup("predict")
    samples = [example.sample for example in datamodule.predict_examples]
    prompts = encode_many([datamodule.format.prompt(s) for s in samples], datamodule.tokenizer)
    scripts = {}
    for index, (sample, prompt) in enumerate(zip(samples, prompts)):
        reasoning, program = (block.content for block in sample.blocks)
        script = f"{reasoning}\n<Code>\n{'print(0.5)' if index % 2 else program}"
        scripts[tuple(prompt.input_ids)] = datamodule.tokenizer(script, add_special_tokens=False)[
            "input_ids"
        ]
    tokenizer = datamodule.tokenizer
    module.engine.logits_processors = [
        ScriptedLogits(scripts, tokenizer.pad_token_id, tokenizer.eos_token_id)
    ]
    if stop_after is not None:
        cli.trainer.callbacks.append(StopAfter(stop_after))
    cli.trainer.predict(module, datamodule=datamodule, return_predictions=False)
    return next(c for c in cli.trainer.callbacks if isinstance(c, HarvestWriter))


def test_an_interrupted_run_resumes_without_repeating_or_losing_problems(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="interrupted"):
        predict(tmp_path, stop_after=2)
    journal = tmp_path / "samples.problems.rank0.jsonl"
    done = [line["id"] for line in journal_lines(journal)]
    assert len(done) == 2 * BATCH  # two batches were written before the interruption
    assert not (tmp_path / "samples.jsonl").exists()  # the output appears only when complete
    with journal.open("a", encoding="utf-8") as out:
        out.write('{"id": "synthetic-2-99", "kept": [')  # what a kill mid-write leaves

    writer = predict(tmp_path)
    ids = [line["id"] for line in journal_lines(journal)]
    assert len(ids) == len(set(ids)) == PROBLEMS
    assert ids[: 2 * BATCH] == done  # the finished problems were not generated again
    report = json.loads(writer.report_path.read_text())
    right = (PROBLEMS + 1) // 2  # even indices: the right program, written twice
    assert report == {
        "problems": PROBLEMS,
        "generations": 2 * PROBLEMS,
        "kept": right,
        "keep_rate": right / (2 * PROBLEMS),
        "problems_with_a_kept_sample": right,
        "rejected": {"wrong_answer": 2 * (PROBLEMS - right), "near_duplicate": right},
    }
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [s["id"] for s in samples] == [f"{ids[i]}#0" for i in range(0, PROBLEMS, 2)]
    assert [block["kind"] for block in samples[0]["blocks"]] == ["text", "code"]

    again = predict(tmp_path)  # nothing left to do: the output is written again, unchanged
    assert json.loads(again.report_path.read_text()) == report


def test_resume_false_starts_over(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="interrupted"):
        predict(tmp_path, stop_after=1)
    writer = predict(tmp_path, "--trainer.callbacks.init_args.resume", "false")
    (journal,) = writer.journals()
    ids = [line["id"] for line in journal_lines(journal)]
    assert len(ids) == len(set(ids)) == PROBLEMS


def test_only_a_torn_last_line_is_forgiven(tmp_path: Path) -> None:
    journal = tmp_path / "j.problems.rank0.jsonl"
    journal.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "ke')
    assert [line["id"] for line in journal_lines(journal)] == ["a", "b"]
    cut_torn_tail(journal)
    assert journal.read_text() == '{"id": "a"}\n{"id": "b"}\n'
    journal.write_text('{"id": "a"}\n{"id": \n{"id": "c"}\n')
    with pytest.raises(ValueError, match=r"j\.problems\.rank0\.jsonl:2: not a journal line"):
        list(journal_lines(journal))

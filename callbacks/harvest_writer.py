"""Writes the samples a harvest keeps from a ``predict`` run; resumes an interrupted run.

Three files share the stem of ``path``:

- ``<stem>.problems.rank<R>.jsonl``, the journal: one line per finished problem (its id, the
  samples kept, one reason per generation), appended and flushed to disk as each batch ends.
  A kill can only tear the line being written; a resumed run drops that torn tail and
  leaves out of ``predict`` every problem the journal already holds, so no problem is done
  twice or lost.
- ``path``: every kept sample, in the layout ``datamodules.sources.files.SampleFile`` reads, written
  when the run ends, through a temporary file renamed into place (never half-written).
- ``<stem>.report.json``: how many problems and generations, how many kept, and the count of
  each rejection reason; written the same way.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

from checks import InputError
from datamodules.sample import Sample
from harvest.generations import KEPT, Candidate, Harvest


def sample_record(sample: Sample) -> dict[str, Any]:
    """A sample as the jsonl record ``SampleFile`` reads back."""
    return {
        "id": sample.id,
        "dataset": sample.dataset,
        "question": sample.question,
        "blocks": [{"kind": block.kind, "content": block.content} for block in sample.blocks],
        "answer": sample.answer,
    }


def journal_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The complete lines of a journal file. What follows the last newline is a line a kill
    cut short and is left out; a bad line before it raises, naming the file and line."""
    *complete, _torn = path.read_bytes().split(b"\n")
    for number, raw in enumerate(complete, start=1):
        if raw.strip():
            try:
                yield json.loads(raw)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{number}: not a journal line ({error.msg})") from error


def cut_torn_tail(path: Path) -> None:
    """Truncates a journal after its last complete line, so appends start on a fresh line."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as journal:
            journal.truncate(end)


def replace_atomically(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class HarvestWriter(BasePredictionWriter):
    """Turns each predict batch's graded generations into kept samples and reasons (see the
    module docstring), with Lightning's progress bar counting the batches.

    Args:
        path: the jsonl file of kept samples.
        harvest: which generations to keep (``harvest.generations.VerifiedSolutions`` or
            ``NewProblems``).
        resume: continue from the journal left by an earlier run of the same output; False
            deletes it and starts over.
    """

    def __init__(self, path: str, harvest: Harvest, resume: bool = True) -> None:
        super().__init__(write_interval="batch")
        self.path, self.harvest, self.resume = Path(path), harvest, resume
        self.stem = self.path.with_suffix("")
        self.problem_ids: set[str] = set()  # the predict problems, finished ones included

    def journal(self, rank: int) -> Path:
        return self.stem.with_name(f"{self.stem.name}.problems.rank{rank}.jsonl")

    def journals(self) -> list[Path]:
        return sorted(self.stem.parent.glob(f"{self.stem.name}.problems.rank*.jsonl"))

    @property
    def report_path(self) -> Path:
        return self.stem.with_name(f"{self.stem.name}.report.json")

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Leaves the finished problems out of the datamodule's predict problems (its ``setup``
        has just run)."""
        if stage != "predict":
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.resume and trainer.is_global_zero:
            for journal in self.journals():
                journal.unlink()
        trainer.strategy.barrier()  # no rank reads a journal that is about to be deleted
        datamodule = trainer.datamodule
        if not hasattr(datamodule, "exclude_predict"):
            raise InputError(f"{type(self).__name__} needs a datamodule with exclude_predict")
        self.problem_ids = {example.sample.id for example in datamodule.predict_examples}
        done = {line["id"] for journal in self.journals() for line in journal_lines(journal)}
        left_out = datamodule.exclude_predict(done)
        if left_out and trainer.is_global_zero:
            print(f"resuming {self.path}: {left_out} problems already done")
        own = self.journal(trainer.global_rank)
        if own.exists():
            cut_torn_tail(own)
        if not datamodule.predict_examples:  # Lightning skips an empty predict loop entirely
            self.on_predict_end(trainer, pl_module)

    def write_on_batch_end(  # the batch's and dataloader's indices are not needed
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: list[dict[str, Any]],
        batch_indices: Any,
        batch: dict[str, Any],
        *indices: int,
    ) -> None:
        """Decides each problem of the batch and appends its journal line (one write)."""
        by_problem: dict[str, list[dict[str, Any]]] = {}
        for record in prediction:
            by_problem.setdefault(record["id"], []).append(record)
        lines = []
        for problem in batch["problems"]:
            records = by_problem.get(problem.id, [])
            candidates = [
                Candidate.from_record(r, pl_module.format.solution(problem, r["generation"]))
                for r in records
            ]
            decisions = self.harvest.select(problem, candidates, pl_module.matcher)
            line = {
                "id": problem.id,
                "kept": [sample_record(sample) for sample in decisions.kept],
                "reasons": list(decisions.reasons),
            }
            lines.append(json.dumps(line, ensure_ascii=False) + "\n")
        with self.journal(trainer.global_rank).open("a", encoding="utf-8") as out:
            out.write("".join(lines))  # one write per batch: a kill tears at most its tail
            out.flush()
            os.fsync(out.fileno())

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.strategy.barrier()  # every rank's journal is complete
        if trainer.is_global_zero:
            report = self.finish()
            print(f"\n{json.dumps(report, indent=2)}\nsamples in {self.path}")

    def finish(self) -> dict[str, Any]:
        """Writes the samples and the report of this run's problems from the journals; returns
        the report. A problem that two ranks both solved (a distributed sampler pads ranks with
        repeats) counts once; journal lines of problems no longer asked for are left out."""
        seen: set[str] = set()
        samples: list[str] = []
        reasons: Counter[str] = Counter()
        with_kept = 0
        for journal in self.journals():
            for line in journal_lines(journal):
                if line["id"] in seen or line["id"] not in self.problem_ids:
                    continue
                seen.add(line["id"])
                reasons.update(line["reasons"])
                with_kept += bool(line["kept"])
                samples += [json.dumps(s, ensure_ascii=False) + "\n" for s in line["kept"]]
        generations = sum(reasons.values())
        report = {
            "problems": len(seen),
            "generations": generations,
            "kept": reasons[KEPT],
            "keep_rate": reasons[KEPT] / generations if generations else 0.0,
            "problems_with_a_kept_sample": with_kept,
            "rejected": {reason: n for reason, n in reasons.most_common() if reason != KEPT},
        }
        replace_atomically(self.path, "".join(samples))
        replace_atomically(self.report_path, json.dumps(report, indent=2) + "\n")
        return report

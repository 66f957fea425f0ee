"""Where CoGEX samples and task examples come from: the embedded tasks, the CoGEX training data
as the paper released it, and task files for CoTACS.

The released data (``mkhalifa/CoGEX`` on the Hugging Face Hub, Alpaca cast into pseudo-programs
by GPT-4) has one record per instance: ``instruction``, ``input`` (may be empty), ``code_prompt``
(the pseudo-program) and ``code_output`` (the output dict as Python text; the Alpaca answer is
under ``'answer'``). Its card spells the last field "code output"; both spellings are read, and
an output stored as a JSON object is accepted too. A ``code_prompt`` that ends with its own
``>>> f(...)`` line keeps it; otherwise the call is built from the program's last ``def``, with
the input as its one argument (none when the input is empty and the function needs none).
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from checks import InputError, MissingInput
from datamodules.formats.cogex import (
    CALL_PREFIX,
    ParseFailure,
    answer_text,
    call_expression,
    called_function,
    cogex_question,
    read_output,
    split_parts,
)
from datamodules.generators.cogex_tasks import Split, distinct_inputs, generate_samples, split_tasks
from datamodules.sample import Block, Sample
from datamodules.sources.base import DataRecordError, OnError, SampleSource
from datamodules.sources.benchmarks import json_records

log = logging.getLogger(__name__)
Record = dict[str, Any]


@dataclass(frozen=True)
class TaskExample:
    """One instance of a task, as CoTACS searches, scores and answers it: the instruction is
    the task's, the input is the instance's and is the programs' one argument."""

    id: str
    task: str
    instruction: str
    input: str
    answer: str

    def sample(self) -> Sample:
        question = cogex_question(self.instruction, self.input)
        return Sample(self.id, self.task, question, (), self.answer)

    def call(self, function: str) -> str:
        """The call line that applies ``function`` to this instance."""
        return call_expression(function, self.input if self.input.strip() else None)


class CoGEXTasks(SampleSource):
    """The embedded CoGEX tasks (``datamodules/generators/cogex_tasks.py``): no download needed.

    Args:
        split: ``train`` (the compositions trained on) or ``held_out`` (never trained on).
        seed: task draws and inputs are a pure function of it.
        count: how many samples.
        held_out_tasks: how many multi-step compositions are held out.
        split_seed: which compositions are held out (the same for train and held-out sources).
    """

    def __init__(
        self,
        split: Split = "train",
        seed: int = 0,
        count: int = 1000,
        held_out_tasks: int = 10,
        split_seed: int = 0,
    ) -> None:
        self.tasks = split_tasks(held_out_tasks, split_seed)[split]  # fails early on a bad size
        self.split, self.seed, self.count = split, seed, count

    def __iter__(self) -> Iterator[Sample]:
        prefix = f"cogex-{self.split}-{self.seed}"
        return generate_samples(self.tasks, self.seed, self.count, prefix)


def embedded_task_examples(
    per_task: int, seed: int = 0, held_out_tasks: int = 10, split_seed: int = 0
) -> dict[str, list[TaskExample]]:
    """``per_task`` examples with distinct inputs for each held-out embedded task."""
    examples = {}
    for number, task in enumerate(split_tasks(held_out_tasks, split_seed)["held_out"]):
        texts = distinct_inputs(seed * 1000 + number, per_task)
        examples[task.name] = [
            TaskExample(
                f"{task.name}-{i}",
                task.name,
                task.instruction,
                text,
                answer_text(task.run(text)["answer"]),
            )
            for i, text in enumerate(texts)
        ]
    return examples


class CoGEXRecords(SampleSource):
    """The released CoGEX training data as samples (see the module docstring for its fields).

    Args:
        path: a local ``.json`` list or ``.jsonl`` file of records.
        hub: instead of ``path``, a Hugging Face dataset id (``mkhalifa/CoGEX``).
        split: the hub dataset's split.
        limit: read only the first ``limit`` records.
        on_error: a malformed record stops the run naming file, line and field (``raise``), or
            is ``skip``-ped and counted.
    """

    def __init__(
        self,
        path: str | None = None,
        hub: str | None = None,
        split: str = "train",
        limit: int | None = None,
        on_error: OnError = "raise",
    ) -> None:
        if (path is None) == (hub is None):
            raise InputError("CoGEXRecords needs exactly one of `path` and `hub`")
        self.path = Path(path).expanduser() if path is not None else None
        self.hub, self.split, self.limit, self.on_error = hub, split, limit, on_error

    def _records(self) -> tuple[Path, Iterator[tuple[int, Any]]]:
        if self.path is not None:
            if not self.path.is_file():
                raise MissingInput(f"data file not found: {self.path}")
            return self.path, json_records(self.path)
        import datasets  # deferred: importing datasets costs seconds, local files do not need it

        rows = datasets.load_dataset(self.hub, split=self.split)
        return Path(str(self.hub)), enumerate(rows, start=1)

    def __iter__(self) -> Iterator[Sample]:
        origin, records = self._records()
        self.skipped = 0
        for line, record in islice(records, self.limit):
            try:
                if not isinstance(record, dict):
                    raise InputError(f"expected a JSON object, got {type(record).__name__}")
                yield cogex_sample(record, f"{origin.stem}-{line}", origin.stem)
            except (ValueError, KeyError, TypeError) as error:
                if self.on_error == "raise":
                    raise DataRecordError(origin, line, str(error)) from error
                self.skipped += 1
        if self.skipped:
            log.warning("%s: skipped %d malformed records", origin, self.skipped)


def cogex_sample(record: Record, id: str, dataset: str) -> Sample:
    """One released record as a CoGEX sample (program, call and output blocks)."""
    instruction, input = _text(record, "instruction"), _input(record)
    program, call, _ = split_parts(_text(record, "code_prompt"))
    if call is None:
        call = _derived_call(program, input)
    elif isinstance(failure := called_function(call), ParseFailure):
        raise InputError(f"field 'code_prompt': {failure.detail}")
    output_text, output = _output(_first(record, "code_output", "code output"))
    return Sample(
        id=str(record.get("id", id)),
        dataset=dataset,
        question=cogex_question(instruction, input),
        blocks=(Block("code", program), Block("code", call), Block("execution", output_text)),
        answer=answer_text(output["answer"]),
    )


def _first(record: Record, *names: str) -> Any:
    """The first of ``names`` the record has (the same field under its other spellings)."""
    for name in names:
        if record.get(name) is not None:
            return record[name]
    raise InputError(f"missing field {' / '.join(repr(name) for name in names)}")


def _text(record: Record, name: str) -> str:
    value = _first(record, name)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"field {name!r} must be a non-empty string, got {value!r}")
    return value


def _input(record: Record) -> str:
    value = record.get("input") or ""
    if not isinstance(value, str):
        raise InputError(f"field 'input' must be a string, got {value!r}")
    return value


def _derived_call(program: str, input: str) -> str:
    """The call of the program's last function on the input, for a code_prompt without one."""
    try:
        functions = [n for n in ast.parse(program).body if isinstance(n, ast.FunctionDef)]
    except SyntaxError as error:
        reason = f"field 'code_prompt' is not Python ({error.msg}, line {error.lineno})"
        raise InputError(reason) from error
    if not functions:
        raise InputError(f"field 'code_prompt' has no {CALL_PREFIX!r} line and no function")
    function = functions[-1]
    parameters = [*function.args.posonlyargs, *function.args.args]
    required = len(parameters) - len(function.args.defaults)
    if required == 0 and not input.strip():
        return call_expression(function.name, None)
    if required <= 1 <= len(parameters) and input.strip():
        return call_expression(function.name, input)
    raise InputError(
        f"field 'code_prompt' has no {CALL_PREFIX!r} line and its function "
        f"{function.name} takes {len(parameters)} arguments for an input of "
        f"{'one' if input.strip() else 'none'}"
    )


def _output(value: Any) -> tuple[str, dict[Any, Any]]:
    """The output as the model is to write it (Python text) and as a dict."""
    if isinstance(value, dict):
        if "answer" not in value:
            raise InputError("field 'code_output' has no 'answer' key")
        return repr(value), value
    if not isinstance(value, str):
        raise InputError(f"field 'code_output' must be a dict or its text, got {value!r}")
    output = read_output(value)
    if isinstance(output, ParseFailure):
        raise InputError(f"field 'code_output': {output.detail}")
    return value.strip(), output


def read_task_examples(path: str | Path) -> dict[str, list[TaskExample]]:
    """A task file for CoTACS: a ``.jsonl`` or ``.json`` list of ``{"instruction", "input",
    "answer"}`` records (``output`` for ``answer`` as in Alpaca; optional ``id`` and ``task``,
    whose default is the file's stem), grouped by task in file order."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingInput(f"task file not found: {path}")
    tasks: dict[str, list[TaskExample]] = {}
    for line, record in json_records(path):
        try:
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object, got {type(record).__name__}")
            task = str(record.get("task", path.stem))
            example = TaskExample(
                str(record.get("id", f"{path.stem}-{line}")),
                task,
                _text(record, "instruction"),
                _input(record),
                answer_text(_first(record, "answer", "output")).strip(),
            )
        except ValueError as error:
            raise DataRecordError(path, line, str(error)) from error
        tasks.setdefault(task, []).append(example)
    return tasks

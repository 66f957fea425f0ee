"""Source adapters for HTL's eight evaluation sets: GSM8K, GSM-Hard, NumGLUE, MATH, SimulEq,
SVAMP, MAWPS and ASDiv.

Each set stores its question and gold answer under its own field names and formats (GSM8K's
answer ends in ``#### N``, MATH's is the last ``\\boxed{}`` of the solution, ASDiv's reads
``"9 (apples)"``, SVAMP splits the question into ``Body`` and ``Question`` ...); an adapter turns
a record into an evaluation-only :class:`Sample`. Records come from any local ``.jsonl`` file,
``.json`` list, or folder holding them, or, with no path, from the Hugging Face Hub.

Hub copies (``HubSource``): the ids below are the best-known public copies, chosen offline (no
hub was reachable to check them); they are not always the exact files HTL evaluated on, and
field names differ, which the converters accept:

- gsm8k: ``openai/gsm8k`` (config ``main``, split ``test``, 1319 rows): the same data.
- gsm-hard: ``reasoning-machines/gsm-hard`` (split ``train``, 1319 rows, the only split).
- svamp: ``ChilleD/SVAMP``, splits ``train+test`` (700 + 300 = the 1000 problems).
- asdiv: ``EleutherAI/asdiv`` (split ``validation``, 2305 rows; HTL's copy has 2215).
- mawps: ``MU-NLPC/Calc-mawps`` (split ``test``): Calc-X's cleaned MAWPS, not ToRA's 2065 rows.
- math: ``EleutherAI/hendrycks_math``, its seven subject configs, split ``test`` (5000 rows).
- numglue: ``HHazard/numglue`` (split ``test``): the full NumGLUE test set, 10583 rows, not the
  1042-row subset HTL and MAmmoTH report on.
- simuleq: no public hub copy is known; pass the file (MathCoder's / HTL's ``simuleq`` json).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from checks import InputError, MissingInput
from datamodules.latex import final_boxed
from datamodules.numbers import NUMBER, plain
from datamodules.sample import Sample
from datamodules.sources.base import DataRecordError, SampleSource, decode_utf8

Record = dict[str, Any]


@dataclass(frozen=True)
class HubSource:
    """Where a set lives on the Hugging Face Hub: ``load_dataset(path, config, split=split)``."""

    path: str
    split: str
    configs: tuple[str | None, ...] = (None,)


@dataclass(frozen=True)
class Benchmark:
    """One evaluation set: the files it is stored in locally, and how to read its records."""

    name: str
    filenames: tuple[str, ...]
    convert: Callable[[Record], tuple[str, str]]  # record -> (question, gold answer)
    hub: HubSource | None


def _field(record: Record, *names: str) -> Any:
    """The first of ``names`` present in the record (hub copies rename fields)."""
    for name in names:
        if name in record and record[name] is not None:
            return record[name]
    raise InputError(f"missing field {' / '.join(repr(name) for name in names)}")


def _text(record: Record, *names: str) -> str:
    value = _field(record, *names)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"field {names[0]!r} must be a non-empty string, got {value!r}")
    return value.strip()


def format_number(value: Any) -> str:
    """A gold number as text: ``18.0`` -> ``"18"``, float noise dropped (15 significant digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"answer must be a number or a string, got {value!r}")
    if isinstance(value, str):
        if not value.strip():
            raise InputError("answer is empty")
        return value.strip()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}" if isinstance(value, float) else str(value)


_TRAILING_UNIT = re.compile(r"(?P<answer>.*?)\s*\([^()]*\)")


def _gsm8k(record: Record) -> tuple[str, str]:
    solution = _text(record, "answer")
    if "####" not in solution:
        raise InputError("GSM8K answer has no '#### N' final line")
    answer = solution.rsplit("####", 1)[1].strip()
    if NUMBER.fullmatch(answer.removeprefix("-")):
        answer = plain(answer)  # "1,080" -> "1080"
    return _text(record, "question"), format_number(answer)


def _gsm_hard(record: Record) -> tuple[str, str]:
    return _text(record, "input", "question"), format_number(_field(record, "target", "answer"))


def _svamp(record: Record) -> tuple[str, str]:
    question = _text(record, "Body") + " " + _text(record, "Question")
    return question, format_number(_field(record, "Answer"))


def _asdiv(record: Record) -> tuple[str, str]:
    question = _text(record, "body") + " " + _text(record, "question")
    answer = format_number(_field(record, "answer"))
    unit = _TRAILING_UNIT.fullmatch(answer)  # "9 (apples)" -> "9"
    return question, unit["answer"] if unit and unit["answer"] else answer


def _mawps(record: Record) -> tuple[str, str]:
    answer = _field(record, "target", "result_float", "result", "answer")
    return _text(record, "input", "question"), format_number(answer)


def _math(record: Record) -> tuple[str, str]:
    answer = final_boxed(_text(record, "solution"))
    if not answer:
        raise InputError("MATH solution has no complete \\boxed{...} answer")
    return _text(record, "problem"), answer


def _question_answer(record: Record) -> tuple[str, str]:
    return _text(record, "question"), format_number(_field(record, "answer"))


BENCHMARKS: dict[str, Benchmark] = {
    spec.name: spec
    for spec in (
        Benchmark("gsm8k", ("test.jsonl",), _gsm8k, HubSource("openai/gsm8k", "test", ("main",))),
        Benchmark(
            "gsm-hard",
            ("test.jsonl",),
            _gsm_hard,
            HubSource("reasoning-machines/gsm-hard", "train"),
        ),
        Benchmark(
            "numglue", ("test.json",), _question_answer, HubSource("HHazard/numglue", "test")
        ),
        Benchmark(
            "math",
            ("test.jsonl",),
            _math,
            HubSource(
                "EleutherAI/hendrycks_math",
                "test",
                (
                    "algebra",
                    "counting_and_probability",
                    "geometry",
                    "intermediate_algebra",
                    "number_theory",
                    "prealgebra",
                    "precalculus",
                ),
            ),
        ),
        Benchmark("simuleq", ("test.json",), _question_answer, None),
        Benchmark("svamp", ("test.jsonl",), _svamp, HubSource("ChilleD/SVAMP", "train+test")),
        Benchmark("mawps", ("test.jsonl",), _mawps, HubSource("MU-NLPC/Calc-mawps", "test")),
        Benchmark("asdiv", ("test.jsonl",), _asdiv, HubSource("EleutherAI/asdiv", "validation")),
    )
}


def load_benchmark(
    name: str, path: str | Path | None = None, limit: int | None = None
) -> list[Sample]:
    """The first ``limit`` (default: all) problems of a set, as evaluation-only samples.

    Args:
        name: a key of :data:`BENCHMARKS` (case and ``_``/``-`` do not matter).
        path: a ``.jsonl`` / ``.json`` file, a folder holding the set's file, or a folder of
            sets (``<path>/<name>/test.jsonl``); None reads the set's Hugging Face Hub copy.
        limit: read only this many problems (quick runs).
    """
    spec = benchmark(name)
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    if path is None:
        origin, records = _hub_records(spec)
    else:
        origin = resolve_file(spec, Path(path).expanduser())
        records = json_records(origin)
    samples = []
    for position, (line, record) in enumerate(islice(records, limit)):
        try:
            if not isinstance(record, dict):
                raise InputError(f"expected a JSON object, got {type(record).__name__}")
            question, answer = spec.convert(record)
        except ValueError as error:
            raise DataRecordError(origin, line, str(error)) from error
        key = record.get("idx", record.get("id", record.get("ID", position)))
        samples.append(
            Sample(id=f"{spec.name}-{key}", dataset=spec.name, question=question, answer=answer)
        )
    return samples


def benchmark(name: str) -> Benchmark:
    key = name.strip().lower().replace("_", "-")
    if key not in BENCHMARKS:
        raise InputError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key]


def resolve_file(spec: Benchmark, path: Path) -> Path:
    """The set's file at ``path``: the file itself, or looked up in a folder or folder of sets."""
    if path.is_file():
        return path
    candidates = [path / filename for filename in spec.filenames]
    candidates += [path / spec.name / filename for filename in spec.filenames]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(candidate) for candidate in candidates)
    raise MissingInput(f"no {spec.name} file at {path} (tried {path} itself, {tried})")


def json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` pairs from a jsonl file or a JSON list, whichever the file holds."""
    text = decode_utf8(path, path.read_bytes())
    if text.lstrip().startswith("["):
        yield from _json_list(path, text)
        return
    for line, content in enumerate(text.splitlines(), start=1):
        if content.strip():
            try:
                yield line, json.loads(content)
            except json.JSONDecodeError as error:
                raise DataRecordError(path, line, f"invalid JSON: {error.msg}") from error


def _json_list(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """Elements of a JSON array with the line each starts on, decoded one at a time."""
    decoder = json.JSONDecoder()
    scan = _Scanner(text, text.index("[") + 1)
    expect_item = True
    while True:
        if scan.at_end():
            raise DataRecordError(path, scan.line, "unterminated JSON list")
        if scan.peek() == "]":
            return
        if not expect_item:
            if scan.peek() != ",":
                raise DataRecordError(path, scan.line, "expected ',' or ']' between records")
            scan.advance_to(scan.position + 1)
            expect_item = True
            continue
        try:
            item, end = decoder.raw_decode(text, scan.position)
        except json.JSONDecodeError as error:
            raise DataRecordError(path, error.lineno, f"invalid JSON: {error.msg}") from error
        yield scan.line, item
        scan.advance_to(end)
        expect_item = False


class _Scanner:
    """A position in a text that skips whitespace and keeps its line number (counted once)."""

    def __init__(self, text: str, position: int) -> None:
        self.text, self.position, self.line = text, position, 1 + text.count("\n", 0, position)
        self.advance_to(position)

    def advance_to(self, position: int) -> None:
        while position < len(self.text) and self.text[position] in " \t\r\n":
            position += 1
        self.line += self.text.count("\n", self.position, position)
        self.position = position

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def peek(self) -> str:
        return self.text[self.position]


def _hub_records(spec: Benchmark) -> tuple[Path, Iterator[tuple[int, Any]]]:
    if spec.hub is None:
        raise InputError(f"{spec.name}: no Hugging Face Hub copy is known; pass path= to its file")
    import datasets  # deferred: importing datasets costs seconds, local files do not need it

    hub = spec.hub

    def rows() -> Iterator[tuple[int, Any]]:
        number = 0
        for config in hub.configs:
            for row in datasets.load_dataset(hub.path, config, split=hub.split):
                number += 1
                yield number, row

    return Path(hub.path), rows()


class BenchmarkProblems(SampleSource):
    """One of the eight sets as a datamodule source (``data.test`` / ``data.predict``).

    Args:
        name: a key of :data:`BENCHMARKS`, e.g. ``gsm8k``.
        path: a local file or folder (see :func:`load_benchmark`); None reads the Hub copy.
        limit: evaluate only the first ``limit`` problems (quick runs).
    """

    def __init__(self, name: str, path: str | None = None, limit: int | None = None) -> None:
        benchmark(name)  # fail at config time on an unknown name
        self.name, self.path, self.limit = name, path, limit

    def __iter__(self) -> Iterator[Sample]:
        return iter(load_benchmark(self.name, self.path, self.limit))


class BenchmarkSuite(SampleSource):
    """Several of the eight sets as one source, each sample tagged with its set's name, so one
    ``main.py test`` run reports them side by side.

    Args:
        names: keys of :data:`BENCHMARKS` (default: all eight, in HTL's table order).
        path: a folder of sets (``<path>/<name>/<file>``); None reads the Hub copies.
        limit: evaluate only the first ``limit`` problems of each set (quick runs).
    """

    def __init__(
        self, names: list[str] | None = None, path: str | None = None, limit: int | None = None
    ) -> None:
        self.names = list(names) if names is not None else list(BENCHMARKS)
        for name in self.names:
            benchmark(name)  # fail at config time on an unknown name
        self.path, self.limit = path, limit

    def __iter__(self) -> Iterator[Sample]:
        for name in self.names:
            yield from load_benchmark(name, self.path, self.limit)


class GSM8KByReferenceSteps(SampleSource):
    """GSM8K problems whose reference solution takes ``min_steps`` to ``max_steps`` calculator
    steps (its ``<<a*b=c>>`` annotations), tagged ``tag``: the training split cut by difficulty,
    so an RL curriculum can start from the one- and two-step problems (a third of the split)
    without touching a test problem of the one-step sets.

    Args:
        path: the training split's ``.jsonl`` file (``openai/gsm8k``'s ``train``); a local file,
            since the hub copy this module knows is the test split.
        min_steps: the fewest annotated steps kept.
        max_steps: the most kept; None: no upper bound.
        tag: the samples' ``dataset``, the name a curriculum and the logs know them by.
    """

    def __init__(
        self, path: str, min_steps: int = 0, max_steps: int | None = None, tag: str = "gsm8k"
    ) -> None:
        if max_steps is not None and max_steps < min_steps:
            raise InputError(f"max_steps ({max_steps}) is below min_steps ({min_steps})")
        self.path, self.min_steps, self.max_steps, self.tag = path, min_steps, max_steps, tag

    def __iter__(self) -> Iterator[Sample]:
        origin = resolve_file(benchmark("gsm8k"), Path(self.path).expanduser())
        samples = load_benchmark("gsm8k", origin)
        for sample, (_, record) in zip(samples, json_records(origin), strict=True):
            steps = _text(record, "answer").count("<<")
            if steps >= self.min_steps and (self.max_steps is None or steps <= self.max_steps):
                yield replace(sample, dataset=self.tag)

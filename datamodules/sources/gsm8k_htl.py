"""GSM8K training problems as HTL samples: the gold solution in words, then a program that
computes the same steps.

A GSM8K solution marks each calculation with a calculator annotation (``48/2 = <<48/2=24>>24``)
and ends with ``#### 72``. The reasoning block is the solution without the annotations, closed by
"The answer is 72."; the program has one variable per calculation, in the solution's order and
with its numbers, where a number that repeats an earlier result refers to that result's
variable (unless the question implies the number as a constant: "half" makes 2 a constant).
Calculations written without an annotation (``Sam memorized 4+6=10 digits``) become steps too
when their arithmetic checks out: solutions often leave their last step unannotated.

This module only converts (pure text work); ``harvest.verified_gsm8k`` runs every program in the
sandbox and keeps a sample only when it prints the gold answer.
"""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Any

from checks import InputError, MissingInput
from datamodules.numbers import PATTERN, close, plain
from datamodules.sample import Block, Sample
from datamodules.sources.base import SampleSource, utf8_lines

log = logging.getLogger(__name__)

# A stated result vs the exact value computed from its annotation (and, verified, a program's
# printed answer vs the gold): equal up to rounding.
TOLERANCE = 1e-6
HUB_ID, HUB_CONFIG = "openai/gsm8k", "main"

_ANNOTATION = re.compile(r"<<([^<>]*)>>")
_TOKEN = re.compile(rf"\s*(?:(?P<number>{PATTERN})|(?P<symbol>//|[-+*/()−–×xX÷%$]))")
_STATED = re.compile(rf"\s*\$?\s*(?P<value>-?(?:{PATTERN}))\s*%?")
_GOLD = re.compile(rf"-?(?:{PATTERN})")
# What may sit left of an unannotated "=": numbers, operators, "$" and "%" (letters end it).
_ARITHMETIC_TAIL = re.compile(r"(?:[\d.,\s$%()+\-−–*×/÷]|(?<![A-Za-z])[xX](?![A-Za-z]))*$")
_SYMBOLS = {"−": "-", "–": "-", "×": "*", "x": "*", "X": "*", "÷": "/", "$": ""}
_CLAUSE = re.compile(r"[;:!?=()]|,(?!\d{3})|\.(?!\d)")  # "1,500" and "0.5" go on
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_NAME_WORDS = 2
_STOPWORD_TEXT = """
    a an the of in on at to for from by with and or but so then than as is are was were be
    been being am has have had do does did will would can could should must shall he she it they
    we you i me my his her its their our your him them us this that these those there here which
    who whom what when where each every more less only also just now all therefore thus
    hence because since after before if into out up about over some any such other another very
    too much many same own both either neither not no yes"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_TOTALS = frozenset({"total", "altogether", "together", "combined", "overall"})
# Constants a question implies by a word ("half" -> 2): a solution dividing by 2 then means half,
# never an earlier result that happens to be 2.
_CONVENTIONAL = {
    "half": 2, "twice": 2, "double": 2, "triple": 3, "thrice": 3, "quarter": 4, "dozen": 12,
    "percent": 100, "%": 100,
}  # fmt: skip
_RESERVED = frozenset(dir(builtins))
_DIGITS = frozenset("0123456789.")
_ARITHMETIC_NODES = (
    *(ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant),
    *(ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.USub, ast.UAdd),
)


class ConversionError(ValueError):
    """Why a solution has no HTL form; ``reason`` is a short bucket name for reports."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Conversion:
    """A converted solution; ``unannotated_steps`` counts steps found without an annotation."""

    reasoning: str
    program: str
    answer: str
    unannotated_steps: int


@dataclass(frozen=True)
class _Step:
    name: str
    code: str
    value: Fraction  # the result as the solution states it


def convert_solution(question: str, solution: str) -> Conversion:
    """Reasoning text and program for one GSM8K solution; raises ``ConversionError``."""
    if "####" not in solution:
        raise ConversionError("no_final_answer", "no '#### N' line")
    body, final = solution.rsplit("####", 1)
    answer = _gold(final.strip())
    calculations = _Steps(question)
    for line in body.splitlines():
        calculations.read_line(line)
    steps = calculations.steps
    if not steps:
        raise ConversionError("no_steps", "no calculation in the solution")
    target = Fraction(answer)
    final_steps = [step for step in steps if close(step.value, target, TOLERANCE)]
    if not final_steps:
        stated = ", ".join(str(_plain(step.value)) for step in steps)
        raise ConversionError("answer_not_computed", f"gold {answer} not among results {stated}")
    lines = [f"{step.name} = {step.code}" for step in steps]
    program = "\n".join([*lines, f"print({final_steps[-1].name})"])
    return Conversion(reasoning_text(body, answer), program, answer, calculations.unannotated)


def reasoning_text(body: str, answer: str) -> str:
    """A GSM8K solution body (the text before ``####``) as reasoning in words: calculator
    annotations removed, closed by "The answer is N." as HTL's reasoning blocks are."""
    text = "\n".join(_ANNOTATION.sub("", line).rstrip() for line in body.strip().splitlines())
    return f"{text}\nThe answer is {answer}."


def convert_record(record: dict[str, Any], sample_id: str) -> Sample:
    """An HTL sample from a GSM8K record (``question``, ``answer``); raises ``ConversionError``."""
    question, solution = record.get("question"), record.get("answer")
    if not isinstance(question, str) or not isinstance(solution, str) or not question.strip():
        raise ConversionError("unreadable_record", "'question' and 'answer' must be strings")
    converted = convert_solution(question, solution)
    blocks = (Block("text", converted.reasoning), Block("code", converted.program))
    return Sample(sample_id, "gsm8k", question.strip(), blocks, converted.answer)


class GSM8KHTL(SampleSource):
    """GSM8K problems converted to HTL samples, unverified (``harvest.verified_gsm8k`` also runs
    each program and keeps those printing the gold answer).

    Args:
        path: a local GSM8K jsonl file; None loads ``openai/gsm8k`` (config ``main``) from the hub.
        split: the hub split; with a path it only names the samples.
        limit: read at most this many records (the first ones).

    ``skipped`` counts records left out; ``failures`` counts them by reason and ``examples``
    holds the first sample id and detail of each reason.
    """

    def __init__(self, path: str | None = None, split: str = "train", limit: int | None = None):
        if limit is not None and limit < 0:
            raise InputError(f"limit must be >= 0 or None, got {limit}")
        self.path = Path(path).expanduser() if path is not None else None
        self.split, self.limit = split, limit
        self.skipped = 0
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    @property
    def label(self) -> str:
        """The middle of the sample ids: the file's name, or the hub split."""
        return self.path.stem if self.path is not None else self.split

    def __iter__(self) -> Iterator[Sample]:
        self.skipped = 0
        self.failures = Counter()
        self.examples = {}
        yield from self.kept(self._converted(self._records()))
        if self.skipped:
            log.warning(
                "GSM8K %s: left out %d records %s", self.label, self.skipped, dict(self.failures)
            )

    def _records(self) -> Iterator[dict[str, Any] | None]:
        """Records in order; None stands for a line that is not a JSON object."""
        if self.path is None:
            from datasets import load_dataset

            rows: Iterable[Any] = load_dataset(HUB_ID, HUB_CONFIG, split=self.split)
        else:
            if not self.path.is_file():
                raise MissingInput(f"GSM8K file not found: {self.path}")
            rows = _json_lines(self.path)
        return islice(rows, self.limit)

    def _converted(self, records: Iterable[Any]) -> Iterator[Sample]:
        for number, record in enumerate(records, start=1):
            sample_id = f"gsm8k-{self.label}-{number}"
            try:
                if not isinstance(record, dict):
                    raise ConversionError("unreadable_record", "not a JSON object")
                yield convert_record(record, sample_id)
            except ConversionError as error:
                self.fail(error.reason, sample_id, error.detail)

    def kept(self, samples: Iterator[Sample]) -> Iterator[Sample]:
        """The converted samples this source yields: all of them (a verifying subclass checks)."""
        return samples

    def fail(self, reason: str, sample_id: str, detail: str) -> None:
        """Counts a record left out, under its reason."""
        self.skipped += 1
        self.failures[reason] += 1
        self.examples.setdefault(reason, f"{sample_id}: {detail}")


def _json_lines(path: Path) -> Iterator[Any]:
    for _, text in utf8_lines(path):
        try:
            yield json.loads(text)
        except json.JSONDecodeError:
            yield None


# ---------------------------------------------------------------- steps


class _Steps:
    """The calculations of one solution, in order, each checked against its stated result."""

    def __init__(self, question: str) -> None:
        words = {word.lower() for word in re.findall(r"[A-Za-z]+|%", question)}
        self.constants = frozenset(Fraction(_CONVENTIONAL[w]) for w in words & _CONVENTIONAL.keys())
        self.steps: list[_Step] = []
        self.unannotated = 0

    def read_line(self, line: str) -> None:
        """Annotated calculations, and checked plain ``a + b = c`` ones in the text around them."""
        start = 0
        for match in _ANNOTATION.finditer(line):
            self._read_plain(line[start : match.start()])
            self._read_annotation(line, match)
            start = match.end()
        rest = line[start:]
        if "<<" in rest or ">>" in rest:
            raise ConversionError("malformed_annotation", f"unbalanced in {line.strip()!r}")
        self._read_plain(rest)

    def _read_annotation(self, line: str, match: re.Match[str]) -> None:
        expression, equals, stated = match[1].rpartition("=")
        value = _stated_value(stated) if equals else None
        tokens = _tokens(expression)
        trees = [tree for tree in map(_arithmetic, _sources(tokens or [])) if tree is not None]
        if value is None or not trees:
            raise ConversionError("malformed_annotation", match[0])
        code = next(filter(None, (self._code(tree, value) for tree in trees)), None)
        if code is None:
            raise ConversionError("annotation_arithmetic", f"{match[0]} does not compute")
        before = _ARITHMETIC_TAIL.sub("", line[: match.start()].rstrip("= $"))
        self._add(code, value, before, line[match.end() :])

    def _read_plain(self, text: str) -> None:
        """Unannotated ``expression = result``: the longest arithmetic with an operator left of
        an "=" that computes the number right of it."""
        for equals in re.finditer("=", text):
            stated = _STATED.match(text, equals.end())
            tail = _ARITHMETIC_TAIL.search(text, 0, equals.start())
            value = _stated_value(stated["value"]) if stated else None
            if value is None or tail is None:
                continue
            tokens = _TOKEN.finditer(text, tail.start(), equals.start())
            for start in (token.start() for token in tokens):
                trees = map(_arithmetic, _sources(_tokens(text[start : equals.start()]) or []))
                found = (self._code(t, value) for t in trees if t and isinstance(t.body, ast.BinOp))
                code = next(filter(None, found), None)
                if code is not None:
                    self.unannotated += 1
                    self._add(code, value, text[:start], text[stated.end() :])
                    break

    def _code(self, tree: ast.Expression, value: Fraction) -> str | None:
        """The step's code when the expression computes the stated value (exactly, or rounded
        to the stated decimals, then wrapped in ``round``); earlier results become names."""
        try:
            computed = _evaluate(tree.body)
        except ZeroDivisionError:
            return None
        named = _EarlierResults(self.steps, self.constants).visit(tree)  # rewrites the tree
        code = ast.unparse(named.body)
        if close(computed, value, TOLERANCE):
            return code
        decimals = _decimals(value)
        return f"round({code}, {decimals})" if round(computed, decimals) == value else None

    def _add(self, code: str, value: Fraction, before: str, after: str) -> None:
        self.steps.append(_Step(self._name(before, after), code, value))

    def _name(self, before: str, after: str) -> str:
        """From the words after the result ("24 clips in May" -> clips_may), else from the
        clause before the calculation; ``step_N`` when neither has words to use."""
        words = _content_words(_CLAUSE.split(after)[0])
        nouns = [word for word in words if word not in _TOTALS]
        if nouns and len(nouns) < len(words):
            words = ["total", nouns[0]]  # "72 clips altogether" -> total_clips
        words = words or _content_words(_CLAUSE.split(before)[-1])
        name = "_".join(words[:_NAME_WORDS]) or f"step_{len(self.steps) + 1}"
        if keyword.iskeyword(name) or name in _RESERVED:
            name = f"{name}_value"
        taken = {step.name for step in self.steps}
        unique, suffix = name, 2
        while unique in taken:
            unique, suffix = f"{name}_{suffix}", suffix + 1
        return unique


class _EarlierResults(ast.NodeTransformer):
    """Turns each number that repeats an earlier result into that step's name, unless the
    question implies the number as a constant ("half" for 2). A value used n times names the
    latest n steps with it, in order ("6 + 6" after two steps of 6 adds both), or the latest
    step when fewer steps have it."""

    def __init__(self, steps: list[_Step], constants: frozenset[Fraction]) -> None:
        self.names: dict[Fraction, list[str]] = {}
        self.queues: dict[Fraction, list[str]] = {}
        for step in steps:
            if step.value not in constants:
                self.names.setdefault(step.value, []).append(step.name)

    def visit_Expression(self, node: ast.Expression) -> ast.AST:
        uses = Counter(_value(n) for n in ast.walk(node) if isinstance(n, ast.Constant))
        self.queues = {
            value: names[-uses[value] :] if len(names) >= uses[value] else names[-1:]
            for value, names in self.names.items()
        }
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        queue = self.queues.get(_value(node))
        if not queue:
            return node
        return ast.Name(queue.pop(0) if len(queue) > 1 else queue[0], ast.Load())


# ---------------------------------------------------------------- arithmetic


def _tokens(text: str) -> list[str] | None:
    """Numbers (commas dropped, leading zeros trimmed) and operator symbols, or None when the
    text holds anything else. A bracket next to a number multiplies: "27(1/3)"."""
    tokens: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() != position:
            return None
        position = match.end()
        if match["number"]:
            token = re.sub(r"^0+(?=\d)", "", plain(match["number"]))
        else:
            token = _SYMBOLS.get(match["symbol"], match["symbol"])
        previous = tokens[-1] if tokens else ""
        if token == "+" and previous in ("", "("):
            continue  # a sign, not an addition
        if (token == "(" and (previous == ")" or previous[:1] in _DIGITS)) or (
            previous == ")" and token[:1] in _DIGITS
        ):
            tokens.append("*")
        if token:
            tokens.append(token)
    return tokens if tokens and not text[position:].strip() else None


def _sources(tokens: list[str]) -> Iterator[str]:
    """Python source for the tokens: "%" is either a bare sign or "/ 100" (the check decides)."""
    if tokens:
        yield " ".join(token for token in tokens if token != "%")
    if "%" in tokens:
        yield " ".join("/ 100" if token == "%" else token for token in tokens)


def _arithmetic(source: str) -> ast.Expression | None:
    """The parsed expression when it is plain arithmetic on numbers (+ - * / // and brackets)."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _ARITHMETIC_NODES):
            return None
        if isinstance(node, ast.Constant) and type(node.value) not in (int, float):
            return None
    return tree


def _evaluate(node: ast.expr) -> Fraction:
    """Exact value: binary floating point would blur the checks against stated results."""
    if isinstance(node, ast.Constant):
        return _value(node)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    assert isinstance(node, ast.BinOp)
    left, right = _evaluate(node.left), _evaluate(node.right)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    return left // right if isinstance(node.op, ast.FloorDiv) else left / right


def _value(node: ast.Constant) -> Fraction:
    return Fraction(str(node.value))


def _stated_value(text: str) -> Fraction | None:
    text = plain(text.strip().lstrip("$").rstrip("%").strip())
    try:
        return Fraction(text) if text else None
    except (ValueError, ZeroDivisionError):
        return None


def _gold(text: str) -> str:
    """The final answer as a plain number string ("1,080" -> "1080")."""
    number = text.replace("$", "").strip()
    if not _GOLD.fullmatch(number):
        raise ConversionError("non_numeric_answer", f"final answer {text!r}")
    return str(_plain(Fraction(plain(number))))


def _plain(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _decimals(value: Fraction) -> int:
    decimals = 0
    while (value * 10**decimals).denominator != 1 and decimals < 12:
        decimals += 1
    return decimals


def _content_words(text: str) -> list[str]:
    words = (word.lower().split("'")[0] for word in _WORD.findall(text))
    return [word for word in words if len(word) > 1 and word not in _STOPWORDS]

"""CoGEX: a pseudo-program, a call line ``>>> f(args)``, then the output the model *emulates* for
that call, a dict whose ``'answer'`` key holds the answer (arXiv 2405.16337).

Nothing is executed: the model plays the interpreter, so a program may call helpers that are
named but never defined ("soft" steps such as judging sentiment). A sample's blocks are the
program (code), the call expression without ``>>> `` (code) and the emulated dict (execution).
Reading a generation never raises: what cannot be read is a typed :class:`ParseFailure`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span, stable_draw
from datamodules.sample import Block, Sample

CALL_PREFIX = ">>> "
INPUT_LABEL = "Input: "
ANSWER_LABEL = "Answer:"
# A longer emulated output is a runaway generation; parsing it could take long.
MAX_OUTPUT_CHARS = 8_000
_CALL_LINE = re.compile(rf"^{re.escape(CALL_PREFIX)}(.*)$", re.MULTILINE)
_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)

FailureKind = Literal["no_program", "no_call", "bad_call", "bad_output", "not_a_dict", "no_answer"]


@dataclass(frozen=True)
class ParseFailure:
    """Why a generation gave no answer: ``kind`` for counting, ``detail`` for reading."""

    kind: FailureKind
    detail: str


@dataclass(frozen=True)
class Emulation:
    """A generation read back: the program, the call it was applied to, the emulated output."""

    program: str
    call: str
    output: dict[Any, Any]

    @property
    def answer(self) -> Any:
        return self.output["answer"]


def cogex_question(instruction: str, input: str = "") -> str:
    """A sample's question: the instruction, then the input (when there is one) on its own line."""
    return f"{instruction}\n{INPUT_LABEL}{input}" if input.strip() else instruction


def call_expression(function: str, argument: str | None) -> str:
    """The call that applies ``function`` to a task input: the input is the one argument, as a
    string literal (no argument for tasks without input)."""
    return f"{function}()" if argument is None else f"{function}({argument!r})"


def called_function(call: str) -> str | ParseFailure:
    """The name of the function a call expression calls (``f`` in ``f('x', 2)``)."""
    try:
        tree = ast.parse(call.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return ParseFailure("bad_call", f"not a Python expression: {call[:80]!r}")
    if not isinstance(tree.body, ast.Call) or not isinstance(tree.body.func, ast.Name):
        return ParseFailure("bad_call", f"not a call of a named function: {call[:80]!r}")
    return tree.body.func.id


def read_output(text: str) -> dict[Any, Any] | ParseFailure:
    """The emulated output: a Python dict literal with an ``'answer'`` key."""
    text = text.strip()
    if len(text) > MAX_OUTPUT_CHARS:
        return ParseFailure("bad_output", f"output longer than {MAX_OUTPUT_CHARS} characters")
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
        return ParseFailure("bad_output", f"not a Python literal ({type(error).__name__})")
    if not isinstance(value, dict):
        return ParseFailure("not_a_dict", f"the output is a {type(value).__name__}, not a dict")
    if "answer" not in value:
        return ParseFailure("no_answer", "the output dict has no 'answer' key")
    return value


class CoGEXFormat(SolutionFormat):
    """Instruction and input → pseudo-program → ``>>> call`` → emulated output dict → EOS.

    Loss is on the program, the call line, the output and EOS, never on the prompt. No special
    tokens: every part is ordinary Python text, which a pretrained code model already writes.

    Args:
        direct_ratio: share of training samples that also appear as a direct answer (prompt
            ending in ``Answer:``, target the gold answer alone), so the same model can be asked
            for an answer without a program (the direct-answering baselines); 0 trains CoGEX only.
    """

    def __init__(self, direct_ratio: float = 0.0) -> None:
        if not 0.0 <= direct_ratio <= 1.0:
            raise InputError(f"direct_ratio must be in [0, 1], got {direct_ratio}")
        self.direct_ratio = direct_ratio

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return ()

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return ()

    @property
    def runs_code(self) -> bool:
        return False

    def prompt(self, sample: Sample) -> list[Span]:
        return [Span(f"{sample.question}\n")]

    def render(self, sample: Sample) -> list[list[Span]]:
        program, call, output = _parts(sample)
        full = [
            *self.prompt(sample),
            Span(f"{program}\n", trainable=True),
            Span(f"{CALL_PREFIX}{call}\n", trainable=True),
            Span(output, trainable=True),
            Span("", trainable=True, eos=True),
        ]
        if stable_draw(sample.id) >= self.direct_ratio:
            return [full]
        direct = [
            *self.direct_prompt(sample),
            Span(f" {sample.answer}", trainable=True),
            Span("", trainable=True, eos=True),
        ]
        return [full, direct]

    def emulation_prompt(self, sample: Sample, program: str, call: str) -> list[Span]:
        """Asks for the output of ``program`` applied by ``call`` to ``sample``'s input: the
        training text up to the output, tokenized span by span as in training."""
        return [
            *self.prompt(sample),
            Span(f"{program}\n"),
            Span(f"{CALL_PREFIX}{call}\n"),
        ]

    def direct_prompt(self, sample: Sample, demonstrations: Sequence[Sample] = ()) -> list[Span]:
        """Asks for the answer alone, after solved ``demonstrations`` (few-shot) if any."""
        shots = "".join(
            f"{demo.question}\n{ANSWER_LABEL} {demo.answer}\n\n" for demo in demonstrations
        )
        return [Span(f"{shots}{sample.question}\n{ANSWER_LABEL}")]

    def parse(self, generated: str) -> tuple[Block, ...]:
        program, call, output = split_parts(generated)
        if call is None:
            return (Block("code", program),) if program.strip() else ()
        return (Block("code", program), Block("code", call), Block("execution", output))

    def read(self, generated: str) -> Emulation | ParseFailure:
        """A generated continuation of ``prompt`` as program, call and output dict."""
        program, call, output = split_parts(generated)
        if not program.strip():
            return ParseFailure("no_program", "nothing before the call line")
        if call is None:
            return ParseFailure("no_call", f"no line starting with {CALL_PREFIX!r}")
        return self.read_emulation(program, call, output)

    def read_emulation(self, program: str, call: str, output: str) -> Emulation | ParseFailure:
        """The output generated for ``emulation_prompt(sample, program, call)``."""
        function = called_function(call)
        if isinstance(function, ParseFailure):
            return function
        value = read_output(output)
        return value if isinstance(value, ParseFailure) else Emulation(program, call, value)

    def read_program(self, generated: str) -> tuple[str, str] | None:
        """The program of a generation and the function to call, even when its call line or
        output is broken: the called function, else the last ``def``; None without either."""
        program, call, _ = split_parts(generated)
        function = called_function(call) if call is not None else None
        if not isinstance(function, str):
            names = _DEF.findall(program)
            function = names[-1] if names else None
        return (program, function) if program.strip() and function else None


def answer_text(value: Any) -> str:
    """A gold answer as text: strings as they are, other values as their Python literal."""
    return value if isinstance(value, str) else repr(value)


def read_direct(generated: str) -> str:
    """A direct answer: the generation's first line."""
    return generated.strip().split("\n", 1)[0].strip()


def split_parts(generated: str) -> tuple[str, str | None, str]:
    """Program, call (without ``>>> ``; None without a call line) and output text, split at the
    last call line."""
    calls = list(_CALL_LINE.finditer(generated))
    if not calls:
        return generated.strip("\n"), None, ""
    last = calls[-1]
    return (
        generated[: last.start()].strip("\n"),
        last.group(1).strip(),
        generated[last.end() :].strip(),
    )


def _parts(sample: Sample) -> tuple[str, str, str]:
    codes, outputs = sample.blocks_of("code"), sample.blocks_of("execution")
    if len(codes) != 2 or len(outputs) != 1:
        raise InputError(
            f"CoGEX needs a program, a call and an output block; sample {sample.id!r} has "
            f"{len(codes)} code and {len(outputs)} execution blocks"
        )
    return codes[0].content, codes[1].content, outputs[0].content

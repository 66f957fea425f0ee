"""A format's prompt inside a chat template: the question as the user's turn, the solution as the
assistant's. Instruct models (SmolLM2-Instruct, Qwen2.5-Instruct, ...) were tuned on their
template; without it they may answer a bare prompt with a word and end their turn.

The turn strings default to ChatML (``<|im_start|>role ... <|im_end|>``), the template of SmolLM2
and Qwen2.5; other families set their own. The tokenizer's EOS must be the template's end of turn
(``<|im_end|>`` for ChatML models), so generation stops where the assistant's turn ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from checks import InputError
from datamodules.formats.base import SolutionFormat, Span
from datamodules.sample import Block, Sample


class ChatFormat(SolutionFormat):
    """Wraps ``inner``: its prompt becomes the user's turn, and its markers that open the answer
    (``<text>``, ``<Code>``: trailing prompt spans that are one of its special tokens) start the
    assistant's turn. Parsing, stopping and code execution are ``inner``'s own.

    Args:
        inner: the format whose prompts and solutions are wrapped.
        system: the system turn's text; None leaves the turn out.
        turn_start: opens a turn; ``{role}`` is replaced by ``system``, ``user`` or ``assistant``.
        turn_end: closes a turn.
    """

    def __init__(
        self,
        inner: SolutionFormat,
        system: str | None = None,
        turn_start: str = "<|im_start|>{role}\n",
        turn_end: str = "<|im_end|>\n",
    ) -> None:
        if "{role}" not in turn_start:
            raise InputError(f"turn_start must contain {{role}}, got {turn_start!r}")
        self.inner, self.system = inner, system
        self.turn_start, self.turn_end = turn_start, turn_end

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return self.inner.special_tokens

    @property
    def stop_strings(self) -> tuple[str, ...]:
        return self.inner.stop_strings

    @property
    def end_strings(self) -> tuple[str, ...]:
        return self.inner.end_strings

    @property
    def execution_delimiters(self) -> tuple[str, str] | None:
        return self.inner.execution_delimiters

    def code_to_run(self, response: str) -> str | None:
        return self.inner.code_to_run(response)

    def forced_continuation(self, phrase: str) -> str:
        return self.inner.forced_continuation(phrase)

    def parse(self, generated: str) -> tuple[Block, ...]:
        return self.inner.parse(generated)

    def solution(self, sample: Sample, generated: str) -> tuple[Block, ...]:
        return self.inner.solution(sample, generated)

    def prompt(self, sample: Sample) -> list[Span]:
        return self._wrap(self.inner.prompt(sample))

    def render(self, sample: Sample) -> list[list[Span]]:
        prompt = self.inner.prompt(sample)
        sequences = []
        for spans in self.inner.render(sample):
            if spans[: len(prompt)] != prompt:
                raise ValueError(
                    f"{type(self.inner).__name__} renders {sample.id!r} without its prompt"
                )
            sequences.append([*self._wrap(prompt), *spans[len(prompt) :]])
        return sequences

    def _wrap(self, prompt: Sequence[Span]) -> list[Span]:
        opening = len(prompt)
        while opening > 0 and prompt[opening - 1].text in self.inner.special_tokens:
            opening -= 1
        user, answer = list(prompt[:opening]), list(prompt[opening:])
        system = (
            [Span(self._turn("system") + self.system + self.turn_end)]
            if self.system is not None
            else []
        )
        return [
            *system,
            Span(self._turn("user")),
            *user,
            Span(self.turn_end + self._turn("assistant")),
            *answer,
        ]

    def _turn(self, role: str) -> str:
        return self.turn_start.replace("{role}", role)

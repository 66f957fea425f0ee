"""Applying programs to task examples by emulation: batched, and each distinct request once.

Scoring is what CoTACS spends its time on: every candidate program is emulated on every search
example, and the same program is often sampled for many examples (and scored again at test
time). An emulation is a pure function of its prompt (question, program, call) under greedy
decoding, so the cache answers every repeat and only new prompts reach the model, all at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from datamodules.formats import CoGEXFormat, Span
from datamodules.sources.cogex import TaskExample
from generation.engine import GenerationOptions
from grading.emulation import Reading
from program_search.generate import Generate
from program_search.programs import Program

CacheKey = tuple[str, str, str]  # question, program, call


class Emulator:
    """Emulates (greedy) programs on examples; ``emulations`` counts the ones the model ran,
    ``requests`` the ones asked for (the difference is what the cache saved).

    Args:
        generate: the model (a ``TextGenerator``).
        format: builds the emulation prompts and reads the outputs.
        max_new_tokens: longest emulated output, in tokens.
    """

    def __init__(self, generate: Generate, format: CoGEXFormat, max_new_tokens: int = 128) -> None:
        self.generate, self.format = generate, format
        self.options = GenerationOptions(max_new_tokens, do_sample=False)
        self.cache: dict[CacheKey, Reading] = {}
        self.emulations = self.requests = 0

    def __call__(self, pairs: Sequence[tuple[Program, TaskExample]]) -> list[Reading]:
        """The reading of each (program, example) emulation, in order."""
        keys: list[CacheKey] = []
        prompts: dict[CacheKey, list[Span]] = {}
        for program, example in pairs:
            sample = example.sample()
            key = (sample.question, program.text, example.call(program.function))
            keys.append(key)
            if key not in self.cache and key not in prompts:
                prompts[key] = self.format.emulation_prompt(sample, program.text, key[2])
        if prompts:
            texts = self.generate(list(prompts.values()), self.options)
            for key, text in zip(prompts, texts):
                self.cache[key] = self.format.read_emulation(key[1], key[2], text)
        self.emulations += len(prompts)
        self.requests += len(pairs)
        return [self.cache[key] for key in keys]

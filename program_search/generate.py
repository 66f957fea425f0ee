"""Generating continuations of span prompts in batches: the one way CoTACS calls a model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from transformers import LogitsProcessor, PreTrainedModel, PreTrainedTokenizerBase

from checks import InputError
from datamodules.formats import SolutionFormat, Span
from datamodules.pipeline.encoding import collate_prompts, encode_many
from generation.backend import DecodingBackend, build_backend
from generation.engine import GenerationEngine, GenerationOptions

# Prompts and decoding settings -> one generated text per prompt, in prompt order. The model
# behind it is a TextGenerator; tests substitute plain functions.
Generate = Callable[[Sequence[Sequence[Span]], GenerationOptions], list[str]]


class TextGenerator:
    """Continues prompts with a model through the generation engine, in left-padded batches of
    prompts of similar length (less padding). Batch ``i`` samples with ``options.seed + i``, so
    the texts are a pure function of the prompts, the options and the batch size.

    Args:
        model: the causal LM (evaluation mode).
        tokenizer: its tokenizer, the format's markers included.
        format: where generation ends (EOS and the format's markers); it must run no code.
        batch_size: prompts per ``generate`` call.
        logits_processors: extra processors (a scripted run in tests).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        batch_size: int = 64,
        logits_processors: Sequence[LogitsProcessor] = (),
    ) -> None:
        if format.runs_code:
            raise ValueError(f"{type(format).__name__} runs code; CoTACS only emulates")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.format = model, tokenizer, format
        self.batch_size, self.logits_processors = batch_size, list(logits_processors)
        self.backends: dict[str, DecodingBackend] = {}  # one per decoder settings, kept

    def backend(self, options: GenerationOptions) -> DecodingBackend:
        """The backend ``options`` name, started once (vLLM's start-up is paid once)."""
        key = repr(options.decoder)
        if key not in self.backends:
            self.backends[key] = build_backend(options)
        return self.backends[key]

    def __call__(self, prompts: Sequence[Sequence[Span]], options: GenerationOptions) -> list[str]:
        if options.num_samples != 1:
            raise ValueError("one text per prompt: generation.num_samples must be 1")
        encoded = encode_many(prompts, self.tokenizer)
        order = sorted(range(len(encoded)), key=lambda index: len(encoded[index]))
        device = next(self.model.parameters()).device
        texts: dict[int, str] = {}
        for number, start in enumerate(range(0, len(order), self.batch_size)):
            chunk = order[start : start + self.batch_size]
            batch = collate_prompts(
                [encoded[index].input_ids for index in chunk], self.tokenizer.pad_token_id
            )
            engine = GenerationEngine(
                replace(options, seed=options.seed + number),
                self.logits_processors,
                backend=self.backend(options),
            )
            rollouts = engine.rollout(
                self.model,
                self.tokenizer,
                self.format,
                None,
                batch["input_ids"].to(device),
                batch["attention_mask"].to(device),
            )
            texts.update((chunk[r.prompt_index], r.text) for r in rollouts)
        return [texts[index] for index in range(len(encoded))]

"""Batched multi-round generation for validation, test, predict and PPO rollouts.

``rollout`` is the one entry point. Each round, the decoding backend (``generation.backend``:
transformers' ``generate`` or vLLM) continues every active sequence until its format ends a
block, the answer ends, or the sequence's token budget runs out. A code block that just closed
runs in that sample's sandbox session (state persists across blocks), and its output goes back
into the sequence in the format's syntax before the next round, as token ids (nothing is
decoded and re-encoded); finished sequences leave the batch. One-round formats (HTL) generate
once and their program runs at the end; formats that run no code (CoGEX, whose model emulates
execution) only generate, and need no sandbox.

The result is one ``Rollout`` per sample with the text (for grading), the token ids and a mask
of which tokens the model wrote (for the policy loss: execution output is not the model's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from transformers import LogitsProcessor, PreTrainedModel, PreTrainedTokenizerBase

from checks import InputError, require_at_least
from datamodules.formats import SolutionFormat
from generation.backend import Decoded, Decoding, DecodingBackend, DecodingRequest, build_backend
from generation.distributed import any_rank
from generation.feedback import execution_tokens
from generation.stopping import StopMarkers
from generation.vllm_options import VLLMOptions
from sandbox import ExecutionResult, SandboxPool, SandboxSession

FinishReason = Literal["eos", "block_limit", "token_budget"]


@dataclass
class GenerationOptions:
    """Decoding settings (greedy by default, as HTL and MathCoder evaluate).

    Args:
        max_new_tokens: the whole response's budget: the model's tokens plus the execution and
            forcing tokens inserted for it.
        do_sample: sample instead of greedy decoding.
        temperature: sampling temperature.
        top_p: nucleus sampling mass (1.0: off).
        top_k: sample among the k likeliest tokens (0: off).
        num_samples: solutions per prompt.
        seed: seeds sampling; the caller's random state is left as it was.
        max_blocks: code blocks run per solution (MathCoder: 16); one more ends the solution.
        max_output_chars: execution output fed back to the model, head and tail kept.
        reuse_cache: keep the KV cache across rounds (False re-encodes every round: slower,
            for comparison).
        forcing_phrase: budget forcing (arXiv 2606.16934): what replaces the model's end of
            answer, inside the format's text syntax.
        max_forcings: how many times per solution the end of answer is replaced (0: off).
        backend: what decodes: ``transformers`` (the policy's own ``generate``) or ``vllm``
            (an in-process vLLM engine; ``pip install -e ".[vllm]"``).
        dtype: the transformers backend decodes in this dtype with a cast copy of the policy
            (``bfloat16``: faster on CPUs with AVX-512 bf16 and on GPUs); None: the policy's.
        vllm: the vLLM engine's settings (``backend: vllm``).
    """

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    num_samples: int = 1
    seed: int = 0
    max_blocks: int = 16
    max_output_chars: int = 1024
    reuse_cache: bool = True
    forcing_phrase: str = "Wait,"
    max_forcings: int = 0
    backend: Literal["transformers", "vllm"] = "transformers"
    dtype: Literal["float32", "bfloat16", "float16"] | None = None
    vllm: VLLMOptions = field(default_factory=VLLMOptions)

    @property
    def decoder(self) -> tuple[str, str | None, VLLMOptions]:
        """What builds the backend: options equal here can share one (one vLLM engine)."""
        return self.backend, self.dtype, self.vllm

    def __post_init__(self) -> None:
        require_at_least(
            self, 1, ("max_new_tokens", "num_samples", "max_output_chars"), "generation"
        )
        require_at_least(self, 0, ("top_k", "max_blocks", "max_forcings"), "generation")
        if self.temperature <= 0:
            raise InputError(f"generation.temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"generation.top_p must be in (0, 1], got {self.top_p}")
        if self.max_forcings and not self.forcing_phrase:
            raise InputError("generation.forcing_phrase must not be empty when max_forcings > 0")
        if self.backend not in ("transformers", "vllm"):
            raise InputError(
                f"generation.backend must be 'transformers' or 'vllm', got {self.backend!r}"
            )


@dataclass
class Rollout:
    """One generated solution: what the model wrote, what its code printed, which tokens are its.

    ``token_ids`` is the whole response after the prompt (the model's tokens, EOS included when
    it stopped there, plus any execution blocks the engine inserted); ``generated_mask`` is True
    for the model's tokens. ``text`` is ``token_ids`` decoded with special tokens kept, EOS left
    out. ``executions`` are the code runs in order (HTL: the one program). ``forced`` counts the
    ends of answer that budget forcing replaced. ``sampled_logprobs``, when the backend reports
    them (vLLM), is each token's log-probability under the decoder (NaN for inserted tokens).
    """

    prompt_index: int
    text: str
    token_ids: list[int]
    generated_mask: list[bool]
    executions: list[ExecutionResult] = field(default_factory=list)
    finish_reason: FinishReason = "eos"
    forced: int = 0
    sampled_logprobs: list[float] | None = None

    @property
    def num_generated_tokens(self) -> int:
        return sum(self.generated_mask)

    def append(
        self, tokens: Sequence[int], generated: bool, logprobs: Sequence[float] | None = None
    ) -> None:
        if logprobs is not None and not self.token_ids:
            self.sampled_logprobs = []
        if self.sampled_logprobs is not None:
            self.sampled_logprobs.extend(logprobs or [float("nan")] * len(tokens))
        self.token_ids.extend(tokens)
        self.generated_mask.extend([generated] * len(tokens))

    def drop_last(self) -> None:
        """Takes back the last token (an end of answer that budget forcing replaces)."""
        del self.token_ids[-1], self.generated_mask[-1]
        if self.sampled_logprobs:
            del self.sampled_logprobs[-1]


class GenerationEngine:
    """Generates, executes and feeds back; see the module docstring.

    Args:
        options: decoding settings.
        logits_processors: extra HF logits processors applied at every step (constrained
            decoding, or a scripted run in tests and benchmarks).
        interrupt: called between decoding steps; it raises to abandon the rollout (the
            trainer's SIGTERM check, so a stop request need not wait for the batch to end).
        backend: what decodes; by default the one ``options.backend`` names. Engines that
            differ only in options (a seed per batch) share one, so vLLM starts once a run.
    """

    def __init__(
        self,
        options: GenerationOptions | None = None,
        logits_processors: Sequence[LogitsProcessor] = (),
        interrupt: Callable[[], None] | None = None,
        backend: DecodingBackend | None = None,
    ) -> None:
        self.options = options or GenerationOptions()
        self.logits_processors = list(logits_processors)
        self.interrupt = interrupt
        self.backend = backend or build_backend(self.options)

    def with_options(self, **changes: object) -> GenerationEngine:
        """The same engine (backend, processors, interrupt) with some options changed."""
        return GenerationEngine(
            replace(self.options, **changes), self.logits_processors, self.interrupt, self.backend
        )

    @torch.no_grad()
    def rollout(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        sandbox: SandboxPool | None,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> list[Rollout]:
        """``num_samples`` rollouts per left-padded prompt, prompt-major
        (rollout ``i`` answers prompt ``i // num_samples``). ``sandbox`` may be None only for
        formats that run no code (``format.runs_code`` false)."""
        if sandbox is None and format.runs_code:
            raise ValueError(
                f"{type(format).__name__} runs generated code: rollout needs a sandbox"
            )
        samples = self.options.num_samples
        rollouts = [Rollout(i // samples, "", [], []) for i in range(len(input_ids) * samples)]
        interleaved = format.execution_delimiters is not None
        sessions = [sandbox.session() for _ in rollouts] if interleaved and sandbox else []
        rounds = _Rounds(self, model, tokenizer, format, sandbox, sessions, rollouts)
        try:
            with _own_random_state(self.options.seed, input_ids.device):
                rounds.run(
                    input_ids.repeat_interleave(samples, dim=0),
                    attention_mask.repeat_interleave(samples, dim=0),
                )
        finally:
            for session in sessions:
                session.close()
        for rollout in rollouts:
            ids = rollout.token_ids
            ended = bool(ids) and ids[-1] == tokenizer.eos_token_id
            rollout.text = tokenizer.decode(ids[:-1] if ended else ids, skip_special_tokens=False)
        if not interleaved and sandbox is not None and format.runs_code:
            run_programs(format, sandbox, rollouts)
        return rollouts


class _Rounds:
    """One ``rollout`` call's loop: generate a round, settle each row, continue the rest."""

    def __init__(
        self,
        engine: GenerationEngine,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        sandbox: SandboxPool | None,
        sessions: list[SandboxSession],
        rollouts: list[Rollout],
    ) -> None:
        self.engine, self.options = engine, engine.options
        self.model, self.tokenizer, self.format = model, tokenizer, format
        self.sandbox, self.sessions, self.rollouts = sandbox, sessions, rollouts
        self.markers = StopMarkers.resolve(format, tokenizer)
        pad_id = tokenizer.pad_token_id
        self.pad_id = tokenizer.eos_token_id if pad_id is None else pad_id
        self.forcing_ids = tokenizer(
            format.forced_continuation(self.options.forcing_phrase), add_special_tokens=False
        )["input_ids"]

    def run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
        engine = self.engine
        request = DecodingRequest(
            self.model,
            self.tokenizer,
            self.markers,
            self.options,
            input_ids,
            attention_mask,
            self.pad_id,
            engine.logits_processors,
            engine.interrupt,
        )
        decoding = engine.backend.start(request)
        while any_rank(len(decoding.rows) > 0, input_ids.device):
            if not decoding.rows:
                decoding.idle()
                continue
            budgets = [
                self.options.max_new_tokens - len(self.rollouts[row].token_ids)
                for row in decoding.rows
            ]
            keep, chunks = self._settle(decoding, decoding.step(budgets))
            decoding.advance(keep, chunks)

    def _settle(self, batch: Decoding, decoded: list[Decoded]) -> tuple[list[int], list[list[int]]]:
        """Record each row's round, run the code blocks that closed (all at once), and return
        the rows that go on (positions in ``batch``) with the tokens each is fed next."""
        going_on: dict[int, _Continuation] = {}
        for position, round_ in enumerate(decoded):
            rollout = self.rollouts[batch.rows[position]]
            rollout.append(round_.tokens, generated=True, logprobs=round_.logprobs)
            continuation = self._close_round(rollout, round_.tokens[-1], round_.at_marker)
            if continuation is not None:
                going_on[position] = continuation
        to_run = [(p, c.code) for p, c in going_on.items() if c.code is not None]
        for (position, _), result in zip(to_run, self._run(batch, to_run)):
            self.rollouts[batch.rows[position]].executions.append(result)
            going_on[position].inserted = execution_tokens(
                result,
                self.format.execution_delimiters,
                self.tokenizer,
                self.options.max_output_chars,
            )
        keep, chunks = [], []
        for position, continuation in going_on.items():
            rollout = self.rollouts[batch.rows[position]]
            room = self.options.max_new_tokens - len(rollout.token_ids)
            rollout.append(continuation.inserted[:room], generated=False)
            if room <= len(continuation.inserted):
                rollout.finish_reason = "token_budget"
            else:
                keep.append(position)
                chunks.append(continuation.refed + continuation.inserted)
        return keep, chunks

    def _close_round(self, rollout: Rollout, last: int, at_marker: bool) -> _Continuation | None:
        """How a row goes on after its round ended with token ``last``; None when it is done
        (its ``finish_reason`` set)."""
        if not at_marker:
            rollout.finish_reason = "token_budget"
            return None
        if last in self.markers.end_ids:
            if rollout.forced < self.options.max_forcings:
                rollout.forced += 1
                rollout.drop_last()
                return _Continuation(refed=[], inserted=list(self.forcing_ids))
            rollout.finish_reason = "eos"
            return None
        code = self._closed_code(rollout)
        if code is not None and len(rollout.executions) >= self.options.max_blocks:
            rollout.finish_reason = "block_limit"
            return None
        return _Continuation(refed=[last], inserted=[], code=code)

    def _closed_code(self, rollout: Rollout) -> str | None:
        """The code block this round closed, for formats that run blocks as they close."""
        if self.format.execution_delimiters is None:
            return None
        response = self.tokenizer.decode(rollout.token_ids, skip_special_tokens=False)
        return self.format.code_to_run(response)

    def _run(self, batch: Decoding, to_run: list[tuple[int, str]]) -> list[ExecutionResult]:
        """All closed blocks of this round at once, each in its own sample's session."""
        if not to_run:
            return []
        return self.sandbox.run_blocks(
            [(self.sessions[batch.rows[position]], code) for position, code in to_run]
        )


@dataclass
class _Continuation:
    """What a row is fed next: its end-of-round marker again (``refed``; empty when budget
    forcing replaced it), then the engine's tokens (``inserted``: execution block or forcing
    phrase), the latter known once ``code`` (the block to run, if any) has run."""

    refed: list[int]
    inserted: list[int]
    code: str | None = None


@contextmanager
def _own_random_state(seed: int, device: torch.device) -> Iterator[None]:
    """Seed sampling without touching the caller's random state (restored on exit)."""
    accelerator = [device] if device.type != "cpu" else []
    device_type = device.type if accelerator else "cuda"
    with torch.random.fork_rng(devices=accelerator, device_type=device_type):
        torch.manual_seed(seed)
        yield


def run_programs(format: SolutionFormat, sandbox: SandboxPool, rollouts: list[Rollout]) -> None:
    """One-round formats (HTL) run their whole program once generation has ended."""
    programs = [
        "\n".join(b.content for b in format.parse(r.text) if b.kind == "code") for r in rollouts
    ]
    to_run = [index for index, program in enumerate(programs) if program.strip()]
    for index, result in zip(to_run, sandbox.run_many([programs[i] for i in to_run])):
        rollouts[index].executions.append(result)

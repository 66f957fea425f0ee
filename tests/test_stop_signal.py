"""A SIGTERM (a cluster's pre-emption, ``kill``) ends evaluation within a decoding step.

Lightning checks for SIGTERM only between batches; one batch of a real model's generation can
take minutes, so without the engine's check a stop request waited for the batch to finish."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from transformers import LogitsProcessor

from datamodules.formats import HTLFormat
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from main import command_line
from sandbox import SandboxOptions, SandboxPool
from tests.test_cli import tiny_run
from tests.test_generation_engine import prompts
from tests.tiny_models import engine_llama

MAX_NEW_TOKENS = 24
TERMINATE_AT_STEP = 3


class TerminateAtStep(LogitsProcessor):
    """Counts decoding steps and sends this process SIGTERM at one of them."""

    def __init__(self, at_step: int) -> None:
        self.at_step, self.steps = at_step, 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.Tensor:
        self.steps += 1
        if self.steps == self.at_step:
            os.kill(os.getpid(), signal.SIGTERM)
        return scores


OBSERVED: dict[str, int] = {}


class TerminateDuringGeneration(L.Callback):
    """Puts ``TerminateAtStep`` into the module's engine; records how far the run got."""

    def __init__(self) -> None:
        self.processor = TerminateAtStep(TERMINATE_AT_STEP)
        self.batches_ended = 0

    def on_validation_start(self, trainer, pl_module) -> None:
        pl_module.engine.logits_processors.append(self.processor)

    def on_validation_batch_end(self, *args, **kwargs) -> None:
        self.batches_ended += 1

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        OBSERVED.update(steps=self.processor.steps, batches_ended=self.batches_ended)


def test_interrupt_runs_between_decoding_steps_and_abandons_the_rollout(tokenizer) -> None:
    model = engine_llama(len(tokenizer))

    def rollout(engine: GenerationEngine) -> list[Rollout]:
        batch = prompts(HTLFormat(), tokenizer)
        with SandboxPool(SandboxOptions(workers=1)) as pool:
            return engine.rollout(
                model, tokenizer, HTLFormat(), pool, batch["input_ids"], batch["attention_mask"]
            )

    calls: list[int] = []

    def stop_at_the_fifth_step() -> None:
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("stop")

    options = GenerationOptions(MAX_NEW_TOKENS)
    engine = GenerationEngine(options, interrupt=stop_at_the_fifth_step)
    with pytest.raises(RuntimeError, match="stop"):
        rollout(engine)
    assert len(calls) == 5  # checked at every step, and generation ended at the raise

    calls.clear()
    checked = rollout(GenerationEngine(options, interrupt=lambda: calls.append(1)))
    unchecked = rollout(GenerationEngine(options))
    assert [r.token_ids for r in checked] == [r.token_ids for r in unchecked]
    assert len(calls) == max(len(r.token_ids) for r in checked)  # once per decoding step


@pytest.mark.slow
def test_sigterm_ends_validation_mid_batch_with_status_143(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    OBSERVED.clear()
    args = tiny_run(
        tmp_path,
        "--trainer.callbacks+=tests.test_stop_signal.TerminateDuringGeneration",
        subcommand="validate",
    )
    monkeypatch.setattr(sys, "argv", ["main.py", *args])
    assert command_line() == 128 + signal.SIGTERM  # what a shell reports for a SIGTERM
    # the first batch was abandoned at the step the signal arrived, not after 24 tokens
    assert OBSERVED == {"steps": TERMINATE_AT_STEP, "batches_ended": 0}
    assert signal.getsignal(signal.SIGTERM) == previous  # Lightning put its handler back

"""The settings every training module shares, grouped by what they configure.

``SFTModule`` takes these three groups; ``PPOModule`` takes the same three and adds only its own
arguments (rollouts, PPO updates, rewards), so a setting added to a group reaches every module.
In a recipe each group is one key of ``model.init_args`` (``network``, ``optimization``,
``evaluation``) holding that group's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable

from generation.engine import GenerationOptions
from grading.answers import AnswerMatcher
from lightning_modules.models import LoraOptions
from sandbox import SandboxOptions

LRSchedule = Literal["cosine", "linear", "constant_with_warmup"]


@dataclass(frozen=True)
class NetworkOptions:
    """The network: where it comes from, how it attends, how it is trained.

    Args:
        pretrained: hub id, local folder, ``.gguf`` file or ``package:file`` of the model to
            fine-tune.
        model_config: instead of ``pretrained``, an architecture to train from scratch:
            ``model_type`` plus that config's fields (vocabulary size comes from the tokenizer).
        attn_implementation: transformers attention backend; focus attention needs ``sdpa`` or
            ``eager``.
        focus_sinks: leading tokens that stay visible to the program under focus attention.
        lora: LoRA adapters instead of full fine-tuning.
        gradient_checkpointing: recompute activations in backward to save memory.
        loss_chunk: labelled positions per chunk of the LM head and cross-entropy
            (``lightning_modules/lm_loss.py``), so the batch's logits are never all held: for
            large vocabularies (Gemma 3's 262k). None computes them at once, as transformers does.
    """

    pretrained: str | None = None
    model_config: dict[str, Any] | None = None
    attn_implementation: str = "sdpa"
    focus_sinks: int = 4
    lora: LoraOptions | None = None
    gradient_checkpointing: bool = False
    loss_chunk: int | None = None


@dataclass(frozen=True)
class OptimizationOptions:
    """How the trainable parameters are updated.

    Args:
        optimizer: optimizer class and arguments
            (``--model.init_args.optimization.optimizer.init_args.lr 3e-4``).
        lr_schedule: transformers scheduler name; the warmup is ``warmup_ratio`` of all steps.
        warmup_ratio: share of optimizer steps spent warming up the learning rate.
    """

    optimizer: OptimizerCallable = torch.optim.AdamW
    lr_schedule: LRSchedule = "cosine"
    warmup_ratio: float = 0.03


@dataclass(frozen=True)
class EvaluationOptions:
    """How validation, test and predict solve and grade problems.

    Args:
        generation: decoding settings.
        sandbox: limits for running generated code.
        matcher: how predicted and gold answers are compared.
        cascade: HTL's evaluation fallback: a solution without an answer is asked again for a
            program alone, then for words alone (HTL format only).
        check_emulation: CoGEX: a generated program that happens to be fully defined also runs
            for real (in the sandbox), to measure how often the emulated output agrees.
    """

    generation: GenerationOptions = field(default_factory=GenerationOptions)
    sandbox: SandboxOptions = field(default_factory=SandboxOptions)
    matcher: AnswerMatcher = field(default_factory=AnswerMatcher)
    cascade: bool = False
    check_emulation: bool = True

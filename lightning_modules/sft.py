"""Supervised fine-tuning of a Hugging Face causal LM on code-integrated solutions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable
from peft import PeftModel
from torchmetrics import MeanMetric
from transformers import PreTrainedTokenizerBase, get_scheduler

from datamodules.formats import SolutionFormat
from generation.engine import GenerationEngine, GenerationOptions
from lightning_modules.focus_attention import FocusAttentionMixin
from lightning_modules.models import LoraOptions, add_lora, build_causal_lm
from metrics.answers import AnswerMatcher
from metrics.verification import SolutionVerifier, Verdict
from sandbox import SandboxConfig, SandboxPool

LRSchedule = Literal["cosine", "linear", "constant_with_warmup"]
ACCURACIES = ("exec_acc", "reasoning_acc")


class SFTModule(FocusAttentionMixin, L.LightningModule):
    """Trains on rendered solutions (loss on reasoning and code, never on prompt or execution
    output); validates by generating, running the generated programs and grading the answers.

    Args:
        tokenizer: the datamodule's tokenizer, format markers included (linked by ``main.py``).
        format: the datamodule's solution format (linked by ``main.py``).
        pretrained: hub id, local folder or ``.gguf`` file of the model to fine-tune.
        model_config: instead of ``pretrained``, an architecture to train from scratch:
            ``model_type`` plus that config's fields (vocabulary size comes from the tokenizer).
        attn_implementation: transformers attention backend; focus attention needs ``sdpa`` or
            ``eager``.
        lora: LoRA adapters instead of full fine-tuning.
        gradient_checkpointing: recompute activations in backward to save memory.
        optimizer: optimizer class and arguments (``--model.optimizer.lr 3e-4``).
        lr_schedule: transformers scheduler name; the warmup is ``warmup_ratio`` of all steps.
        warmup_ratio: share of optimizer steps spent warming up the learning rate.
        focus_sinks: leading tokens that stay visible to the program under focus attention.
        generation: decoding settings for validation, test and predict.
        sandbox: limits for running generated code.
        matcher: how predicted and gold answers are compared.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        pretrained: str | None = None,
        model_config: dict[str, Any] | None = None,
        attn_implementation: str = "sdpa",
        lora: LoraOptions | None = None,
        gradient_checkpointing: bool = False,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_schedule: LRSchedule = "cosine",
        warmup_ratio: float = 0.03,
        focus_sinks: int = 4,
        generation: GenerationOptions | None = None,
        sandbox: SandboxConfig | None = None,
        matcher: AnswerMatcher | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["tokenizer", "format", "matcher"])
        self.tokenizer, self.format = tokenizer, format
        self.model, new_token_ids = build_causal_lm(
            pretrained, model_config, tokenizer, attn_implementation
        )
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable({"use_reentrant": False})
        if lora is not None:
            self.model = add_lora(self.model, lora, new_token_ids)
        self.optimizer_factory = optimizer
        self.lr_schedule, self.warmup_ratio = lr_schedule, warmup_ratio
        self.focus_sinks = focus_sinks
        self.engine = GenerationEngine(generation)
        self.sandbox_config = sandbox or SandboxConfig()
        self.matcher = matcher or AnswerMatcher()
        self.verifier = SolutionVerifier(format, self.matcher)
        self._sandbox: SandboxPool | None = None
        # Execution-verified and reasoning-only accuracy per evaluation stage (synced across ranks).
        self.accuracy = torch.nn.ModuleDict(
            {f"{stage}_{kind}": MeanMetric() for stage in ("val", "test") for kind in ACCURACIES}
        )

    @property
    def sandbox(self) -> SandboxPool:
        """Started on first use: the sandbox's worker processes cost nothing until code runs."""
        if self._sandbox is None:
            self._sandbox = SandboxPool(self.sandbox_config)
        return self._sandbox

    def on_fit_start(self) -> None:
        # Attention support is checked by MaskCoverage at fit start and by the mixin per mask.
        stats = getattr(self.trainer.datamodule, "stats", {})
        if stats and self.logger is not None:
            self.logger.log_metrics({f"data/{key}": value for key, value in stats.items()}, 0)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        output = self.model(
            input_ids=batch["input_ids"],
            attention_mask=self.focus_attention_mask(batch),
            labels=batch["labels"],
        )
        self.log("train/loss", output.loss, prog_bar=True)
        return output.loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        generations, verdicts = self._generate_and_verify(batch)
        return [
            {
                "id": sample_id,
                "dataset": dataset,
                "question": question,
                "gold": gold,
                "generation": generation,
                **vars(verdict),
            }
            for sample_id, dataset, question, gold, generation, verdict in zip(
                batch["ids"],
                batch["datasets"],
                batch["questions"],
                batch["answers"],
                generations,
                verdicts,
            )
        ]

    def _generate_and_verify(self, batch: dict[str, Any]) -> tuple[list[str], list[Verdict]]:
        rollouts = self.engine.rollout(
            self.model,
            self.tokenizer,
            self.format,
            self.sandbox,
            batch["prompt_input_ids"],
            batch["prompt_attention_mask"],
        )
        generations = [rollout.text for rollout in rollouts]
        return generations, self.verifier.verify(rollouts, batch["answers"])

    def _evaluate(self, batch: dict[str, Any], batch_idx: int, stage: str) -> None:
        size = len(batch["answers"])
        if "labels" in batch:
            loss = self.model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                labels=batch["labels"],
            ).loss
            self.log(f"{stage}/loss", loss, batch_size=size, sync_dist=True)
        generations, verdicts = self._generate_and_verify(batch)
        scores = {
            "exec_acc": [verdict.correct for verdict in verdicts],
            "reasoning_acc": [verdict.text_correct for verdict in verdicts],
        }
        for kind, values in scores.items():
            metric = self.accuracy[f"{stage}_{kind}"]
            metric.update(torch.tensor(values, dtype=torch.float, device=self.device))
            self.log(f"{stage}/{kind}", metric, prog_bar=True, batch_size=size)
        if batch_idx == 0:
            self._log_examples(stage, batch, generations, verdicts)

    def _log_examples(
        self, stage: str, batch: dict[str, Any], generations: list[str], verdicts: list[Verdict]
    ) -> None:
        """A few generations with their execution, as text in TensorBoard."""
        experiment = getattr(self.logger, "experiment", None)
        if not hasattr(experiment, "add_text"):
            return
        for index in range(min(3, len(generations))):
            verdict = verdicts[index]
            text = (
                f"**question** {batch['questions'][index]}\n\n**generation**\n\n"
                f"```\n{generations[index]}\n```\n\n**execution** ({verdict.outcome})\n\n"
                f"```\n{verdict.output}\n```\n\n**gold** {batch['answers'][index]} · "
                f"**program** {verdict.program_answer} · **reasoning** {verdict.text_answer}"
            )
            experiment.add_text(f"{stage}/example_{index}", text, self.global_step)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(p for p in self.parameters() if p.requires_grad)
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = get_scheduler(
            self.lr_schedule,
            optimizer,
            num_warmup_steps=round(self.warmup_ratio * total),
            num_training_steps=total,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def teardown(self, stage: str) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def export(self, directory: str | Path, merge_lora: bool = True) -> Path:
        """Writes a Hugging Face folder (model and tokenizer) that plain transformers loads.

        Merging LoRA folds the adapters into this module's base weights: export last."""
        directory = Path(directory)
        model = self.model
        if isinstance(model, PeftModel) and merge_lora:
            model = model.merge_and_unload()
        model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        return directory

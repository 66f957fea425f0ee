"""CoGEX fine-tuning: trained like SFT, graded by the model's own emulation of its programs."""

from __future__ import annotations

from typing import Any

import torch

from checks import InputError
from datamodules.formats import CoGEXFormat
from generation.engine import Rollout
from grading.agreement import check_agreement
from grading.emulation import EmulationVerdict, grade
from lightning_modules.sft import SFTModule
from metrics.emulation import EmulationMetrics


class CoGEXModule(SFTModule):
    """Loss on the program, the call line and the emulated output (the format's labels).
    Validation, test and predict generate program, call and output for each problem and grade
    the emulated ``'answer'``: nothing runs, except that a program which happens to be fully
    defined runs for real in the sandbox, to log how often the emulation agrees with execution.

    Logged per split and task: ``emulation_acc``, ``parse_failure_rate``,
    ``fully_defined_rate`` and, where a program ran, ``execution_agreement``.

    Takes ``SFTModule``'s arguments; ``data.format`` must be a ``CoGEXFormat`` (HTL's cascade
    does not apply) and ``evaluation.check_emulation`` switches the real runs on or off.
    """

    HEADLINE_METRICS = ("emulation_acc",)
    TAGS_BEHAVIOURS = False  # an emulated dict has no code-interpreter behaviours to tag

    def setup(self, stage: str) -> None:
        if not isinstance(self.format, CoGEXFormat):
            raise InputError(
                f"CoGEXModule needs data.format CoGEXFormat, got {type(self.format).__name__}"
            )
        super().setup(stage)

    def _new_metrics(self, datasets: list[str]) -> torch.nn.Module:
        return EmulationMetrics(datasets)

    def _emulate(self, batch: dict[str, Any]) -> tuple[list[Rollout], list[EmulationVerdict]]:
        """Generations for the batch's prompts, read and graded (prompt-major)."""
        rollouts = self.engine.rollout(
            self.model,
            self.tokenizer,
            self.format,
            None,
            batch["prompt_input_ids"],
            batch["prompt_attention_mask"],
        )
        readings = [self.format.read(rollout.text) for rollout in rollouts]
        agreed = (
            check_agreement(readings, lambda scripts: self.sandbox.run_many(scripts))
            if self.evaluation_options.check_emulation
            else [None] * len(readings)
        )
        golds = [batch["problems"][rollout.prompt_index].answer for rollout in rollouts]
        verdicts = [
            EmulationVerdict(reading, grade(reading, gold, self.matcher), agreement)
            for reading, gold, agreement in zip(readings, golds, agreed)
        ]
        return rollouts, verdicts

    def _evaluate(self, batch: dict[str, Any], batch_idx: int, stage: str) -> list[dict[str, Any]]:
        self._log_loss(batch, stage)
        rollouts, verdicts = self._emulate(batch)
        datasets = [batch["problems"][rollout.prompt_index].dataset for rollout in rollouts]
        self.evaluation[stage].update(verdicts, datasets)
        if batch_idx == 0:
            self._log_emulations(stage, batch, rollouts, verdicts)
        return self._emulation_records(batch, rollouts, verdicts)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        return self._emulation_records(batch, *self._emulate(batch))

    def _emulation_records(
        self, batch: dict[str, Any], rollouts: list[Rollout], verdicts: list[EmulationVerdict]
    ) -> list[dict[str, Any]]:
        """One JSON-ready record per generation: the problem, the generation, its reading."""
        records = []
        for rollout, verdict in zip(rollouts, verdicts):
            problem = batch["problems"][rollout.prompt_index]
            records.append(
                {
                    "id": problem.id,
                    "dataset": problem.dataset,
                    "question": problem.question,
                    "gold": problem.answer,
                    "generation": rollout.text,
                    "finish_reason": rollout.finish_reason,
                    **verdict.record(),
                }
            )
        return records

    def _log_emulations(
        self,
        stage: str,
        batch: dict[str, Any],
        rollouts: list[Rollout],
        verdicts: list[EmulationVerdict],
    ) -> None:
        """A few generations with their reading, as text in TensorBoard."""
        experiment = getattr(self.logger, "experiment", None)
        if not hasattr(experiment, "add_text"):
            return
        for index, record in enumerate(self._emulation_records(batch, rollouts, verdicts)[:3]):
            text = (
                f"**question** {record['question']}\n\n**generation**\n\n"
                f"```\n{record['generation']}\n```\n\n**gold** {record['gold']} · "
                f"**emulated answer** {record.get('answer', record.get('failure'))} · "
                f"**correct** {record['correct']} · **agreed** {record['agreed']}"
            )
            experiment.add_text(f"{stage}/example_{index}", text, self.global_step)

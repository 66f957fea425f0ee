"""Supervised fine-tuning of a Hugging Face causal LM on code-integrated solutions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from peft import PeftModel
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_scheduler

from checks import InputError
from datamodules.formats import SolutionFormat
from generation.engine import GenerationEngine
from grading.behaviours import tag
from lightning_modules.focus_attention import FocusAttentionMixin
from lightning_modules.lm_loss import causal_lm_loss
from lightning_modules.models import add_lora, build_causal_lm
from lightning_modules.options import EvaluationOptions, NetworkOptions, OptimizationOptions
from lightning_modules.sharding import ShardedModelMixin
from metrics.behaviour_metrics import BehaviourMetrics
from metrics.evaluation import OVERALL, EvaluationMetrics
from sandbox import SandboxPool
from solving.solver import Solution, Solver

# The evaluation splits each trainer stage grades: their metrics are built in `setup`.
EVALUATED_SPLITS = {"fit": ("val",), "validate": ("val",), "test": ("test",)}


class SFTModule(ShardedModelMixin, FocusAttentionMixin, L.LightningModule):
    """Trains on rendered solutions (loss on reasoning and code, never on prompt or execution
    output); validates by generating, running the generated programs and grading the answers.
    Under ``ModelParallelStrategy`` the model is sharded with FSDP2 (``ShardedModelMixin``).

    Args:
        tokenizer: the datamodule's tokenizer, format markers included (linked by ``main.py``).
        format: the datamodule's solution format (linked by ``main.py``).
        network: the model: its source or architecture, attention, LoRA, checkpointing.
        optimization: optimizer, learning-rate schedule and warmup.
        evaluation: decoding, sandbox limits, answer matching and HTL's cascade for
            validation, test and predict.
    """

    HEADLINE_METRICS: tuple[str, ...] = ("exec_acc", "reasoning_acc")  # on the progress bar
    TAGS_BEHAVIOURS = True  # tag solutions for code-specific behaviours (not CoGEX's emulations)

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        network: NetworkOptions = NetworkOptions(),
        optimization: OptimizationOptions = OptimizationOptions(),
        evaluation: EvaluationOptions = EvaluationOptions(),
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["tokenizer", "format"])
        self.tokenizer, self.format = tokenizer, format
        self.optimization = optimization
        self.model, trained_rows = self.starting_network(network)
        if network.gradient_checkpointing:
            self.model.gradient_checkpointing_enable({"use_reentrant": False})
        if network.lora is not None:
            self.model = add_lora(self.model, network.lora, trained_rows)
        # from_pretrained returns the network in eval mode and Lightning keeps the mode it finds:
        # training must see dropout where the model has it (evaluation loops switch to eval).
        self.model.train()
        self.focus_sinks = network.focus_sinks
        self.loss_chunk = network.loss_chunk
        self.evaluation_options = evaluation
        self.engine = GenerationEngine(evaluation.generation, interrupt=self.stop_if_terminated)
        self.sandbox_options = evaluation.sandbox
        self.matcher = evaluation.matcher
        self.solver = Solver(self.engine, format, self.matcher, evaluation.cascade)
        self._sandbox: SandboxPool | None = None
        self._decoder_step = 0  # the optimizer step whose weights the decoding backend holds
        # Per-split evaluation metrics (synced across ranks), built once the datasets are known,
        # and per-split behaviour prevalence and answer length by correctness.
        self.evaluation = torch.nn.ModuleDict()
        self.behaviours = torch.nn.ModuleDict()

    def starting_network(self, network: NetworkOptions) -> tuple[PreTrainedModel, list[int]]:
        """The network LoRA wraps, and the embedding rows LoRA keeps trainable (those of the
        tokens added for the format). A subclass that starts from other weights loads them here,
        before the adapters exist (``self.hparams`` holds its arguments already)."""
        return build_causal_lm(
            network.pretrained, network.model_config, self.tokenizer, network.attn_implementation
        )

    @property
    def sandbox(self) -> SandboxPool:
        """Started on first use: the sandbox's worker processes cost nothing until code runs."""
        if self._sandbox is None:
            self._sandbox = SandboxPool(self.sandbox_options)
        return self._sandbox

    def stop_if_terminated(self) -> None:
        """Abandon the batch once the trainer has received SIGTERM.

        Lightning stops only between batches, and a batch of a real model's generation can take
        minutes; the engine calls this between decoding steps. Lightning's own exception, so
        checkpoint-on-exception callbacks run and ``main.py`` exits as after any SIGTERM."""
        if self._trainer is not None and self.trainer.received_sigterm:
            raise SIGTERMException

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuses, in one line, a checkpoint whose weights do not fit the model the recipe
        built (the recipe, not the checkpoint, says how to build it: ``main.py``)."""
        own = self.state_dict()
        for name, tensor in checkpoint.get("state_dict", {}).items():
            if name in own and own[name].shape != tensor.shape:
                raise InputError(
                    f"the checkpoint's {name} has shape {tuple(tensor.shape)}, the recipe's model "
                    f"{tuple(own[name].shape)}: pass the run's own config.yaml with --config"
                )

    def setup(self, stage: str) -> None:
        """Builds the metrics of the splits this stage evaluates, broken down by the datasets
        of the datamodule's evaluation problems (set up just before this hook)."""
        for split in EVALUATED_SPLITS.get(stage, ()):
            examples = getattr(self.trainer.datamodule, f"{split}_examples", None)
            if examples is None:
                raise InputError(f"the datamodule has no `{split}_examples` to evaluate on")
            datasets = list(dict.fromkeys(example.sample.dataset for example in examples))
            self.evaluation[split] = self._new_metrics(datasets)
            if self.TAGS_BEHAVIOURS:
                self.behaviours[split] = BehaviourMetrics()

    def _new_metrics(self, datasets: list[str]) -> torch.nn.Module:
        """The evaluation metrics of one split, broken down by ``datasets``."""
        return EvaluationMetrics(datasets)

    def on_fit_start(self) -> None:
        # Attention support is checked by MaskCoverage at fit start and by the mixin per mask.
        stats = getattr(self.trainer.datamodule, "stats", {})
        if stats and self.logger is not None:
            self.logger.log_metrics({f"data/{key}": value for key, value in stats.items()}, 0)

    def on_train_epoch_end(self) -> None:
        """A streamed epoch's ``data/train/...`` counts (the map-style path's, logged at fit
        start), summed over each rank's workers and then over the ranks."""
        stream = getattr(self.trainer.datamodule, "train_stream", None)
        if stream is not None:
            totals = stream.progress.totals()
            counts = {f"data/{name}": float(count) for name, count in totals.items()}
            self.log_dict(counts, reduce_fx="sum", sync_dist=True)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        mask = self.focus_attention_mask(batch)
        loss = causal_lm_loss(self.model, batch, mask, self.loss_chunk)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        return self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        return self._evaluate(batch, batch_idx, "test")

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation("val")

    def on_test_epoch_end(self) -> None:
        self._log_evaluation("test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        return self._records(batch, self._solve(batch))

    def _solve(self, batch: dict[str, Any]) -> list[Solution]:
        return self.solver.solve(self.model, self.tokenizer, self.sandbox, batch)

    def _records(self, batch: dict[str, Any], solutions: list[Solution]) -> list[dict[str, Any]]:
        """One JSON-ready record per solution: the problem, every attempt, the verdict."""
        records = []
        for solution in solutions:
            problem = batch["problems"][solution.prompt_index]
            records.append(
                {
                    "id": problem.id,
                    "dataset": problem.dataset,
                    "question": problem.question,
                    "gold": problem.answer,
                    **solution.record(),
                }
            )
        return records

    def _evaluate(self, batch: dict[str, Any], batch_idx: int, stage: str) -> list[dict[str, Any]]:
        """Loss (when the problems have solutions), then generate, run and grade; returns the
        per-sample records (for `callbacks.evaluation_report`)."""
        self._log_loss(batch, stage)
        solutions = self._solve(batch)
        datasets = [batch["problems"][solution.prompt_index].dataset for solution in solutions]
        self.evaluation[stage].update([solution.verdict for solution in solutions], datasets)
        if self.TAGS_BEHAVIOURS:  # setup built them only then
            self.behaviours[stage].update(
                [tag(self.format.parse(solution.generation)) for solution in solutions],
                [solution.verdict.correct for solution in solutions],
                [solution.verdict.generated_tokens for solution in solutions],
            )
        if batch_idx == 0:
            self._log_examples(stage, batch, solutions)
        return self._records(batch, solutions)

    def _log_loss(self, batch: dict[str, Any], stage: str) -> None:
        """The loss on the problems' own solutions, when the batch has them."""
        if "labels" in batch:
            loss = self.model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                labels=batch["labels"],
            ).loss
            self.log(f"{stage}/loss", loss, batch_size=len(batch["problems"]), sync_dist=True)

    def _log_evaluation(self, stage: str) -> None:
        """Logs every metric as ``{stage}/{metric}`` and ``{stage}/{dataset}/{metric}``, and the
        behaviour metrics as ``{stage}/behaviour/{correct|incorrect}/{metric}``.

        The values are already the same on every rank (the metric summed its counts across
        ranks); ``sync_dist`` only spares Lightning's warning about unsynced epoch values."""
        metric = self.evaluation[stage]
        results = metric.compute()
        metric.reset()
        for dataset, values in results.items():
            prefix = stage if dataset == OVERALL else f"{stage}/{dataset}"
            for name, value in values.items():
                headline = dataset == OVERALL and name in self.HEADLINE_METRICS
                self.log(f"{prefix}/{name}", value, prog_bar=headline, sync_dist=True)
        if stage not in self.behaviours:
            return
        behaviours = self.behaviours[stage]
        for group, values in behaviours.compute().items():
            for name, value in values.items():
                self.log(f"{stage}/behaviour/{group}/{name}", value, sync_dist=True)
        behaviours.reset()

    def _log_examples(self, stage: str, batch: dict[str, Any], solutions: list[Solution]) -> None:
        """A few generations with their execution, as text in TensorBoard."""
        experiment = getattr(self.logger, "experiment", None)
        if not hasattr(experiment, "add_text"):
            return
        for index, solution in enumerate(solutions[:3]):
            verdict, problem = solution.verdict, batch["problems"][solution.prompt_index]
            text = (
                f"**question** {problem.question}\n\n**generation**\n\n"
                f"```\n{solution.generation}\n```\n\n**execution** ({verdict.outcome})\n\n"
                f"```\n{verdict.output}\n```\n\n**gold** {problem.answer} · "
                f"**program** {verdict.program_answer} · **reasoning** {verdict.text_answer} · "
                f"**final** {verdict.final_answer} ({verdict.stage})"
            )
            experiment.add_text(f"{stage}/example_{index}", text, self.global_step)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """What the optimizer trains, as torch parameter groups (a subclass may give a part of
        the network its own learning rate)."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def configure_optimizers(self) -> dict[str, Any]:
        settings = self.optimization
        optimizer = settings.optimizer(self.parameter_groups())
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = get_scheduler(
            settings.lr_schedule,
            optimizer,
            num_warmup_steps=round(settings.warmup_ratio * total),
            num_training_steps=total,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_validation_epoch_start(self) -> None:
        self._sync_decoder()

    def on_test_epoch_start(self) -> None:
        self._sync_decoder()

    def on_predict_epoch_start(self) -> None:
        self._sync_decoder()

    def _sync_decoder(self) -> None:
        """A backend that decodes with its own copy of the weights (vLLM, a bf16 copy) gets
        the policy's current ones, once per optimizer step at most."""
        if self._decoder_step != self.global_step:
            self.engine.backend.sync_weights(self.model)
            self._decoder_step = self.global_step

    def teardown(self, stage: str) -> None:
        self.engine.backend.close()
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

"""PPO on code-executing rollouts, with HTL's error-assessment reward (arXiv 2402.15729).

Each training batch is a batch of prompts. The module samples rollouts through the generation
engine (programs really run in the sandbox; multi-round formats get their execution output
inserted) and scores them; ``rl/`` turns them into experience (``ExperienceMaker``) and runs
``epochs`` × minibatches of clipped PPO updates on it (``PPOUpdate``). The module holds the
networks, wires Lightning's manual optimization into the update, and logs.

Design choices, and what they cost:

* The networks (``rl/policy.py`` says why): a linear value head for ``gae``; as reference, the
  adapters disabled (LoRA) or a frozen copy of the starting weights; no dropout anywhere.
* Focus attention (the mixin) is present but off by default: rollouts are sampled dense, so
  PPO trains dense. With a ``MaskCoverage`` callback in the recipe the update passes hide part
  of the question from the program tokens (from ``<Code>`` on) while the rollout-time log
  probabilities stay dense: the ratio then compares the masked policy with the dense one that
  sampled, and the clip bounds how far focus training moves it from what generation does.
* ``trainer.max_steps`` counts optimizer steps (epochs × minibatches per rollout batch, fewer
  when the target-KL early stop fires); the LR schedule steps with them.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from datamodules.formats import SolutionFormat
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from lightning_modules.models import load_policy_weights
from lightning_modules.options import EvaluationOptions, NetworkOptions, OptimizationOptions
from lightning_modules.sft import SFTModule
from rl.diagnostics import rollout_metrics, rollout_text
from rl.experience_maker import ExperienceMaker
from rl.filters import group_outcomes
from rl.kl import KLController
from rl.options import PPOOptions
from rl.policy import Policy, disable_dropout, evaluation_mode, value_head
from rl.rewards import ErrorAssessmentTable, ScoredRollouts, reward_for, score_rollouts
from rl.update import PPOUpdate, Reduction

# HTL sampled with top_k=0, top_p=1: the plain distribution (at temperature 1).
HTL_ROLLOUTS = GenerationOptions(max_new_tokens=512, do_sample=True, top_k=0, top_p=1.0)
# PPO steps from a trained policy: a constant learning rate, no warmup.
PPO_OPTIMIZATION = OptimizationOptions(lr_schedule="constant_with_warmup", warmup_ratio=0.0)


class PPOModule(SFTModule):
    """PPO (or critic-free GRPO / RLOO) from an SFT checkpoint or any Hugging Face model.

    Args (besides :class:`SFTModule`'s groups, whose ``evaluation`` stays the evaluation
    decoding; ``optimization`` defaults to a constant learning rate without warmup):
        init_checkpoint: a Lightning checkpoint of an ``SFTModule`` with the same model
            (``network.model_config`` or ``network.pretrained``) whose weights the policy starts
            from; a LoRA SFT checkpoint must be exported first (``export.py``) and named by
            ``network.pretrained``.
        rollout: decoding of the training rollouts (sampled; ``num_samples`` per prompt).
        ppo: the update settings (advantage estimator, epochs, clipping, KL ...).
        reward_table: HTL's reward of each error-assessment case.
        reward_function: import path of a custom reward ``(sample, rollout, executions) ->
            float`` used instead of the table (``rl/rewards.py``).
    """

    sharded_models = ("model", "reference")  # FSDP2 shards the frozen copy like the policy
    sharded_heads = ("value_head",)  # else its gradients are never reduced across ranks

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        format: SolutionFormat,
        network: NetworkOptions = NetworkOptions(),
        optimization: OptimizationOptions = PPO_OPTIMIZATION,
        evaluation: EvaluationOptions = EvaluationOptions(),
        init_checkpoint: str | None = None,
        rollout: GenerationOptions | None = None,
        ppo: PPOOptions | None = None,
        reward_table: ErrorAssessmentTable | None = None,
        reward_function: str | None = None,
    ) -> None:
        # The policy starts from init_checkpoint's weights (`starting_network`), under LoRA.
        super().__init__(tokenizer, format, network, optimization, evaluation)
        self.automatic_optimization = False
        self.options = options = ppo or PPOOptions()
        self.rollout_options = rollout or HTL_ROLLOUTS
        marker = getattr(format, "code_marker", None)  # HTL's program start, for focus queries
        self.experience_maker = ExperienceMaker(  # refuses groups of one sample where compared
            options,
            format,
            self.rollout_options.num_samples,
            self.rollout_options.max_new_tokens,
            tokenizer.pad_token_id,
            tokenizer.convert_tokens_to_ids(marker) if marker is not None else None,
        )
        self.ppo_update = PPOUpdate(options, self.rollout_options.max_new_tokens)
        shared = self.rollout_options.decoder == evaluation.generation.decoder
        self.rollout_engine = GenerationEngine(
            self.rollout_options,
            interrupt=self.stop_if_terminated,
            backend=self.engine.backend if shared else None,
        )
        self.reference = None  # LoRA: the adapters disabled
        if network.lora is None:
            self.reference = copy.deepcopy(self.model).requires_grad_(False)
        self.value_head = None
        if options.advantage == "gae":
            self.value_head = value_head(self.model.config.hidden_size)
        disable_dropout(self)
        self.kl_controller = options.kl_controller()
        self.reward = reward_for(format, self.matcher, reward_table, reward_function)

    def starting_network(self, network: NetworkOptions) -> tuple[PreTrainedModel, list[int]]:
        """The built network with ``init_checkpoint``'s weights, when given; LoRA keeps no
        embedding row trainable (the format's rows were trained before RL)."""
        model, _ = super().starting_network(network)
        if self.hparams.init_checkpoint is not None:
            load_policy_weights(model, self.hparams.init_checkpoint)
        return model, []

    @property
    def policy(self) -> Policy:
        """The networks as ``rl/`` reads them, log-probs at the rollouts' temperature, focus
        attention (when a ``MaskCoverage`` callback sets it) in the update passes."""
        options = self.rollout_options
        return Policy(
            self.model,
            self.reference,
            self.value_head,
            options.temperature if options.do_sample else 1.0,
            self.focus_attention_mask,
        )

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """One rollout batch; returns each prompt's group outcome (``callbacks.curriculum``)."""
        began = time.perf_counter()
        rollouts = self._sample(batch)
        sampled = time.perf_counter()
        samples = list(batch["problems"])
        scored = score_rollouts(self.reward, samples, rollouts)
        policy = self.policy
        experience, diagnostics = self.experience_maker(
            policy, batch, rollouts, scored, self.kl_controller.value
        )
        update_stats = self.ppo_update(policy, experience, LightningOptimization(self))
        # Where a batch's time goes: rollouts (generation and code runs), scoring and update,
        # and loading the new weights into the rollout backend.
        diagnostics["time/rollout_s"] = sampled - began
        diagnostics["time/score_and_update_s"] = time.perf_counter() - sampled
        diagnostics["time/weight_push_s"] = self._push_weights()
        self.kl_controller.update(diagnostics["ppo/kl"], len(rollouts))
        metrics = {
            **rollout_metrics(rollouts, scored),
            "ppo/kl_coef": self.kl_controller.value,
            **diagnostics,
            **{f"ppo/{name}": value for name, value in update_stats.items()},
        }
        for name, value in metrics.items():
            self.log(
                name, value, on_step=True, batch_size=len(rollouts), prog_bar=name == "reward/mean"
            )
        if batch_idx % self.trainer.log_every_n_steps == 0:
            self._log_rollouts(samples, rollouts, scored)
        return {"groups": group_outcomes(samples, scored.scores, self.rollout_options.num_samples)}

    def _sample(self, batch: dict[str, Any]) -> list[Rollout]:
        """Rollouts from the current policy, with a fresh sampling seed per batch and rank."""
        seed = self.rollout_options.seed + self.global_step * self.trainer.world_size
        engine = self.rollout_engine.with_options(seed=seed + self.global_rank)
        with evaluation_mode(self.model):  # generation caches keys even with checkpointing on
            return engine.rollout(
                self.model,
                self.tokenizer,
                self.format,
                self.sandbox,
                batch["prompt_input_ids"],
                batch["prompt_attention_mask"],
            )

    def _push_weights(self) -> float:
        """After the update: the rollout backend decodes with the new weights (a vLLM engine
        loads them; the transformers backend decodes with the policy itself). Seconds taken."""
        began = time.perf_counter()
        self.rollout_engine.backend.sync_weights(self.model)
        if self.rollout_engine.backend is self.engine.backend:
            self._decoder_step = self.global_step
        return time.perf_counter() - began

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The value head learns at ``ppo.value_head_lr`` when set: a fresh critic must catch up
        with a trained policy (VC-PPO's point), and a linear head can take a far larger step."""
        lr = self.options.value_head_lr
        if self.value_head is None or lr is None:
            return super().parameter_groups()
        head = set(self.value_head.parameters())
        trunk = [p for p in self.parameters() if p.requires_grad and p not in head]
        return [{"params": trunk}, {"params": list(head), "lr": lr}]

    def _log_rollouts(
        self, samples: list[Any], rollouts: list[Rollout], scored: ScoredRollouts
    ) -> None:
        """A few rollouts with their executions and scores, as text in TensorBoard."""
        experiment = getattr(self.logger, "experiment", None)
        if not hasattr(experiment, "add_text"):
            return
        for index, rollout in enumerate(rollouts[:3]):
            text = rollout_text(samples[rollout.prompt_index], rollout, scored.scores[index])
            experiment.add_text(f"rollout/example_{index}", text, self.global_step)

    def teardown(self, stage: str) -> None:
        self.rollout_engine.backend.close()
        super().teardown(stage)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["kl_controller"] = asdict(self.kl_controller)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        if "kl_controller" in checkpoint:
            self.kl_controller = KLController(**checkpoint["kl_controller"])


class LightningOptimization:
    """The update's training loop under Lightning's manual optimization: its backward (mixed
    precision, FSDP), gradient clipping, optimizer and schedule, and reductions over ranks."""

    def __init__(self, module: PPOModule) -> None:
        self.module = module

    def backward(self, loss: Tensor) -> None:
        self.module.manual_backward(loss)

    def step(self, max_grad_norm: float | None) -> None:
        optimizer = self.module.optimizers()
        if max_grad_norm is not None:
            self.module.clip_gradients(
                optimizer, gradient_clip_val=max_grad_norm, gradient_clip_algorithm="norm"
            )
        optimizer.step()
        optimizer.zero_grad()
        self.module.lr_schedulers().step()

    def reduce(self, value: float, op: Reduction) -> float:
        tensor = torch.tensor(value, dtype=torch.float32, device=self.module.device)
        return float(self.module.trainer.strategy.reduce(tensor, reduce_op=op))

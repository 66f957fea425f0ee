"""PPO on code-executing rollouts, with HTL's error-assessment reward (arXiv 2402.15729).

Each training batch is a batch of prompts. The module samples rollouts through the generation
engine (programs really run in the sandbox; multi-round formats get their execution output
inserted), scores them, freezes what the rollout policy assigned to its own tokens, then runs
``epochs`` × minibatches of clipped PPO updates (manual optimization) on those rollouts.

Design choices, and what they cost:

* Value function (``advantage: gae``): a linear head on the policy's last hidden state, as
  TRL's value-head models that HTL used. It costs ``hidden_size + 1`` parameters and no extra
  forward pass; the price is that the value loss also moves the shared trunk (weighed by
  ``value_loss_coef``). A separate critic would double the model memory. ``grpo`` and ``rloo``
  need no critic at all.
* Reference policy: with LoRA, the same network with the adapters disabled (no extra memory);
  fully fine-tuned, a frozen copy of the starting weights (one more model in memory and in
  checkpoints, so that a resumed run keeps the right reference).
* Dropout is switched off in every module: PPO's ratio must compare the same function twice.
* KL: per-token ``-β·KL(policy || reference)`` is part of the reward (k1 or k3 estimator).
  For ``grpo``/``rloo`` the sequence's return (score minus its summed KL penalty) is what
  the group baseline normalises.
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
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, replace
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from datamodules.formats import SolutionFormat
from datamodules.sample import Sample
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from lightning_modules.models import add_lora
from lightning_modules.options import EvaluationOptions, NetworkOptions, OptimizationOptions
from lightning_modules.sft import SFTModule
from rl.advantages import gae, group_normalized_advantages, leave_one_out_advantages
from rl.experience import Experience, RolloutBatch, assemble_rollouts, token_rewards
from rl.filters import truncated, uniform_groups, void_turns
from rl.kl import KLController, kl_penalty
from rl.losses import clipped_policy_loss, clipped_value_loss, entropy_from_logits, loss_weights
from rl.masked import (
    explained_variance,
    first_selected,
    masked_mean,
    masked_summary,
    masked_whiten,
)
from rl.options import PPOOptions
from rl.rewards import (
    ErrorAssessmentReward,
    ErrorAssessmentTable,
    RewardCase,
    ScoredRollouts,
    load_reward_function,
    score_rollouts,
)
from rl.sampler_mismatch import logprob_gap, sampler_logprobs, truncated_importance_weights
from rl.shaping import overlong_penalty

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
        # LoRA is added below, once the starting weights are in.
        super().__init__(tokenizer, format, replace(network, lora=None), optimization, evaluation)
        self.automatic_optimization = False
        self.options = ppo or PPOOptions()
        self.rollout_options = rollout or HTL_ROLLOUTS
        grouping = "dynamic_sampling" if self.options.dynamic_sampling else None
        if self.options.advantage != "gae":
            grouping = f"advantage {self.options.advantage!r}"
        if grouping is not None and self.rollout_options.num_samples < 2:
            raise ValueError(
                f"{grouping} compares samples of the same prompt: set rollout.num_samples >= 2"
            )
        shared = self.rollout_options.decoder == evaluation.generation.decoder
        self.rollout_engine = GenerationEngine(
            self.rollout_options,
            interrupt=self.stop_if_terminated,
            backend=self.engine.backend if shared else None,
        )
        if init_checkpoint is not None:
            load_policy_weights(self.model, init_checkpoint)
        self.reference = None  # LoRA: the adapters disabled
        if network.lora is None:
            self.reference = copy.deepcopy(self.model).requires_grad_(False)
        else:
            self.model = add_lora(self.model, network.lora, new_token_ids=[])
        self.value_head = None
        if self.options.advantage == "gae":
            self.value_head = torch.nn.Linear(self.model.config.hidden_size, 1)
            torch.nn.init.zeros_(self.value_head.weight)
            torch.nn.init.zeros_(self.value_head.bias)
        disable_dropout(self)
        self.kl_controller = KLController(
            self.options.kl_coef,
            self.options.adaptive_kl,
            self.options.kl_target,
            self.options.kl_horizon,
        )
        self.reward = (
            load_reward_function(reward_function)
            if reward_function
            else ErrorAssessmentReward(format, self.matcher, reward_table)
        )
        marker = getattr(format, "code_marker", None)  # HTL's program start, for focus queries
        self.focus_start_token_id = (
            tokenizer.convert_tokens_to_ids(marker) if marker is not None else None
        )

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        began = time.perf_counter()
        rollouts = self._sample(batch)
        sampled = time.perf_counter()
        samples = list(batch["problems"])
        scored = score_rollouts(self.reward, samples, rollouts)
        experience, diagnostics = self._experience(batch, rollouts, scored)
        update_stats = self._update(experience)
        # Where a batch's time goes: rollouts (generation and code runs), scoring and update,
        # and loading the new weights into the rollout backend.
        diagnostics["time/rollout_s"] = sampled - began
        diagnostics["time/score_and_update_s"] = time.perf_counter() - sampled
        diagnostics["time/weight_push_s"] = self._push_weights()
        self.kl_controller.update(diagnostics["ppo/kl"], len(rollouts))
        self._log_batch(rollouts, scored, diagnostics, update_stats)
        if batch_idx % self.trainer.log_every_n_steps == 0:
            self._log_rollouts(samples, rollouts, scored)

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

    @torch.no_grad()
    def _experience(
        self, batch: dict[str, Any], rollouts: list[Rollout], scored: ScoredRollouts
    ) -> tuple[Experience, dict[str, float]]:
        """Freezes the rollout policy's log-probabilities and values, and the advantages; also
        returns what to log about them (KL per sequence, advantages, critic, filters)."""
        options = self.options
        rollout_batch = assemble_rollouts(
            batch["prompt_input_ids"],
            batch["prompt_attention_mask"],
            rollouts,
            self.tokenizer.pad_token_id,
            batch.get("prompt_focus_keys"),
            self.focus_start_token_id,
        )
        parts = [self._score(part) for part in self._micro_batches(rollout_batch)]
        logprobs, ref_logprobs = (torch.cat([p[i] for p in parts]) for i in (0, 1))
        values = torch.cat([p[2] for p in parts]) if self.value_head is not None else None
        mask = rollout_batch.action_mask
        kl = kl_penalty(logprobs, ref_logprobs, options.kl_estimator)
        scores = torch.tensor(scored.scores, device=logprobs.device)
        penalty = overlong_penalty(
            rollout_batch.response_mask.sum(1),
            self.rollout_options.max_new_tokens,
            options.soft_punish_cache,
        )
        scores = scores + penalty
        left_out, diagnostics = self._left_out(rollouts, scores)
        diagnostics["reward/overlong_penalty"] = penalty.mean().item()
        loss_mask = mask & ~left_out[:, None]
        rewards = token_rewards(scores, kl, mask, self.kl_controller.value)
        returns = None
        if values is None:
            group_size = self.rollout_options.num_samples
            if options.advantage == "grpo":
                advantages = group_normalized_advantages(
                    rewards.sum(1), group_size, options.scale_rewards
                )
            else:
                advantages = leave_one_out_advantages(rewards.sum(1), group_size)
            advantages = torch.where(mask, advantages[:, None], 0.0)
        else:
            advantages, returns = gae(rewards, values, mask, options.gamma, options.lam)
            diagnostics["value/explained_variance"] = explained_variance(values, returns, loss_mask)
            diagnostics["value/mean"] = masked_mean(values, loss_mask).item()
        if options.whiten_advantages:
            advantages = masked_whiten(advantages, loss_mask)
        diagnostics |= advantage_diagnostics(advantages, loss_mask)
        diagnostics["ppo/kl"] = torch.where(mask, kl, 0.0).sum(1).mean().item()
        sampled = sampler_logprobs(rollouts, logprobs)
        weights = None
        if sampled is not None:
            diagnostics |= logprob_gap(logprobs, sampled, mask)
            if options.sampler_is_cap is not None:
                weights = truncated_importance_weights(logprobs, sampled, options.sampler_is_cap)
        experience = Experience(
            rollout_batch, logprobs, values, advantages, returns, loss_mask, weights
        )
        return experience, diagnostics

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

    def _left_out(self, rollouts: list[Rollout], scores: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The rollouts the enabled filters keep out of the loss, and the share of each."""
        options, device = self.options, scores.device
        filters = {
            "truncated": (options.mask_truncated_completions, lambda: truncated(rollouts, device)),
            "void_turn": (
                options.mask_void_turns,
                lambda: void_turns(self.format, rollouts, device),
            ),
            "uniform_group": (
                options.dynamic_sampling,
                lambda: uniform_groups(scores, self.rollout_options.num_samples),
            ),
        }
        left_out = torch.zeros(len(rollouts), dtype=torch.bool, device=device)
        shares = {}
        for name, (enabled, find) in filters.items():
            if enabled:
                hit = find()
                left_out |= hit
                shares[f"rollout/{name}_fraction"] = hit.float().mean().item()
        shares["rollout/loss_fraction"] = 1.0 - left_out.float().mean().item()
        return left_out, shares

    def _score(self, batch: RolloutBatch) -> tuple[Tensor, Tensor, Tensor | None]:
        """Dense log-probabilities of the policy and the reference, and the values."""
        logprobs, values, _ = self._response_outputs(batch, focus=False, values=True)
        if self.reference is not None:
            ref_logprobs = self._response_outputs(batch, focus=False, model=self.reference)[0]
        else:
            with self.model.disable_adapter():
                ref_logprobs = self._response_outputs(batch, focus=False)[0]
        return logprobs, ref_logprobs, values

    def _response_outputs(
        self,
        batch: RolloutBatch,
        focus: bool,
        model: torch.nn.Module | None = None,
        values: bool = False,
        entropy: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Per response token: log-probability of the token taken, and on request the value of
        the state before it (GAE only) and the entropy it was drawn from (each (B, R))."""
        model = model if model is not None else self.model
        wants_values = values and self.value_head is not None
        tags = {
            "attention_mask": batch.attention_mask,
            "focus_queries": batch.focus_queries,
            "focus_keys": batch.focus_keys,
        }
        output = model(
            input_ids=batch.input_ids,
            attention_mask=self.focus_attention_mask(tags) if focus else batch.attention_mask,
            position_ids=batch.position_ids,
            output_hidden_states=wants_values,
            logits_to_keep=batch.action_mask.shape[1] + 1,  # the last prompt token on
            use_cache=False,
        )
        logits = output.logits[:, :-1].float()
        if self.rollout_options.do_sample:
            logits = logits / self.rollout_options.temperature  # the distribution sampled from
        taken = batch.input_ids[:, batch.prompt_length :]
        logprobs = logits.gather(-1, taken.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)
        state_values = None
        if wants_values:
            states = output.hidden_states[-1][:, batch.prompt_length - 1 : -1]
            state_values = self.value_head(states.to(self.value_head.weight.dtype)).squeeze(-1)
        entropies = None
        if entropy:
            with nullcontext() if self.options.entropy_coef else torch.no_grad():
                entropies = entropy_from_logits(logits)
        return logprobs, state_values, entropies

    def _micro_batches(self, batch: RolloutBatch) -> Iterator[RolloutBatch]:
        size = self.options.micro_batch_size or self.options.minibatch_size or len(batch)
        for rows in torch.arange(len(batch), device=batch.input_ids.device).split(size):
            yield batch.select(rows)

    def _update(self, experience: Experience) -> dict[str, float]:
        """``epochs`` passes of shuffled minibatches; stops early past the target KL. Nothing
        to learn on any rank (every rollout filtered out): no step, which would still move
        the weights by Adam's momentum."""
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        options = self.options
        tokens = experience.loss_mask.sum().float()
        if float(self.trainer.strategy.reduce(tokens, reduce_op="sum")) == 0.0:
            return {"updates": 0.0, "early_stopped": 0.0}
        minibatch = options.minibatch_size or len(experience)
        history: list[tuple[int, dict[str, float]]] = []
        for epoch in range(1, options.epochs + 1):
            order = torch.randperm(len(experience), device=experience.advantages.device)
            for rows in order.split(minibatch):
                stats = self._minibatch_step(experience.select(rows))
                if options.max_grad_norm is not None:
                    self.clip_gradients(
                        optimizer,
                        gradient_clip_val=options.max_grad_norm,
                        gradient_clip_algorithm="norm",
                    )
                optimizer.step()
                optimizer.zero_grad()
                scheduler.step()
                history.append((epoch, stats))
                if self._past_target_kl(stats["approx_kl"]):
                    return summarize(history, early_stopped=True)
        return summarize(history, early_stopped=False)

    def _past_target_kl(self, approx_kl: float) -> bool:
        """Whether the policy moved more than 1.5 × ``target_kl`` from the rollout policy,
        judged on the mean over ranks so that all ranks stop together (DDP, FSDP)."""
        if self.options.target_kl is None:
            return False
        mean = self.trainer.strategy.reduce(
            torch.tensor(approx_kl, device=self.device), reduce_op="mean"
        )
        return float(mean) > 1.5 * self.options.target_kl

    def _minibatch_step(self, minibatch: Experience) -> dict[str, float]:
        """Backward of the minibatch's loss in micro-batches: the policy loss with the token
        weights of ``loss_type`` over the whole minibatch, the value loss and the entropy as
        token means, each micro-batch weighed by its share of the tokens (so the result is the
        same as one pass over the whole minibatch)."""
        options = self.options
        size = options.micro_batch_size or len(minibatch)
        weights = loss_weights(
            minibatch.loss_mask, options.loss_type, self.rollout_options.max_new_tokens
        )
        if minibatch.sampler_weights is not None:
            weights = weights * minibatch.sampler_weights
        total_tokens = minibatch.loss_mask.sum().clamp(min=1)
        sums: dict[str, float] = {"policy_loss": 0.0}
        extremes: dict[str, list[float]] = {"ratio_min": [], "ratio_max": []}
        for rows in torch.arange(len(minibatch), device=total_tokens.device).split(size):
            part = minibatch.select(rows)
            mask = part.loss_mask
            logprobs, values, entropy = self._response_outputs(
                part.batch, focus=True, values=True, entropy=True
            )
            policy = clipped_policy_loss(
                logprobs,
                part.old_logprobs,
                part.advantages,
                weights[rows],
                options.epsilon,
                options.epsilon_high,
            )
            share = mask.sum() / total_tokens
            entropy_mean = masked_mean(entropy, mask)
            loss = policy.loss - share * options.entropy_coef * entropy_mean
            stats = {
                "clip_fraction": policy.clip_fraction,
                "approx_kl": policy.approx_kl,
                "entropy": entropy_mean,
            }
            if values is not None:
                value = clipped_value_loss(
                    values, part.old_values, part.returns, mask, options.clip_range_value
                )
                loss = loss + share * options.value_loss_coef * value.loss
                stats |= {"value_loss": value.loss, "value_clip_fraction": value.clip_fraction}
            self.manual_backward(loss)
            sums["policy_loss"] += float(policy.loss.detach())
            for name, number in stats.items():
                sums[name] = sums.get(name, 0.0) + float(number.detach() * share)
            if mask.any():
                extremes["ratio_min"].append(float(policy.ratio_min))
                extremes["ratio_max"].append(float(policy.ratio_max))
        return sums | {
            "ratio_min": min(extremes["ratio_min"], default=1.0),
            "ratio_max": max(extremes["ratio_max"], default=1.0),
        }

    def _log_batch(
        self,
        rollouts: list[Rollout],
        scored: ScoredRollouts,
        diagnostics: dict[str, float],
        update_stats: dict[str, float],
    ) -> None:
        size = len(rollouts)
        scores = torch.tensor(scored.scores)
        ran = [rollout for rollout in rollouts if rollout.executions]
        failed = [r for r in ran if any(not result.ok for result in r.executions)]
        metrics = {
            "reward/mean": scores.mean().item(),
            "reward/std": scores.std().item() if size > 1 else 0.0,
            "ppo/kl_coef": self.kl_controller.value,
            "rollout/response_length": float(
                sum(rollout.num_generated_tokens for rollout in rollouts) / size
            ),
            "rollout/execution_error_rate": len(failed) / len(ran) if ran else 0.0,
            "rollout/no_program_rate": 1.0 - len(ran) / size,
            **diagnostics,
            **{f"ppo/{name}": value for name, value in update_stats.items()},
        }
        if isinstance(self.reward, ErrorAssessmentReward):
            metrics |= {f"reward/{case.value}": float(scored.cases[case]) for case in RewardCase}
        for name, value in metrics.items():
            self.log(name, value, on_step=True, batch_size=size, prog_bar=name == "reward/mean")

    def _log_rollouts(
        self, samples: list[Sample], rollouts: list[Rollout], scored: ScoredRollouts
    ) -> None:
        """A few rollouts with their executions and scores, as text in TensorBoard."""
        experiment = getattr(self.logger, "experiment", None)
        if not hasattr(experiment, "add_text"):
            return
        for index, rollout in enumerate(rollouts[:3]):
            sample = samples[rollout.prompt_index]
            runs = "\n\n".join(
                f"**execution {number}** ({result.outcome.value})\n\n```\n{result.output}\n```"
                for number, result in enumerate(rollout.executions, 1)
            )
            text = (
                f"**question** {sample.question}\n\n**rollout** ({rollout.finish_reason})\n\n"
                f"```\n{rollout.text}\n```\n\n{runs or '**no program ran**'}\n\n"
                f"**gold** {sample.answer} · **reward** {scored.scores[index]}"
            )
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


def load_policy_weights(model: torch.nn.Module, path: str) -> None:
    """Loads the ``model.*`` weights of an SFTModule Lightning checkpoint into ``model``."""
    # A Lightning checkpoint holds the run's hyper-parameters (dataclasses), not only tensors.
    state = torch.load(path, map_location="cpu", weights_only=False)
    weights = {
        key.removeprefix("model."): value
        for key, value in state.get("state_dict", {}).items()
        if key.startswith("model.")
    }
    if not weights:
        raise ValueError(f"{path}: no `model.*` weights; is it an SFTModule checkpoint?")
    if any("lora_" in key for key in weights):
        raise ValueError(
            f"{path} holds LoRA adapters: export it to a Hugging Face folder first "
            "(python export.py <ckpt> <folder>) and start from `pretrained: <folder>`"
        )
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise ValueError(
            f"{path} does not fit this model (same model_config and tokenizer as the SFT run?): "
            f"{error}"
        ) from error


def disable_dropout(module: torch.nn.Module) -> None:
    for submodule in module.modules():
        if isinstance(submodule, torch.nn.Dropout):
            submodule.p = 0.0


@contextmanager
def evaluation_mode(module: torch.nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def advantage_diagnostics(advantages: Tensor, mask: Tensor) -> dict[str, float]:
    """What the loss will see: mean, std, min and max over the loss tokens, and the mean over
    responses of their first token's advantage. That one should hover around 0: a value
    persistently below it pushes every response off its own opening (GAE with λ < 1 and a
    critic that does not know the values yet, whitened; see ``PPOOptions.lam``)."""
    summary = {
        f"advantages/{name}": value for name, value in masked_summary(advantages, mask).items()
    }
    first = first_selected(advantages, mask)
    summary["advantages/first_token_mean"] = first.mean().item() if first.numel() else 0.0
    return summary


def summarize(history: list[tuple[int, dict[str, float]]], early_stopped: bool) -> dict[str, float]:
    """The batch's optimizer steps (each with its epoch, from 1): means over them, the ratio's
    extremes over all of them, the approximate KL and clip fraction of each epoch (a policy
    running away shows as a rise from epoch to epoch), the step count and whether the KL stop
    fired."""
    steps = [stats for _, stats in history]
    extremes = {"ratio_min": min, "ratio_max": max}
    summary = {
        name: extremes[name](s[name] for s in steps)
        if name in extremes
        else sum(s[name] for s in steps) / len(steps)
        for name in steps[0]
    }
    for epoch in sorted({epoch for epoch, _ in history}):
        of_epoch = [stats for number, stats in history if number == epoch]
        for name in ("approx_kl", "clip_fraction"):
            summary[f"epoch_{epoch}/{name}"] = sum(s[name] for s in of_epoch) / len(of_epoch)
    return summary | {"updates": float(len(history)), "early_stopped": float(early_stopped)}

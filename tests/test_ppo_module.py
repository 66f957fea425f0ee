"""The PPO module on hand-built batches (padding, EOS, execution tokens) and a toy task it must
learn: a tiny model rewarded for writing one target token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import lightning as L
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerFast

from datamodules.formats import HTLFormat
from datamodules.sample import Problems, Sample
from generation.engine import GenerationOptions, Rollout
from lightning_modules.models import LoraOptions
from lightning_modules.options import NetworkOptions
from lightning_modules.ppo import PPO_OPTIMIZATION, PPOModule
from lightning_modules.sft import SFTModule
from rl.experience import assemble_rollouts
from rl.options import PPOOptions
from sandbox import ExecutionResult, Outcome

TOY_TOKENS = ["<pad>", "<s>", "</s>", "<text>", "<Code>", "a", "b", "c", "d", "e"]
PAD, BOS, EOS, TEXT, CODE, TARGET = 0, 1, 2, 3, 4, 7
TINY_LLAMA = {
    "model_type": "llama",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
}


def toy_tokenizer() -> PreTrainedTokenizerFast:
    """Ten whole-word tokens: a target drawn by chance one time in ten, learnt in seconds."""
    core = Tokenizer(models.WordLevel({t: i for i, t in enumerate(TOY_TOKENS)}, unk_token="<pad>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


def contains_target(
    sample: Sample, rollout: Rollout, executions: Sequence[ExecutionResult]
) -> float:
    """The toy reward: 1 when the model wrote the target token."""
    written = [t for t, mine in zip(rollout.token_ids, rollout.generated_mask) if mine]
    return float(TARGET in written)


class NoSandbox:
    """Stands in for the sandbox: the toy policy's rare ``<Code>`` programs print nothing."""

    def run_many(self, codes: Sequence[str]) -> list[ExecutionResult]:
        return [ExecutionResult(Outcome.OK, "") for _ in codes]

    def close(self) -> None:
        pass


def toy_module(advantage: str = "gae", samples: int = 1, **ppo: object) -> PPOModule:
    module = PPOModule(
        toy_tokenizer(),
        HTLFormat(),
        NetworkOptions(model_config=TINY_LLAMA),
        replace(PPO_OPTIMIZATION, optimizer=lambda params: torch.optim.Adam(params, lr=1e-2)),
        rollout=GenerationOptions(max_new_tokens=3, do_sample=True, num_samples=samples),
        ppo=PPOOptions(**({"advantage": advantage, "target_kl": None} | ppo)),
        reward_function="tests.test_ppo_module.contains_target",
    )
    module._sandbox = NoSandbox()
    return module


def prompt_batch(size: int) -> dict:
    return {
        "prompt_input_ids": torch.tensor([[BOS, TEXT]] * size),
        "prompt_attention_mask": torch.ones(size, 2, dtype=torch.long),
        "problems": Problems(Sample(f"toy-{i}", "toy", "write c", answer="c") for i in range(size)),
    }


class PromptBatches(L.LightningDataModule):
    """The same prompt batch again and again; nothing to validate."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.val_examples: list = []

    def train_dataloader(self) -> DataLoader:
        return DataLoader([prompt_batch(self.size)] * 1000, batch_size=None)


def quiet_trainer(**settings: object) -> L.Trainer:
    """A CPU trainer that writes and prints nothing."""
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **settings,
    )


class RewardHistory(L.Callback):
    def __init__(self) -> None:
        self.rewards: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rewards.append(float(trainer.callback_metrics["reward/mean"]))


def test_rollouts_become_rows_of_left_padded_prompt_and_right_padded_response() -> None:
    prompts = torch.tensor([[5, 6, 7], [PAD, 8, 9]])
    prompt_mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    rollouts = [
        Rollout(0, "", [10, 11, EOS], [True, True, True]),  # stopped: EOS is the model's
        Rollout(1, "", [12, 20, 21, 13], [True, False, False, True], finish_reason="token_budget"),
        Rollout(1, "", [EOS], [True]),  # stopped at once
    ]
    batch = assemble_rollouts(prompts, prompt_mask, rollouts, PAD)
    assert batch.prompt_length == 3
    assert batch.input_ids.tolist() == [
        [5, 6, 7, 10, 11, EOS, PAD],
        [PAD, 8, 9, 12, 20, 21, 13],
        [PAD, 8, 9, EOS, PAD, PAD, PAD],
    ]
    assert batch.attention_mask.tolist() == [
        [1, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 1],
        [0, 1, 1, 1, 0, 0, 0],
    ]
    assert batch.position_ids[:, :4].tolist() == [[0, 1, 2, 3], [0, 0, 1, 2], [0, 0, 1, 2]]
    # execution output (20, 21) and padding are not actions; EOS is
    assert batch.action_mask.tolist() == [
        [True, True, True, False],
        [True, False, False, True],
        [True, False, False, False],
    ]
    assert batch.response_mask.sum(1).tolist() == [3, 4, 1]


def test_padding_comes_from_lengths_even_when_pad_is_eos() -> None:
    rollouts = [Rollout(0, "", [10, EOS], [True, True]), Rollout(0, "", [EOS], [True])]
    batch = assemble_rollouts(torch.tensor([[5]]), torch.ones(1, 1), rollouts, pad_token_id=EOS)
    assert batch.input_ids.tolist() == [[5, 10, EOS], [5, EOS, EOS]]
    assert batch.action_mask.tolist() == [[True, True], [True, False]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_focus_tags_mark_the_question_and_the_program_the_model_wrote() -> None:
    rollouts = [
        Rollout(0, "", [10, CODE, 11, EOS], [True] * 4),
        Rollout(0, "", [10, CODE, 11], [True, False, True]),  # an inserted marker is not a start
    ]
    keys = torch.tensor([[False, True, True, False]])
    batch = assemble_rollouts(
        torch.tensor([[BOS, 5, 6, TEXT]]), torch.ones(1, 4), rollouts, PAD, keys, CODE
    )
    assert batch.focus_keys.tolist() == [[False, True, True, False] + [False] * 4] * 2
    assert batch.focus_queries[:, 4:].tolist() == [
        [False, True, True, True],
        [False, False, False, False],
    ]


def test_log_probabilities_do_not_depend_on_left_padding() -> None:
    module = toy_module().eval()
    rollout = [Rollout(0, "", [5, 6, EOS], [True] * 3)]
    bare = assemble_rollouts(torch.tensor([[BOS, TEXT]]), torch.ones(1, 2), rollout, PAD)
    padded = assemble_rollouts(
        torch.tensor([[PAD, PAD, BOS, TEXT]]), torch.tensor([[0, 0, 1, 1]]), rollout, PAD
    )
    with torch.no_grad():
        expected, expected_values, _ = module.policy.outputs(bare, values=True)
        logprobs, values, _ = module.policy.outputs(padded, values=True)
    torch.testing.assert_close(logprobs, expected)
    torch.testing.assert_close(values, expected_values)
    assert torch.all(logprobs < 0)


def test_focus_attention_hides_the_question_from_the_program_tokens_only() -> None:
    module = toy_module().train()
    module.focus_sinks, module.focus_coverage = 1, 1.0
    rollout = [Rollout(0, "", [5, CODE, 8, 9, EOS], [True] * 5)]
    batch = assemble_rollouts(
        torch.tensor([[BOS, 6, 7, TEXT]]),
        torch.ones(1, 4),
        rollout,
        PAD,
        torch.tensor([[False, True, True, False]]),  # the question: hidden from the program
        CODE,
    )
    with torch.no_grad():
        dense = module.policy.outputs(batch).logprobs
        focused = module.policy.outputs(batch, focus=True).logprobs
    # tokens 5 and <Code> are predicted before the program starts; 8, 9, EOS from within it
    torch.testing.assert_close(focused[:, :2], dense[:, :2])
    assert not torch.allclose(focused[:, 2:], dense[:, 2:])


def sft_checkpoint(tmp_path: Path, tokenizer) -> tuple[Path, SFTModule]:
    sft = SFTModule(tokenizer, HTLFormat(), NetworkOptions(model_config=TINY_LLAMA))
    with torch.no_grad():
        for parameter in sft.parameters():
            parameter.add_(torch.randn_like(parameter))  # weights no fresh model would have
    path = tmp_path / "sft.ckpt"
    torch.save({"state_dict": sft.state_dict()}, path)
    return path, sft


def test_policy_and_reference_start_from_the_sft_checkpoint(tmp_path: Path) -> None:
    tokenizer = toy_tokenizer()
    path, sft = sft_checkpoint(tmp_path, tokenizer)
    full = PPOModule(
        tokenizer, HTLFormat(), NetworkOptions(model_config=TINY_LLAMA), init_checkpoint=str(path)
    )
    lora = PPOModule(
        tokenizer,
        HTLFormat(),
        NetworkOptions(model_config=TINY_LLAMA, lora=LoraOptions(r=4, alpha=8, dropout=0.05)),
        init_checkpoint=str(path),
    )
    inputs = torch.tensor([[BOS, TEXT, 5, 6]])
    expected = sft.model(inputs).logits
    torch.testing.assert_close(full.model(inputs).logits, expected)
    torch.testing.assert_close(full.reference(inputs).logits, expected)
    assert not any(p.requires_grad for p in full.reference.parameters())
    assert lora.reference is None
    with lora.model.disable_adapter():
        torch.testing.assert_close(lora.model(inputs).logits, expected)
    trainable = {name for name, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or "value_head" in name for name in trainable)


def test_a_checkpoint_of_another_model_is_refused_with_its_path(tmp_path: Path) -> None:
    tokenizer = toy_tokenizer()
    path, _ = sft_checkpoint(tmp_path, tokenizer)
    wider = TINY_LLAMA | {"hidden_size": 64}
    with pytest.raises(ValueError, match=r"sft\.ckpt does not fit this model"):
        PPOModule(
            tokenizer, HTLFormat(), NetworkOptions(model_config=wider), init_checkpoint=str(path)
        )


def test_group_advantages_need_several_samples_per_prompt() -> None:
    with pytest.raises(ValueError, match="num_samples >= 2"):
        toy_module(advantage="grpo", samples=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("advantage", "prompts", "samples"), [("gae", 16, 1), ("grpo", 8, 4), ("rloo", 8, 4)]
)
def test_the_toy_policy_learns_to_write_the_target(advantage, prompts, samples) -> None:
    torch.manual_seed(0)
    module = toy_module(advantage, samples)
    history = RewardHistory()
    trainer = quiet_trainer(max_steps=4 * 14, callbacks=[history])  # 14 batches of 4 epochs
    trainer.fit(module, datamodule=PromptBatches(prompts))
    assert history.rewards[0] < 0.6  # the untrained policy rarely writes it
    assert sum(history.rewards[-3:]) / 3 >= 0.9, history.rewards


def test_updates_stop_once_the_policy_moves_past_the_target_kl() -> None:
    torch.manual_seed(0)
    module = toy_module(epochs=50, target_kl=0.001, entropy_coef=1.0)  # moves even unrewarded
    trainer = quiet_trainer(max_steps=1000, max_epochs=1, limit_train_batches=1)
    trainer.fit(module, datamodule=PromptBatches(16))
    metrics = trainer.callback_metrics
    assert float(metrics["ppo/early_stopped"]) == 1.0
    assert trainer.global_step == float(metrics["ppo/updates"]) < 50


def test_the_value_head_takes_its_own_learning_rate_and_the_trunk_keeps_the_policys() -> None:
    module = toy_module(value_head_lr=0.5)
    module.trainer = quiet_trainer(max_steps=1)  # the schedule counts the trainer's steps
    optimizer = module.configure_optimizers()["optimizer"]
    trunk, head = optimizer.param_groups
    assert head["lr"] == 0.5 and trunk["lr"] == 1e-2
    assert {id(p) for p in head["params"]} == {id(p) for p in module.value_head.parameters()}
    assert len(trunk["params"]) == len(list(module.model.parameters()))


def test_without_a_value_head_lr_every_parameter_shares_one_group() -> None:
    module = toy_module()
    module.trainer = quiet_trainer(max_steps=1)
    (group,) = module.configure_optimizers()["optimizer"].param_groups
    assert len(group["params"]) == len(list(module.model.parameters())) + 2  # + head w, b

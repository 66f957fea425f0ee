"""Focus attention: the mask entry by entry, and its effect on real (tiny, random) HF models."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import Tensor
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from lightning_modules.focus_attention import FocusAttentionMixin, focus_mask, sink_positions

FAMILIES = {
    "llama": (LlamaConfig, LlamaForCausalLM),
    "mistral": (MistralConfig, MistralForCausalLM),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM),
}
VOCAB = 64


def tiny_model(family: str = "llama", layers: int = 2, **config: object) -> PreTrainedModel:
    config_class, model_class = FAMILIES[family]
    torch.manual_seed(0)
    settings = dict(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    model = model_class(config_class(**(settings | config)))
    model.set_attn_implementation("sdpa")
    return model


class Focused(FocusAttentionMixin, torch.nn.Module):
    """The smallest module using the mixin the way the SFT module does."""

    def __init__(self, model: torch.nn.Module, sinks: int = 2, coverage: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.focus_sinks = sinks
        self.focus_coverage = coverage

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        mask = self.focus_attention_mask(batch)
        return self.model(input_ids=batch["input_ids"], attention_mask=mask).logits

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        mask = self.focus_attention_mask(batch)
        return self.model(
            input_ids=batch["input_ids"], attention_mask=mask, labels=batch["labels"]
        ).loss


def htl_batch(rows: list[tuple[int, int, int]], side: str, seed: int = 0) -> dict[str, Tensor]:
    """HTL-shaped rows (prompt, CoT, program lengths): prompt <text> CoT <Code> program, padded."""
    generator = torch.Generator().manual_seed(seed)
    length = max(p + c + g + 2 for p, c, g in rows)
    batch = {
        "input_ids": torch.zeros(len(rows), length, dtype=torch.long),
        "attention_mask": torch.zeros(len(rows), length, dtype=torch.long),
        "labels": torch.full((len(rows), length), -100),
        "focus_queries": torch.zeros(len(rows), length, dtype=torch.bool),
        "focus_keys": torch.zeros(len(rows), length, dtype=torch.bool),
    }
    for i, (prompt, cot, program) in enumerate(rows):
        size = prompt + cot + program + 2
        start = length - size if side == "left" else 0
        span = slice(start, start + size)
        batch["input_ids"][i, span] = torch.randint(0, VOCAB, (size,), generator=generator)
        batch["attention_mask"][i, span] = 1
        batch["labels"][i, start + prompt : start + size] = batch["input_ids"][
            i, start + prompt : start + size
        ]
        code = start + prompt + 1 + cot
        batch["focus_queries"][i, code:] = True
        batch["focus_keys"][i, start : start + prompt] = True
    return batch


# -- the mask, entry by entry -------------------------------------------------------------------

# Hand-made batch, L = 12, sinks = 2. Row 0 right-padded: prompt 0-3, <text> 4, CoT 5, <Code> 6,
# program 7-9, padding 10-11. Row 1 left-padded: padding 0-2, prompt 3-6, <text> 7, CoT 8,
# <Code> 9, program 10-11. Row 2 has no markers and 3 padding tokens at the end.
HAND_REAL = [range(0, 10), range(3, 12), range(0, 9)]
HAND_QUERIES = [range(6, 12), range(9, 12), range(0)]
HAND_KEYS = [range(0, 4), range(3, 7), range(0)]
HAND_KEYS_WITHOUT_SINKS = [{2, 3}, {5, 6}, set()]


def hand_batch() -> dict[str, Tensor]:
    batch = {
        "attention_mask": torch.zeros(3, 12, dtype=torch.long),
        "focus_queries": torch.zeros(3, 12, dtype=torch.bool),
        "focus_keys": torch.zeros(3, 12, dtype=torch.bool),
    }
    for row in range(3):
        batch["attention_mask"][row, list(HAND_REAL[row])] = 1
        batch["focus_queries"][row, list(HAND_QUERIES[row])] = True
        batch["focus_keys"][row, list(HAND_KEYS[row])] = True
    return batch


def expected_hand_mask(masked: bool) -> Tensor:
    expected = torch.zeros(3, 1, 12, 12, dtype=torch.bool)
    for row in range(3):
        for query in range(12):
            for key in range(query + 1):
                hidden = (
                    masked and query in HAND_QUERIES[row] and key in HAND_KEYS_WITHOUT_SINKS[row]
                )
                expected[row, 0, query, key] = key in HAND_REAL[row] and not hidden
    return expected


def test_sinks_are_the_first_real_tokens_whatever_the_padding() -> None:
    sinks = sink_positions(hand_batch()["attention_mask"], 2)
    assert sinks.nonzero().tolist() == [[0, 0], [0, 1], [1, 3], [1, 4], [2, 0], [2, 1]]


def test_full_coverage_masks_the_whole_rectangle_and_nothing_else() -> None:
    batch = hand_batch()
    mask = focus_mask(batch["attention_mask"], batch["focus_queries"], batch["focus_keys"], 1.0, 2)
    assert mask is not None and mask.dtype == torch.bool
    assert torch.equal(mask, expected_hand_mask(masked=True))


def test_zero_coverage_is_exactly_the_causal_padding_mask() -> None:
    batch = hand_batch()
    mask = focus_mask(batch["attention_mask"], batch["focus_queries"], batch["focus_keys"], 0.0, 2)
    assert torch.equal(mask, expected_hand_mask(masked=False))


def test_no_rectangle_gives_no_mask() -> None:
    batch = hand_batch()
    no_keys = batch["focus_keys"] & sink_positions(batch["attention_mask"], 2)  # only sinks
    assert focus_mask(batch["attention_mask"], batch["focus_queries"], no_keys, 1.0, 2) is None


def test_half_coverage_masks_about_half_of_each_rectangle_and_nothing_outside() -> None:
    batch = htl_batch([(120, 40, 100), (90, 60, 80), (100, 50, 110)], side="right")
    generator = torch.Generator().manual_seed(0)
    queries, keys = batch["focus_queries"], batch["focus_keys"]
    mask = focus_mask(batch["attention_mask"], queries, keys, 0.5, 4, generator)
    dense = focus_mask(batch["attention_mask"], queries, keys, 0.0, 4)
    keys = keys & ~sink_positions(batch["attention_mask"], 4)
    rectangle = (queries[:, :, None] & keys[:, None, :]).unsqueeze(1)
    assert torch.equal(mask[~rectangle], dense[~rectangle])
    for row in range(3):
        inside = rectangle[row]
        masked_share = 1 - mask[row][inside].float().mean().item()
        assert abs(masked_share - 0.5) < 0.02, (row, masked_share)


@pytest.mark.parametrize("coverage", [-0.1, 1.5])
def test_coverage_outside_unit_interval_is_refused(coverage: float) -> None:
    batch = hand_batch()
    with pytest.raises(ValueError, match="coverage"):
        focus_mask(
            batch["attention_mask"], batch["focus_queries"], batch["focus_keys"], coverage, 2
        )


# -- the mixin ----------------------------------------------------------------------------------


def test_dense_two_d_mask_at_inference_at_zero_coverage_and_without_focus_rows() -> None:
    batch = htl_batch([(10, 5, 5), (8, 4, 6)], side="right")
    module = Focused(tiny_model(), coverage=1.0).eval()
    assert module.focus_attention_mask(batch) is batch["attention_mask"]
    module.train()
    assert module.focus_attention_mask(batch).shape == (2, 1, 22, 22)
    module.focus_coverage = 0.0
    assert module.focus_attention_mask(batch) is batch["attention_mask"]
    module.focus_coverage = 1.0
    no_focus = batch | {"focus_queries": torch.zeros_like(batch["focus_queries"])}
    assert module.focus_attention_mask(no_focus) is batch["attention_mask"]


def test_each_step_draws_anew_and_the_seed_replays_the_draws() -> None:
    batch = htl_batch([(60, 20, 40), (50, 30, 40)], side="right")

    def three_masks() -> list[Tensor]:
        torch.manual_seed(123)
        module = Focused(torch.nn.Linear(1, 1), coverage=0.5).train()
        return [module.focus_attention_mask(batch) for _ in range(3)]

    first, again = three_masks(), three_masks()
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("side", ["left", "right"])
def test_zero_coverage_four_d_mask_gives_the_dense_logits(family: str, side: str) -> None:
    batch = htl_batch([(10, 6, 5), (6, 4, 3), (8, 8, 8)], side=side)
    model = tiny_model(family).train()
    mask = focus_mask(batch["attention_mask"], batch["focus_queries"], batch["focus_keys"], 0.0, 4)
    with torch.no_grad():
        dense = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        four_d = model(input_ids=batch["input_ids"], attention_mask=mask).logits
    assert torch.equal(dense, four_d)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("side", ["left", "right"])
def test_eager_attention_gives_the_sdpa_logits_for_the_same_mask(family: str, side: str) -> None:
    batch = htl_batch([(10, 6, 5), (6, 4, 3)], side=side)
    module = Focused(tiny_model(family), coverage=1.0).train()
    with torch.no_grad():
        sdpa = module(batch)
        module.model.set_attn_implementation("eager")
        eager = module(batch)
        module.model.set_attn_implementation("sdpa")
        dense = module.eval()(batch)
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(eager[real], sdpa[real], rtol=1e-5, atol=1e-5)
    assert (dense[real] - sdpa[real]).abs().max() > 1e-3  # the mask did something


@pytest.mark.parametrize("family", FAMILIES)
def test_one_layer_program_logits_ignore_the_question_but_not_the_reasoning(family: str) -> None:
    prompt, cot, program, sinks = 8, 6, 5, 2
    batch = htl_batch([(prompt, cot, program)], side="right")
    module = Focused(tiny_model(family, layers=1), sinks=sinks, coverage=1.0).train()
    code = prompt + 1 + cot  # the <Code> position: from here on, rows lose the question
    new_question = batch | {"input_ids": batch["input_ids"].clone()}
    new_question["input_ids"][0, sinks:prompt] = (batch["input_ids"][0, sinks:prompt] + 1) % VOCAB
    new_reasoning = batch | {"input_ids": batch["input_ids"].clone()}
    new_reasoning["input_ids"][0, prompt + 2] = (batch["input_ids"][0, prompt + 2] + 1) % VOCAB
    with torch.no_grad():
        base = module(batch)[0, code:]
        question_changed = module(new_question)[0, code:]
        reasoning_changed = module(new_reasoning)[0, code:]
        module.eval()
        dense_question_changed = module(new_question)[0, code:]
        dense_base = module(batch)[0, code:]
    torch.testing.assert_close(question_changed, base, rtol=0, atol=1e-6)
    assert (reasoning_changed - base).abs().max() > 1e-3
    assert (dense_question_changed - dense_base).abs().max() > 1e-3


def gradients(module: Focused, batch: dict[str, Tensor]) -> list[Tensor]:
    module.zero_grad()
    module.loss(batch).backward()
    return [p.grad.clone() for p in module.parameters() if p.grad is not None]


@pytest.mark.parametrize("side", ["left", "right"])
def test_dense_and_focus_training_steps_give_finite_different_gradients(side: str) -> None:
    batch = htl_batch([(10, 6, 5), (6, 4, 3), (8, 8, 8)], side=side)
    module = Focused(tiny_model(), coverage=1.0).train()
    focus = gradients(module, batch)
    module.focus_coverage = 0.0
    dense = gradients(module, batch)
    assert all(g.isfinite().all() for g in focus + dense)
    assert any(not torch.allclose(f, d) for f, d in zip(focus, dense, strict=True))


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    batch = htl_batch([(10, 6, 5), (6, 4, 3)], side="left")
    module = Focused(tiny_model(), coverage=0.5).train()
    torch.manual_seed(7)
    plain = gradients(module, batch)
    module.model.gradient_checkpointing_enable()
    module.model.train()
    torch.manual_seed(7)
    module._focus_step = -1  # replay the same draw
    checkpointed = gradients(module, batch)
    assert module.model.is_gradient_checkpointing
    for p, c in zip(plain, checkpointed, strict=True):
        torch.testing.assert_close(c, p)


def test_lora_wrapped_model_takes_the_mask() -> None:
    batch = htl_batch([(10, 6, 5), (6, 4, 3)], side="right")
    lora = get_peft_model(tiny_model(), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    module = Focused(lora, coverage=1.0).train()
    assert module._focus_model() is lora.get_base_model()
    mask = focus_mask(batch["attention_mask"], batch["focus_queries"], batch["focus_keys"], 0.0, 2)
    with torch.no_grad():
        four_d = lora(input_ids=batch["input_ids"], attention_mask=mask).logits
        dense = lora(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.equal(four_d, dense)
    module.zero_grad()
    module.loss(batch).backward()
    trained = {n: p.grad for n, p in lora.named_parameters() if p.grad is not None}
    assert len(trained) == 8 and all("lora_" in name for name in trained)  # 2 layers x q, v x A, B
    assert all(g.isfinite().all() for g in trained.values())
    assert all(g.abs().sum() > 0 for name, g in trained.items() if "lora_B" in name)


def test_bf16_autocast_on_cpu() -> None:
    batch = htl_batch([(10, 6, 5), (6, 4, 3)], side="left")
    module = Focused(tiny_model(), coverage=1.0).train()
    full = module.loss(batch).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = module.loss(batch)
    loss.backward()
    assert abs(loss.item() - full) < 0.05 * full
    assert all(p.grad.isfinite().all() for p in module.parameters())


def test_attention_that_cannot_take_the_mask_is_refused() -> None:
    batch = htl_batch([(10, 6, 5)], side="right")
    module = Focused(tiny_model(), coverage=1.0).train()
    module.check_focus_attention_support()
    module.model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="attn_implementation"):
        module.check_focus_attention_support()
    with pytest.raises(ValueError, match="attn_implementation"):
        module.focus_attention_mask(batch)

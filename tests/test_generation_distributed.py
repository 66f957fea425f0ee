"""Ranks with unequal work make the same forward passes (what a sharded model needs): two gloo
processes, one with two three-round solutions, the other with one short two-round solution."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from transformers import AutoTokenizer

from datamodules.formats import LCEFormat
from datamodules.pipeline.encoding import collate_prompts
from datamodules.pipeline.tokenizer import add_format_tokens
from generation.engine import GenerationEngine, GenerationOptions
from generation.scripted import ScriptedLogits
from sandbox import SandboxOptions, SandboxPool
from tests.gloo import gloo_group
from tests.tiny_models import engine_llama

SCRIPTS = [
    "<|code|>x = 1<|endofblock|><|code|>print(x)<|endofblock|><|endofmessage|>",
    "<|text|>Done.<|endofblock|><|endofmessage|>",
]


def rollout_on_rank(rank: int, results: Path, tokenizer_folder: Path) -> None:
    torch.set_num_threads(1)
    with gloo_group(rank, results / "rendezvous"):
        forwards, rollouts = rollout(rank, tokenizer_folder)
    record = {"forwards": len(forwards), "texts": [r.text for r in rollouts]}
    (results / f"rank{rank}.json").write_text(json.dumps(record))


def rollout(rank: int, tokenizer_folder: Path) -> tuple[list[int], list]:
    """This rank's rollouts and one entry per forward pass its model made."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    add_format_tokens(tokenizer, LCEFormat().special_tokens)
    model = engine_llama(len(tokenizer))
    forwards = []
    model.register_forward_pre_hook(lambda *_: forwards.append(1))

    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    prompts = [encode(f"<|user|>Q{rank}{i}<|assistant|>") for i in range(2 - rank)]
    script = encode(SCRIPTS[rank])
    scripted = ScriptedLogits(
        {tuple(p): script for p in prompts}, tokenizer.pad_token_id, tokenizer.eos_token_id
    )
    batch = collate_prompts(prompts, tokenizer.pad_token_id)
    with SandboxPool(SandboxOptions(workers=1)) as pool:
        rollouts = GenerationEngine(GenerationOptions(64), [scripted]).rollout(
            model, tokenizer, LCEFormat(), pool, batch["input_ids"], batch["attention_mask"]
        )
    return forwards, rollouts


@pytest.mark.slow
def test_ranks_take_the_same_forward_passes(tmp_path: Path, corpus_tokenizer) -> None:
    assert "THINKCODE_CACHE" in os.environ  # the spawned ranks share the test cache
    corpus_tokenizer.save_pretrained(tmp_path / "tokenizer")  # the spawned ranks load it
    mp.spawn(rollout_on_rank, args=(tmp_path, tmp_path / "tokenizer"), nprocs=2)
    busy, idle = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert busy["forwards"] == idle["forwards"]
    assert [text.count("<|execution|>") for text in busy["texts"]] == [2, 2]
    assert idle["texts"] == [SCRIPTS[1]]

"""A GGUF file is converted once into a Hugging Face folder that loads fast and still talks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pretrained import gguf
from pretrained.gguf import cache_folder, cached_hf_folder


def test_cache_folder_follows_the_file(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    first = cache_folder(str(model))
    assert first == cache_folder(str(tmp_path / "." / "model.gguf"))
    os.utime(model, ns=(0, 1_000_000_000))
    assert cache_folder(str(model)) != first
    with pytest.raises(FileNotFoundError, match="nowhere"):
        cache_folder(str(tmp_path / "nowhere.gguf"))


def test_failed_conversion_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINKCODE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "broken.gguf"
    model.write_bytes(b"not a gguf file")

    def fail(*args: object, **kwargs: object) -> None:
        raise ValueError("unreadable GGUF")

    monkeypatch.setattr(gguf.AutoModelForCausalLM, "from_pretrained", fail)
    with pytest.raises(ValueError, match="unreadable GGUF"):
        cached_hf_folder(str(model))
    folder = cache_folder(str(model))
    assert not folder.exists() and list(folder.parent.iterdir()) == []


@pytest.mark.slow
def test_smollm2_converts_once_and_generates_english(smollm2_gguf: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf
    folder = cached_hf_folder(str(gguf))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(folder))
    saved = (folder / "model.safetensors").stat().st_mtime_ns

    start = time.perf_counter()
    assert cached_hf_folder(str(gguf)) == folder
    assert time.perf_counter() - start < 1.0
    assert (folder / "model.safetensors").stat().st_mtime_ns == saved

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    output = model.generate(**prompt, max_new_tokens=20, do_sample=False)
    reply = tokenizer.decode(output[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in reply, reply

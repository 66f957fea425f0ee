"""Model building: markers get real ids and rows from their spelling; LoRA keeps them trainable."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaForCausalLM

from datamodules.formats import HTLFormat
from datamodules.pipeline.tokenizer import add_format_tokens, load_pretrained_tokenizer
from lightning_modules.models import LoraOptions, add_lora, build_causal_lm
from lightning_modules.options import NetworkOptions
from lightning_modules.sft import SFTModule
from pretrained import gguf
from pretrained.location import pretrained_location

TINY = dict(
    model_type="llama",
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=2,
    max_position_embeddings=128,
)


@pytest.fixture()
def pretrained_folder(tmp_path, corpus_tokenizer, tiny_llama):
    """A 'pretrained' model saved with a tokenizer that lacks the format's markers."""
    base = corpus_tokenizer
    tiny_llama(len(base)).save_pretrained(tmp_path)
    base.save_pretrained(tmp_path)
    return tmp_path


def test_scratch_model_takes_its_vocabulary_from_the_tokenizer(tokenizer) -> None:
    model, new_ids = build_causal_lm(None, TINY, tokenizer)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert new_ids == [] and model.config.pad_token_id == tokenizer.pad_token_id


def test_exactly_one_model_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        build_causal_lm("some/model", TINY, None)
    with pytest.raises(ValueError, match="model_type"):
        build_causal_lm(None, {"hidden_size": 8}, None)


def test_added_markers_start_at_the_mean_of_their_spelling(pretrained_folder) -> None:
    tokenizer = load_pretrained_tokenizer(str(pretrained_folder))
    old_size = len(tokenizer)
    ids = add_format_tokens(tokenizer, ["<text>", "<Code>", "<|>"])
    assert ids == [old_size, old_size + 1, old_size + 2]  # from the tokenizer, any vocabulary
    original = LlamaForCausalLM.from_pretrained(pretrained_folder)
    model, new_ids = build_causal_lm(str(pretrained_folder), None, tokenizer)
    assert new_ids == ids
    for old, new in (
        (original.get_input_embeddings(), model.get_input_embeddings()),
        (original.get_output_embeddings(), model.get_output_embeddings()),
    ):
        for row, word in zip(ids, ("text", "Code")):
            spelling = tokenizer(word, add_special_tokens=False)["input_ids"]
            assert spelling and max(spelling) < old_size
            assert torch.allclose(new.weight[row], old.weight[spelling].mean(dim=0), atol=1e-6)
        assert not torch.allclose(new.weight[ids[0]], new.weight[ids[1]])  # told apart
        assert torch.allclose(new.weight[ids[2]], old.weight.mean(dim=0), atol=1e-6)  # no words
        assert torch.equal(new.weight[:old_size], old.weight)


def test_lora_trains_adapters_and_the_new_rows_only(pretrained_folder) -> None:
    tokenizer = load_pretrained_tokenizer(str(pretrained_folder))
    add_format_tokens(tokenizer, ["<text>", "<Code>"])
    model, new_ids = build_causal_lm(str(pretrained_folder), None, tokenizer)
    wrapped = add_lora(
        model, LoraOptions(r=4, alpha=8, target_modules=["q_proj", "v_proj"]), new_ids
    )
    trainable = [name for name, p in wrapped.named_parameters() if p.requires_grad]
    assert any("lora_A" in name for name in trainable)
    assert any("trainable_tokens" in name for name in trainable)
    assert not any(name.endswith("q_proj.base_layer.weight") for name in trainable)


def test_gguf_files_load_through_the_cached_folder(tmp_path, monkeypatch, pretrained_folder):
    with pytest.raises(FileNotFoundError, match=r"missing\.gguf"):
        pretrained_location(str(tmp_path / "missing.gguf"))
    gguf_file = tmp_path / "model.Q4_1.gguf"
    gguf_file.write_bytes(b"GGUF")
    converted = []
    monkeypatch.setattr(
        gguf, "cached_hf_folder", lambda path: converted.append(path) or pretrained_folder
    )
    tokenizer = load_pretrained_tokenizer(str(gguf_file))
    model, _ = build_causal_lm(str(gguf_file), None, tokenizer)
    assert converted == [str(gguf_file), str(gguf_file)]
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)


def test_a_pretrained_model_trains_in_train_mode(pretrained_folder) -> None:
    """from_pretrained hands back eval mode; a fit must start with dropout where there is any."""
    tokenizer = load_pretrained_tokenizer(str(pretrained_folder))
    format = HTLFormat()
    add_format_tokens(tokenizer, format.special_tokens)
    loaded, _ = build_causal_lm(str(pretrained_folder), None, tokenizer)
    assert not loaded.training  # what transformers gives
    module = SFTModule(tokenizer, format, NetworkOptions(pretrained=str(pretrained_folder)))
    assert all(submodule.training for submodule in module.model.modules())

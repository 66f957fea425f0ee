"""Building the wrapped causal LM: from the hub, a folder, a GGUF file, or a config from scratch;
loading an SFT checkpoint's weights into it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from checks import InputError
from pretrained.location import pretrained_location


@dataclass
class LoraOptions:
    """LoRA adapters through peft (HTL's RL stage used r=16, alpha=32, dropout=0.05)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )


def build_causal_lm(
    model: str | None,
    model_config: dict[str, Any] | None,
    tokenizer: PreTrainedTokenizerBase,
    attn_implementation: str = "sdpa",
    dtype: torch.dtype | None = None,
) -> tuple[PreTrainedModel, list[int]]:
    """The model and the ids of embedding rows added for the tokenizer's new tokens.

    Exactly one of ``model`` (hub id, folder or .gguf file) and ``model_config`` (a dict with
    ``model_type`` and that architecture's fields, for training from scratch) names the model."""
    if (model is None) == (model_config is None):
        raise InputError("give exactly one of `model` (a name or path) and `model_config`")
    if model_config is not None:
        settings = dict(model_config)
        model_type = settings.pop("model_type", None)
        if model_type is None:
            raise InputError("model_config needs a `model_type` (e.g. llama, mistral, qwen2)")
        config = AutoConfig.for_model(
            model_type,
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **settings,
        )
        config._attn_implementation = attn_implementation
        network = AutoModelForCausalLM.from_config(config, attn_implementation=attn_implementation)
        return (network.to(dtype) if dtype is not None else network), []
    network = AutoModelForCausalLM.from_pretrained(
        pretrained_location(model), attn_implementation=attn_implementation, dtype=dtype
    )
    new_token_ids = resize_embeddings(network, tokenizer)
    if network.generation_config.pad_token_id is None:
        network.generation_config.pad_token_id = tokenizer.pad_token_id
    return network, new_token_ids


def resize_embeddings(network: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Grows the embeddings to the tokenizer (added format markers). Each new row starts at the
    mean of the rows of the words in its spelling (``<Code>`` from ``Code``), so markers begin
    apart from each other and near their meaning; a marker without words gets the mean row."""
    old_size = network.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= old_size:
        return []
    new_ids = list(range(old_size, len(tokenizer)))
    network.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    spellings = [spelling_ids(tokenizer, token_id, old_size) for token_id in new_ids]
    with torch.no_grad():
        for embeddings in {network.get_input_embeddings(), network.get_output_embeddings()}:
            if embeddings is None:
                continue
            weight = embeddings.weight
            mean = weight[:old_size].mean(dim=0)
            for token_id, words in zip(new_ids, spellings):
                weight[token_id] = weight[words].mean(dim=0) if words else mean
    return new_ids


def spelling_ids(tokenizer: PreTrainedTokenizerBase, token_id: int, old_size: int) -> list[int]:
    """Ids of the existing tokens that spell the words of an added token."""
    words = " ".join(re.findall(r"[A-Za-z0-9]+", tokenizer.convert_ids_to_tokens(token_id)))
    ids = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
    return [i for i in ids if i < old_size]


def add_lora(network: PreTrainedModel, options: LoraOptions, new_token_ids: list[int]) -> PeftModel:
    """Wraps the model with LoRA; rows of tokens added for the format stay trainable."""
    config = LoraConfig(
        r=options.r,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=options.target_modules,
        trainable_token_indices=new_token_ids or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(network, config)


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
        raise InputError(f"{path}: no `model.*` weights; is it an SFTModule checkpoint?")
    if any("lora_" in key for key in weights):
        raise InputError(
            f"{path} holds LoRA adapters: export it to a Hugging Face folder first "
            "(python export.py <ckpt> <folder>) and start from `pretrained: <folder>`"
        )
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise InputError(
            f"{path} does not fit this model (same model_config and tokenizer as the SFT run?): "
            f"{error}"
        ) from error

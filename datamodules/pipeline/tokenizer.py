"""Tokenizers: a pretrained one by name, or a small byte-level BPE trained offline on the corpus."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from pretrained.cache import cache_root
from pretrained.location import pretrained_location

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"


def load_pretrained_tokenizer(name: str) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(pretrained_location(name))
    if tokenizer.pad_token is None:  # many causal LMs ship none; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def train_corpus_tokenizer(texts: Sequence[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (lossless, so programs decode exactly) with digits kept one per token,
    which makes copying and computing numbers easier for a small model."""
    fingerprint = hashlib.sha256(f"{vocab_size}\0".encode())
    for text in texts:
        fingerprint.update(text.encode())
        fingerprint.update(b"\0")
    folder = cache_root() / "tokenizers" / fingerprint.hexdigest()[:16]
    if (folder / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(folder)

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )
    folder.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(folder)
    return wrapped


def add_format_tokens(tokenizer: PreTrainedTokenizerBase, tokens: Sequence[str]) -> list[int]:
    """Registers a format's markers as special tokens; returns their ids (never hard-coded)."""
    tokenizer.add_special_tokens(
        {"additional_special_tokens": list(tokens)}, replace_extra_special_tokens=False
    )
    return tokenizer.convert_tokens_to_ids(list(tokens))

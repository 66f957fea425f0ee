"""The cache root: where built artefacts (corpus tokenizers, converted models) are kept."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where built artefacts (corpus tokenizers, converted models) are kept between runs."""
    return Path(os.environ.get("THINKCODE_CACHE", Path.home() / ".cache" / "thinkcode"))

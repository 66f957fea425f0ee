"""Two-process gloo groups for tests that spawn ranks themselves.

The rendezvous is a file, not a TCP store: a TCP store lives in rank 0's process, and a rank 0
that tears down and exits while rank 1 is still leaving the group took rank 1 down with
"terminate called without an active exception" (SIGABRT) on a loaded machine. A file needs no
server, and no port can be taken between choosing it and binding it. Both ranks meet at a
barrier before either leaves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist


@contextmanager
def gloo_group(rank: int, rendezvous: Path, world_size: int = 2) -> Iterator[None]:
    """A gloo process group for the block; a rank left waiting fails after 60 s, not never."""
    dist.init_process_group(
        "gloo",
        f"file://{rendezvous}",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=60),
    )
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()

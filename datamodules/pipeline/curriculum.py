"""An RL curriculum over training sources: draw more prompts from where the groups are mixed.

A GRPO/RLOO group whose samples all score alike has zero advantage and teaches nothing (DAPO's
dynamic sampling, arXiv 2503.14476, drops such groups after paying for them). A small model
scores 0 on almost every GSM8K group and 1 on almost every easy one, so which source the prompts
come from decides how much of a batch carries signal. This sampler keeps, per source (a
sample's ``dataset``), a running rate of mixed groups, and draws each prompt's source in
proportion to it, with a floor so that no source goes unmeasured (in the spirit of the
online-difficulty curricula of Kimi k1.5, arXiv 2501.12599, and of prioritised level replay).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from torch.utils.data import Sampler

from checks import InputError


class MixedGroupCurriculum(Sampler[int]):
    """Indices into the training prompts, each from a source drawn by its mixed-group rate.

    Args:
        sources: each training prompt's source, in dataset order.
        floor: the share of draws spread evenly over the sources whatever their rates.
        decay: the running rate's memory per observed group (0.9: about the last 10 groups).
        seed: the draws' seed; each pass (epoch) continues the same stream.

    A pass yields ``len(sources)`` indices; within a source, prompts come in a shuffled order
    and are all used before any repeats. Until a source's groups have been seen its rate is 1,
    so the first batches spread evenly.
    """

    def __init__(
        self, sources: Sequence[str], floor: float = 0.2, decay: float = 0.9, seed: int = 0
    ) -> None:
        if not sources:
            raise InputError("the curriculum needs at least one training prompt")
        if not 0.0 <= floor <= 1.0 or not 0.0 <= decay < 1.0:
            raise InputError(f"need 0 <= floor <= 1 and 0 <= decay < 1, got {floor}, {decay}")
        self.floor, self.decay = floor, decay
        self.members: dict[str, list[int]] = {}
        for index, source in enumerate(sources):
            self.members.setdefault(source, []).append(index)
        self.size = len(sources)
        self.rates = dict.fromkeys(self.members, 1.0)
        self.random = random.Random(seed)
        self.queues: dict[str, list[int]] = {source: [] for source in self.members}

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        for _ in range(self.size):
            yield self._next_of(self._draw_source())

    def probabilities(self) -> dict[str, float]:
        """Each source's chance of supplying the next prompt."""
        even = 1.0 / len(self.rates)
        total = sum(self.rates.values())
        if total == 0.0:
            return dict.fromkeys(self.rates, even)
        return {s: self.floor * even + (1 - self.floor) * r / total for s, r in self.rates.items()}

    def observe(self, source: str, mixed: bool) -> None:
        """One group of ``source`` was scored: were its samples' scores mixed?"""
        if source not in self.rates:
            raise KeyError(f"no training prompt comes from {source!r}: {sorted(self.rates)}")
        self.rates[source] = self.decay * self.rates[source] + (1 - self.decay) * float(mixed)

    def state_dict(self) -> dict[str, Any]:
        """The rates, the draw stream and each source's unused prompts: a resumed run draws
        exactly what the interrupted one would have."""
        queues = {source: list(queue) for source, queue in self.queues.items()}
        return {"rates": dict(self.rates), "random": self.random.getstate(), "queues": queues}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        unknown = state["rates"].keys() - self.rates.keys()
        if unknown:
            raise InputError(f"the checkpoint's curriculum has sources this data lacks: {unknown}")
        self.rates.update(state["rates"])
        self.queues.update({source: list(queue) for source, queue in state["queues"].items()})
        version, internal, gauss = state["random"]
        self.random.setstate((version, tuple(internal), gauss))

    def _draw_source(self) -> str:
        chances = self.probabilities()
        return self.random.choices(list(chances), weights=list(chances.values()))[0]

    def _next_of(self, source: str) -> int:
        queue = self.queues[source]
        if not queue:
            queue.extend(self.members[source])
            self.random.shuffle(queue)
        return queue.pop()

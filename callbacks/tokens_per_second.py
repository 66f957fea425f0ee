"""Training throughput in tokens/s, on the progress bar and in the logger."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class TokensPerSecond(L.Callback):
    """Counts real (non-padding) tokens over a window of optimizer steps.

    Lightning's ThroughputMonitor logs to the logger only; this one also shows on the progress bar.
    """

    def __init__(self, window: int = 20) -> None:
        self.window = window
        self._tokens = 0
        self._start = 0.0
        self._batches = 0

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._batches == 0:
            self._start = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._tokens += int(batch["attention_mask"].sum())
        self._batches += 1
        if self._batches >= self.window:
            rate = self._tokens / (time.perf_counter() - self._start)
            pl_module.log("train/tokens_per_sec", rate, prog_bar=True, on_step=True, on_epoch=False)
            self._tokens, self._batches = 0, 0

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Validation time is not training time: start a new window after it."""
        self._tokens, self._batches = 0, 0

"""Writes ``predict`` results as jsonl: one record per problem, with its generation and verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter


class JsonlPredictionWriter(BasePredictionWriter):
    """Appends each predict batch's records to ``path`` (one file per rank when distributed).

    Args:
        path: the jsonl file to write; ``{rank}`` in it is replaced by the global rank.
    """

    def __init__(self, path: str = "predictions.jsonl") -> None:
        super().__init__(write_interval="batch")
        self.path = path

    def _file(self, trainer: L.Trainer) -> Path:
        return Path(self.path.format(rank=trainer.global_rank))

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        target = self._file(trainer)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("")  # a new prediction run replaces the old file

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Sequence[dict[str, Any]],
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        with self._file(trainer).open("a", encoding="utf-8") as out:
            for record in prediction:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")

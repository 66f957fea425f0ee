"""Feeds the RL curriculum: after each rollout batch, which sources' groups were mixed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

from checks import InputError
from datamodules.pipeline.curriculum import MixedGroupCurriculum


class CurriculumFeedback(L.Callback):
    """Tells the datamodule's :class:`MixedGroupCurriculum` the outcome of every group of the
    batch the RL module just trained on (its ``training_step`` returns ``groups``: each
    prompt's source and whether its samples' scores differed), and logs each source's draw
    chance and mixed-group rate (``curriculum/p/<source>``, ``curriculum/mixed/<source>``).

    On several ranks each rank's curriculum learns from its own groups, and Lightning's
    distributed sampler wrapper draws a whole pass at the start of each epoch, so the feedback
    steers the next epoch rather than the next batch.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self._curriculum(trainer) is None:
            raise InputError(
                "CurriculumFeedback needs a curriculum to feed: set data.init_args.curriculum_floor"
            )

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Mapping[str, Any] | None,
        batch: Any,
        batch_idx: int,
    ) -> None:
        curriculum = self._curriculum(trainer)
        if curriculum is None or not outputs or "groups" not in outputs:
            raise InputError(
                f"{type(pl_module).__name__}.training_step returns no `groups` for the curriculum"
            )
        for source, mixed in outputs["groups"]:
            curriculum.observe(source, mixed)
        chances = curriculum.probabilities()
        for source, rate in curriculum.rates.items():
            pl_module.log(f"curriculum/p/{source}", chances[source], on_step=True)
            pl_module.log(f"curriculum/mixed/{source}", rate, on_step=True)

    @staticmethod
    def _curriculum(trainer: L.Trainer) -> MixedGroupCurriculum | None:
        return getattr(trainer.datamodule, "curriculum", None)

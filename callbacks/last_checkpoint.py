"""The latest weights of a fit, wherever it stopped.

Lightning's ``ModelCheckpoint`` saves after validations, so a fit that ends between two of them
(``max_steps`` not a multiple of ``val_check_interval``, ``max_time``) loses the steps since the
last one, and ``save_last`` only covers a run that never saved at all. This subclass also saves
when training ends, under the same name, so ``--ckpt_path .../last.ckpt`` resumes where the run
stopped; ``save_on_exception: true`` covers Ctrl-C and crashes the same way.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    """A ``ModelCheckpoint`` (use it without ``monitor``) that also saves at the end of fit."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if trainer.fast_dev_run or self._last_global_step_saved == trainer.global_step:
            return
        self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))

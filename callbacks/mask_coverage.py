"""The focus-attention coverage schedule: how much of the question the program may not see, when.

HTL ramps the coverage ``c`` with training progress ``p`` (optimizer steps done / total optimizer
steps): dense at both ends keeps training close to pretraining and to inference. ``p`` counts
optimizer steps of training only (gradient accumulation respected); validation and sanity checks
never move it. The total is fixed when a run first starts and saved in checkpoints, so a resumed
run continues at the same ``c``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_warn

from checks import InputError
from lightning_modules.focus_attention import FocusAttentionMixin

Schedule = Literal["quadratic", "constant", "linear", "none"]
SCHEDULES: tuple[Schedule, ...] = ("quadratic", "constant", "linear", "none")


class MaskCoverage(pl.Callback):
    """Sets ``pl_module.focus_coverage`` before each training batch; logs it as ``focus/coverage``.

    Schedules, with ``p`` in [0, 1]:
    - ``quadratic`` (HTL's): ``c = clip(a * (p - 0.5)**2 + b, 0, 1)``; the paper's a = -11, b = 1.76
      is dense for p <= 0.1 and p >= 0.9 and fully masked for 0.237 <= p <= 0.763;
    - ``constant``: ``c = value``;
    - ``linear``: a ramp ``c = value * p``;
    - ``none``: ``c = 0``, the dense baseline.
    """

    def __init__(
        self,
        schedule: Schedule = "quadratic",
        a: float = -11.0,
        b: float = 1.76,
        value: float = 1.0,
    ) -> None:
        if schedule not in SCHEDULES:
            raise InputError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if not 0.0 <= value <= 1.0:
            raise InputError(f"value must be in [0, 1], got {value}")
        self.schedule = schedule
        self.a, self.b, self.value = a, b, value
        self.total_steps: int | None = None

    def coverage_at(self, progress: float) -> float:
        """The coverage at training progress ``progress`` (optimizer steps done / total)."""
        if self.schedule == "quadratic":
            raw = self.a * (progress - 0.5) ** 2 + self.b
        elif self.schedule == "linear":
            raw = self.value * progress
        elif self.schedule == "constant":
            raw = self.value
        else:
            raw = 0.0
        return min(max(raw, 0.0), 1.0)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # A new fit measures its own length, unless a checkpoint restores it afterwards.
        if stage == "fit":
            self.total_steps = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, FocusAttentionMixin):
            raise InputError(
                f"MaskCoverage drives FocusAttentionMixin; {type(pl_module).__name__} is not one."
            )
        if self.schedule != "none":
            pl_module.check_focus_attention_support()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.schedule not in ("quadratic", "linear"):
            return  # c does not depend on progress
        estimate = trainer.estimated_stepping_batches
        if self.total_steps is None:
            if not math.isfinite(estimate) or estimate < 0:  # -1: data without a length
                raise InputError(
                    f"the {self.schedule!r} coverage schedule needs a known number of optimizer "
                    "steps: set trainer.max_steps (the training data has no length)."
                )
            self.total_steps = int(estimate)
        elif self.total_steps != estimate:
            rank_zero_warn(
                f"MaskCoverage keeps the checkpoint's schedule length ({self.total_steps} "
                f"optimizer steps); this run estimates {estimate}."
            )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        progress = trainer.global_step / self.total_steps if self.total_steps else 0.0
        coverage = self.coverage_at(progress)
        pl_module.focus_coverage = coverage
        pl_module.log("focus/coverage", coverage, on_step=True, on_epoch=False)

    def state_dict(self) -> dict[str, Any]:
        return {"total_steps": self.total_steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.total_steps = state_dict["total_steps"]

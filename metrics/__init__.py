"""Numbers over many verdicts: the torchmetrics classes of evaluation (per dataset, synced across
ranks), of CoGEX emulation and of behaviours, and the statistics of the reports (``significance``).

The verdicts themselves come from ``grading``."""

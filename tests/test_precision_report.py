"""The bf16-mixed vs fp32 report: losses over the steps both runs logged, speeds, from events."""

import json

import pytest
from torch.utils.tensorboard import SummaryWriter

from benchmarks.reports.precision import main


def write_run(folder, losses, speed):
    writer = SummaryWriter(str(folder))
    for step, loss in losses.items():
        writer.add_scalar("train/loss", loss, step)
        writer.add_scalar("train/tokens_per_sec", speed, step)
    writer.close()
    return str(folder)


def test_losses_are_compared_on_shared_steps_only(tmp_path, capsys):
    bf16 = write_run(tmp_path / "bf16", {4: 1.0, 9: 0.8, 14: 0.6, 19: 0.4}, speed=200.0)
    fp32 = write_run(tmp_path / "fp32", {4: 1.2, 9: 0.6}, speed=100.0)  # stopped early
    output = tmp_path / "precision.json"
    main(["--bf16", bf16, "--fp32", fp32, "--window", "5", "--output", str(output)])
    result = json.loads(output.read_text())
    assert result["steps_compared"] == 2 and result["last_step"] == 9
    assert result["loss_bf16"] == pytest.approx(0.9) and result["loss_fp32"] == pytest.approx(0.9)
    assert [row["steps"] for row in result["windows"]] == ["4-4", "9-9"]
    assert result["speedup"] == pytest.approx(2.0)
    assert "| 4-4 | 1.000 | 1.200 |" in capsys.readouterr().out

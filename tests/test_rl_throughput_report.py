"""Where an RL run's hour goes, from its time/* events: warm-up batches apart, steady means."""

import json

import pytest
import yaml
from torch.utils.tensorboard import SummaryWriter

from benchmarks.reports.rl_throughput import main


def write_sitting(folder, batches, problems=4, samples=4):
    """A run folder: (rollout, score+update, push) seconds per batch and the recipe's sizes."""
    writer = SummaryWriter(str(folder))
    for step, (rollout, update, push) in enumerate(batches):
        writer.add_scalar("time/rollout_s", rollout, step)
        writer.add_scalar("time/score_and_update_s", update, step)
        writer.add_scalar("time/weight_push_s", push, step)
    writer.close()
    recipe = {
        "data": {"init_args": {"batch_size": problems}},
        "model": {"init_args": {"rollout": {"num_samples": samples}}},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(recipe))
    return str(folder)


def test_each_sittings_first_batch_is_the_warm_up(tmp_path):
    first = write_sitting(tmp_path / "v0", [(100.0, 50.0, 1.0), (10.0, 30.0, 0.5)])
    second = write_sitting(tmp_path / "v1", [(90.0, 40.0, 1.0), (14.0, 50.0, 0.5)])
    output = tmp_path / "rl.json"
    output.write_text(json.dumps({"smollm2": {"wall_s": 1}}))
    main(["--name", "vllm", "--run", first, "--run", second, "--output", str(output)])
    recorded = json.loads(output.read_text())
    assert recorded["smollm2"] == {"wall_s": 1}  # other parts kept
    result = recorded["throughput"]["vllm"]
    assert result["batches"] == 4 and result["steady_batches"] == 2
    assert result["first_batch_s"]["rollout_s"] == pytest.approx(95.0)
    assert result["steady_batch_s"] == {
        "rollout_s": 12.0,
        "score_and_update_s": 40.0,
        "weight_push_s": 0.5,
        "total": 52.5,
    }
    assert result["share"]["score_and_update_s"] == pytest.approx(40 / 52.5, abs=1e-4)
    assert result["rollouts_per_hour"] == pytest.approx(16 * 3600 / 52.5, abs=0.1)


def test_sittings_of_different_batch_sizes_are_refused(tmp_path):
    small = write_sitting(tmp_path / "v0", [(1.0, 1.0, 0.0), (1.0, 1.0, 0.0)])
    large = write_sitting(tmp_path / "v1", [(1.0, 1.0, 0.0), (1.0, 1.0, 0.0)], samples=8)
    with pytest.raises(SystemExit, match="rollouts per batch"):
        main(["--name", "x", "--run", small, "--run", large, "--output", str(tmp_path / "o")])

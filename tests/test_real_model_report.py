"""The real-model report: accuracies with Wilson intervals and McNemar's test from the records."""

import json

import pytest
from torch.utils.tensorboard import SummaryWriter

from benchmarks.reports.real_model_report import main
from metrics.significance import mcnemar_exact, wilson_interval


def write_run(folder, verdicts):
    folder.mkdir()
    lines = [
        {
            "dataset": dataset,
            "id": f"{dataset}-{index}",
            "correct": correct,
            "text_correct": correct,
            "program_correct": correct,
            "stage": "full",
            "generated_tokens": 10,
            "generation": "words <Code> print(1)",
            "outcome": "ok",
            "finish_reason": "stop",
            "program_answer": "1",
        }
        for dataset, row in verdicts.items()
        for index, correct in enumerate(row)
    ]
    (folder / "evaluation_samples.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    return str(folder)


def test_report_carries_intervals_and_the_paired_tests(tmp_path, capsys):
    # mawps: htl solves 0-7, pot solves 5-9 -> htl alone 0-4 (b = 5), pot alone 8-9 (c = 2)
    htl = {"mawps": [i < 8 for i in range(10)], "svamp": [True, False, False, False]}
    pot = {"mawps": [i >= 5 for i in range(10)], "svamp": [True, True, False, False]}
    output = tmp_path / "real_model.json"
    main(
        [
            "--eval", f"htl={write_run(tmp_path / 'htl', htl)}",
            "--eval", f"pot={write_run(tmp_path / 'pot', pot)}",
            "--problems", "4",
            "--output", str(output),
        ]
    )  # fmt: skip
    result = json.loads(output.read_text())
    assert result["sets"]["mawps"] == {"n": 10, "htl": 0.8, "pot": 0.5}
    assert result["ci95"]["htl"]["mawps"] == pytest.approx(wilson_interval(8, 10), abs=1e-4)
    assert result["ci95"]["pot"]["all"] == pytest.approx(wilson_interval(7, 14), abs=1e-4)
    mawps = result["paired"]["htl_vs_pot"]["mawps"]
    assert (mawps["n"], mawps["b"], mawps["c"]) == (10, 5, 2)
    assert mawps["p"] == pytest.approx(mcnemar_exact(5, 2), abs=1e-6)
    overall = result["paired"]["htl_vs_pot"]["all"]
    assert (overall["n"], overall["b"], overall["c"]) == (14, 5, 3)
    assert set(result["paired"]) == {"htl_vs_pot"}  # the other default pairs lack a condition
    table = capsys.readouterr().out
    assert "| mawps | 80.0 (49.0-94.3) | 50.0 (23.7-76.3) |" in table
    assert "| all | 14 | 5 | 3 |" in table


def write_rl_sitting(folder, rewards, first_step=0):
    """A GRPO sitting's TensorBoard events: one reward, kept share and KL per rollout batch."""
    writer = SummaryWriter(str(folder))
    for step, reward in enumerate(rewards, start=first_step):
        writer.add_scalar("reward/mean", reward, step)
        writer.add_scalar("rollout/loss_fraction", 0.5, step)
        writer.add_scalar("ppo/kl", 0.1 * step, step)
    writer.close()
    return str(folder)


def test_an_rl_runs_curve_spans_its_sittings(tmp_path, capsys):
    # the first sitting logged batch 2 (step 1) before it was stopped; the resumed one redid it
    first = write_rl_sitting(tmp_path / "first", [0.1, 0.2])
    second = write_rl_sitting(tmp_path / "second", [0.25, 0.3], first_step=1)
    runs = {"mawps": [True, False]}
    output = tmp_path / "real_model.json"
    main(
        [
            "--eval", f"htl={write_run(tmp_path / 'htl', runs)}",
            "--train", f"htl_grpo={first}", "--train", f"htl_grpo={second}",
            "--problems", "2",
            "--output", str(output),
        ]
    )  # fmt: skip
    curve = json.loads(output.read_text())["training"]["htl_grpo"]["curve"]
    assert [(row["batch"], row["reward"]) for row in curve] == [(1, 0.1), (2, 0.25), (3, 0.3)]
    assert curve[2] == {"batch": 3, "step": 2, "reward": 0.3, "loss_fraction": 0.5, "kl": 0.2}
    assert "| 2 | 0.250 | 0.500 | 0.100 |" in capsys.readouterr().out

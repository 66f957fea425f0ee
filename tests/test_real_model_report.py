"""The real-model report: accuracies with Wilson intervals and McNemar's test from the records."""

import json

import pytest

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

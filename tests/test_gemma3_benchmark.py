"""The Gemma 3 benchmark: its accuracy table (per set, both conditions' accuracy and interval and
McNemar's paired test, from two evaluation runs' per-sample records) and its timed rounds."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from benchmarks.experiments import gemma3
from benchmarks.experiments.gemma3 import SETS, accuracy_sets, main
from metrics.significance import mcnemar_exact, wilson_interval


def run_folder(root: Path, name: str, solved: dict[str, set[int]], size: int = 10) -> Path:
    """A ``main.py test`` run folder whose records solve the problems ``solved`` names."""
    folder = root / name
    folder.mkdir()
    records = [
        {"dataset": dataset, "id": str(i), "correct": i in solved.get(dataset, set())}
        for dataset in SETS
        for i in range(size)
    ]
    lines = "".join(json.dumps(record) + "\n" for record in records)
    (folder / "evaluation_samples.jsonl").write_text(lines)
    return folder


def test_each_set_gets_both_accuracies_intervals_and_the_paired_test(tmp_path: Path) -> None:
    base = run_folder(tmp_path, "base", {"mawps": {0, 1, 2}, "svamp": {0}})
    htl = run_folder(tmp_path, "htl", {"mawps": {1, 2, 3, 4, 5}, "asdiv": {7}})
    sets = accuracy_sets(base, htl)
    assert list(sets) == list(SETS)
    mawps = sets["mawps"]
    assert mawps["n"] == 10 and mawps["base"] == 0.3 and mawps["htl"] == 0.5
    assert mawps["htl_ci95"] == [round(x, 4) for x in wilson_interval(5, 10)]
    assert mawps["mcnemar"] == {"b": 1, "c": 3, "p": float(f"{mcnemar_exact(1, 3):.6g}")}
    assert sets["svamp"]["mcnemar"]["b"] == 1 and sets["asdiv"]["mcnemar"]["c"] == 1


def test_a_set_one_run_did_not_grade_is_named(tmp_path: Path) -> None:
    base = run_folder(tmp_path, "base", {})
    htl = tmp_path / "htl"
    htl.mkdir()
    (htl / "evaluation_samples.jsonl").write_text(
        json.dumps({"dataset": "mawps", "id": "0", "correct": True}) + "\n"
    )
    with pytest.raises(SystemExit, match="svamp: not graded by both"):
        accuracy_sets(base, htl)


def test_help_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "benchmarks/results/gemma3.json" in capsys.readouterr().out


def test_the_arms_swap_order_every_round_on_the_same_batches(monkeypatch) -> None:
    calls: list[str] = []
    batches = [{"input_ids": torch.ones(1, 2)}]

    def lightning_arm(data, args):  # type: ignore[no-untyped-def]
        calls.append("lightning")
        return SimpleNamespace(batches=batches, rates={"wall": 10.0 + len(calls)})

    def bare_arm(data, args, seen):  # type: ignore[no-untyped-def]
        assert seen is batches  # the Lightning arm's batches, also when bare goes first
        calls.append("bare")
        return 5.0 + len(calls)

    monkeypatch.setattr(gemma3, "lightning_arm", lightning_arm)
    monkeypatch.setattr(gemma3, "bare_arm", bare_arm)
    rates, peak = gemma3.timed_rounds(None, SimpleNamespace(rounds=3))
    assert calls == ["lightning", "bare", "bare", "lightning", "lightning", "bare"]
    assert rates == {"lightning": [11.0, 14.0, 15.0], "bare": [7.0, 8.0, 11.0]}
    assert peak > 0

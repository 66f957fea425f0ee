"""The evaluation metrics: each value, the per-dataset breakdown, and the sync across ranks."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from grading.verification import Verdict
from metrics.evaluation import METRICS, EvaluationMetrics


def verdict(
    correct: bool = False,
    text: bool = False,
    program: bool = False,
    outcome: str = "ok",
    stage: str = "solution",
    matcher_timeout: bool = False,
    tokens: int = 10,
) -> Verdict:
    return Verdict(
        text_answer=None,
        program_answer=None,
        correct=correct,
        text_correct=text,
        outcome=outcome,
        output="",
        program_correct=program,
        stage=stage,
        matcher_timed_out=matcher_timeout,
        generated_tokens=tokens,
    )


GSM8K = [  # 4 samples
    verdict(correct=True, text=True, program=True, tokens=10),
    verdict(correct=False, text=True, program=False, tokens=20),  # code-translation error
    verdict(correct=True, outcome="error", stage="program", tokens=30),
    verdict(outcome="timeout", stage="none", matcher_timeout=True, tokens=40),
]
SVAMP = [  # 2 samples
    verdict(correct=True, outcome="no_program", stage="words", text=True, tokens=5),
    verdict(outcome="memory", stage="none", tokens=15),
]


def filled() -> EvaluationMetrics:
    metric = EvaluationMetrics(["gsm8k", "svamp"])
    metric.update(GSM8K[:2] + SVAMP[:1], ["gsm8k", "gsm8k", "svamp"])
    metric.update(GSM8K[2:] + SVAMP[1:], ["gsm8k", "gsm8k", "svamp"])
    return metric


def test_every_metric_per_dataset() -> None:
    results = filled().compute()
    assert results["gsm8k"] == {
        "exec_acc": 2 / 4,
        "reasoning_acc": 2 / 4,
        "program_acc": 1 / 4,
        "cte_rate": 1 / 4,
        "exec_error_rate": 1 / 4,
        "timeout_rate": 1 / 4,
        "matcher_timeout_rate": 1 / 4,
        "program_fallback_rate": 1 / 4,
        "words_fallback_rate": 0.0,
        "mean_gen_tokens": 25.0,
        "samples": 4.0,
    }
    svamp = results["svamp"]
    assert svamp["exec_acc"] == 0.5 and svamp["words_fallback_rate"] == 0.5
    assert svamp["exec_error_rate"] == 0.5  # a memory kill is the program's failure
    assert svamp["cte_rate"] == 0.5  # right in words, no program
    assert svamp["mean_gen_tokens"] == 10.0


def test_overall_row_sums_the_datasets() -> None:
    overall = filled().compute()["all"]
    assert overall["samples"] == 6
    assert overall["exec_acc"] == pytest.approx(3 / 6)
    assert overall["mean_gen_tokens"] == pytest.approx(120 / 6)
    assert set(overall) == {*METRICS, "samples"}


def test_datasets_without_samples_are_left_out_and_unknown_ones_refused() -> None:
    metric = EvaluationMetrics(["gsm8k", "svamp"])
    metric.update(GSM8K, ["gsm8k"] * 4)
    assert set(metric.compute()) == {"gsm8k", "all"}
    with pytest.raises(ValueError, match="unknown datasets \\['math'\\]"):
        metric.update(GSM8K[:1], ["math"])
    with pytest.raises(ValueError, match="2 verdicts but 1 dataset"):
        metric.update(GSM8K[:2], ["gsm8k"])
    with pytest.raises(ValueError, match="'all' names the overall row"):
        EvaluationMetrics(["all"])


def test_reset_starts_over() -> None:
    metric = filled()
    metric.reset()
    metric.update(SVAMP, ["svamp", "svamp"])
    assert metric.compute()["all"]["samples"] == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rank_computes(rank: int, world_size: int, port: int, results: mp.SimpleQueue) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size, timeout=timedelta(seconds=60))
    try:
        metric = EvaluationMetrics(["gsm8k", "svamp"])
        verdicts = (GSM8K + SVAMP)[rank::world_size]  # each rank grades every other sample
        datasets = (["gsm8k"] * 4 + ["svamp"] * 2)[rank::world_size]
        metric.update(verdicts, datasets)
        results.put((rank, metric.compute()))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two fresh interpreters import torch and torchmetrics: ~15-25 s on 2 cores
def test_two_ranks_compute_what_one_process_computes_on_all_the_data() -> None:
    results = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_rank_computes, args=(2, _free_port(), results), nprocs=2)
    synced = dict(results.get() for _ in range(2))
    assert synced[0] == synced[1] == filled().compute()

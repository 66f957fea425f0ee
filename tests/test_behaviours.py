"""Behaviour rules, each on text it must tag and text it must leave alone, and the metrics that
count them by correctness."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamodules.sample import Block
from grading.behaviours import RULES, check_behaviours, rules_table, tag
from lightning_modules.sft import SFTModule
from main import main
from metrics.behaviour_metrics import BehaviourMetrics


def text(content: str) -> Block:
    return Block("text", content)


def code(content: str) -> Block:
    return Block("code", content)


def run(content: str) -> Block:
    return Block("execution", content)


# rule -> (blocks it must fire on, blocks it must not fire on)
CASES: dict[str, tuple[list[Block], list[Block]]] = {
    "verify_words": (
        [text("Let's verify the answer by plugging x = 3 back into the equation.")],
        [text("She wrote a check for $5 and checked out of the hotel.")],
    ),
    "verify_code": (
        [code("x = solve(eq)[0]\nassert 2 * x + 1 == 7")],
        [code("cost_before_check = 12\nprint(cost_before_check == 12)")],
    ),
    "backtrack_words": (
        [text("The total is 793, which does not match. I made an error; let's re-evaluate.")],
        [text("The total is 793, which matches the given value.")],
    ),
    "code_after_error": (
        [code("y = x + 1"), run("NameError: name 'x' is not defined"), code("x = 1\ny = x + 1")],
        [code("y = x + 1"), run("NameError: name 'x' is not defined"), text("So y is 2.")],
    ),
    "backward_words": (
        [text("To find the number of apples left, we first need the number eaten.")],
        [text("She had 5 apples and ate 2, so 3 apples are left.")],
    ),
    "subgoal_words": (
        [text("Let's break this problem down into smaller parts.")],
        [text("The answer is 12 because 3 times 4 is 12.")],
    ),
    "numbered_plan": (
        [text("We will:\n1. Find the price.\n2. Apply the discount.")],
        [text("In 1. the price is 5 dollars, and nothing else is numbered.")],
    ),
    "step_comments": (
        [code("# Step 1: the price\nprice = 5\n# Step 2: the discount\nprice -= 1")],
        [code("# the price\nprice = 5  # steps of 1 dollar")],
    ),
}


def test_every_rule_has_cases_and_says_what_it_matches() -> None:
    assert {rule.name for rule in RULES} == set(CASES)
    assert all(len(rule.matches) > 30 for rule in RULES)
    table = rules_table()
    assert all(f"`{rule.name}`" in table for rule in RULES)


@pytest.mark.parametrize("name", CASES)
def test_rule_fires_on_its_positive_example_only(name: str) -> None:
    positive, negative = CASES[name]
    rule = next(rule for rule in RULES if rule.name == name)
    assert rule.find(positive), f"{name} missed {positive}"
    assert not rule.find(negative), f"{name} fired on {negative}: {rule.find(negative)}"
    assert rule.behaviour in tag(positive).behaviours


def test_rules_read_only_their_block_kind() -> None:
    """Words in code, and code-shaped text in words, do not count."""
    assert not tag([code("# Let's verify: I made an error, step 1")]).hits.keys() & {
        "verify_words",
        "backtrack_words",
        "subgoal_words",
    }
    assert "verify_code" not in tag([text("assert x == 3")]).hits


def test_tags_record_snippets_and_crucial_tokens() -> None:
    tags = tag([text("Wait, let me check. Let's verify it: however, wait.")])
    assert tags.crucial_tokens == {"wait": 2, "let": 2, "check": 1, "verify": 1, "however": 1}
    record = tags.record()
    assert record["behaviours"] == ["backtracking", "verification"]
    assert record["hits"] == {
        "verify_words": ["let me check", "verify"],
        "backtrack_words": ["Wait", "wait"],
    }


def test_unknown_behaviour_names_are_refused() -> None:
    assert check_behaviours(["verification"]) == ("verification",)
    with pytest.raises(ValueError, match="unknown behaviours \\['planning'\\]"):
        check_behaviours(["planning"])


def test_metrics_split_prevalence_and_length_by_correctness() -> None:
    metric = BehaviourMetrics()
    verifying = tag([text("Let's verify: 2 + 2 = 4.")])
    plain = tag([text("2 + 2 = 4.")])
    backtracking = tag([text("Wait, that is wrong. Let's re-evaluate.")])
    metric.update([verifying, plain], [True, True], [10, 30])
    metric.update([backtracking], [False], [90])
    result = metric.compute()
    assert result["correct"]["solutions"] == 2
    assert result["correct"]["verification"] == 0.5
    assert result["correct"]["backtracking"] == 0.0
    assert result["correct"]["tokens_per_solution"] == 20
    assert result["incorrect"]["backtracking"] == 1.0
    assert result["incorrect"]["any_behaviour"] == 1.0
    assert result["incorrect"]["tokens_per_solution"] == 90
    assert (
        result["incorrect"]["crucial_tokens_per_solution"] == 2
    )  # "wait" and the "let" of "let's"
    with pytest.raises(ValueError, match="1 tags, 2 verdicts"):
        metric.update([plain], [True, False], [1, 2])


def test_a_group_without_solutions_is_absent() -> None:
    metric = BehaviourMetrics()
    metric.update([tag([text("x")])], [False], [3])
    assert set(metric.compute()) == {"incorrect"}


class UntaggedSFT(SFTModule):
    """A module that switches behaviour tagging off, as CoGEX's does, but evaluates as SFT."""

    TAGS_BEHAVIOURS = False


def untrained_test_run(tmp_path: Path, *extra: str) -> dict:
    """The metrics an untrained quickstart model's test run on 5 problems logs."""
    recipe = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
    overrides = {
        "--model.init_args.network.model_config.hidden_size": "32",
        "--model.init_args.network.model_config.intermediate_size": "64",
        "--model.init_args.network.model_config.num_hidden_layers": "1",
        "--model.init_args.evaluation.generation.max_new_tokens": "8",
        "--data.train.init_args.count": "200",
        "--data.vocab_size": "400",
        "--data.test": "datamodules.sources.synthetic.SyntheticProblems",
        "--data.test.init_args.count": "5",
        "--data.test.init_args.seed": "1",
        "--trainer.default_root_dir": str(tmp_path),
    }
    arguments = [a for pair in overrides.items() for a in pair]
    cli = main(["test", "--config", str(recipe), *arguments, *extra])
    return cli.trainer.callback_metrics


def test_evaluation_logs_behaviours_by_correctness(tmp_path: Path) -> None:
    """An untrained model's test run: every solution is wrong, each counted once."""
    logged = untrained_test_run(tmp_path)
    assert float(logged["test/behaviour/incorrect/solutions"]) == 5
    assert 0 <= float(logged["test/behaviour/incorrect/verification"]) <= 1
    assert float(logged["test/behaviour/incorrect/tokens_per_solution"]) <= 8
    assert "test/behaviour/correct/solutions" not in logged


def test_the_switch_off_neither_builds_nor_updates_behaviour_metrics(tmp_path: Path) -> None:
    model = f"--model.class_path={UntaggedSFT.__module__}.{UntaggedSFT.__qualname__}"
    logged = untrained_test_run(tmp_path, model)
    assert float(logged["test/exec_acc"]) == 0
    assert not [key for key in logged if "/behaviour/" in key]

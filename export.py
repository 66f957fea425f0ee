"""Export a trained checkpoint as a Hugging Face folder that plain ``transformers`` loads.

    python export.py runs/quickstart/version_0/checkpoints/last.ckpt exported/

The run's saved ``config.yaml`` (beside ``checkpoints/``, or ``--config``) rebuilds the model and
tokenizer exactly as training did, then the checkpoint's weights are loaded. LoRA adapters are
merged into the base weights unless ``--keep_adapters`` is given (the folder then holds the
peft adapter alone).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

from main import main as build_cli

RUN_ONLY_KEYS = ("ckpt_path", "weights_only")  # `fit` arguments that do not describe the model


def export(
    ckpt_path: str | Path,
    output_dir: str | Path,
    config: str | Path | None = None,
    keep_adapters: bool = False,
) -> Path:
    ckpt_path = Path(ckpt_path)
    config_path = Path(config) if config else ckpt_path.parent.parent / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"no run config at {config_path}; pass the recipe with --config")
    recipe = yaml.safe_load(config_path.read_text())
    for key in RUN_ONLY_KEYS:
        recipe.pop(key, None)
    recipe.setdefault("trainer", {})["logger"] = False
    cli = build_cli(recipe, run=False)
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    cli.model.load_state_dict(checkpoint["state_dict"])
    return cli.model.export(output_dir, merge_lora=not keep_adapters)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ckpt_path", help="a Lightning checkpoint (.ckpt) of a run")
    parser.add_argument("output_dir", help="where to write the Hugging Face folder")
    parser.add_argument("--config", help="the run's config (default: the run's config.yaml)")
    parser.add_argument("--keep_adapters", action="store_true", help="save LoRA adapters unmerged")
    args = parser.parse_args()
    print(export(args.ckpt_path, args.output_dir, args.config, args.keep_adapters))

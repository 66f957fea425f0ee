"""Export a trained checkpoint as a Hugging Face folder that plain ``transformers`` loads.

    python export.py runs/quickstart/version_0/checkpoints/last.ckpt exported/

The run's saved ``config.yaml`` (beside ``checkpoints/``, or ``--config``) rebuilds the model and
tokenizer exactly as training did, then the checkpoint's weights are loaded: a ``.ckpt`` file, or
the folder a sharded run (``ModelParallelStrategy``) saves, whose shards are read into one
consolidated model in this single process (it must fit in CPU memory). LoRA adapters are
merged into the base weights unless ``--keep_adapters`` is given (the folder then holds the
peft adapter alone). The folder also gets a ``README.md`` model card (``model_card.py``) and the
run's recipe as ``config.yaml``.
"""

from __future__ import annotations

import argparse
import sys
from copy import deepcopy
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
import yaml

from checks import InputError, MissingInput
from cli.errors import reading_input, run_entry_point
from lightning_modules.sft import SFTModule
from main import main as build_cli
from model_card import write_model_card

RUN_ONLY_KEYS = ("ckpt_path", "weights_only")  # `fit` arguments that do not describe the model
# Exporting runs in this one process on the CPU, whatever devices and strategy trained the model.
EXPORT_TRAINER = {
    "logger": False,
    "accelerator": "cpu",
    "devices": 1,
    "num_nodes": 1,
    "strategy": "auto",
}


def export(
    ckpt_path: str | Path,
    output_dir: str | Path,
    config: str | Path | None = None,
    keep_adapters: bool = False,
) -> Path:
    """Writes the folder: weights, tokenizer, model card and recipe."""
    config_path = run_config(ckpt_path, config)
    recipe = yaml.safe_load(config_path.read_text())
    module = rebuild(ckpt_path, config)
    directory = module.export(output_dir, merge_lora=not keep_adapters)
    write_model_card(
        directory, recipe, module.format, module.tokenizer, Path(ckpt_path), config_path.parent
    )
    return directory


def run_config(ckpt_path: str | Path, config: str | Path | None = None) -> Path:
    """The run's saved recipe: ``config``, or the ``config.yaml`` beside ``checkpoints/``."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        raise MissingInput(f"no checkpoint file or sharded checkpoint folder at {ckpt_path}")
    config_path = Path(config) if config else ckpt_path.parent.parent / "config.yaml"
    if not config_path.is_file():
        raise MissingInput(f"no run config at {config_path}; pass the recipe with --config")
    return config_path


def rebuild(ckpt_path: str | Path, config: str | Path | None = None) -> SFTModule:
    """The trained module, on the CPU, rebuilt from the run's config (default: the
    ``config.yaml`` beside ``checkpoints/``) with the checkpoint's weights. All of it reads the
    user's files, so its errors are theirs (``cli.errors.reading_input``)."""
    with reading_input():
        recipe = export_recipe(yaml.safe_load(run_config(ckpt_path, config).read_text()))
        cli = build_cli(recipe, run=False)
        load_weights(cli.model, Path(ckpt_path))
    return cli.model


def export_recipe(recipe: dict[str, Any]) -> dict[str, Any]:
    """The run's recipe as this one CPU process builds it: no run-only keys, one device."""
    recipe = deepcopy(recipe)
    for key in RUN_ONLY_KEYS:
        recipe.pop(key, None)
    recipe.setdefault("trainer", {}).update(EXPORT_TRAINER)
    return recipe


def load_weights(module: torch.nn.Module, ckpt_path: Path) -> None:
    """Loads a checkpoint's weights into the unsharded module: a Lightning ``.ckpt`` file, or a
    sharded checkpoint folder, whose ``state_dict`` entry holds the weights under the module's
    own names (the optimizer's entries are not read)."""
    if ckpt_path.is_dir():
        state = {"state_dict": module.state_dict()}
        dcp.load(state, checkpoint_id=ckpt_path, no_dist=True)
        weights = state["state_dict"]
    elif ckpt_path.is_file():
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
            raise InputError(f"{ckpt_path}: not a Lightning checkpoint (it has no state_dict)")
        weights = checkpoint["state_dict"]
    else:
        raise MissingInput(f"no checkpoint file or sharded checkpoint folder at {ckpt_path}")
    module.load_state_dict(weights)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ckpt_path", help="a run's checkpoint: a .ckpt file or a sharded folder")
    parser.add_argument("output_dir", help="where to write the Hugging Face folder")
    parser.add_argument("--config", help="the run's config (default: the run's config.yaml)")
    parser.add_argument("--keep_adapters", action="store_true", help="save LoRA adapters unmerged")
    return parser


def run(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    print(export(args.ckpt_path, args.output_dir, args.config, args.keep_adapters))


if __name__ == "__main__":
    sys.exit(run_entry_point(run))

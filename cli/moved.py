"""Recipes saved before a class moved still load.

A run saves its resolved recipe as ``config.yaml`` beside its checkpoints (and ``export.py`` copies
it into the exported folder); ``main.py --config``, ``export.py`` and ``cotacs.py`` read such a
recipe back, and it names every class by the module path it had then. ``upgrade`` rewrites the
class paths that have moved since to where the classes live now. (The checkpoint files themselves
name no data class: only the model's hyper-parameters are saved, and ``main.py`` ignores them.)
"""

from __future__ import annotations

from typing import Any

import yaml
from jsonargparse import get_loader, set_loader

# Old module -> new module: issue #27 grouped the flat datamodules/ into rooms, and took the
# data that grading keeps out of metrics/ into harvest/.
MOVED_MODULES = {
    "metrics.harvest": "harvest.generations",
    "metrics.verified_gsm8k": "harvest.verified_gsm8k",
    "datamodules.benchmarks": "datamodules.sources.benchmarks",
    "datamodules.cogex_sources": "datamodules.sources.cogex",
    "datamodules.gold_reasoning": "datamodules.sources.gold_reasoning",
    "datamodules.gsm8k_htl": "datamodules.sources.gsm8k_htl",
    "datamodules.interpolation": "datamodules.sources.interpolation",
    "datamodules.mixture": "datamodules.sources.mixture",
    "datamodules.streaming": "datamodules.pipeline.streaming",
}
# The old module datamodules.sources is now a package: its classes went to different modules.
MOVED_CLASSES = {
    "datamodules.sources.SyntheticProblems": "datamodules.sources.synthetic.SyntheticProblems",
    "datamodules.sources.SampleFile": "datamodules.sources.files.SampleFile",
    "datamodules.sources.LCETrajectories": "datamodules.sources.files.LCETrajectories",
}

_LOAD_YAML = get_loader("yaml")  # jsonargparse's own, captured before it is wrapped


def class_path(path: str) -> str:
    """Where the class once at ``path`` lives now (``path`` itself if it has not moved)."""
    if path in MOVED_CLASSES:
        return MOVED_CLASSES[path]
    module, _, name = path.rpartition(".")
    return f"{MOVED_MODULES[module]}.{name}" if module in MOVED_MODULES else path


def upgrade(recipe: Any) -> Any:
    """The recipe (or any part of it) with every moved ``class_path`` rewritten."""
    if isinstance(recipe, dict):
        return {
            key: class_path(value)
            if key == "class_path" and isinstance(value, str)
            else upgrade(value)
            for key, value in recipe.items()
        }
    if isinstance(recipe, list):
        return [upgrade(item) for item in recipe]
    return recipe


def upgrade_recipe_files() -> None:
    """Every recipe that jsonargparse reads from YAML (``--config`` files) is upgraded first."""
    set_loader("yaml", lambda text: upgrade(_LOAD_YAML(text)), exceptions=(yaml.YAMLError,))

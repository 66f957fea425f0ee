"""Every recipe in configs/ resolves (``--print_config``: every class path imports, every key is
known), layered as its header says; and a recipe saved before a class moved still resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from jsonargparse import get_loader

from cli.moved import MOVED_CLASSES, MOVED_MODULES, class_path, upgrade
from main import main

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
RECIPES = sorted(path.relative_to(ROOT).as_posix() for path in CONFIGS.rglob("*.yaml"))
_SAVED_RUN = re.compile(r"runs/(?P<name>[\w/]+)/version_\d+/config\.yaml")


def header_command(recipe: str) -> tuple[str, list[str]]:
    """The subcommand and ``--config`` layers of the first ``python main.py`` command in the
    recipe's header comment that uses it. A run's saved ``runs/<name>/version_N/config.yaml``
    stands for the recipe it was saved from, ``configs/<name>.yaml``."""
    header = []
    for line in (ROOT / recipe).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    for line in re.sub(r"\\\n\s*", " ", "\n".join(header)).splitlines():
        if "python main.py " not in line:
            continue
        words = line[line.index("python main.py ") :].split("#")[0].split()
        layers = [
            _SAVED_RUN.sub(r"configs/\g<name>.yaml", words[i + 1])
            for i, word in enumerate(words[:-1])
            if word == "--config"
        ]
        if recipe in layers and all((ROOT / layer).is_file() for layer in layers):
            return words[2], layers
    raise AssertionError(f"{recipe}: its header shows no `python main.py` command that uses it")


def print_config(subcommand: str, layers: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    configs = [argument for layer in layers for argument in ("--config", str(ROOT / layer))]
    with pytest.raises(SystemExit) as exit_info:
        main([subcommand, *configs, "--print_config"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_resolves_as_its_header_layers_it(
    recipe: str, capsys: pytest.CaptureFixture[str]
) -> None:
    subcommand, layers = header_command(recipe)
    assert print_config(subcommand, layers, capsys)["data"]["class_path"].startswith("datamodules.")


def test_moved_class_paths_point_at_classes() -> None:
    from jsonargparse._util import import_object

    old = [f"{module}.X" for module in MOVED_MODULES] + list(MOVED_CLASSES)
    assert all(class_path(path) != path for path in old)
    assert class_path("datamodules.sft.SFTDataModule") == "datamodules.sft.SFTDataModule"
    for new in MOVED_CLASSES.values():
        assert isinstance(import_object(new), type)
    assert import_object(class_path("datamodules.benchmarks.BenchmarkProblems")).__name__ == (
        "BenchmarkProblems"
    )
    for saved in ("metrics.harvest.VerifiedSolutions", "metrics.verified_gsm8k.VerifiedGSM8KHTL"):
        assert import_object(class_path(saved)).__name__ == saved.rpartition(".")[2]


def test_a_recipe_saved_before_the_data_rooms_still_resolves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run's config.yaml names its sources by the paths they had then (the dict form is what
    export.py and cotacs.py rebuild from)."""
    recipe = yaml.safe_load((CONFIGS / "quickstart.yaml").read_text(encoding="utf-8"))
    recipe["data"]["train"] = {
        "class_path": "datamodules.mixture.SourceMixture",
        "init_args": {
            "sources": [{"class_path": "datamodules.sources.SyntheticProblems"}],
        },
    }
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    data = print_config("fit", [str(saved)], capsys)["data"]["init_args"]
    assert data["train"]["class_path"] == "datamodules.sources.mixture.SourceMixture"
    assert data["train"]["init_args"]["sources"][0]["class_path"] == (
        "datamodules.sources.synthetic.SyntheticProblems"
    )
    assert upgrade(recipe)["data"]["train"] == {
        "class_path": "datamodules.sources.mixture.SourceMixture",
        "init_args": {
            "sources": [{"class_path": "datamodules.sources.synthetic.SyntheticProblems"}]
        },
    }
    assert get_loader("yaml")("class_path: datamodules.streaming.SampleStream") == {
        "class_path": "datamodules.pipeline.streaming.SampleStream"
    }

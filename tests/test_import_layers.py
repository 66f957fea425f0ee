"""Imports between the project's rooms (its top-level packages and modules) run one way: each
imports only rooms of lower layers (lazy and type-checking imports count too), so there is no
cycle and no two rooms of one layer lean on each other."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(
    path.name
    for path in ROOT.iterdir()
    if (path / "__init__.py").is_file() and path.name != "tests"
)
MODULES = sorted(path.stem for path in ROOT.glob("*.py"))
# Lowest first (README's layout draws them in this order). ``checks`` holds the error a user's
# input raises, so it sits below every room that reads input. Grading and generation are siblings:
# grading judges what generation wrote without importing it; solving, harvests, metrics, program
# search and RL combine them. A new package or top-level module takes its place here.
LAYERS = (
    {"checks"},
    {"cli", "pretrained", "run_logs"},
    {"datamodules", "sandbox"},
    {"grading", "generation"},
    {"metrics", "solving", "harvest", "program_search", "rl"},
    {"lightning_modules"},
    {"callbacks", "model_card"},
    {"main"},
    {"export"},
    {"cotacs"},
    {"benchmarks"},
)


def sources(room: str) -> list[Path]:
    """The files of a package, or a top-level module's one file."""
    folder = ROOT / room
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [ROOT / f"{room}.py"]


def imported_names(path: Path) -> Iterator[tuple[str, int]]:
    """Each module a file imports by absolute name, with the line that imports it."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno


def package_imports() -> dict[str, dict[str, list[str]]]:
    """For each room, the other rooms it imports, each with the lines that do it."""
    graph: dict[str, dict[str, list[str]]] = {room: {} for room in PACKAGES + MODULES}
    for room in graph:
        for path in sources(room):
            for name, line in imported_names(path):
                target = name.split(".")[0]
                if target in graph and target != room:
                    graph[room].setdefault(target, []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def layer(room: str) -> int:
    return next(rank for rank, rooms in enumerate(LAYERS) if room in rooms)


def imports_not_below(graph: dict[str, dict[str, list[str]]]) -> list[str]:
    """Each import of a room of the same or a higher layer, with the lines that make it."""
    return [
        f"{room} -> {target}: {', '.join(lines)}"
        for room, targets in graph.items()
        for target, lines in targets.items()
        if layer(target) >= layer(room)
    ]


def test_the_check_finds_imports_that_are_not_downward() -> None:
    graph = {"grading": {"generation": ["grading/x.py:1"]}, "solving": {"grading": []}}
    assert imports_not_below(graph) == ["grading -> generation: grading/x.py:1"]
    assert imports_not_below({"rl": {"generation": []}, "datamodules": {"pretrained": []}}) == []


def test_every_room_has_a_layer() -> None:
    layered = set().union(*LAYERS)
    assert set(PACKAGES + MODULES) == layered, "rooms without a layer, or layers without a room"


def test_rooms_import_only_lower_layers() -> None:
    upward = imports_not_below(package_imports())
    assert not upward, "imports that do not go down a layer:\n" + "\n".join(upward)


def test_data_imports_nothing_above_it() -> None:
    """The data layer builds on the model-source helpers and the input error only (its
    converters stay pure)."""
    assert set(package_imports()["datamodules"]) <= {"checks", "pretrained"}


# The data layer's rooms, lowest first: each imports only itself and the rooms before it
# (datamodules/__init__.py draws them). A module at the top of datamodules/ names its room here.
DATA_ROOMS = (
    ("records", {"sample", "numbers", "latex"}),
    ("formats", {"formats"}),
    ("generators", {"generators"}),
    ("sources", {"sources"}),
    ("pipeline", {"pipeline"}),
    ("datamodules", {"sft", "prompts"}),
)


def data_room(module: str) -> int:
    """The rank of the room that holds ``datamodules.<module>`` (a dotted module path)."""
    first = module.split(".")[0]
    ranks = [rank for rank, (_, members) in enumerate(DATA_ROOMS) if first in members]
    assert ranks, f"datamodules.{module} is in no room of DATA_ROOMS"
    return ranks[0]


def test_data_rooms_import_one_way() -> None:
    root = ROOT / "datamodules"
    upward = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == root:
            continue
        source = ".".join(path.relative_to(root).with_suffix("").parts)
        for name, line in imported_names(path):
            if name.startswith("datamodules.") and (
                data_room(name.removeprefix("datamodules.")) > data_room(source)
            ):
                upward.append(f"datamodules/{path.relative_to(root)}:{line} {name}")
    assert not upward, "imports from a higher data room:\n" + "\n".join(upward)

"""Imports between the top-level packages run one way: no package imports one that imports it
back, directly or through others (lazy and type-checking imports count too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(
    path.name
    for path in ROOT.iterdir()
    if (path / "__init__.py").is_file() and path.name != "tests"
)


def imported_names(path: Path) -> Iterator[tuple[str, int]]:
    """Each module a file imports by absolute name, with the line that imports it."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno


def package_imports() -> dict[str, dict[str, list[str]]]:
    """For each package, the other packages it imports, each with the lines that do it."""
    graph: dict[str, dict[str, list[str]]] = {package: {} for package in PACKAGES}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name, line in imported_names(path):
                target = name.split(".")[0]
                if target in graph and target != package:
                    graph[package].setdefault(target, []).append(f"{path.relative_to(ROOT)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """A cycle of packages (first repeated at the end), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[node] = "done"
        return None

    for package in graph:
        if package not in state and (cycle := visit(package, [package])):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}, "c": {"a": [], "b": []}}) is None


def test_top_level_packages_import_each_other_without_cycles() -> None:
    graph = package_imports()
    assert {"datamodules", "generation", "metrics", "sandbox"} <= set(graph)
    cycle = find_cycle(graph)
    if cycle is not None:
        lines = [f"{a} -> {b}: {', '.join(graph[a][b])}" for a, b in pairwise(cycle)]
        raise AssertionError("import cycle " + " -> ".join(cycle) + "\n" + "\n".join(lines))


def test_data_imports_nothing_above_it() -> None:
    """The data layer builds on the model-source helpers only (its converters stay pure)."""
    assert set(package_imports()["datamodules"]) <= {"pretrained"}


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

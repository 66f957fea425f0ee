"""Rebuild ``cases.jsonl`` from a checkout of math-verify's ``tests/`` folder.

Only the labelled data is taken: each ``(gold, prediction, expected)`` row of a parametrized
test, or of a literal ``compare_strings(...) == label`` assert, with the options its test passes
(extraction targets, precision, strictness, set/relation comparison). The test code itself is not
copied. Usage: ``python tests/data/math_verify/port_cases.py MATH_VERIFY_TESTS_DIR``.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
from pathlib import Path

OUT = Path(__file__).with_name("cases.jsonl")
# What math-verify's own test helper defaults to when a test does not pass the option.
DEFAULTS = {
    "match_types": ["latex", "expr"],
    "precision": 6,
    "strict": True,
    "allow_set_relation_comp": False,
}
# Tests that call ``verify(parse(gold), parse(pred))`` with math-verify's defaults.
PLAIN_DEFAULTS = {"match_types": ["latex", "expr"], "boxed_priority": "default"}
LABELS = ("expected", "result")


def value(node: ast.expr) -> object:
    """A literal, or an f-string over ``math`` (one float-precision case formats sqrt(17))."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        return eval(compile(ast.Expression(node), "<case>", "eval"), {"math": math})


def options(function: ast.FunctionDef, params: dict[str, object]) -> dict[str, object]:
    """The grading options the test passes, parameters resolved from the row."""
    for call in ast.walk(function):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "compare_strings":
            found = dict(DEFAULTS)
            for keyword in call.keywords:
                if isinstance(keyword.value, ast.Name) and keyword.value.id in params:
                    found[keyword.arg] = params[keyword.value.id]
                else:
                    found[keyword.arg] = value(keyword.value)
            return found
    return dict(PLAIN_DEFAULTS)


def parametrized(function: ast.FunctionDef) -> list[dict[str, object]]:
    rows = []
    for decorator in function.decorator_list:
        if not (
            isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("parametrize")
        ):
            continue
        names = [name.strip() for name in value(decorator.args[0]).split(",")]
        if not {"gold", "pred"} <= set(names):
            continue
        for row in decorator.args[1].elts:
            params = dict(zip(names, value(row)))
            label = next(params[name] for name in LABELS if name in params)
            rows.append(
                {
                    "gold": params["gold"],
                    "pred": params["pred"],
                    "expected": bool(label),
                    "options": options(function, params),
                }
            )
    return rows


def asserted(function: ast.FunctionDef) -> list[dict[str, object]]:
    """``compare_strings("gold", "pred", ...) == label`` written out in a test body."""
    rows = []
    for node in ast.walk(function):
        if not (isinstance(node, ast.Compare) and isinstance(node.left, ast.Call)):
            continue
        call = node.left
        if getattr(call.func, "id", "") != "compare_strings" or len(call.args) != 2:
            continue
        found = dict(DEFAULTS) | {keyword.arg: value(keyword.value) for keyword in call.keywords}
        gold, pred = (value(arg) for arg in call.args)
        label = value(node.comparators[0])
        rows.append({"gold": gold, "pred": pred, "expected": bool(label), "options": found})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", type=Path, help="math-verify's tests/ folder")
    args = parser.parse_args()
    cases = []
    for path in sorted(args.tests.glob("test_*.py")):
        for function in ast.parse(path.read_text()).body:
            if not isinstance(function, ast.FunctionDef):
                continue
            rows = parametrized(function) or asserted(function)
            for index, row in enumerate(rows):
                cases.append(
                    {"id": f"{path.name}::{function.name}[{index}]", "file": path.name} | row
                )
    OUT.write_text("".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases))
    print(f"{len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()

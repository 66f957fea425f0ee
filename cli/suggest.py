"""Suggestions ("did you mean"): the closest name a misspelt option could have meant."""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or nothing when none is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def class_parameters(class_path: str) -> list[str]:
    """The keyword arguments ``module.Class`` accepts, its bases' too when it passes
    ``**kwargs`` on; none when the class cannot be imported."""
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return []
    names: list[str] = []
    for klass in inspect.getmro(cls) if inspect.isclass(cls) else (cls,):
        try:
            parameters = inspect.signature(klass).parameters.values()
        except (TypeError, ValueError):
            break
        names += [p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return names


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` and of its subcommands' parsers."""
    names: list[str] = []
    for action in parser._actions:
        names += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                names += option_names(subparser)
    return names

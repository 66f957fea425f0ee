"""One handler for every entry point: a user's mistake prints one line and exits 1.

A recipe, a flag, a data file or a model name can be wrong without the code being wrong; the
user needs the place and the reason, not a traceback. Once a run has started, only an
``InputError`` (``checks``) is the user's: a ``ValueError`` from a training step is a bug and
keeps its traceback. While a recipe is read and its classes built (``reading_input``), every
error of the kinds bad input causes is the user's, whoever raised it. ``--debug`` (or
``THINKCODE_DEBUG=1``) keeps the traceback for all of them."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.exceptions import SIGTERMException

from checks import InputError
from cli.hub import fail_fast_when_unreachable, hub_failure
from cli.suggest import class_parameters, did_you_mean

DEBUG_FLAG, DEBUG_ENV = "--debug", "THINKCODE_DEBUG"
HINT = f"({DEBUG_FLAG} for details)"
# What a recipe, its data or a model name can cause while the recipe is read and built:
# jsonargparse's and the settings' checks, an unloadable model, a missing optional extra.
READING_ERRORS = (ValueError, LookupError, OSError, ImportError, MisconfigurationException)
# The user's mistakes once a run has started: ours, and Lightning's own word for a misused setting
# (a checkpoint callback monitoring a metric nobody logs). Anything else keeps its traceback.
RUN_ERRORS = (InputError, MisconfigurationException)
STOPPED_BY_SIGTERM = 128 + signal.SIGTERM
MAX_LINE = 240  # a longer reason (transformers lists every model type it knows) is cut
_LINK_FAILED = re.compile(r"Call to compute_fn of link .* failed: ", re.DOTALL)
# Lines of a jsonargparse message that only say where the error sits, not what it is.
_NESTING = re.compile(
    r"Parser key|Does not validate|Subtypes:|Errors:|- Problem with given class_path|"
    r"- Expected a <class 'NoneType'>|Given value"
)
_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
_GIVEN_CLASS = re.compile(r"class_path='([^']+)'")


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…"


def summarize(message: str) -> str:
    """One line for a (possibly nested, multi-line) message: where in the recipe, what is wrong.

    jsonargparse nests the reason of a bad value inside every union and subclass it tried;
    the keys and the innermost class name the place, the first other line names the problem.
    An unknown option of a class given as a value (an optimizer) names that class, not the
    type annotation the value failed, and the class's closest parameter."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        return cut(lines[0] if lines else message)
    keys = re.findall(r'Parser key "([^"]+)"', message)
    classes = re.findall(r"Problem with given class_path '([^']+)'", message)
    reasons = [line.lstrip("- ") for line in lines if not _NESTING.match(line)]
    reason = reasons[0] if reasons else lines[-1]
    if (unknown := _NOT_ACCEPTED.search(reason)) and (given := _GIVEN_CLASS.search(reason)):
        classes.append(given[1])
        reason = unknown[0]
    if unknown and classes:
        reason += did_you_mean(unknown[1], class_parameters(classes[-1]))
    place = ".".join(keys) + (f" ({classes[-1]})" if classes else "")
    return cut(f"{place}: {reason}" if place else reason)


def unwrapped(error: BaseException) -> BaseException:
    """The error an argument link raised, not jsonargparse's report of the link that ran it."""
    while error.__cause__ is not None and _LINK_FAILED.match(str(error)):
        error = error.__cause__
    return error


def one_line(error: BaseException) -> str:
    """The line a user sees for ``error``: the hub's own words when the hub failed it."""
    cause = unwrapped(error)
    return hub_failure(cause) or summarize(str(cause) or type(cause).__name__)


def take_debug_flag(argv: list[str]) -> list[str]:
    """``argv`` without ``--debug``, which switches debugging on for this process."""
    if DEBUG_FLAG in argv:
        os.environ[DEBUG_ENV] = "1"
    return [arg for arg in argv if arg != DEBUG_FLAG]


@contextmanager
def reading_input() -> Iterator[None]:
    """Marks code that only reads what the user gave (parsing a recipe, building its classes):
    an error of ``READING_ERRORS`` raised inside becomes an ``InputError`` caused by it, with its
    message, whichever library raised it."""
    try:
        yield
    except InputError:
        raise
    except READING_ERRORS as error:
        raise InputError(str(unwrapped(error)) or type(error).__name__) from error


def users_mistake(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (one line) rather than the code's (a traceback):
    ``RUN_ERRORS``, or the hub's absence however a library reported it."""
    return isinstance(error, RUN_ERRORS) or hub_failure(error) is not None


def run_entry_point(entry: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    """Runs ``entry`` on the command line's arguments (default ``sys.argv[1:]``, ``--debug``
    taken out) and returns the process's exit status: 0, 1 with one line for a user's mistake,
    or the shell's 143 after a SIGTERM, however far the run got."""
    if argv is None:  # entries that read sys.argv themselves see it without --debug too
        sys.argv = [sys.argv[0], *take_debug_flag(sys.argv[1:])]
    args = take_debug_flag(sys.argv[1:] if argv is None else argv)
    fail_fast_when_unreachable()
    try:
        entry(args)
    except SIGTERMException:  # Lightning's own, raised between training batches, has no code
        sys.stderr.write("stopped: SIGTERM\n")
        return STOPPED_BY_SIGTERM
    except Exception as error:
        if debugging() or not users_mistake(error):
            raise
        sys.stderr.write(f"error: {one_line(error)} {HINT}\n")
        return 1
    return 0

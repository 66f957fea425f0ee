"""Command line: ``python main.py {fit,validate,test,predict} --config configs/<recipe>.yaml``.

Any config key can be overridden with a dotted flag
(``--model.init_args.optimization.optimizer.init_args.lr 3e-4``, ``--trainer.max_steps 50``);
``--print_config`` shows the resolved recipe, and every run saves it beside its logs and
checkpoints, all under ``--trainer.default_root_dir``.

A mistake a user can make (a key the recipe does not have, a malformed data file, a model that
cannot be loaded) prints one line on stderr and exits non-zero; ``--debug`` (or
``THINKCODE_DEBUG=1``) shows the full message and traceback instead.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from operator import attrgetter
from typing import NoReturn

from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException

from datamodules.sft import SFTDataModule
from datamodules.sources import decode_utf8
from lightning_modules.sft import SFTModule

DEBUG_FLAG, DEBUG_ENV = "--debug", "THINKCODE_DEBUG"
HINT = f"({DEBUG_FLAG} for details)"
# What a user's recipe, data or model name can cause; anything else is a bug and keeps its
# traceback.
USER_ERRORS = (ValueError, LookupError, OSError, ImportError, MisconfigurationException)
_LINK_FAILED = re.compile(r"Call to compute_fn of link .* failed: ", re.DOTALL)
STOPPED_BY_SIGTERM = 128 + signal.SIGTERM
MAX_LINE = 240  # a longer reason (transformers lists every model type it knows) is cut
# Lines of a jsonargparse message that only say where the error sits, not what it is.
_NESTING = re.compile(
    r"Parser key|Does not validate|Subtypes:|Errors:|- Problem with given class_path|"
    r"- Expected a <class 'NoneType'>|Given value"
)


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def summarize(message: str) -> str:
    """One line for a (possibly nested, multi-line) message: where in the recipe, what is wrong.

    jsonargparse nests the reason of a bad value inside every union and subclass it tried;
    the keys and the innermost class name the place, the first other line names the problem."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) <= 1:
        line = lines[0] if lines else message
        return line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…"
    keys = re.findall(r'Parser key "([^"]+)"', message)
    classes = re.findall(r"Problem with given class_path '([^']+)'", message)
    reasons = [line.lstrip("- ") for line in lines if not _NESTING.match(line)]
    place = ".".join(keys) + (f" ({classes[-1]})" if classes else "")
    reason = reasons[0] if reasons else lines[-1]
    return f"{place}: {reason}" if place else reason


def unwrapped(error: BaseException) -> BaseException:
    """The error an argument link raised, not jsonargparse's report of the link that ran it."""
    while error.__cause__ is not None and _LINK_FAILED.match(str(error)):
        error = error.__cause__
    return error


class OneLineErrorParser(LightningArgumentParser):
    """Parse errors as one line instead of the usage text and jsonargparse's nested report."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if debugging() or not self.exit_on_error:  # inner parsers raise for their caller
            super().error(message, ex)
        sys.stderr.write(f"error: {summarize(message)} {HINT}\n")
        sys.exit(2)


class ThinkCodeCLI(LightningCLI):
    """Links the model to the data (one tokenizer and one format serve both) and the logger to
    the trainer's ``default_root_dir`` (one flag moves events, checkpoints and config.yaml)."""

    def add_arguments_to_parser(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.link_arguments(
            "trainer.default_root_dir",
            "trainer.logger.init_args.save_dir",
            compute_fn=lambda root: root or os.getcwd(),  # Lightning's own default
        )
        parser.link_arguments(
            "model.init_args.network.pretrained", "data.init_args.pretrained_tokenizer"
        )
        for name in ("tokenizer", "format"):  # the datamodule's objects, not its config entries
            parser.link_arguments(
                "data",
                f"model.init_args.{name}",
                compute_fn=attrgetter(name),
                apply_on="instantiate",
            )

    def _parse_ckpt_path(self) -> None:
        """The recipe decides how the model is built and evaluated; ``--ckpt_path`` brings weights
        and training state only. Lightning would re-apply the hyper-parameters saved in the
        checkpoint over the recipe, and so silently undo an evaluation or data recipe layered on
        top (its decoding, samples per problem, cascade). A checkpoint whose weights do not fit the
        recipe's model is refused by name (``SFTModule.on_load_checkpoint``)."""


def main(args: list[str] | dict | None = None, run: bool = True) -> ThinkCodeCLI:
    return ThinkCodeCLI(
        SFTModule,
        SFTDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,  # SFT, streaming and PPO-prompt datamodules
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,  # the module's `optimization` group owns it
        parser_class=OneLineErrorParser,
        args=args,
        run=run,
    )


def check_config_files(args: list[str]) -> None:
    """Recipes given with ``--config`` must be UTF-8; jsonargparse's own error names no file."""
    for index, arg in enumerate(args):
        if arg in ("-c", "--config") and index + 1 < len(args):
            path = args[index + 1]
        elif arg.startswith("--config="):
            path = arg.removeprefix("--config=")
        else:
            continue
        if os.path.isfile(path):
            with open(path, "rb") as recipe:
                decode_utf8(path, recipe.read())


def command_line() -> int:
    """Runs the CLI on ``sys.argv``; a user's mistake becomes one line and exit status 1, a
    SIGTERM the shell's status for it (143) however far the run got."""
    if DEBUG_FLAG in sys.argv:
        sys.argv = [arg for arg in sys.argv if arg != DEBUG_FLAG]
        os.environ[DEBUG_ENV] = "1"
    try:
        check_config_files(sys.argv[1:])
        main()
    except SIGTERMException:  # Lightning's own, raised between training batches, has no code
        sys.stderr.write("stopped: SIGTERM\n")
        return STOPPED_BY_SIGTERM
    except USER_ERRORS as error:
        if debugging():
            raise
        cause = unwrapped(error)
        sys.stderr.write(f"error: {summarize(str(cause) or type(cause).__name__)} {HINT}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(command_line())

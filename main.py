"""Command line: ``python main.py {fit,validate,test,predict} --config configs/<recipe>.yaml``.

Any config key can be overridden with a dotted flag
(``--model.init_args.optimization.optimizer.init_args.lr 3e-4``, ``--trainer.max_steps 50``);
``--print_config`` shows the resolved recipe, and every run saves it beside its logs and
checkpoints, all under ``--trainer.default_root_dir``.

A mistake a user can make (a key the recipe does not have, a malformed data file, a model that
cannot be loaded) prints one line on stderr and exits non-zero; ``--debug`` (or
``THINKCODE_DEBUG=1``) shows the full message and traceback instead. An error of the code keeps
its traceback: the recipe is built before the subcommand runs, so that the two can be told apart
(``cli.errors``).
"""

from __future__ import annotations

import os
import re
import sys
from operator import attrgetter
from pathlib import Path
from typing import Any, NoReturn

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from checks import MissingInput
from cli.errors import HINT, debugging, reading_input, run_entry_point, summarize
from cli.moved import upgrade, upgrade_recipe_files
from cli.suggest import did_you_mean, option_names
from datamodules.sft import SFTDataModule
from datamodules.sources.base import decode_utf8
from lightning_modules.sft import SFTModule

DESCRIPTION = (
    "Train language models to reason with code: a YAML recipe (--config; several are layered "
    "in order), any of its keys overridden with a dotted flag."
)
EPILOG = (
    "Every option of a model, data or callback class: `python main.py fit --model.help CLASS` "
    "(e.g. lightning_modules.ppo.PPOModule; --data.help CLASS likewise). The resolved recipe: "
    "--print_config. Errors print one line; --debug shows the traceback."
)
SUBCOMMANDS = {
    "fit": "Train on the recipe's data, validating (generate, run, grade) as it goes.",
    "validate": "Grade a model on the recipe's validation problems once (e.g. a checkpoint).",
    "test": "Grade a model on the recipe's test sets (e.g. configs/eval/*) and write the report.",
    "predict": "Generate for the recipe's predict data: the data recipes (configs/data/*).",
}
_UNRECOGNIZED = re.compile(r"unrecognized arguments: --([\w.]+)")
# ``--ckpt_path`` values Lightning resolves itself rather than reading a path (``registry:<name>``).
NAMED_CHECKPOINTS = ("best", "last", "hpc", "registry")


class OneLineErrorParser(LightningArgumentParser):
    """Parse errors as one line instead of the usage text and jsonargparse's nested report."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if debugging() or not self.exit_on_error:  # inner parsers raise for their caller
            super().error(message, ex)
        line = summarize(message)
        if unknown := _UNRECOGNIZED.search(message):
            names = [name.removeprefix("--") for name in option_names(self)]
            line += did_you_mean(unknown[1], names)
        sys.stderr.write(f"error: {line} {HINT}\n")
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

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """Lightning describes each subcommand by the first line of a Trainer docstring; these
        say what each does with a recipe."""
        super()._add_subcommands(parser, **kwargs)
        for choice in parser._subcommands_action._choices_actions:
            choice.help = SUBCOMMANDS[choice.dest]

    def _parse_ckpt_path(self) -> None:
        """The recipe decides how the model is built and evaluated; ``--ckpt_path`` brings weights
        and training state only. Lightning would re-apply the hyper-parameters saved in the
        checkpoint over the recipe, and so silently undo an evaluation or data recipe layered on
        top (its decoding, samples per problem, cascade). A checkpoint whose weights do not fit the
        recipe's model is refused by name (``SFTModule.on_load_checkpoint``).

        A local path that does not exist is refused here, while the recipe is read: Lightning
        would find out only once the run has started."""
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if (
            isinstance(path, str)
            and path.partition(":")[0] not in NAMED_CHECKPOINTS
            and "://" not in path
            and not Path(path).exists()
        ):
            raise MissingInput(
                f"ckpt_path: no checkpoint file or sharded checkpoint folder at {path}"
            )

    def _run_subcommand(self, subcommand: str) -> None:
        """Left to :meth:`run_subcommand`: LightningCLI would run it as the last step of
        building, where an error is taken to be the recipe's."""

    def run_subcommand(self) -> None:
        """The subcommand the command line named (none for a CLI built with ``run=False``)."""
        if self.subcommand is not None:
            super()._run_subcommand(self.subcommand)


def main(args: list[str] | dict | None = None, run: bool = True) -> ThinkCodeCLI:
    """The CLI on ``args`` (default: ``sys.argv``). A recipe saved before a class moved, as a
    file or as the dict ``export.py`` reads, names the class where it is now (``cli.moved``).
    Reading and building the recipe is ``cli.errors.reading_input``; running it is not."""
    upgrade_recipe_files()
    if isinstance(args, dict):
        args = upgrade(args)
    with reading_input():
        cli = ThinkCodeCLI(
            SFTModule,
            SFTDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,  # SFT, streaming and PPO-prompt datamodules
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,  # the module's `optimization` group owns it
            parser_class=OneLineErrorParser,
            parser_kwargs={"description": DESCRIPTION, "epilog": EPILOG},
            args=args,
            run=run,
        )
    cli.run_subcommand()
    return cli


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
    """Runs the CLI on ``sys.argv``: 0, 1 with one line for a user's mistake, 143 after a
    SIGTERM (``cli.errors.run_entry_point``)."""
    return run_entry_point(run)


def run(args: list[str]) -> None:
    """``args`` are ``sys.argv[1:]`` without ``--debug``; LightningCLI reads them from
    ``sys.argv`` itself (given them as well, it warns of a mix-up)."""
    check_config_files(args)
    main()


if __name__ == "__main__":
    sys.exit(command_line())

"""Command line: ``python main.py {fit,validate,test,predict} --config configs/<recipe>.yaml``.

Any config key can be overridden with a dotted flag (``--model.optimizer.lr 3e-4``,
``--trainer.max_steps 50``); ``--print_config`` shows the resolved recipe, and every run saves it
beside its logs and checkpoints.
"""

from __future__ import annotations

from operator import attrgetter

from lightning.pytorch.cli import LightningCLI

from datamodules.sft import SFTDataModule
from lightning_modules.sft import SFTModule


class ThinkCodeCLI(LightningCLI):
    """Links the model to the data: one tokenizer and one format serve both."""

    def add_arguments_to_parser(self, parser) -> None:  # type: ignore[no-untyped-def]
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


def main(args: list[str] | dict | None = None, run: bool = True) -> ThinkCodeCLI:
    return ThinkCodeCLI(
        SFTModule,
        SFTDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,  # SFT, streaming and PPO-prompt datamodules
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,  # the module's `optimizer` argument owns it
        args=args,
        run=run,
    )


if __name__ == "__main__":
    main()

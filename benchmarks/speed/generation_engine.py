"""Generation engine throughput: code rounds vs plain ``generate`` of the same sequences, and
KV-cache reuse vs re-encoding every round, side by side.

The quickstart Llama (``configs/quickstart.yaml``'s ``model_config``, random weights) runs every
forward pass while ``ScriptedLogits`` makes it write LCE solutions of generated problems: each
step of the reasoning a text block and a code block (a round ends at every block), its code
really running in sandbox sessions. Modes, taking turns in a rotating order:

- ``engine``: the multi-round engine, KV cache kept across rounds (the default);
- ``engine, re-encoding``: the same with ``reuse_cache=False`` (every round re-encodes all);
- ``plain generate``: one ``model.generate`` call writing the very token sequences the engine
  produced (execution blocks included, as if the model wrote them), no rounds, no sandbox:
  the floor that the engine's round trips add to.

Run from the repository root: ``python -m benchmarks.speed.generation_engine``; the results go to
``benchmarks/results/generation_engine.md``.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import transformers
import yaml
from transformers import LogitsProcessorList, PreTrainedModel

from benchmarks import RESULTS_DIR, ROOT, parser
from datamodules.formats import LCEFormat
from datamodules.generators.synthetic import generate_problems
from datamodules.pipeline.encoding import collate_prompts
from datamodules.pipeline.tokenizer import add_format_tokens, train_corpus_tokenizer
from datamodules.sample import Sample
from generation.engine import GenerationEngine, GenerationOptions, Rollout
from generation.scripted import ScriptedLogits
from lightning_modules.models import build_causal_lm
from sandbox import ExecutionResult, SandboxOptions, SandboxPool, SandboxSession

RESULTS = RESULTS_DIR / "generation_engine.md"
BATCH, REPEATS = 32, 4
MODES = ("engine", "engine, re-encoding", "plain generate")


def lce_script(sample: Sample) -> str:
    """The sample's reasoning as LCE: each sentence a text block, then a line of its program."""
    sentences = sample.blocks[0].content.split(". ")
    lines = sample.blocks[1].content.splitlines()
    steps = [
        f"<|text|>{sentence.rstrip('.')}.<|endofblock|><|code|>{line}<|endofblock|>"
        for sentence, line in zip(sentences, lines[:-1])
    ]
    final = f"<|code|>{lines[-1]}<|endofblock|>"
    return "".join(steps) + final + f"<|text|>The answer is {sample.answer}.<|endofblock|>"


class Workload:
    """Model, tokenizer, prompts and scripts, built once; each mode's run counted and timed."""

    def __init__(self) -> None:
        recipe = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
        network = recipe["model"]["init_args"]["network"]
        problems = list(generate_problems(seed=11, count=400))
        corpus = [s.question for s in problems] + [b.content for s in problems for b in s.blocks]
        self.format = LCEFormat()
        self.tokenizer = train_corpus_tokenizer(corpus, vocab_size=recipe["data"]["vocab_size"])
        add_format_tokens(self.tokenizer, self.format.special_tokens)
        torch.manual_seed(0)
        self.model, _ = build_causal_lm(
            None, network["model_config"], self.tokenizer, network["attn_implementation"]
        )
        self.model.eval()
        self.samples = problems[:BATCH]
        encode = self.encode
        prompts = [
            encode("".join(span.text for span in self.format.prompt(s))) for s in self.samples
        ]
        self.prompts = collate_prompts(prompts, self.tokenizer.pad_token_id)
        scripts = [encode(lce_script(s) + "<|endofmessage|>") for s in self.samples]
        self.keys = [tuple(p) for p in prompts]
        self.scripted = self.scripting(scripts)
        self.fed_tokens = 0
        self.model.register_forward_pre_hook(self._count, with_kwargs=True)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def scripting(self, scripts: list[list[int]]) -> ScriptedLogits:
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        return ScriptedLogits(dict(zip(self.keys, scripts)), pad, eos)

    def _count(self, _: PreTrainedModel, args: tuple, kwargs: dict) -> None:
        self.fed_tokens += kwargs["input_ids"].numel()

    def engine(self, pool: SandboxPool, reuse_cache: bool) -> list[Rollout]:
        options = GenerationOptions(max_new_tokens=1024, reuse_cache=reuse_cache)
        engine = GenerationEngine(options, [self.scripted])
        prompts = self.prompts
        return engine.rollout(
            self.model,
            self.tokenizer,
            self.format,
            pool,
            prompts["input_ids"],
            prompts["attention_mask"],
        )

    def plain(self, replay: ScriptedLogits, length: int) -> torch.Tensor:
        return self.model.generate(
            **self.prompts,
            max_new_tokens=length,
            do_sample=False,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            logits_processor=LogitsProcessorList([replay]),
        )


class TimedPool(SandboxPool):
    """A sandbox pool that adds up the wall time the engine spends waiting for code runs."""

    seconds = 0.0

    def run_blocks(self, blocks: Sequence[tuple[SandboxSession, str]]) -> list[ExecutionResult]:
        start = time.perf_counter()
        results = super().run_blocks(blocks)
        self.seconds += time.perf_counter() - start
        return results


def main(argv: list[str]) -> None:
    parser(__doc__, RESULTS).parse_args(argv)  # no options: --help only
    # One thread: a tiny model's matmuls are too small to split, and on a shared machine two
    # OpenMP threads wait for each other (measured here: a linear layer 30x slower).
    torch.set_num_threads(1)
    workload = Workload()
    with TimedPool(SandboxOptions(workers=2)) as pool:
        pool.start()
        reference = workload.engine(pool, reuse_cache=True)
        # The engine's sequences, execution blocks included, written in one go (then EOS).
        replay = workload.scripting([r.token_ids for r in reference])
        length = max(len(r.token_ids) for r in reference)
        runs = {
            "engine": lambda: workload.engine(pool, reuse_cache=True),
            "engine, re-encoding": lambda: workload.engine(pool, reuse_cache=False),
            "plain generate": lambda: workload.plain(replay, length),
        }
        seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
        cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        sandbox: dict[str, list[float]] = {mode: [] for mode in MODES}
        fed: dict[str, int] = {}
        order = list(MODES)
        for _ in range(REPEATS):
            for mode in order:
                pool.seconds, workload.fed_tokens = 0.0, 0
                start, start_cpu = time.perf_counter(), time.process_time()
                result = runs[mode]()
                seconds[mode].append(time.perf_counter() - start)
                cpu[mode].append(time.process_time() - start_cpu)
                sandbox[mode].append(pool.seconds)
                fed[mode] = workload.fed_tokens
                check_same_tokens(mode, result, reference, workload.prompts["input_ids"].shape[1])
            order = order[1:] + order[:1]
    write_results(reference, seconds, cpu, fed, sandbox)


def check_same_tokens(
    mode: str, result: list[Rollout] | torch.Tensor, reference: list[Rollout], prompt_width: int
) -> None:
    """Every mode must produce the reference's sequences, or the comparison means nothing."""
    if isinstance(result, torch.Tensor):
        rows = [row[prompt_width:] for row in result.tolist()]
        same = all(row[: len(r.token_ids)] == r.token_ids for row, r in zip(rows, reference))
    else:
        same = [r.token_ids for r in result] == [r.token_ids for r in reference]
    if not same:
        raise RuntimeError(f"{mode}: produced other tokens than the reference run")


def write_results(
    reference: list[Rollout],
    seconds: dict[str, list[float]],
    cpu_seconds: dict[str, list[float]],
    fed: dict[str, int],
    sandbox: dict[str, list[float]],
) -> None:
    response = sum(len(r.token_ids) for r in reference)
    generated = sum(r.num_generated_tokens for r in reference)
    rounds = [len(r.executions) for r in reference]
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "?")
    best = {mode: min(times) for mode, times in seconds.items()}
    rows = []
    for mode, times in seconds.items():
        # Runs i of two modes came within seconds of each other: their ratio shares the noise.
        paired = sorted(plain / own for plain, own in zip(seconds["plain generate"], times))
        rows.append(
            f"| {mode} | {best[mode]:.2f} | {statistics.median(times):.2f} "
            f"| {response / best[mode]:.0f} | **{best['plain generate'] / best[mode]:.2f}** "
            f"| {statistics.median(paired):.2f} ({paired[0]:.2f}-{paired[-1]:.2f}) "
            f"| {min(cpu_seconds[mode]):.2f} | {fed[mode]} | {min(sandbox[mode]):.2f} |"
        )
    text = "\n".join(
        [
            "# Generation engine: code rounds vs plain generate, cache reuse vs re-encoding",
            "",
            f"- date: {datetime.date.today().isoformat()}",
            f"- machine: {cpu}, torch.get_num_threads() = {torch.get_num_threads()}, "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"transformers {transformers.__version__}; 1-minute load average at the end "
            f"{os.getloadavg()[0]:.2f} (a shared machine: other processes only add time)",
            "- command: `python -m benchmarks.speed.generation_engine` (from the repository root)",
            "- model: the quickstart Llama (`configs/quickstart.yaml` model_config: hidden 128, "
            "2 layers, 4 heads; vocab 1024 + LCE markers), random weights, fp32, SDPA, greedy",
            f"- workload: {BATCH} LCE prompts of generated problems; the model is scripted "
            f"(ScriptedLogits) to write {min(rounds)}-{max(rounds)} code blocks per solution "
            "between text blocks (a round ends at every `<|endofblock|>`), each block running "
            f"in the sample's sandbox session; {response} response tokens in all, {generated} "
            f"of them the model's, the rest execution blocks; longest response "
            f"{max(len(r.token_ids) for r in reference)} tokens",
            f"- protocol: {REPEATS} runs per mode, modes in rotating order; every run checked to "
            "produce the reference token sequences; best and median wall time",
            "",
            "| mode | best (s) | median (s) | response tokens/s (best) | speed vs plain "
            "generate (best) | paired speed ratio: median (range) | trainer CPU (s, best) "
            "| tokens fed to the model | sandbox time in the run (s, best) |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "`tokens fed` counts every input position of every forward pass (padding and "
            "holes included): the work re-encoding repeats every round. `trainer CPU` is the "
            "benchmark process's own CPU time (model, decoding, bookkeeping; not the sandbox "
            "processes), which other load inflates less than wall time. The engine's extra "
            "time over plain generate is its rounds: a `generate` call per round with its "
            "prefill of the new tokens, decoding each finished round, and the sandbox runs "
            "(their column), during which the model waits.",
            "",
        ]
    )
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    from cli.errors import run_entry_point

    sys.exit(run_entry_point(main))

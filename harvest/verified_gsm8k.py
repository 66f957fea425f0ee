"""GSM8K training samples whose programs print the gold answer when run in the sandbox.

``datamodules.sources.gsm8k_htl`` converts solutions as text; this source also runs every converted
program and keeps a sample only when its printed answer matches the gold, judged by the same
extraction and matching that grade generated programs (at GSM8K's exact tolerance, 1e-6).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice

from datamodules.sample import Sample
from datamodules.sources.gsm8k_htl import GSM8KHTL, TOLERANCE, ConversionError
from grading.answers import AnswerMatcher
from grading.extraction import extract_program_answer
from sandbox import SandboxOptions, SandboxPool
from sandbox.result import ExecutionResult, Outcome

VERIFY_CHUNK = 256  # programs sent to the sandbox at once: bounds latency before the first sample
# Conversion keeps the solution's own numbers, so a right program prints the gold up to float
# rounding: a far tighter tolerance than grading a model's answer needs.
PRINTED_ANSWER = AnswerMatcher(rel_tol=TOLERANCE)


def printed_answer_matches(output: str, gold: str) -> bool:
    """Whether the answer the program printed (its last line) is the gold number."""
    return PRINTED_ANSWER(extract_program_answer(output), gold).correct


def check_programs(samples: Sequence[Sample], pool: SandboxPool) -> list[ConversionError | None]:
    """Runs each sample's program in the sandbox; per sample, None when it printed the gold
    answer, else why not (reason ``execution_failed`` or ``execution_mismatch``)."""
    programs = [
        "\n".join(block.content for block in sample.blocks_of("code")) for sample in samples
    ]
    results = pool.run_many(programs)
    return [_failure(result, sample.answer) for result, sample in zip(results, samples)]


class VerifiedGSM8KHTL(GSM8KHTL):
    """GSM8K problems converted to HTL samples, kept only when the program prints the gold.

    Args:
        path: a local GSM8K jsonl file; None loads ``openai/gsm8k`` (config ``main``) from the hub.
        split: the hub split; with a path it only names the samples.
        limit: read at most this many records (the first ones).
        sandbox: limits of the sandbox that runs the programs (one worker by default).

    Programs that fail count in ``failures`` beside the conversion's own reasons.
    """

    def __init__(
        self,
        path: str | None = None,
        split: str = "train",
        limit: int | None = None,
        sandbox: SandboxOptions | None = None,
    ) -> None:
        super().__init__(path, split, limit)
        self.sandbox = sandbox or SandboxOptions(workers=1)

    def kept(self, samples: Iterator[Sample]) -> Iterator[Sample]:
        with SandboxPool(self.sandbox) as pool:
            while chunk := list(islice(samples, VERIFY_CHUNK)):
                for sample, failure in zip(chunk, check_programs(chunk, pool)):
                    if failure is None:
                        yield sample
                    else:
                        self.fail(failure.reason, sample.id, failure.detail)


def _failure(result: ExecutionResult, gold: str) -> ConversionError | None:
    if result.outcome is Outcome.UNAVAILABLE:  # the sandbox's failure, not the program's
        raise RuntimeError(f"sandbox unavailable: {result.error}")
    if not result.ok:
        return ConversionError("execution_failed", str(result.error))
    if not printed_answer_matches(result.output, gold):
        printed = result.output.strip()[-80:]
        return ConversionError("execution_mismatch", f"printed {printed!r}, gold {gold}")
    return None

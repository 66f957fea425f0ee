"""Which generations become training samples: verified rejection sampling and its variants.

A predict run generates ``n`` solutions per problem, runs their code in the sandbox and grades
them (``solving.solver.Solver``). A harvest then decides, per problem, which of the ``n`` become
training samples and why each other one does not; ``callbacks.harvest_writer`` writes both.

- :class:`VerifiedSolutions` keeps solutions whose execution-verified answer is right: against
  the gold, or, for problems without one (new interpolated problems), against the answer most of
  the solutions reached (self-consistency). Options: at most ``k`` per problem, dropping
  near-duplicates, preferring short or long solutions, preferring or requiring chosen behaviours
  (``grading.behaviours``), and HTL's self-distillation rule (the program's answer must also
  match the answer of the gold reasoning it was asked to follow), and a check that the program
  computes its answer rather than writing it down.
- :class:`NewProblems` keeps the new problems of problem interpolation.

Every generation gets exactly one reason: ``kept`` or why not, so the counts add up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Literal

from checks import InputError
from datamodules.numbers import STANDALONE
from datamodules.sample import Block, Sample
from grading.answers import AnswerMatcher, extract_text_answer
from grading.behaviours import check_behaviours, tag
from grading.votes import most_given, tally

KEPT = "kept"
Preference = Literal["first", "shortest", "longest"]


@dataclass(frozen=True)
class Candidate:
    """One generated solution, as a harvest sees it: its blocks as a training sample would hold
    them, what grading found, and how many tokens the model wrote."""

    blocks: tuple[Block, ...]
    final_answer: str | None
    program_answer: str | None
    outcome: str  # the last sandbox outcome ("ok", "error", "timeout" ...), or "no_program"
    tokens: int

    @classmethod
    def from_record(cls, record: Mapping[str, Any], blocks: tuple[Block, ...]) -> Candidate:
        """From a predict record (``SFTModule.predict_step``) and its generation's blocks."""
        return cls(
            blocks,
            record["final_answer"],
            record["program_answer"],
            record["outcome"],
            int(record["generated_tokens"]),
        )

    @property
    def code(self) -> str:
        return "\n".join(block.content for block in self.blocks if block.kind == "code")

    @property
    def text(self) -> str:
        """The model's own blocks as one whitespace-folded string, for near-duplicate checks."""
        written = (block.content for block in self.blocks if block.kind != "execution")
        return " ".join(" ".join(written).split())


@dataclass(frozen=True)
class Decisions:
    """A problem's harvest: the samples kept, and one reason per candidate (in their order)."""

    kept: tuple[Sample, ...]
    reasons: tuple[str, ...]


class Harvest(ABC):
    """Decides which candidates of one problem become samples."""

    @abstractmethod
    def select(
        self, problem: Sample, candidates: Sequence[Candidate], matcher: AnswerMatcher
    ) -> Decisions: ...


def similar(a: str, b: str, threshold: float) -> bool:
    """Whether two texts are near-duplicates: difflib's similarity ratio at least ``threshold``
    (the cheap upper bounds first, so dissimilar pairs cost little)."""
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


class _Picker:
    """Keeps candidates in the order given, dropping near-duplicates of kept ones and any past
    ``k``; records each one's reason."""

    def __init__(self, reasons: list[str], k: int | None, similarity: float | None) -> None:
        self.reasons, self.k, self.similarity = reasons, k, similarity
        self.kept: list[tuple[int, str]] = []

    def offer(self, index: int, text: str) -> None:
        if self.similarity is not None and any(
            similar(text, other, self.similarity) for _, other in self.kept
        ):
            self.reasons[index] = "near_duplicate"
        elif self.k is not None and len(self.kept) >= self.k:
            self.reasons[index] = "beyond_k"
        else:
            self.reasons[index] = KEPT
            self.kept.append((index, text))


def _mentions(text: str, answer: str, matcher: AnswerMatcher) -> bool:
    """Whether ``text`` writes ``answer`` as one of its numbers (the matcher decides equality,
    so ``16``, ``16.0`` and ``16.00`` all count). Only a plain-number answer can be written
    down this way; any other (``\\frac{1}{2}``, ``-5``) never is, which also keeps every
    comparison on the matcher's numeric path, away from its symbolic one."""
    if not STANDALONE.fullmatch(answer.strip()):
        return False
    return any(matcher(number, answer).correct for number in set(STANDALONE.findall(text)))


def _check_selection(k: int | None, similarity: float | None) -> None:
    if k is not None and k < 1:
        raise InputError(f"k must be >= 1 or None, got {k}")
    if similarity is not None and not 0 < similarity <= 1:
        raise InputError(f"max_similarity must be in (0, 1] or None, got {similarity}")


class VerifiedSolutions(Harvest):
    """Execution-verified rejection sampling (see the module docstring).

    Args:
        k: keep at most this many solutions per problem (None: every verified one).
        max_similarity: drop a solution whose text is at least this similar (difflib ratio, 0-1)
            to one already kept; 1.0 drops exact copies only; None keeps near-duplicates.
        prefer: which verified solutions come first when ``k`` or duplicates leave a choice:
            ``first`` (generation order), ``shortest`` or ``longest`` (tokens the model wrote).
        behaviours: behaviours of ``grading.behaviours`` to favour (the behaviour study's
            training-time use): ``verification``, ``backtracking``, ``backward_chaining``,
            ``subgoal_setting``.
        behaviour_policy: ``prefer`` ranks solutions showing more of them first; ``require``
            rejects solutions lacking any of them.
        reference: what a right answer is: the problem's ``gold``, or the ``majority`` answer of
            its solutions (problems without a gold, such as interpolated ones).
        min_votes: with ``majority``, the most common answer needs at least this many solutions
            and more than any other answer.
        require_execution: a solution counts only when its last code run succeeded (False also
            accepts answers stated in words after a failed run, or with no code).
        agree_with_reasoning: HTL's self-distillation rule: the problem's text blocks are the
            gold reasoning the program was asked to follow; its answer must match the reference,
            and each program's answer must match it too.
        reject_copied_answers: a program that holds the answer as a number (a literal, or inside
            a string) the question does not give is rejected as ``answer_copied``: it wrote the
            answer down instead of computing it (SmolLM2-135M did so in about half of the
            programs it got right; ``benchmarks/results/self_distill.md``).
    """

    def __init__(
        self,
        k: int | None = None,
        max_similarity: float | None = 0.9,
        prefer: Preference = "first",
        behaviours: Sequence[str] = (),
        behaviour_policy: Literal["prefer", "require"] = "prefer",
        reference: Literal["gold", "majority"] = "gold",
        min_votes: int = 2,
        require_execution: bool = True,
        agree_with_reasoning: bool = False,
        reject_copied_answers: bool = False,
    ) -> None:
        _check_selection(k, max_similarity)
        if prefer not in ("first", "shortest", "longest"):
            raise InputError(f"prefer must be first, shortest or longest, got {prefer!r}")
        if behaviour_policy not in ("prefer", "require"):
            raise InputError(
                f"behaviour_policy must be prefer or require, got {behaviour_policy!r}"
            )
        if reference not in ("gold", "majority"):
            raise InputError(f"reference must be gold or majority, got {reference!r}")
        if min_votes < 1:
            raise InputError(f"min_votes must be >= 1, got {min_votes}")
        self.k, self.max_similarity, self.prefer = k, max_similarity, prefer
        self.behaviours = check_behaviours(behaviours)
        self.behaviour_policy = behaviour_policy
        self.reference, self.min_votes = reference, min_votes
        self.require_execution, self.agree_with_reasoning = require_execution, agree_with_reasoning
        self.reject_copied_answers = reject_copied_answers

    def select(
        self, problem: Sample, candidates: Sequence[Candidate], matcher: AnswerMatcher
    ) -> Decisions:
        answer, problem_reason = self._reference(problem, candidates, matcher)
        if problem_reason is not None:
            return Decisions((), (problem_reason,) * len(candidates))
        assert answer is not None
        reasons = [self._failure(c, answer, matcher) or "" for c in candidates]
        if self.reject_copied_answers and not _mentions(problem.question, answer, matcher):
            for index, candidate in enumerate(candidates):
                if not reasons[index] and _mentions(candidate.code, answer, matcher):
                    reasons[index] = "answer_copied"
        shown = [len(self._shown(c)) for c in candidates]
        if self.behaviour_policy == "require":
            for index, count in enumerate(shown):
                if not reasons[index] and count < len(self.behaviours):
                    reasons[index] = "lacks_behaviours"
        verified = [index for index, reason in enumerate(reasons) if not reason]
        verified.sort(key=lambda index: self._rank(candidates[index], shown[index], index))
        picker = _Picker(reasons, self.k, self.max_similarity)
        for index in verified:
            picker.offer(index, candidates[index].text)
        kept = tuple(
            Sample(
                id=f"{problem.id}#{index}",
                dataset=problem.dataset,
                question=problem.question,
                blocks=candidates[index].blocks,
                answer=answer,
            )
            for index, _ in sorted(picker.kept)
        )
        return Decisions(kept, tuple(reasons))

    def _reference(
        self, problem: Sample, candidates: Sequence[Candidate], matcher: AnswerMatcher
    ) -> tuple[str | None, str | None]:
        """The right answer, or why none can be had for this problem (every candidate's reason)."""
        if self.reference == "majority":
            answer = self._majority(candidates, matcher)
            if answer is None:
                return None, "no_majority"
        elif not problem.answer.strip():
            return None, "no_gold_answer"
        else:
            answer = problem.answer
        if self.agree_with_reasoning:
            reasoning = "\n".join(block.content for block in problem.blocks_of("text"))
            stated = extract_text_answer(reasoning) if reasoning else None
            if not matcher(stated, answer).correct:
                return None, "reasoning_disagrees_with_gold"
        return answer, None

    def _majority(self, candidates: Sequence[Candidate], matcher: AnswerMatcher) -> str | None:
        """The answer most usable candidates reached (answers grouped by the matcher), if it has
        ``min_votes`` and no other answer ties it."""
        answers = [
            candidate.final_answer
            for candidate in candidates
            if candidate.final_answer is not None and not self._run_failed(candidate)
        ]
        counts = tally(answers, lambda answer, other: matcher(answer, other).correct)
        leaders, votes = most_given(counts)
        return leaders[0] if len(leaders) == 1 and votes >= self.min_votes else None

    def _run_failed(self, candidate: Candidate) -> bool:
        return self.require_execution and candidate.outcome != "ok"

    def _failure(self, candidate: Candidate, answer: str, matcher: AnswerMatcher) -> str | None:
        """Why a candidate is not verified (its outcome, ``no_answer``, ``wrong_answer``,
        ``disagrees_with_reasoning``), or None."""
        if self._run_failed(candidate):
            return candidate.outcome
        if candidate.final_answer is None:
            return "no_answer"
        if not matcher(candidate.final_answer, answer).correct:
            return "wrong_answer"
        if self.agree_with_reasoning and not matcher(candidate.program_answer, answer).correct:
            return "disagrees_with_reasoning"
        return None

    def _shown(self, candidate: Candidate) -> set[str]:
        if not self.behaviours:
            return set()
        return set(tag(candidate.blocks).behaviours) & set(self.behaviours)

    def _rank(self, candidate: Candidate, shown: int, index: int) -> tuple[int, int]:
        behaviour_rank = -shown if self.behaviour_policy == "prefer" else 0
        if self.prefer == "shortest":
            return behaviour_rank, candidate.tokens
        if self.prefer == "longest":
            return behaviour_rank, -candidate.tokens
        return behaviour_rank, index


class NewProblems(Harvest):
    """Keeps the new problems of problem interpolation: non-empty, not a copy of a problem it
    started from, not a near-duplicate of one already kept for the same pair, at most ``k``.

    Args:
        k: keep at most this many new problems per pair.
        max_similarity: as in :class:`VerifiedSolutions`.
        min_chars: a shorter "problem" is not one.
    """

    def __init__(
        self, k: int | None = None, max_similarity: float | None = 0.9, min_chars: int = 20
    ) -> None:
        _check_selection(k, max_similarity)
        self.k, self.max_similarity, self.min_chars = k, max_similarity, min_chars

    def select(
        self, problem: Sample, candidates: Sequence[Candidate], matcher: AnswerMatcher
    ) -> Decisions:
        reasons = [""] * len(candidates)
        source = " ".join(problem.question.split())
        picker = _Picker(reasons, self.k, self.max_similarity)
        for index, candidate in enumerate(candidates):
            text = candidate.text
            if len(text) < self.min_chars:
                reasons[index] = "no_problem"
            elif text in source:
                reasons[index] = "copies_a_source"
            else:
                picker.offer(index, text)
        kept = tuple(
            Sample(id=f"{problem.id}#{index}", dataset="interpolated", question=text)
            for index, text in picker.kept
        )
        return Decisions(kept, tuple(reasons))

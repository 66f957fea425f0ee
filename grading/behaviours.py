"""Crucial tokens and code-specific reasoning behaviours, tagged by rules a reader can check.

The code-interpreter behaviour study (arXiv 2606.16934; ``RESEARCH.md`` section 4) found that
stronger models show more verification, backtracking, backward chaining and subgoal setting, and
more "crucial tokens" (``wait``, ``check``, ``let`` ...). Here each behaviour is detected by a
few :class:`Rule` objects, each saying in words what it matches: regular expressions over the
solution's words or code, or (for backtracking after a failed run) a rule over the order of the
blocks. No model judges anything, so a tag can always be traced to the span that caused it
(:attr:`BehaviourTags.hits`) and a rule can be tested on its own examples. ``rules_table``
renders :data:`RULES` for reports.

The rules are deliberately literal: they find the phrases and code shapes that signal a
behaviour, not the behaviour's logic (a solution that verifies silently, by recomputing, is not
tagged). What each rule leaves out is said in its description.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from checks import InputError

if TYPE_CHECKING:  # types only: tagging needs neither torch nor the data layer
    from datamodules.sample import Block

Behaviour = Literal["verification", "backtracking", "backward_chaining", "subgoal_setting"]
BEHAVIOURS: tuple[Behaviour, ...] = (
    "verification",
    "backtracking",
    "backward_chaining",
    "subgoal_setting",
)
# The crucial tokens counted in the solution's words: the study's examples (let, check, wait)
# and the words that open a reflection the same way.
CRUCIAL_TOKENS = (
    "wait",
    "check",
    "verify",
    "let",
    "however",
    "alternatively",
    "actually",
    "hmm",
    "mistake",
    "instead",
)
_CRUCIAL = re.compile(r"\b(" + "|".join(CRUCIAL_TOKENS) + r")\b", re.IGNORECASE)
# What a failed run prints: a traceback, or an exception line such as "NameError: ...".
_ERROR_OUTPUT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*(?:Error|Exception)\b")
_SNIPPET_CHARS = 80


@dataclass(frozen=True)
class Rule:
    """One detector: ``find`` returns the snippets it matched in a solution's blocks (empty when
    it does not fire); ``matches`` says what it looks for, in words."""

    name: str
    behaviour: Behaviour
    reads: Literal["text", "code", "blocks"]
    matches: str
    find: Callable[[Sequence[Block]], list[str]]


def _pattern_rule(
    name: str, behaviour: Behaviour, reads: Literal["text", "code"], matches: str, pattern: str
) -> Rule:
    """A rule that fires on every match of ``pattern`` in the blocks of kind ``reads``."""
    compiled = re.compile(pattern, re.IGNORECASE | re.MULTILINE)

    def find(blocks: Sequence[Block]) -> list[str]:
        return [
            match.group(0)[:_SNIPPET_CHARS]
            for block in blocks
            if block.kind == reads
            for match in compiled.finditer(block.content)
        ]

    return Rule(name, behaviour, reads, matches, find)


def _numbered_plan(blocks: Sequence[Block]) -> list[str]:
    """Text blocks that lay out two or more numbered steps (``1.`` ... ``2.``)."""
    found = []
    for block in blocks:
        if block.kind != "text":
            continue
        numbers = re.findall(r"^\s*(\d{1,2})[.)]\s+\S", block.content, re.MULTILINE)
        if {"1", "2"} <= set(numbers):
            found.append(f"numbered steps 1-{max(int(n) for n in numbers)}")
    return found


def _code_after_error(blocks: Sequence[Block]) -> list[str]:
    """Execution blocks showing an error that a later code block follows (the model rewrote
    its code after the failure instead of stopping)."""
    found = []
    for index, block in enumerate(blocks):
        if block.kind != "execution":
            continue
        error = _ERROR_OUTPUT.search(block.content)
        if error and any(later.kind == "code" for later in blocks[index + 1 :]):
            found.append(error.group(0))
    return found


RULES: tuple[Rule, ...] = (
    _pattern_rule(
        "verify_words",
        "verification",
        "text",
        'words announcing a check: "verify", "double-check", "let\'s check", "check if/whether/'
        'that", "confirm", "sanity check", "plug/substitute ... back"; not "check" as a noun '
        '("a check for $5")',
        r"\bverif(?:y|ies|ied|ying|ication)\b|\bdouble[- ]check"
        r"|\blet(?:'s| us| me) (?:check|confirm)"
        r"|\bcheck(?:ing)? (?:if|whether|that|our|the (?:answer|result|solution))\b|\bconfirm"
        r"|\bsanity[- ]check|\b(?:plug|substitut)\w* [^.\n]{0,40}\bback\b",
    ),
    _pattern_rule(
        "verify_code",
        "verification",
        "code",
        "code that tests a result: an `assert` statement, a comment saying check/verify "
        "(`# verify the solution`), or a name starting with check/verif (`check = ...`, "
        "`verification_sum`); a bare `==`, or a name merely ending so (`cost_before_check`), is "
        "not counted",
        r"^\s*assert\b|#[^\n]*?\b(?:check|verif)|\b(?:check|verif)\w*",
    ),
    _pattern_rule(
        "backtrack_words",
        "backtracking",
        "text",
        'words abandoning a path: "I made a mistake/error", "that is incorrect/wrong/not right", '
        '"let\'s try another/a different approach", "re-evaluate", "reconsider", "let me '
        'correct", "apologize", "wait", "oops", "on second thought"',
        r"\b(?:I|we) (?:made|have made) (?:a|an) (?:\w+ )?(?:mistake|error)"
        r"|\b(?:is|was|seems|be) (?:incorrect|wrong|not (?:right|correct))\b"
        r"|\b(?:try|take|use) (?:another|a different|an alternative) (?:approach|way|method)"
        r"|\bre-?evaluate|\breconsider|\blet(?:'s| us| me) correct|\bapologi[sz]e"
        r"|\bwait\b|\boops\b|\bon second thought",
    ),
    Rule(
        "code_after_error",
        "backtracking",
        "blocks",
        "a code block written after an execution block that shows an error (a traceback or an "
        "`...Error`/`...Exception` line): the model went back and rewrote its code",
        _code_after_error,
    ),
    _pattern_rule(
        "backward_words",
        "backward_chaining",
        "text",
        'reasoning from the goal back to what it needs: "work(ing) backwards", "to find/'
        'determine/calculate X, we (first) need", "we need to find/know X first", "start from '
        'the answer/goal/end", "in order to find"; equation solving alone (sympy `solve`) is '
        "not counted",
        r"\bwork(?:ing|ed)? backwards?\b"
        r"|\bto (?:find|determine|calculate|compute|get) [^.\n]{0,80}?,? (?:we|I) (?:first )?"
        r"(?:need|have|must)\b"
        r"|\b(?:we|I) need to (?:find|know|determine|calculate) [^.\n]{0,60}?\bfirst\b"
        r"|\bstart(?:ing)? (?:from|with) the (?:answer|goal|end|result|final)\b"
        r"|\bin order to (?:find|determine|calculate|get)\b",
    ),
    _pattern_rule(
        "subgoal_words",
        "subgoal_setting",
        "text",
        'words splitting the problem into parts: "step 1", "break it/this/the problem down", '
        '"sub-problem/subgoal/subtask", "let\'s start by", "first, we ..."',
        r"\bstep \d\b|\bbreak (?:it|this|that|the problem|the question)\b[^.\n]{0,30}?\b"
        r"(?:down|into)\b|\bsub-?(?:goal|problem|task)s?\b|\blet(?:'s| us) (?:start|begin) by"
        r"|\bfirst(?:ly)?, (?:we|let's|I)\b",
    ),
    Rule(
        "numbered_plan",
        "subgoal_setting",
        "text",
        "a text block laying out two or more numbered steps (lines starting `1.` and `2.`)",
        _numbered_plan,
    ),
    _pattern_rule(
        "step_comments",
        "subgoal_setting",
        "code",
        "step comments in code: `# Step 1`, `# step 2: ...`",
        r"#\s*step\s*\d",
    ),
)


@dataclass(frozen=True)
class BehaviourTags:
    """What the rules found in one solution: the snippets of each rule that fired, and the
    crucial tokens of its words with their counts (lower-cased)."""

    hits: dict[str, tuple[str, ...]]
    crucial_tokens: Counter[str]

    @property
    def behaviours(self) -> frozenset[Behaviour]:
        return frozenset(rule.behaviour for rule in RULES if rule.name in self.hits)

    def shows(self, behaviour: Behaviour) -> bool:
        return behaviour in self.behaviours

    def record(self) -> dict[str, object]:
        """JSON-ready: the behaviours shown, the snippets per rule, the crucial-token counts."""
        return {
            "behaviours": sorted(self.behaviours),
            "hits": {name: list(snippets) for name, snippets in self.hits.items()},
            "crucial_tokens": dict(self.crucial_tokens),
        }


def tag(blocks: Sequence[Block]) -> BehaviourTags:
    """Runs every rule and counts the crucial tokens of the text blocks."""
    hits = {rule.name: tuple(found) for rule in RULES if (found := rule.find(blocks))}
    words = (block.content for block in blocks if block.kind == "text")
    tokens = Counter(match.lower() for text in words for match in _CRUCIAL.findall(text))
    return BehaviourTags(hits, tokens)


def check_behaviours(names: Iterable[str]) -> tuple[Behaviour, ...]:
    """Behaviour names from a config, checked: an unknown one raises, naming the known ones."""
    chosen = tuple(names)
    unknown = [name for name in chosen if name not in BEHAVIOURS]
    if unknown:
        raise InputError(f"unknown behaviours {unknown}; known: {', '.join(BEHAVIOURS)}")
    return chosen  # type: ignore[return-value]


def rules_table() -> str:
    """The rules as a markdown table: behaviour, rule, what it reads, what it matches."""
    lines = ["| behaviour | rule | reads | matches |", "|---|---|---|---|"]
    for rule in RULES:
        matches = rule.matches.replace("|", "\\|")
        lines.append(f"| {rule.behaviour} | `{rule.name}` | {rule.reads} | {matches} |")
    return "\n".join(lines)

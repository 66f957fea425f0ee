"""Final-answer extraction from a model's reasoning text and from a program's printed output.

Extraction only finds the answer span; making ``$1,234.00`` equal ``1234`` is the matcher's job.
All patterns are linear-time, so megabyte-long generations cost milliseconds.
"""

from __future__ import annotations

import re
from collections import deque

from datamodules.latex import final_boxed
from datamodules.numbers import IN_TEXT
from grading.normalize import clean, to_number

# "The answer is", "Answer:", or "Answer" right before math ("Answer \\( 9 \\)").
_ANSWER_IS = re.compile(r"\banswer\b(?:\s+is\b\s*:?|\s*:|(?=[ \t]*(?:\$|\\[(\[])))", re.IGNORECASE)
# Minerva's closing sentence; written after the last box, it is the final answer, not the box.
_FINAL_ANSWER = re.compile(r"\bfinal answer is\b", re.IGNORECASE)
_HASHES = re.compile(r"####")
# What follows a marker: the rest of its line, or the next line when the marker ends its line.
_FOLLOWING = re.compile(r"[ \t]*\n?\s*(?P<answer>[^\n]*)")
_BOLD = re.compile(r"\*\*(?P<answer>[^*\n]{1,100})\*\*")
# A number in prose (the one number rule), or a fraction of two: "\\frac{9}{10}", "3/4".
_NUMBER = re.compile(
    r"(?:(?<![\w)\]])-)?"
    r"(?:\\[dt]?frac\{-?[0-9.]+\}\{[0-9.]+\}"
    rf"|(?:{IN_TEXT})(?:/[0-9]+(?:\.[0-9]+)?)?)"
)
# A number that closes a relation (``x \\geq 5``, ``n < 3``) is not the answer alone: the
# relation is, when its left side is one variable; otherwise there is no answer to read.
_RELATION_BEFORE = re.compile(
    r"(?:(?P<left>(?<![\w\\])[A-Za-z](?:_\{?\w{1,8}\}?)?)\s*)?"
    r"(?P<operator><=|>=|!=|[<>≤≥≠]|\\(?:leq?|geq?|neq?|lt|gt|leqslant|geqslant)(?![A-Za-z]))"
    r"\s*\$?\s*$"
)
# Where a chat template's next turn (or a few-shot prompt's next problem) starts, the model's
# answer has ended: nothing after it is read.
_NEXT_TURN = re.compile(
    r"<\|(?:im_end|im_start|eot_id|start_header_id|end_of_text|endoftext|end|user|assistant)\|>"
    r"|</s>|<(?:end|start)_of_turn>|<｜(?:end▁of▁sentence|User|Assistant)｜>"
    r"|\n\s*(?:Problem|Human|User)\s*:"
)
# Minerva's closing formula: "Final Answer: The final answer is 5. I hope it is correct."
_HOPE = re.compile(r"\s*I hope it is correct\b.*", re.IGNORECASE | re.DOTALL)
# The verb that introduces the value in a concluding sentence ("The largest $n$ is 34").
_COPULA = re.compile(r"\s(?:is|are|was|were|equals)\s", re.IGNORECASE)
# "2 + 1 = 3 bolts": a worked sum (numbers and operators only) before the value it comes to.
_WORKED_SUM = re.compile(r"(?:[\d.,+\-*/×÷()\s]|\\(?:times|cdot|div)\b)+=\s*(?=\S)")
_INLINE_MATH = re.compile(r"\$[^$]+\$|\\\((?:(?!\\\)).)+\\\)")
# An answer that opens display math or an environment on its line runs on to where it closes
# (a multi-line ``pmatrix``), at most this far.
_DISPLAY_OPEN = re.compile(r"\$\$|\\\[|\\begin\{(?P<env>\w+\*?)\}")
_MAX_ANSWER_SPAN = 2_000
# The end of a ``cases`` environment, with the math delimiters that close around it.
_CASES_END = re.compile(r"\\end\{cases\}\s*(?:\\right\.)?\s*(?:\$\$|\\\]|\$|\\\))?")
# The last number is looked for only this far before the last digit: C-speed rfind, then a regex
# on a short window, instead of a regex pass over the whole text.
_NUMBER_WINDOW = 200
# An inline "$" (not "\\$", not half of "$$"); inline math before another one, parted from it by
# a list connective ("$1$, $2$ and $3$"), looked for this far back, at most this many times.
_INLINE_DOLLAR = re.compile(r"(?<![\\$])\$(?!\$)")
_MATH_BEFORE = re.compile(
    r"(?:(?<![\\$])\$(?P<dollar>[^$\n]+)\$|\\\((?P<paren>[^\n]+?)\\\))"
    r"\s*(?:,?\s*(?:and|or)\b|,)\s*$"
)
_JOIN_WINDOW = 300
_MAX_JOINED_MATHS = 5
# A printed line longer than this is a runaway output, not an answer.
MAX_LINE_CHARS = 10_000
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_ERROR_LINE = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Interrupt)(?::|$)")
_WRAPPERS = (
    (re.compile(r"(?:np|numpy)\.\w+\((?P<inner>.*)\)"), "{inner}"),
    (re.compile(r"Decimal\('(?P<inner>[^']*)'\)"), "{inner}"),
    (re.compile(r"Fraction\((?P<num>-?\d+),\s*(?P<den>\d+)\)"), "{num}/{den}"),
    (re.compile(r"(?:array|np\.array)\(\[(?P<inner>[^\[\]]*)\]\)"), "[{inner}]"),
    (re.compile(r"\((?P<inner>[^(),]+),\)"), "{inner}"),  # one-element tuple
    (re.compile(r"\[(?P<inner>[^\[\],]+)\]"), "{inner}"),  # one-element list
    (re.compile(r"\[(?P<inner>\([^\[\]]*\))\]"), "{inner}"),  # sympy's [(x, y)] solution
)
_NAME = re.compile(r"[A-Za-z_]\w*")
# Words that can appear in a printed math value without making it prose.
# "and" / "or" join the values of a list ("19, 46, and 82").
_MATH_WORDS = frozenset(
    {"sqrt", "pi", "oo", "exp", "log", "sin", "cos", "tan", "inf", "nan", "and", "or"}
)
# "cases" in \begin{cases} and "MBCN" in S_{MBCN} are no words.
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{\w+\*?\}|_\{[^{}]*\}")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")  # \frac is not a word
# A whole text this short that is only a value is itself the answer ("63, 21", "x = 5", "5 cm").
_BARE_MAX_CHARS = 100
# Only the last few bold spans can hold the final answer; bounds the work on adversarial text.
_BOLD_SPANS_CHECKED = 50


def extract_text_answer(text: str, fallback: bool = True) -> str | None:
    """The final answer stated in reasoning text, or None.

    The text ends where a chat template's next turn starts. Rules, first that applies: the
    final boxes (:func:`final_boxed`), unless "the final answer is" follows them; the last
    "answer is ..." / "Answer: ..." / "Answer" right before math (a concluding sentence is
    reduced to its value, Minerva's "I hope it is correct." dropped); the last ``#### ...``;
    the whole text when it is a short bare value (``63, 21``, ``x = 5``, ``5 cm``). These
    commit to an answer; with ``fallback``, also: the last bold span that is a number; the
    last number (``\\frac{9}{10}`` counts as one), read with the math it is written in when
    that math is a value (a matrix, ``(7, 6)``, ``$1$ and $2$``), else the relation it closes;
    with no number at all, the last math (``$\\text{odd}$``). After a ``cases`` environment,
    the lines that follow are read first: a system or a piecewise definition is not the answer
    when a later line states one.
    """
    if not text:
        return None
    turn = _NEXT_TURN.search(text)
    if turn is not None:
        text = text[: turn.start()]
    cases_end = text.rfind("\\end{cases}")
    if cases_end >= 0:
        after = text[_CASES_END.match(text, cases_end).end() :]
        stated = _stated_answer(after, fallback=False) or _plain_statement(after)
        if stated is not None:
            return stated
    return _stated_answer(text, fallback)


def _stated_answer(text: str, fallback: bool) -> str | None:
    boxed = final_boxed(text)
    if boxed and not _concluded_after_boxes(text):
        return boxed
    for marker, trim in ((_ANSWER_IS, True), (_HASHES, False)):
        found = _last(marker, text)
        if found is not None:
            answer = _answer_span(text, found.end())
            answer = _concluded_value(_first_sentence(answer)) if trim else answer.strip()
            if answer:
                return answer
    if _is_bare_answer(text):
        return _concluded_value(text.strip().rstrip(".").strip())
    if not fallback:
        return None
    bold = _last_numeric_bold(text)
    if bold is not None:
        return bold
    return _last_number(text)


def extract_program_answer(output: str | None) -> str | None:
    """The answer a program printed: its last non-empty output line, unwrapped, or None.

    None for empty output, a runaway last line, or an exception as the last line. Single values
    wrapped by numpy, ``Decimal``, ``Fraction``, one-element tuples, lists or sympy solution dicts
    are unwrapped; a larger solution dict ``{x: 1, y: 2}`` becomes ``x = 1, y = 2``; a line of
    prose ("Total: $42") falls back to :func:`extract_text_answer`.
    """
    if not output or not output.strip():
        return None
    line = output.strip().splitlines()[-1].strip()
    if len(line) > MAX_LINE_CHARS or _ERROR_LINE.match(line):
        return None
    line = _unwrap(line)
    if line.startswith("{") and line.endswith("}") and ":" in line:
        entries = [entry.partition(":") for entry in line[1:-1].split(",")]
        if all(_NAME.fullmatch(name.strip()) and value.strip() for name, _, value in entries):
            if len(entries) == 1:
                return entries[0][2].strip()
            return ", ".join(f"{name.strip()} = {value.strip()}" for name, _, value in entries)
    if _has_prose(line):
        return extract_text_answer(line) or line
    return line


def _has_prose(text: str) -> bool:
    text = _ENVIRONMENT.sub("", text)
    return any(word.lower() not in _MATH_WORDS for word in _WORD.findall(text))


def _is_bare_answer(text: str) -> bool:
    """A short text that is only a value (MathCoder closes with one: "51", "10,000{dollars}");
    a box left open (a truncated generation) is none."""
    text = text.strip()
    return len(text) <= _BARE_MAX_CHARS and "\\boxed" not in text and _is_value(text)


def _is_value(text: str) -> bool:
    """Whether a text with a digit is a value: no words, or one number with its unit."""
    return re.search("[0-9]", text) is not None and (
        not _has_prose(text) or to_number(clean(text)) is not None
    )


def _unwrap(line: str) -> str:
    for _ in range(len(_WRAPPERS)):
        for pattern, template in _WRAPPERS:
            match = pattern.fullmatch(line)
            if match:
                line = template.format(**match.groupdict()).strip()
                break
        else:
            return line
    return line


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = deque(pattern.finditer(text), maxlen=1)
    return last[0] if last else None


def _concluded_after_boxes(text: str) -> bool:
    """Whether "the final answer is" comes after the last box (the boxes were steps)."""
    final = _last(_FINAL_ANSWER, text)
    return final is not None and final.start() > max(text.rfind("\\boxed"), text.rfind("\\fbox"))


def _last_number(text: str) -> str | None:
    """The last number, or the math it is written in when that math is a value (a matrix, a
    tuple, ``(9+1)``, a list of inline maths); with no number at all, the last math."""
    end = max(text.rfind(digit) for digit in "0123456789")
    if end < 0:
        return _last_math(text)
    start = max(0, end - _NUMBER_WINDOW)
    window = text[start : end + 2]  # + the "}" closing a \frac
    number = _last(_NUMBER, window)
    if number is None:
        return None
    math = _math_holding(text, start + number.start(), start + number.end())
    if math is not None and not _has_prose(math):
        return _concluded_value(math)
    relation = _RELATION_BEFORE.search(window, 0, number.start())
    if relation is None:
        return number[0]
    if relation["left"] is None:
        return None
    return f"{relation['left']} {relation['operator']} {number[0]}"


def _math_holding(text: str, start: int, end: int) -> str | None:
    """The math that holds ``text[start:end]``, with the inline maths just before it that list
    connectives part from it ("$1$, $2$ and $3$" -> "1, 2, 3"); None outside math.

    Display math (``$$``, ``\\[``) may run over lines, inline math (``$``, ``\\(``) may not, as
    in LaTeX and math-verify. Only ``str`` searches and bounded windows: linear time.
    """
    if text.count("$$", 0, start) % 2:
        opener = text.rfind("$$", 0, start)
        close = text.find("$$", end, opener + _MAX_ANSWER_SPAN)
        return _joined_math(text, opener, text[opener + 2 : close]) if close >= 0 else None
    line_start = max(text.rfind("\n", 0, start) + 1, start - _MAX_ANSWER_SPAN)
    line_end = text.find("\n", end, end + _MAX_ANSWER_SPAN)
    line_end = min(len(text), end + _MAX_ANSWER_SPAN) if line_end < 0 else line_end
    for opening, closing, lower, upper in (
        ("\\[", "\\]", start - _MAX_ANSWER_SPAN, start + _MAX_ANSWER_SPAN),
        ("\\(", "\\)", line_start, line_end),
    ):
        opener = text.rfind(opening, max(0, lower), start)
        if opener >= 0 and text.find(closing, opener, start) < 0:
            close = text.find(closing, end, upper)
            if close >= 0:
                return _joined_math(text, opener, text[opener + 2 : close])
    dollars = [match.start() for match in _INLINE_DOLLAR.finditer(text, line_start, start)]
    if len(dollars) % 2:
        close = _INLINE_DOLLAR.search(text, end, line_end)
        if close is not None:
            return _joined_math(text, dollars[-1], text[dollars[-1] + 1 : close.start()])
    return None


def _joined_math(text: str, opener: int, content: str) -> str:
    """``content`` with the inline maths before ``opener`` that list connectives part from it."""
    contents = [content.strip()]
    for _ in range(_MAX_JOINED_MATHS):
        start = max(0, opener - _JOIN_WINDOW)
        before = _MATH_BEFORE.search(text[start:opener])
        if before is None:
            break
        contents.append((before["dollar"] or before["paren"]).strip())
        opener = start + before.start()
    return ", ".join(reversed(contents))


def _last_math(text: str) -> str | None:
    """The content of the math that ends last in the text ("$\\text{odd}$" -> "\\text{odd}")."""
    close = max(text.rfind("$"), text.rfind("\\)"), text.rfind("\\]"))
    if close < 1:
        return None
    if text.startswith("$$", close - 1):
        close -= 1
    return _math_holding(text, close, close)


def _answer_span(text: str, start: int) -> str:
    """What follows an answer marker: the rest of its line (or the next line when the marker
    ends its line), run on to where display math or an environment opened there closes."""
    following = _FOLLOWING.match(text, start)
    answer, end = following["answer"], following.end()
    opened = _last(_DISPLAY_OPEN, answer)
    if opened is not None:
        closer = (
            f"\\end{{{opened['env']}}}" if opened["env"] else {"$$": "$$", "\\[": "\\]"}[opened[0]]
        )
        if closer not in answer[opened.end() :]:
            close = text.find(closer, end, end + _MAX_ANSWER_SPAN)
            if close >= 0:
                answer = text[following.start("answer") : close + len(closer)]
    return _HOPE.sub("", answer)


def _plain_statement(text: str) -> str | None:
    """The value a last line states plainly ("Thus $x = 6$.", "so y is 4"), or None."""
    lines = text.strip().splitlines()
    if not lines:
        return None
    value = _concluded_value(_first_sentence(lines[-1]))
    return value if _is_value(value) else None


def _concluded_value(answer: str) -> str:
    """The value of a concluding sentence: "The largest $n$ is 34" -> "34"; "$x = 5$" as is;
    "2 + 1 = 3 bolts" (a worked sum, common in small models' answers) -> "3".

    Only a sentence with words is reduced: to what follows its last "is" / "are" / "equals",
    else to its last inline math, else to its number when it holds exactly one ("Sara has 18
    dollars"; a relation stays whole); an answer in words ("odd", "Evelyn") stays as written.
    """
    if len(answer) > _MAX_ANSWER_SPAN:  # not an answer; and keeps the patterns linear
        return answer
    while (worked := _WORKED_SUM.match(answer)) and re.search(r"\d", worked[0]):
        answer = answer[worked.end() :]  # "2 + 1 = 3 = 3 bolts" -> "3 bolts"
    if not _has_prose(answer) and not re.search("[A-Za-z]", _INLINE_MATH.sub("", answer)):
        return answer
    copula = _last(_COPULA, answer)
    if copula is not None:  # "5 apples are left" keeps its number: the value comes first there
        value = answer[copula.end() :].strip()
        if re.search(r"[0-9\\$]", value) or not re.search("[0-9]", answer[: copula.start()]):
            return value
    math = _last(_INLINE_MATH, answer)
    if math is not None:
        return _math_holding(answer, math.start() + 1, math.start() + 1) or math[0]
    if len(_NUMBER.findall(answer)) == 1:
        return _last_number(answer) or answer
    return answer


def _first_sentence(answer: str) -> str:
    """``18. So she ...`` -> ``18``; decimals (``3.5``) have no space after the dot."""
    end = _SENTENCE_END.search(answer)
    return (answer[: end.start()] if end else answer).strip().rstrip(".").strip()


def _last_numeric_bold(text: str) -> str | None:
    for match in reversed(deque(_BOLD.finditer(text), maxlen=_BOLD_SPANS_CHECKED)):
        if to_number(clean(match["answer"])) is not None:
            return match["answer"].strip()
    return None

"""The named operations the embedded CoGEX tasks are built from.

Each primitive is a leaf function of a pseudo-program: programs call it by name and its body is
never shown, so the model must know what it does to emulate it. Most are exact string, list and
number operations; the "soft" ones judge words with a small lexicon (sentiment, categories), the
kind of step code cannot compute but a model can learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

# What a primitive takes and gives. Tasks start from "text" (the task input); "flag" and "label"
# end a task (nothing takes them).
Kind = Literal["text", "words", "number", "flag", "label"]

POSITIVE = ("happy", "great", "lovely", "bright", "kind", "calm", "sunny", "joyful", "warm")
NEGATIVE = ("sad", "awful", "gloomy", "cruel", "angry", "cold", "bitter", "broken", "dull")
CATEGORIES: dict[str, tuple[str, ...]] = {
    "animal": ("cat", "dog", "horse", "tiger", "mouse", "eagle", "rabbit", "otter"),
    "fruit": ("apple", "mango", "lemon", "cherry", "grape", "peach", "banana", "plum"),
    "color": ("red", "blue", "green", "yellow", "purple", "orange"),
    "tool": ("hammer", "saw", "drill", "wrench", "shovel", "ladder"),
}
FILLER = ("the", "a", "big", "small", "old", "new", "very", "my", "our", "little", "one", "some")
VOWELS = frozenset("aeiou")


@dataclass(frozen=True)
class Primitive:
    """One leaf function.

    ``variable`` names its result in programs and emulated outputs; ``phrase`` is how an
    instruction asks for it; ``soft`` marks lexicon judgements."""

    name: str
    takes: Kind
    gives: Kind
    variable: str
    phrase: str
    apply: Callable[[Any], Any]
    soft: bool = False


def _sentiment(text: str) -> str:
    words = text.split()
    balance = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return "positive" if balance > 0 else "negative" if balance < 0 else "neutral"


def _main_category(words: list[str]) -> str:
    """The category most words belong to (the first listed on a tie), or "none"."""
    counts = {name: sum(w in members for w in words) for name, members in CATEGORIES.items()}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else "none"


def _is_prime(number: int) -> bool:
    return number > 1 and all(number % d for d in range(2, int(number**0.5) + 1))


def _without_vowels(text: str) -> str:
    stripped = ("".join(c for c in word if c not in VOWELS) for word in text.split())
    return " ".join(word for word in stripped if word)


PRIMITIVES: tuple[Primitive, ...] = (
    Primitive(
        "reverse_words",
        "text",
        "text",
        "reversed_text",
        "reverse the order of the words",
        lambda text: " ".join(reversed(text.split())),
    ),
    Primitive(
        "reverse_letters",
        "text",
        "text",
        "mirrored_text",
        "reverse the letters of each word",
        lambda text: " ".join(word[::-1] for word in text.split()),
    ),
    Primitive("remove_vowels", "text", "text", "consonants", "remove the vowels", _without_vowels),
    Primitive("split_words", "text", "words", "words", "split the text into words", str.split),
    Primitive(
        "count_vowels",
        "text",
        "number",
        "vowel_count",
        "count the vowels",
        lambda text: sum(c in VOWELS for c in text),
    ),
    Primitive(
        "count_words",
        "text",
        "number",
        "word_count",
        "count the words",
        lambda text: len(text.split()),
    ),
    Primitive(
        "judge_sentiment",
        "text",
        "label",
        "sentiment",
        "say whether the text is positive, negative or neutral",
        _sentiment,
        soft=True,
    ),
    Primitive(
        "sort_by_length",
        "words",
        "words",
        "by_length",
        "sort the words by length",
        lambda words: sorted(words, key=len),
    ),
    Primitive(
        "sort_alphabetically",
        "words",
        "words",
        "in_order",
        "sort the words alphabetically",
        sorted,
    ),
    Primitive(
        "keep_long_words",
        "words",
        "words",
        "long_words",
        "keep the words longer than four letters",
        lambda words: [w for w in words if len(w) > 4],
    ),
    Primitive(
        "keep_positive_words",
        "words",
        "words",
        "positive_words",
        "keep the positive words",
        lambda words: [w for w in words if w in POSITIVE],
        soft=True,
    ),
    Primitive(
        "keep_animals",
        "words",
        "words",
        "animals",
        "keep the words that name animals",
        lambda words: [w for w in words if w in CATEGORIES["animal"]],
        soft=True,
    ),
    Primitive("join_words", "words", "text", "joined", "join the words with spaces", " ".join),
    Primitive(
        "first_letters",
        "words",
        "text",
        "initials",
        "join the first letters of the words",
        lambda words: "".join(w[0] for w in words),
    ),
    Primitive("count_items", "words", "number", "item_count", "count the words", len),
    Primitive(
        "main_category",
        "words",
        "label",
        "category",
        "name the category most of the words belong to",
        _main_category,
        soft=True,
    ),
    Primitive("double", "number", "number", "doubled", "double the number", lambda n: 2 * n),
    Primitive(
        "digit_sum",
        "number",
        "number",
        "digit_total",
        "add up the digits of the number",
        lambda n: sum(int(d) for d in str(n)),
    ),
    Primitive(
        "is_even",
        "number",
        "flag",
        "even",
        "say whether the number is even",
        lambda n: n % 2 == 0,
    ),
    Primitive("is_prime", "number", "flag", "prime", "say whether the number is prime", _is_prime),
)
BY_NAME = {primitive.name: primitive for primitive in PRIMITIVES}

"""The README and docs/ hold together: every relative link and anchor resolves, the README stays
short and shows a picture, and each subject has its page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")])
SUBJECTS = (  # one page per subject (issue 28)
    "data.md",
    "focus_attention.md",
    "evaluation.md",
    "grading.md",
    "rl.md",
    "cogex.md",
    "data_engine.md",
    "scaling.md",
    "sandbox.md",
    "benchmarks.md",
)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(`{3,}[^`]*|~{3,}.*)$")  # CommonMark: no backtick after a ``` fence


def prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``."""
    slugs = set()
    for line in prose(path):
        if match := re.match(r"#{1,6} (.+)", line):
            slugs.add(re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-"))
    return slugs


def relative_links(path: Path) -> list[str]:
    links = [target for line in prose(path) for target in _LINK.findall(line)]
    return [link for link in links if not re.match(r"[a-z]+:", link)]


def test_anchors_follow_github() -> None:
    page = ROOT / "docs" / "rl.md"
    assert "ppo-with-htls-error-assessment-reward" in anchors(page)
    assert "a-real-model-grpo-on-smollm2-135m" in anchors(page)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for link in relative_links(page):
        target, _, anchor = link.partition("#")
        resolved = (page.parent / target).resolve() if target else page
        assert resolved.exists(), f"{page.name}: {link} points to nothing"
        if anchor:
            assert anchor in anchors(resolved), f"{page.name}: {link} has no such heading"


def test_the_readme_is_short_and_shows_a_picture() -> None:
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 300
    pictures = [link for link in relative_links(readme) if link.endswith(".png")]
    assert pictures and all((ROOT / picture).is_file() for picture in pictures)


def test_each_subject_has_a_page_that_opens_with_what_a_user_does() -> None:
    for name in SUBJECTS:
        assert (ROOT / "docs" / name).is_file(), name
    for name in set(SUBJECTS) - {"grading.md"}:  # grading.md is a reference of rules
        assert "**What you do:**" in (ROOT / "docs" / name).read_text(encoding="utf-8"), name


def test_the_benchmarks_page_lists_every_script() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    scripts = sorted((ROOT / "benchmarks").glob("*/*.py"))
    assert scripts, "no benchmark scripts found"
    for script in scripts:
        if script.name != "__init__.py":
            name = script.relative_to(ROOT).as_posix()
            assert f"`{name}`" in page, f"add {name} to docs/benchmarks.md"

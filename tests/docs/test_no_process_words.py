"""The README and the docs speak of the product: process history lives in docs/changelog.md only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HISTORY_PAGE = REPO_ROOT / "docs" / "changelog.md"
PROCESS_WORDS = {
    "issue number": re.compile(r"\bissues?\s*#?\d+", re.I),
    "stop number": re.compile(
        r"\bstop\s+\d+\b(?!\s*(?:%|×|x\b|bps|ms|s\b|days?|bars?|shares?|ATRs?|ticks?|cents?|points?))", re.I
    ),
    "branch talk": re.compile(r"\bthis branch\b", re.I),
    "commit hash": re.compile(r"(?<![\w./-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![\w/-])"),
}


def product_pages() -> list[Path]:
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
    return [page for page in pages if page != HISTORY_PAGE]


def process_words(text: str) -> list[str]:
    """Every process word in ``text``, as ``line N: kind 'match'``."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PROCESS_WORDS.items():
            found += [f"line {number}: {kind} {match.group(0)!r}" for match in pattern.finditer(line)]
    return found


@pytest.mark.parametrize(
    "line", ["fixed in issue 7", "after Issue #12", "see stop 15", "on this branch", "since commit 3fa9c1e"]
)
def test_process_words_are_found(line: str) -> None:
    assert process_words(line)


@pytest.mark.parametrize(
    "line",
    ["a stop 2 ATRs away", "the stop 5 bps worse", "intent ECHO-ed3118825", "runs/backtest-20261207-045808-8b10a2"],
)
def test_product_words_pass(line: str) -> None:
    assert process_words(line) == []


def test_readme_and_docs_carry_no_process_history() -> None:
    found = {
        str(page.relative_to(REPO_ROOT)): words
        for page in product_pages()
        if (words := process_words(page.read_text(encoding="utf-8")))
    }
    assert found == {}

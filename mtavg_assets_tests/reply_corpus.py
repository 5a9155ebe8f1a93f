"""The reply corpus (fixtures/reply_corpus.yaml) and how an extraction is scored against it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS = Path(__file__).parent / "fixtures" / "reply_corpus.yaml"
OUTCOMES = ("correct", "wrong", "guessed", "missed")


@dataclass(frozen=True)
class Reply:
    id: str
    source: str
    kind: str
    question_type: str
    options: list[str] | None
    text: str
    expect: str | tuple[float, float] | None  # None: the reply commits to no answer


def load_corpus(path: Path = CORPUS) -> list[Reply]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources, option_sets = data["sources"], data["option_sets"]
    replies = []
    for item in data["replies"]:
        expect = item["expect"]
        if expect == "none":
            expect = None
        elif isinstance(expect, list):
            expect = (float(expect[0]), float(expect[1]))
        replies.append(
            Reply(
                id=item["id"],
                source=sources[item["src"]],
                kind=item["kind"],
                question_type=item["q"],
                options=option_sets[item["opts"]] if "opts" in item else None,
                text=item["reply"],
                expect=expect,
            )
        )
    return replies


def outcome(reply: Reply, got) -> str:
    """correct; wrong (another answer); guessed (an answer where the reply commits to none);
    missed (no answer where the reply commits to one)."""
    if isinstance(got, tuple) and isinstance(reply.expect, tuple):
        same = all(abs(a - b) < 1e-6 for a, b in zip(got, reply.expect, strict=True))
    else:
        same = got == reply.expect
    if same:
        return "correct"
    if reply.expect is None:
        return "guessed"
    return "missed" if got is None else "wrong"


def score(replies: list[Reply], extract: Callable[[Reply], object]) -> tuple[Counter, list[tuple[Reply, object, str]]]:
    counts, failures = Counter(), []
    for reply in replies:
        got = extract(reply)
        result = outcome(reply, got)
        counts[result] += 1
        if result != "correct":
            failures.append((reply, got, result))
    return counts, failures

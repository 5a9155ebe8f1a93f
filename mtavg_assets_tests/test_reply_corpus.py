"""The answer parser on real reply shapes: >= 150 replies from cited public sources, 0 wrong or
guessed, >= 95% of answerable replies extracted, ahead of VLMEvalKit's can_infer and lmms-eval's
MCQ extractor on the same replies (re-implemented in benchmarks/answer_extraction.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.answer_extraction import lmms_eval_extract, mtavg_parser, vlmevalkit_can_infer
from mtavg_assets.task.parsing import parse_answer
from mtavg_assets_tests.reply_corpus import load_corpus, score

REPLIES = load_corpus()


def test_the_corpus_is_large_cited_and_covers_every_shape():
    assert len(REPLIES) >= 150
    assert len({r.id for r in REPLIES}) == len(REPLIES)
    assert all(r.source.startswith("https://github.com/") for r in REPLIES)
    kinds = Counter(r.question_type for r in REPLIES)
    assert kinds["mcq"] >= 80 and kinds["yes_no"] >= 15 and kinds["temporal"] >= 30 and kinds["drama"] >= 5
    texts = " ".join(r.text for r in REPLIES)
    for shape in ("</think>", "<answer>", "\\boxed", "```json", "答案", "選", "-->", "秒", "relevant_windows", "fps"):
        assert shape in texts, shape
    assert sum(r.expect is None for r in REPLIES) >= 30  # replies that commit to nothing


def test_the_parser_is_never_wrong_never_guesses_and_reads_95_percent():
    counts, failures = score(REPLIES, mtavg_parser)
    shown = "\n".join(f"{o} {r.id}: {r.text[:80]!r} -> {got}, expected {r.expect}" for r, got, o in failures)
    assert counts["wrong"] == 0 and counts["guessed"] == 0, shown
    answerable = sum(r.expect is not None for r in REPLIES)
    assert counts["missed"] <= 0.05 * answerable, shown


def test_the_parser_is_ahead_of_both_reference_extractors():
    choice = [r for r in REPLIES if r.question_type != "temporal"]
    ours, _ = score(choice, mtavg_parser)
    for extractor in (vlmevalkit_can_infer, lmms_eval_extract):
        theirs, _ = score(choice, extractor)
        assert ours["correct"] > theirs["correct"], extractor.__name__
        assert ours["wrong"] + ours["guessed"] <= theirs["wrong"] + theirs["guessed"], extractor.__name__


HOSTILE = {
    "braces": "{" * 200_000,
    "articles": "A " * 100_000,
    "answer statements": "the answer is " * 20_000,
    "digits": "1" * 200_000,
    "ranges": "1-2 " * 50_000,
    "think tags": "<think>" * 50_000,
    "negations": "not identity drift, " * 20_000,
    "nested json": '{"answer": ' * 5_000 + '"B"' + "}" * 5_000,
    "control characters": "\x00\x07\x1b[31mB\x1b[0m",
    "surrogates": "\ud800B",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_replies_return_without_a_guess(name):
    options = ["lip sync drift", "identity drift", "music mood mismatch", "No failure is present"]
    for question_type in ("mcq", "temporal"):
        parsed = parse_answer(HOSTILE[name], question_type, options)
        assert parsed.letter in (None, "B") and parsed.span in (None, (1.0, 2.0))

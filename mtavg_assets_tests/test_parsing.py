"""Parsing of real-world model outputs: commit to an answer only when the text does."""

from __future__ import annotations

import pytest

from mtavg_assets.task.parsing import parse_answer, parse_choice, parse_span

OPTIONS = ["lip sync drift", "identity drift", "music mood mismatch", "No failure is present"]


@pytest.mark.parametrize(
    "raw, letter",
    [
        ("B", "B"),
        ("(B)", "B"),
        ("The answer is (B).", "B"),
        ("**B**", "B"),
        ("B) identity drift", "B"),
        ('{"answer": "C"}', "C"),
        ('```json\n{"answer": "A"}\n```', "A"),
        ("Answer: D", "D"),
        ("I think option C is right", "C"),
        ("identity drift", "B"),
        ("No failure is present.", "D"),
        ("The answer is B, a common failure in dubbing.", "B"),  # the article after a comma is no hedge
        ("B is correct, and C is not.", "B"),
    ],
)
def test_choices_that_commit(raw, letter):
    assert parse_choice(raw, OPTIONS) == letter


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "A or B",
        "The answer is a new kind of failure",
        "E",
        '{"answer": "Z"}',
        "I cannot tell.",
        '{"answer": 2}',
        "Looking at each option:\nA. lip sync drift - the lips match.\nB. identity drift - the face changes.",
    ],
)
def test_choices_that_do_not_commit_are_unparseable(raw):
    assert parse_choice(raw, OPTIONS) is None


@pytest.mark.parametrize(
    "raw, span",
    [
        ("00:03.2-00:05.0", (3.2, 5.0)),
        ("3.2 - 5.0", (3.2, 5.0)),
        ("from 3.2s to 5s", (3.2, 5.0)),
        ("[1.5, 2.5]", (1.5, 2.5)),
        ('{"start": 1, "end": 2}', (1.0, 2.0)),
        ("1:02.5 to 1:04", (62.5, 64.0)),
        ('{"span": [0.5, 0.5]}', (0.5, 0.5)),
    ],
)
def test_spans(raw, span):
    assert parse_span(raw) == pytest.approx(span)


@pytest.mark.parametrize("raw", ["5-3", "no idea", '{"start": "x", "end": 2}', None])
def test_bad_spans_are_unparseable(raw):
    assert parse_span(raw) is None


def test_parse_answer_dispatches_on_question_type():
    assert parse_answer("2.0-3.0", "temporal", None).span == (2.0, 3.0)
    assert parse_answer("Yes", "yes_no", ["Yes", "No"]).letter == "A"
    assert not parse_answer("maybe", "yes_no", ["Yes", "No"]).ok

"""Every QA reject reason with a bad-input fixture; valid + rejected == input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mtavg_assets.qa.load import load_qa_lines
from mtavg_assets.qa.validate import validate_qa
from mtavg_assets.settings import DEFAULT_DATA_DIR
from mtavg_assets.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy(DEFAULT_DATA_DIR / "taxonomy.yaml")
CATALOG = pd.DataFrame(
    [
        {"clip_id": "c1", "duration_s": 6.0, "sha256": "a" * 64},
        {"clip_id": "c2", "duration_s": 5.0, "sha256": "b" * 64},
    ]
)
CLIP_REJECTS = pd.DataFrame([{"clip_id": "bad", "reason": "no audio stream"}])
GOOD_MCQ = {
    "instance_id": "q1",
    "clip_ids": ["c1"],
    "subset": "core",
    "question_type": "mcq",
    "dimension": "av_language",
    "category": "lip_sync_drift",
    "question": "Which failure?",
    "options": ["a", "b", "c"],
    "answer": "B",
    "source_generator": "g",
    "meta": {},
}
GOOD_SPAN = {
    **GOOD_MCQ,
    "instance_id": "q2",
    "question_type": "temporal",
    "subset": "temporal_localization",
    "options": None,
    "answer": None,
    "answer_span": [1.0, 2.5],
}
GOOD_DRAMA = {
    **GOOD_MCQ,
    "instance_id": "q3",
    "question_type": "drama",
    "subset": "short_drama",
    "clip_ids": ["c1", "c2"],
    "dimension": "narrative",
    "category": "continuity_break",
}

BAD_CASES = [
    ({"instance_id": "x1", "question": "?"}, "Field required"),
    ({**GOOD_MCQ, "instance_id": "x2", "question_type": "essay"}, "question_type: Input should be"),
    ({**GOOD_MCQ, "instance_id": "x3", "subset": "extra"}, "subset: Input should be"),
    ({**GOOD_MCQ, "instance_id": "x4", "category": "bad_acting"}, "unknown category"),
    ({**GOOD_MCQ, "instance_id": "x5", "dimension": "acting"}, "belongs to 'av_language'"),
    ({**GOOD_MCQ, "instance_id": "x6", "clip_ids": "c1"}, "clip_ids: Input should be a valid list"),
    ({**GOOD_MCQ, "instance_id": "x7", "clip_ids": ["c9"]}, "not in the clip catalog"),
    ({**GOOD_MCQ, "instance_id": "x8", "clip_ids": ["bad"]}, "was rejected: no audio stream"),
    ({**GOOD_MCQ, "instance_id": "x9", "answer": "D"}, "is not among the option letters"),
    ({**GOOD_MCQ, "instance_id": "x10", "options": ["only"]}, "options must be a list of two or more"),
    ({**GOOD_SPAN, "instance_id": "x11", "answer_span": [3.0, 2.0]}, "start must be >= 0 and < end"),
    ({**GOOD_SPAN, "instance_id": "x12", "answer_span": [1.0, 9.0]}, "past the clip's duration"),
    ({**GOOD_SPAN, "instance_id": "x13", "answer_span": None}, "need answer_span"),
    ({**GOOD_DRAMA, "instance_id": "x14", "clip_ids": ["c1"]}, "need two or more clips"),
    ({**GOOD_MCQ, "instance_id": "x15", "clip_ids": ["c1", "c2"]}, "take exactly one clip"),
    ({**GOOD_MCQ, "instance_id": "x16", "options": ["a", "A ", "b"]}, "two options have the same text"),
    ({**GOOD_MCQ, "instance_id": "x17", "options": ["a", "  ", "b"]}, "an option is empty"),
    ({**GOOD_MCQ, "instance_id": "x18", "question_type": "yes_no", "options": ["Yes", "No", "Maybe"]}, "exactly 2"),
    ({**GOOD_MCQ, "instance_id": "x19", "subset": "short_drama"}, "belong to subset 'core'"),
    ({**GOOD_DRAMA, "instance_id": "x20", "clip_ids": ["c1", "c1"]}, "a clip appears twice"),
    ({**GOOD_SPAN, "instance_id": "x21", "answer_span": [True, 2.0]}, "answer_span.0"),
    ({**GOOD_SPAN, "instance_id": "x22", "answer_span": [0.0, "2"]}, "answer_span.1"),
    ({**GOOD_MCQ, "instance_id": "x23", "question": "?" * 5000}, "question: String should have at most 4000"),
    ({**GOOD_MCQ, "instance_id": "   "}, "instance_id is empty or whitespace"),
    ({**GOOD_MCQ, "instance_id": "x25\nx"}, "instance_id: String should match pattern"),
    ({**GOOD_MCQ, "instance_id": "x26", "options": [1, 2]}, "options.0: Input should be a valid string"),
    ({**GOOD_MCQ, "instance_id": "x27", "answer": 1}, "answer: Input should be a valid string"),
    ({**GOOD_MCQ, "instance_id": "x28", "question": "   "}, "question is empty"),
    ({**GOOD_MCQ, "instance_id": "x29", "meta": "text"}, "meta: Input should be a valid dictionary"),
    ({**GOOD_MCQ, "instance_id": "x30", "clip_ids": []}, "clip_ids: List should have at least 1 item"),
    ({**GOOD_MCQ, "instance_id": "x31", "subset": "unlabelled"}, "an unlabelled question has no answer"),
    ({**GOOD_SPAN, "instance_id": "x32", "subset": "unlabelled"}, "only mcq and yes_no questions can be unlabelled"),
    ({**GOOD_MCQ, "instance_id": "x33", "answer": None}, "answer None is not among the option letters"),
    ({**GOOD_MCQ}, "duplicate instance_id"),
]


def _lines(tmp_path, records, extra_text=""):
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n" + extra_text)
    return load_qa_lines(tmp_path)


def test_good_instances_are_valid(tmp_path):
    result = validate_qa(_lines(tmp_path, [GOOD_MCQ, GOOD_SPAN, GOOD_DRAMA]), CATALOG, CLIP_REJECTS, TAXONOMY)
    assert list(result.valid["instance_id"]) == ["q1", "q2", "q3"] and result.rejects.empty
    assert result.valid.set_index("instance_id").at["q2", "answer_span_end"] == 2.5


@pytest.mark.parametrize("record, reason", BAD_CASES, ids=[c[1] for c in BAD_CASES])
def test_each_reject_reason(tmp_path, record, reason):
    result = validate_qa(_lines(tmp_path, [GOOD_MCQ, record]), CATALOG, CLIP_REJECTS, TAXONOMY)
    assert list(result.valid["instance_id"]) == ["q1"]
    assert len(result.rejects) == 1 and reason in result.rejects.iloc[0]["reason"]
    assert result.rejects.iloc[0]["line_no"] == 2


def test_malformed_lines_are_kept_as_rejects_and_counts_reconcile(tmp_path):
    lines = _lines(tmp_path, [GOOD_MCQ, *[case[0] for case in BAD_CASES]], "{broken json\n[1, 2]\n\n")
    result = validate_qa(lines, CATALOG, CLIP_REJECTS, TAXONOMY)
    assert len(lines) == len(BAD_CASES) + 3
    assert len(result.valid) + len(result.rejects) == len(lines)
    reasons = list(result.rejects["reason"])
    assert any(r.startswith("malformed JSON") for r in reasons)
    assert any(r.startswith("malformed line: expected an object") for r in reasons)


def test_an_unlabelled_question_is_valid_without_an_answer_and_passes_the_suite(tmp_path):
    from mtavg_assets.qa.expectations import run_qa_suite

    new = {
        **GOOD_MCQ,
        "instance_id": "new1",
        "subset": "unlabelled",
        "question_type": "yes_no",
        "options": ["Yes", "No"],
    }
    new.pop("answer")
    valid = validate_qa(_lines(tmp_path, [GOOD_MCQ, new]), CATALOG, CLIP_REJECTS, TAXONOMY).valid
    assert list(valid["instance_id"]) == ["q1", "new1"] and pd.isna(valid.iloc[1]["answer"])
    assert run_qa_suite(valid, TAXONOMY).success


def test_content_hash_ignores_the_answer_but_not_the_clip(tmp_path):
    other_answer = {**GOOD_MCQ, "answer": "C"}
    a = validate_qa(_lines(tmp_path, [GOOD_MCQ]), CATALOG, CLIP_REJECTS, TAXONOMY).valid.iloc[0]
    b = validate_qa(_lines(tmp_path, [other_answer]), CATALOG, CLIP_REJECTS, TAXONOMY).valid.iloc[0]
    changed = CATALOG.assign(sha256=["c" * 64, "b" * 64])
    c = validate_qa(_lines(tmp_path, [GOOD_MCQ]), changed, CLIP_REJECTS, TAXONOMY).valid.iloc[0]
    assert a["content_hash"] == b["content_hash"] != c["content_hash"]


def test_great_expectations_suite_passes_valid_and_flags_broken_rows(tmp_path):
    from mtavg_assets.qa.expectations import run_qa_suite

    valid = validate_qa(_lines(tmp_path, [GOOD_MCQ, GOOD_SPAN, GOOD_DRAMA]), CATALOG, CLIP_REJECTS, TAXONOMY).valid
    assert run_qa_suite(valid, TAXONOMY).success
    broken = pd.concat([valid, valid.iloc[[0]]], ignore_index=True)
    broken.loc[1, "category"] = "not_a_category"
    outcome = run_qa_suite(broken, TAXONOMY)
    assert not outcome.success
    assert "expect_column_values_to_be_unique(instance_id)" in outcome.failed
    assert "expect_column_values_to_be_in_set(category)" in outcome.failed


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"instance_id": "n1", "answer_span": [NaN, NaN]}', "non-finite number"),
        ('{"instance_id": "n2", "answer_span": [0, Infinity]}', "non-finite number"),
        (b'{"instance_id": "bad\xff"}', "not valid UTF-8"),
        ('{"a": 1}' + " " * (2 * 1024 * 1024), "longer than"),
    ],
)
def test_corrupt_lines_are_rejects_never_silently_repaired(tmp_path, text, reason):
    path = tmp_path / "a.jsonl"
    good = (json.dumps(GOOD_MCQ) + "\n").encode()
    path.write_bytes(good + (text if isinstance(text, bytes) else text.encode()) + b"\n")
    lines = load_qa_lines(tmp_path)
    assert len(lines) == 2 and pd.isna(lines.iloc[0]["parse_error"])
    assert reason in lines.iloc[1]["parse_error"]
    result = validate_qa(lines, CATALOG, CLIP_REJECTS, TAXONOMY)
    assert list(result.valid["instance_id"]) == ["q1"] and len(result.rejects) == 1


def test_a_byte_order_mark_loses_no_line_and_upper_case_suffixes_are_read(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + (json.dumps(GOOD_MCQ) + "\n").encode())
    (tmp_path / "B.JSONL").write_text(json.dumps(GOOD_SPAN) + "\n")
    (tmp_path / "notes.txt").write_text("not QA")
    lines = load_qa_lines(tmp_path)
    assert list(lines["parse_error"].isna()) == [True, True]
    result = validate_qa(lines, CATALOG, CLIP_REJECTS, TAXONOMY)
    assert sorted(result.valid["instance_id"]) == ["q1", "q2"]
    from mtavg_assets.qa.load import ignored_files

    assert ignored_files(tmp_path) == ["notes.txt"]


def test_the_expectation_suite_refuses_nulls_where_values_are_required(tmp_path):
    from mtavg_assets.qa.expectations import run_qa_suite

    valid = validate_qa(_lines(tmp_path, [GOOD_MCQ, GOOD_SPAN, GOOD_DRAMA]), CATALOG, CLIP_REJECTS, TAXONOMY).valid
    for column, row in (("answer_span_end", 1), ("answer_span_start", 1), ("answer", 0)):
        broken = valid.copy()
        broken.loc[row, column] = float("nan") if column.startswith("answer_span") else None
        outcome = run_qa_suite(broken, TAXONOMY)
        assert not outcome.success and f"expect_column_values_to_not_be_null({column})" in outcome.failed

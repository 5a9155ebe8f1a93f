"""Circular evaluation: each choice question asked under every rotation of its options, answers
mapped back to the original letters, and an item right only if right under every rotation."""

from __future__ import annotations

import asyncio
import string

import duckdb
import pandas as pd
import pytest

from mtavg_assets.evaluators.base import EvalReply
from mtavg_assets.predictions.runner import evaluate_cells, select_cells
from mtavg_assets.predictions.store import PredictionStore
from mtavg_assets.registry import parse_entry
from mtavg_assets.settings import DataLayout

INSTANCES = pd.DataFrame(
    [
        {
            "instance_id": "q1",
            "question_type": "mcq",
            "question": "?",
            "options": ["w", "x", "y", "z"],
            "n_options": 4,
            "answer": "C",
            "content_hash": "h1",
            "clip_duration_s": 5.0,
            "n_clips": 1,
            "clip_sha256s": ["s"],
        },
        {
            "instance_id": "q2",
            "question_type": "yes_no",
            "question": "?",
            "options": ["Yes", "No"],
            "n_options": 2,
            "answer": "A",
            "content_hash": "h2",
            "clip_duration_s": 5.0,
            "n_clips": 1,
            "clip_sha256s": ["s"],
        },
        {
            "instance_id": "t1",
            "question_type": "temporal",
            "question": "?",
            "options": None,
            "n_options": None,
            "answer": None,
            "content_hash": "h3",
            "clip_duration_s": 5.0,
            "n_clips": 1,
            "clip_sha256s": ["s"],
        },
    ]
)
GOLD_TEXT = {"q1": "y", "q2": "Yes"}


class Answers:
    """Test double standing in for a model: answers by option text, or always the first letter."""

    def __init__(self, entry, by_text: bool):
        self.entry, self.by_text = entry, by_text

    async def answer(self, request):
        inst = request.instance
        if inst["question_type"] == "temporal":
            return EvalReply("1.0-2.0")
        if not self.by_text:
            return EvalReply("A")
        return EvalReply(string.ascii_uppercase[inst["options"].index(GOLD_TEXT[inst["instance_id"]])])


def _run(tmp_path, by_text):
    entry = parse_entry({"name": "m", "provider": "random", "circular": True})
    store = PredictionStore(DataLayout(tmp_path), "m")
    cells, _ = select_cells(INSTANCES, store.load(), entry)
    assert sorted(zip(cells["instance_id"], cells["rotation"], strict=True)) == [
        ("q1", 0),
        ("q1", 1),
        ("q1", 2),
        ("q1", 3),
        ("q2", 0),
        ("q2", 1),
        ("t1", 0),
    ]
    asyncio.run(evaluate_cells(Answers(entry, by_text), cells, store))
    return store.compact().set_index(["instance_id", "rotation"])


def test_a_model_that_tracks_content_is_right_under_every_rotation(tmp_path):
    rows = _run(tmp_path, by_text=True)
    assert (rows.loc["q1", "parsed_answer"] == "C").all() and (rows.loc["q2", "parsed_answer"] == "A").all()


def test_a_letter_biased_model_is_exposed(tmp_path):
    rows = _run(tmp_path, by_text=False)
    # "A" under rotation k points at original option k.
    assert list(rows.loc["q1", "parsed_answer"]) == ["A", "B", "C", "D"]
    assert list(rows.loc["q2", "parsed_answer"]) == ["A", "B"]


def test_circular_metrics_in_duckdb(pipeline):
    pipeline.layout.models_file.write_text(
        "models:\n  - {name: random, provider: random, seed: 1}\n"
        "  - {name: random-circular, provider: random, seed: 1, circular: true}\n"
    )
    pipeline.run_all(["random", "random-circular"])
    valid = pd.read_parquet(pipeline.layout.derived("validated_qa"))
    choice = valid[valid["question_type"] != "temporal"].set_index("instance_id")
    rows = pd.read_parquet(pipeline.layout.predictions_file("random-circular"))
    rows = rows[rows["instance_id"].isin(choice.index)]
    assert len(rows) == int(choice["n_options"].sum())
    right = rows.assign(
        ok=(rows["status"] == "ok") & (rows["parsed_answer"] == choice.loc[rows["instance_id"], "answer"].to_numpy())
    )
    expected = right.groupby("instance_id")["ok"].all().reindex(choice.index, fill_value=False).mean()
    with duckdb.connect(str(pipeline.layout.duckdb_file), read_only=True) as con:
        got = con.execute("SELECT * FROM circular_metrics WHERE model = 'random-circular'").df().iloc[0]
        plain = con.execute("SELECT accuracy FROM metrics_by_model WHERE model = 'random-circular'").fetchone()[0]
        assert con.execute("SELECT count(*) FROM circular_metrics WHERE model = 'random'").fetchone()[0] == 0
    assert got["circular_accuracy"] == pytest.approx(expected) and got["complete_rate"] == 1.0
    assert got["circular_accuracy"] < plain

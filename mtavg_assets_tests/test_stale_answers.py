"""A score comes only from a row asked under the entry's current cache key: answers asked under an
earlier configuration (another seed or model id, rotations after `circular: false`) are listed in
prediction_exclusions and never scored, and `prior` answers again when the answer key it learned
from changes."""

from __future__ import annotations

import json
import random

import duckdb
import pandas as pd

from mtavg_assets.predictions.cache import CellKeys, cache_key
from mtavg_assets.registry import parse_entry
from mtavg_assets_tests.conftest import OFFLINE_MODELS, PipelineRunner


def _query(layout, sql):
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        return con.execute(sql).df()


def test_answers_of_an_earlier_configuration_are_excluded_not_scored(pipeline):
    layout = pipeline.layout
    layout.models_file.write_text(OFFLINE_MODELS.replace("seed: 7", "seed: 7\n    circular: true"))
    pipeline.run_all(["random", "prior"])
    rows = _query(layout, "SELECT count(*) AS n, max(rotation) AS r FROM predictions WHERE model = 'random'").iloc[0]
    assert rows["r"] > 0 and len(_query(layout, "SELECT * FROM circular_metrics WHERE model = 'random'")) == 1
    # The entry changes (another seed, no circular evaluation) and is not evaluated again.
    layout.models_file.write_text(OFFLINE_MODELS.replace("seed: 7", "seed: 8"))
    pipeline.register()
    assert pipeline.run("build_metrics").success
    excluded = _query(layout, "SELECT rotation, reason FROM prediction_exclusions WHERE model = 'random'")
    assert len(excluded) == int(rows["n"])
    assert excluded[excluded["rotation"] == 0]["reason"].str.startswith("stale: asked under an earlier").all()
    assert excluded[excluded["rotation"] > 0]["reason"].str.startswith("not a cell of the entry now").all()
    assert _query(layout, "SELECT count(*) AS n FROM predictions WHERE model = 'random'")["n"][0] == 0
    assert len(_query(layout, "SELECT * FROM circular_metrics WHERE model = 'random'")) == 0
    board = _query(layout, "SELECT model FROM leaderboard")
    assert "random" not in set(board["model"]) and "prior" in set(board["model"])
    # Evaluated again, it is scored as it is now.
    assert pipeline.run("evaluate_model", partition_key="random").success
    assert pipeline.run("build_metrics").success
    excluded = _query(layout, "SELECT rotation, reason FROM prediction_exclusions WHERE model = 'random'")
    assert (excluded["rotation"] > 0).all()  # the rotations stay on disk, listed, never scored
    assert "random" in set(_query(layout, "SELECT model FROM leaderboard")["model"])


def test_prior_answers_again_when_the_answer_key_changes(pipeline):
    layout = pipeline.layout
    pipeline.run_all(["prior"])
    before = _query(layout, "SELECT parsed_answer FROM scores WHERE model = 'prior' AND question_type = 'yes_no'")
    old_majority = before["parsed_answer"].mode()[0]
    new_majority = {"A": "B", "B": "A"}[old_majority]
    for path in layout.qa_dir.glob("*.jsonl"):  # the answer key now says the other letter on every yes/no
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            if row["question_type"] == "yes_no":
                row["answer"] = new_majority
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert pipeline.run("prepare_benchmark").success
    result = pipeline.run("evaluate_model", partition_key="prior")
    assert pipeline.materializations(result, "predictions")[0]["asked_now"] > 0
    assert pipeline.run("build_metrics").success
    after = _query(
        layout, "SELECT parsed_answer, correct FROM scores WHERE model = 'prior' AND question_type = 'yes_no'"
    )
    assert set(after["parsed_answer"]) == {new_majority} and after["correct"].all()


def test_cell_keys_equal_the_one_at_a_time_keys():
    rng = random.Random(3)
    entries = [
        parse_entry({"name": "a", "provider": "random", "seed": 4}),
        parse_entry({"name": "b", "provider": "openai", "model": "m", "api_key_env": "K", "generation": {"seed": 1}}),
    ]
    for entry in entries:
        for learned in (None, {"majority": {"mcq": "B"}, "mean_span": [1.5, 2.0]}):
            keys = CellKeys(entry, learned)
            for _ in range(50):
                h = f"{rng.getrandbits(256):064x}"
                qtype, rotation = rng.choice(["mcq", "yes_no", "temporal", "drama"]), rng.choice([0, 0, 1, 3])
                assert keys(h, qtype, rotation) == cache_key(entry, h, qtype, rotation, learned)


def test_a_row_with_another_key_written_by_hand_is_excluded(demo_layout):
    pipeline = PipelineRunner(demo_layout)
    pipeline.run_all(["random"])
    path = demo_layout.predictions_file("random")
    frame = pd.read_parquet(path)
    frame.loc[frame.index[:5], "cache_key"] = "0" * 64
    frame.to_parquet(path, index=False)
    assert pipeline.run("build_metrics").success
    excluded = _query(demo_layout, "SELECT instance_id FROM prediction_exclusions WHERE model = 'random'")
    assert sorted(excluded["instance_id"]) == sorted(frame["instance_id"][:5])


def test_prior_is_cross_fitted_and_scores_chance_on_a_uniform_key():
    """On a key with each letter equally often, prior fitted on the test key itself picks the letter
    that happens to lead; cross-fitted on other episodes it cannot, and scores near chance."""
    import asyncio

    from mtavg_assets.evaluators.base import EvalRequest
    from mtavg_assets.evaluators.offline import PriorEvaluator, prior_fold

    rows = []
    for e in range(200):
        for q in range(3):
            rows.append(
                {
                    "instance_id": f"e{e}q{q}",
                    "question_type": "mcq",
                    "options": ["a", "b", "c"],
                    "answer": "ABC"[(e + q) % 3],
                    "answer_span_start": None,
                    "answer_span_end": None,
                    "meta": json.dumps({"episode_id": f"e{e}"}),
                    "clip_ids": [f"c{e}"],
                }
            )
    instances = pd.DataFrame(rows)
    prior = PriorEvaluator(parse_entry({"name": "prior", "provider": "prior"}), instances)
    right = 0
    for row in rows:
        reply = asyncio.run(prior.answer(EvalRequest(row, "", [])))
        learned_without = instances[[prior_fold(r) != prior_fold(row) for r in rows]]
        assert reply.raw_response == learned_without["answer"].value_counts().sort_index().idxmax()
        right += reply.raw_response == row["answer"]
    assert abs(right / len(rows) - 1 / 3) < 0.05

"""repeats: N asks every cell N times (repeat copies `<name>.r<k>`, own keys), and `stability`
reports flip rate, Fleiss' kappa and majority-vote accuracy, recomputed here with numpy."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from mtavg_assets.metrics.bootstrap import DEFAULT_SEED
from mtavg_assets.registry import load_registry
from mtavg_assets_tests.test_metrics import _naive_interval


def _fleiss(matrix: np.ndarray) -> float:
    """Fleiss' kappa from an items x categories count matrix (the textbook matrix form)."""
    n = matrix.sum(axis=1)[0]
    p_j = matrix.sum(axis=0) / matrix.sum()
    p_i = ((matrix**2).sum(axis=1) - n) / (n * (n - 1))
    return (p_i.mean() - (p_j**2).sum()) / (1 - (p_j**2).sum())


def test_repeats_are_their_own_entries_and_stability_recomputes(pipeline):
    layout = pipeline.layout
    layout.models_file.write_text("models:\n  - {name: random, provider: random, seed: 7, repeats: 3}\n")
    names = [e.name for e in load_registry(layout.models_file).entries]
    assert names == ["random", "random.r1", "random.r2"]
    pipeline.run_all(names)
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        scores = con.execute(
            "SELECT model, instance_id, status, parsed_answer, gold_answer, correct FROM scores "
            "WHERE question_type <> 'temporal'"
        ).df()
        got = con.execute("SELECT * FROM stability").df().set_index("model").loc["random"]
        board = set(con.execute("SELECT model FROM leaderboard").df()["model"])
        pairs = con.execute("SELECT model_a, model_b FROM pairwise_tests").df()
    assert board == {"random"} and pairs.empty  # the copies are controls, not entries of the ranking
    wide = scores.pivot(index="instance_id", columns="model", values="parsed_answer")[names]
    assert (wide["random"] != wide["random.r1"]).any()  # each repeat draws anew
    letters = sorted(set(wide.to_numpy().ravel()))
    counts = np.array([[list(row).count(x) for x in letters] for row in wide.to_numpy()])
    flips = (wide.nunique(axis=1) > 1).mean()
    majority = []
    gold = scores.drop_duplicates("instance_id").set_index("instance_id")["gold_answer"].reindex(wide.index)
    for iid, row in wide.iterrows():
        values, freq = np.unique(row.to_numpy(), return_counts=True)
        majority.append(freq.max() >= 2 and values[freq.argmax()] == gold[iid])
    assert got["n_repeats"] == 3 and got["n_all_answered"] == len(wide)
    assert got["flip_rate"] == pytest.approx(flips, abs=1e-12)
    assert got["fleiss_kappa"] == pytest.approx(_fleiss(counts), abs=1e-12)
    assert got["majority_accuracy"] == pytest.approx(np.mean(majority), abs=1e-12)
    assert got["mean_accuracy"] == pytest.approx(scores.groupby("model")["correct"].mean().mean(), abs=1e-12)
    assert abs(got["fleiss_kappa"]) < 0.1  # independent random draws agree only by chance


def test_an_entry_with_repeats_is_ranked_by_the_mean_over_its_runs(pipeline):
    """Accuracy, its interval and the paired test of an entry with repeats read every run: the
    interval resamples clusters of per-question shares of runs right (so it carries the
    between-repeat variance), recomputed here with a naive loop."""
    layout = pipeline.layout
    layout.models_file.write_text(
        "models:\n  - {name: random, provider: random, seed: 7, repeats: 3}\n  - {name: prior, provider: prior}\n"
    )
    pipeline.run_all(["random", "random.r1", "random.r2", "prior"])
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        scores = con.execute("SELECT model, instance_id, correct FROM scores WHERE question_type <> 'temporal'").df()
        clusters = con.execute("SELECT instance_id, cluster_id FROM instance_clusters").df()
        board = con.execute("SELECT * FROM leaderboard").df().set_index("model")
        pair = con.execute("SELECT * FROM pairwise_tests").df().iloc[0]
        resamples, raw_low, raw_high = con.execute(
            "SELECT n_resamples, ci_low, ci_high FROM headline_ci WHERE model = 'random' AND metric = 'accuracy'"
        ).fetchone()
    runs = scores[scores["model"].str.startswith("random")]
    per_run = runs.groupby("model")["correct"].mean()
    share = runs.groupby("instance_id")["correct"].mean()
    row = board.loc["random"]
    assert row["n_repeats"] == 3 and board.loc["prior", "n_repeats"] == 1
    assert row["accuracy"] == pytest.approx(round(per_run.mean(), 4), abs=1e-9)
    assert row["accuracy_repeat_sd"] == pytest.approx(round(per_run.std(ddof=1), 4), abs=1e-9)
    assert row["completeness"] == 1.0
    cluster_of = dict(zip(clusters["instance_id"], clusters["cluster_id"], strict=True))
    values = {iid: (cluster_of[iid], v) for iid, v in share.items()}
    low, high = _naive_interval(values, cluster_of, clusters["cluster_id"].nunique(), DEFAULT_SEED, resamples)
    assert (raw_low, raw_high) == pytest.approx((low, high), abs=1e-9)
    assert row["ci_low"] <= low + 1e-9 and high - 1e-9 <= row["ci_high"]  # rounded outward
    prior = scores[scores["model"] == "prior"].set_index("instance_id")["correct"].reindex(share.index)
    diff = share.mean() - prior.astype(float).mean()
    sign = 1 if pair["model_a"] == "prior" else -1
    assert {pair["model_a"], pair["model_b"]} == {"prior", "random"}
    assert pair["accuracy_diff"] == pytest.approx(-sign * diff, abs=1e-12)
    assert pd.isna(pair["mcnemar_p"])  # whole counts only: not defined over shares

"""Every metric recomputed independently in Python on a fixture with known answers, compared with
the DuckDB tables the SQL builds. Edge cases: categories with no instances, a model whose answers
are all unparseable, zero-length spans, a model that answered a subset only."""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from mtavg_assets.metrics.bootstrap import HEADLINE_METRICS
from mtavg_assets.metrics.build import build_metric_tables
from mtavg_assets.qa.validate import VALID_COLUMNS
from mtavg_assets.settings import DataLayout
from mtavg_assets_tests.conftest import write_scored_benchmark

CATS = {
    "lip_sync_drift": "av_language",
    "identity_drift": "acting",
    "music_mood_mismatch": "atmosphere",
    "turn_taking_error": "narrative",
    "continuity_break": "narrative",
}


def _instance(iid, qtype, category, clip_ids, answer=None, n_options=4, span=None, episode=None, subset="core"):
    return {
        "instance_id": iid,
        "clip_ids": clip_ids,
        "n_clips": len(clip_ids),
        "subset": subset,
        "question_type": qtype,
        "dimension": CATS[category],
        "category": category,
        "question": f"{iid}?",
        "options": None if qtype == "temporal" else [f"o{i}" for i in range(n_options)],
        "n_options": None if qtype == "temporal" else n_options,
        "answer": answer,
        "answer_span_start": span[0] if span else None,
        "answer_span_end": span[1] if span else None,
        "source_generator": "gen-a" if clip_ids[0] in ("c1", "c2", "c3") else "gen-b",
        "clip_duration_s": 10.0,
        "clip_sha256s": [c * 8 for c in clip_ids],
        "content_hash": f"h-{iid}",
        "meta": json.dumps({"episode_id": episode} if episode else {}),
        "source_file": "f.jsonl",
        "line_no": 1,
    }


INSTANCES = [
    _instance("q1", "mcq", "lip_sync_drift", ["c1"], "A"),
    _instance("q2", "mcq", "lip_sync_drift", ["c1"], "B"),
    _instance("q3", "mcq", "identity_drift", ["c2"], "C"),
    _instance("q4", "mcq", "music_mood_mismatch", ["c3"], "D"),
    _instance("q5", "yes_no", "identity_drift", ["c4"], "A", n_options=2),
    _instance("q6", "yes_no", "music_mood_mismatch", ["c5"], "B", n_options=2),
    _instance("q7", "yes_no", "turn_taking_error", ["c6"], "A", n_options=2),
    _instance("q8", "mcq", "turn_taking_error", ["c6"], "B", n_options=3),
    _instance("t1", "temporal", "lip_sync_drift", ["c1"], span=(1.0, 3.0), subset="temporal_localization"),
    _instance("t2", "temporal", "turn_taking_error", ["c2"], span=(2.0, 4.0), subset="temporal_localization"),
    _instance("t3", "temporal", "identity_drift", ["c5"], span=(5.0, 6.0), subset="temporal_localization"),
    _instance("d1", "drama", "continuity_break", ["c1", "c2"], "A", n_options=3, episode="e1", subset="short_drama"),
    _instance("d2", "drama", "continuity_break", ["c1", "c2"], "B", n_options=3, episode="e1", subset="short_drama"),
    _instance("d3", "drama", "continuity_break", ["c3", "c4"], "C", n_options=3, episode="e2", subset="short_drama"),
]
GOLD = {i["instance_id"]: i for i in INSTANCES}
# model -> instance -> (status, letter or span)
ANSWERS = {
    "good": {
        **{i: ("ok", GOLD[i]["answer"]) for i in GOLD if GOLD[i]["answer"]},
        "t1": ("ok", (1.0, 3.0)),
        "t2": ("ok", (3.0, 3.0)),
        "t3": ("ok", (5.5, 7.0)),
    },
    "half": {
        "q1": ("ok", "A"),
        "q2": ("ok", "A"),
        "q3": ("unparseable", None),
        "q4": ("ok", "D"),
        "q5": ("error", None),
        "q6": ("ok", "A"),
        "q7": ("ok", "A"),
        "q8": ("timeout", None),
        "t1": ("ok", (0.0, 2.0)),
        "t2": ("unparseable", None),
        "t3": ("ok", (5.0, 5.5)),
        "d1": ("ok", "A"),
        "d2": ("ok", "C"),
        "d3": ("ok", "C"),
    },
    "mute": {i: ("unparseable", None) for i in GOLD},
    "partial": {"q1": ("ok", "A"), "q2": ("ok", "B"), "q3": ("ok", "A"), "t1": ("ok", (1.0, 2.0))},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    layout = DataLayout(tmp_path_factory.mktemp("metrics"))
    rejects = pd.DataFrame(
        {
            "source_file": ["f.jsonl"],
            "line_no": [9],
            "instance_id": ["bad"],
            "reason": ["unknown category"],
            "record_json": ["{}"],
        }
    )
    clips = [f"c{i}" for i in range(1, 7)]
    write_scored_benchmark(layout, pd.DataFrame(INSTANCES, columns=VALID_COLUMNS), clips, 10.0, ANSWERS, rejects)
    build_metric_tables(layout, n_resamples=200, seed=3)
    con = duckdb.connect(str(layout.duckdb_file), read_only=True)
    yield con
    con.close()


def _choice(model):
    rows = []
    for iid, gold in GOLD.items():
        if gold["question_type"] == "temporal":
            continue
        status, value = ANSWERS[model].get(iid, ("missing", None))
        rows.append({**gold, "status": status, "correct": status == "ok" and value == gold["answer"]})
    return pd.DataFrame(rows)


def _iou(pred, gold):
    if pred is None:
        return 0.0
    inter = max(0.0, min(pred[1], gold[1]) - max(pred[0], gold[0]))
    union = max(pred[1], gold[1]) - min(pred[0], gold[0])
    return inter / union if union > 0 else 0.0


def _row(con, sql):
    return con.execute(sql).df().iloc[0]


@pytest.mark.parametrize("model", list(ANSWERS))
def test_accuracy_readings_rates_and_macro(built, model):
    frame = _choice(model)
    got = _row(built, f"SELECT * FROM metrics_by_model WHERE model = '{model}'")
    answered = frame["status"] == "ok"
    assert got["n_instances"] == len(frame) == 11
    assert got["accuracy"] == pytest.approx(frame["correct"].mean())
    if answered.any():
        assert got["accuracy_answered"] == pytest.approx(frame.loc[answered, "correct"].mean())
    else:
        assert pd.isna(got["accuracy_answered"])  # all-unparseable: no answered cells, not 0 and not 1
    assert got["chance"] == pytest.approx((1 / frame["n_options"]).mean())
    assert got["unparseable_rate"] == pytest.approx((frame["status"] == "unparseable").mean())
    assert got["error_rate"] == pytest.approx(frame["status"].isin(["error", "timeout", "rate_limited"]).mean())
    assert got["missing_rate"] == pytest.approx((frame["status"] == "missing").mean())
    per_category = frame.groupby("category")["correct"].mean()
    assert got["macro_accuracy"] == pytest.approx(per_category.mean())
    assert got["n_categories"] == len(per_category) == 5


def test_groupings_and_empty_categories(built):
    frame = _choice("half")
    for group_by in ("dimension", "category", "subset", "question_type", "source_generator"):
        got = (
            built.execute(
                f"SELECT group_value, accuracy, n_instances FROM metrics_by_group "
                f"WHERE model = 'half' AND group_by = '{group_by}'"
            )
            .df()
            .set_index("group_value")
        )
        expected = frame.groupby(group_by)["correct"].agg(["mean", "size"])
        assert got["accuracy"].to_dict() == pytest.approx(expected["mean"].to_dict())
        assert got["n_instances"].to_dict() == expected["size"].to_dict()
    categories = set(built.execute("SELECT DISTINCT category FROM metrics_by_category").df()["category"])
    assert "gaze_error" not in categories and categories == set(frame["category"])


@pytest.mark.parametrize("model", list(ANSWERS))
def test_temporal_iou_miou_and_recall(built, model):
    ious = []
    for iid, gold in GOLD.items():
        if gold["question_type"] != "temporal":
            continue
        status, value = ANSWERS[model].get(iid, ("missing", None))
        ious.append(_iou(value if status == "ok" else None, (gold["answer_span_start"], gold["answer_span_end"])))
    got = _row(built, f"SELECT * FROM temporal_metrics WHERE model = '{model}' AND dimension = 'all'")
    assert got["miou"] == pytest.approx(np.mean(ious))
    for threshold, column in ((0.3, "r1_iou_0_3"), (0.5, "r1_iou_0_5"), (0.7, "r1_iou_0_7")):
        assert got[column] == pytest.approx(np.mean([i >= threshold for i in ious]))
    if model == "good":
        assert ious == [1.0, 0.0, 0.25]  # exact, zero-length, partial overlap


def test_short_drama_accuracy_and_episode_consistency(built):
    for model in ANSWERS:
        frame = _choice(model)
        drama = frame[frame["subset"] == "short_drama"].assign(
            episode=lambda f: f["meta"].map(lambda m: json.loads(m)["episode_id"])
        )
        got = _row(built, f"SELECT * FROM short_drama_metrics WHERE model = '{model}'")
        assert got["accuracy"] == pytest.approx(drama["correct"].mean())
        assert got["episode_consistency"] == pytest.approx(drama.groupby("episode")["correct"].all().mean())
        chance = drama.assign(p=1 / drama["n_options"]).groupby("episode")["p"].prod().mean()
        assert got["episode_consistency_chance"] == pytest.approx(chance)  # (1/3)^2 and 1/3, averaged


def _mcnemar(b, c):
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


def _holm(pvalues: dict) -> dict:
    """Holm's step-down adjusted p-values, written from the textbook definition."""
    order = sorted(pvalues, key=lambda k: (pvalues[k], k))
    m, running, out = len(order), 0.0, {}
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[key]))
        out[key] = running
    return out


def _cluster_test(fa: pd.DataFrame, fb: pd.DataFrame, component: dict) -> tuple[float, float, float, float]:
    """(se, p, ci_low, ci_high) of the clustered paired test by a loop over clusters; the interval
    by scanning delta on a fine grid for where the test stops rejecting (not by the closed form)."""
    d, n = {}, {}
    for iid in fa.index:
        k = component[iid]
        d[k] = d.get(k, 0) + int(fa.loc[iid, "correct"]) - int(fb.loc[iid, "correct"])
        n[k] = n.get(k, 0) + 1
    total, clusters = sum(n.values()), len(n)

    def t_of(delta: float) -> float:
        spread = math.sqrt(clusters / (clusters - 1) * sum((d[k] - n[k] * delta) ** 2 for k in d))
        return sum(d[k] - n[k] * delta for k in d) / spread if spread else 0.0

    se = math.sqrt(clusters / (clusters - 1) * sum(v * v for v in d.values())) / total
    p = 2 * scipy.stats.t.sf(abs(t_of(0.0)), clusters - 1) if se else 1.0
    critical = scipy.stats.t.ppf(0.975, clusters - 1)
    inside = [x / 10000 for x in range(-10000, 10001) if abs(t_of(x / 10000)) < critical]
    return se, p, (min(inside) if inside else 0.0), (max(inside) if inside else 0.0)


def test_pairwise_cluster_robust_test_and_holm_on_all_instances(built):
    """Pairs are compared as the ranking scores them (a missing cell is a wrong answer), by the
    cluster-robust paired t-test over the resampling clusters, Holm within the family; McNemar
    stays beside it for reference."""
    got = built.execute("SELECT * FROM pairwise_tests").df().set_index(["model_a", "model_b"])
    component = _components(INSTANCES)
    models = sorted(ANSWERS)
    assert len(got) == len(models) * (len(models) - 1) // 2
    assert set(got["family"]) == {"models"}  # no baseline in this registry
    raw = {}
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            fa, fb = _choice(a).set_index("instance_id"), _choice(b).set_index("instance_id")
            only_a = int((fa["correct"] & ~fb["correct"]).sum())
            only_b = int((fb["correct"] & ~fa["correct"]).sum())
            row = got.loc[(a, b)]
            assert row["n_shared"] == len(fa) == 11
            assert (row["a_only_correct"], row["b_only_correct"]) == (only_a, only_b)
            assert row["mcnemar_p"] == pytest.approx(_mcnemar(only_a, only_b))
            assert row["accuracy_diff"] == pytest.approx(fa["correct"].mean() - fb["correct"].mean())
            se, p, low, high = _cluster_test(fa, fb, component)
            assert row["diff_se"] == pytest.approx(se) and row["cluster_p"] == pytest.approx(p)
            assert (row["diff_ci_low"], row["diff_ci_high"]) == (
                pytest.approx(low, abs=2e-4),
                pytest.approx(high, abs=2e-4),
            )
            raw[(a, b)] = p
    for pair, p_holm in _holm(raw).items():
        row = got.loc[pair]
        assert row["p_holm"] == pytest.approx(p_holm) and row["significant"] == (p_holm < 0.05)
        if row["significant"]:  # the published interval agrees with the test
            assert row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0


def _components(instances) -> dict:
    """instance -> component number (by first appearance), by breadth-first search over clips and
    episodes: an implementation independent of the pipeline's sparse-graph one."""
    links = {}
    for inst in instances:
        nodes = [("clip", c) for c in inst["clip_ids"]]
        episode = json.loads(inst["meta"]).get("episode_id")
        if episode:
            nodes.append(("episode", episode))
        links[inst["instance_id"]] = nodes
    by_node = {}
    for iid, nodes in links.items():
        for node in nodes:
            by_node.setdefault(node, []).append(iid)
    component, next_id = {}, 0
    for inst in instances:
        if inst["instance_id"] in component:
            continue
        queue = [inst["instance_id"]]
        while queue:
            iid = queue.pop()
            if iid in component:
                continue
            component[iid] = next_id
            queue += [other for node in links[iid] for other in by_node[node]]
        next_id += 1
    return component


def _naive_interval(values: dict, clusters: dict, n: int, seed: int, n_resamples: int = 200):
    """Interval of sum(value)/count over resampled clusters, one resample at a time.
    `values`: unit -> (cluster, value)."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, np.full(n, 1 / n), size=n_resamples)
    samples = []
    for weights in draws:
        num = sum(weights[c] * v for c, v in values.values())
        den = sum(weights[c] for c, _ in values.values())
        samples.append(num / den if den else np.nan)
    # expanded percentile interval (Hesterberg 2015): tail Phi(sqrt(n/(n-1)) * t_{0.025, n-1})
    tail = scipy.stats.norm.cdf(math.sqrt(n / (n - 1)) * scipy.stats.t.ppf(0.025, n - 1))
    return np.nanpercentile(samples, 100 * tail), np.nanpercentile(samples, 100 * (1 - tail))


def test_clusters_are_connected_components_of_clips_and_episodes(built):
    expected = _components(INSTANCES)
    got = built.execute("SELECT instance_id, cluster_id FROM instance_clusters").df()
    assert dict(zip(got["instance_id"], got["cluster_id"], strict=True)) == expected
    assert len(set(expected.values())) == 4  # {c1, c2, e1}, {c3, c4, e2}, {c5}, {c6}


def test_bootstrap_intervals_match_a_naive_loop(built):
    clusters = _components(INSTANCES)
    n = len(set(clusters.values()))
    frame = _choice("half")
    values = {r.instance_id: (clusters[r.instance_id], float(r.correct)) for r in frame.itertuples()}
    got = _row(built, "SELECT * FROM metrics_by_model WHERE model = 'half'")
    low, high = _naive_interval(values, clusters, n, seed=3)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert got["ci_low"] <= got["accuracy"] <= got["ci_high"]
    headline = built.execute("SELECT * FROM headline_metrics WHERE model = 'half'").df().set_index("metric")
    temporal = {
        iid: (
            clusters[iid],
            _iou(v if s == "ok" else None, (GOLD[iid]["answer_span_start"], GOLD[iid]["answer_span_end"])),
        )
        for iid, (s, v) in ANSWERS["half"].items()
        if GOLD[iid]["question_type"] == "temporal"
    }
    assert tuple(headline.loc["temporal_miou", ["ci_low", "ci_high"]]) == pytest.approx(
        _naive_interval(temporal, clusters, n, seed=3), abs=1e-9
    )
    drama = {
        r.instance_id: (clusters[r.instance_id], float(r.correct))
        for r in frame.itertuples()
        if r.subset == "short_drama"
    }
    assert tuple(headline.loc["drama_accuracy", ["ci_low", "ci_high"]]) == pytest.approx(
        _naive_interval(drama, clusters, n, seed=3), abs=1e-9
    )
    assert set(headline.index) == set(HEADLINE_METRICS) - {"circular_accuracy"}  # no circular entry here
    assert headline["ci_low"].notna().all() and (headline["ci_low"] <= headline["ci_high"]).all()


def test_position_bias_against_the_gold_distribution(built):
    got = (
        built.execute("SELECT * FROM answer_distribution WHERE model = 'half' AND question_type = 'yes_no'")
        .df()
        .set_index("letter")
    )
    assert got.loc["A", "n_predicted"] == 2 and got.loc["B", "n_predicted"] == 0  # q6 'A', q7 'A'
    assert got.loc["A", "share_gold"] == pytest.approx(2 / 3)
    tvd = _row(built, "SELECT * FROM position_bias WHERE model = 'half' AND question_type = 'yes_no'")
    assert tvd["total_variation_distance"] == pytest.approx(0.5 * (abs(1 - 2 / 3) + abs(0 - 1 / 3)))


def test_leaderboard_order_and_ties(built):
    """Complete models ranked by accuracy; a model with under 95% of its cells answered (`partial`:
    4 of 14) listed after them as incomplete, unranked, with its counts."""
    board = built.execute("SELECT * FROM leaderboard").df()
    accuracies = {m: _choice(m)["correct"].mean() for m in ANSWERS}
    answered = {
        m: sum(s in ("ok", "unparseable", "refused") for s, _ in ANSWERS[m].values()) / len(GOLD) for m in ANSWERS
    }
    ranked = sorted((m for m in ANSWERS if answered[m] >= 0.95), key=lambda m: (-accuracies[m], m))
    incomplete = sorted(m for m in ANSWERS if answered[m] < 0.95)
    assert incomplete == ["half", "partial"]  # half: an error and a timeout in 14 cells (12/14 < 0.95)
    assert list(board["model"]) == ranked + incomplete
    rows = board.set_index("model")
    for model in ANSWERS:
        assert rows.loc[model, "completeness"] == pytest.approx(round(answered[model], 4))
    assert list(rows.loc[ranked, "rank"]) == list(range(1, len(ranked) + 1))
    assert rows.loc[incomplete, "rank"].isna().all() and set(rows.loc[incomplete, "standing"]) == {"incomplete"}
    assert rows.loc["partial", "incomplete_reason"].startswith("10 of 14 cells have no answer: 10 missing")
    assert not rows.loc[incomplete, "tied_with_above"].any()
    # rank intervals: each ranked model ranked within every resample among the ranked models
    assert rows.loc[incomplete, "rank_ci_low"].isna().all()
    for model in ranked:
        low, high = rows.loc[model, ["rank_ci_low", "rank_ci_high"]]
        assert 1 <= low <= high <= len(ranked)
    assert rows.loc["good", "rank_ci_low"] == 1
    assert not board.iloc[0]["tied_with_above"]
    assert set(board.columns) >= {"ci_low", "ci_high", "macro_accuracy", "temporal_miou", "letter_bias_tvd"}


@pytest.mark.parametrize("raw,expected", [(None, 0.95), ("", 0.95), ("0.5", 0.5), ("1", 1.0), ("0", 0.0)])
def test_the_completeness_threshold_comes_from_the_environment(monkeypatch, raw, expected):
    from mtavg_assets.metrics.build import MIN_COMPLETENESS_ENV, min_completeness

    if raw is None:
        monkeypatch.delenv(MIN_COMPLETENESS_ENV, raising=False)
    else:
        monkeypatch.setenv(MIN_COMPLETENESS_ENV, raw)
    assert min_completeness() == expected


@pytest.mark.parametrize("raw", ["abc", "1.5", "-0.1", "nan", "inf"])
def test_a_bad_completeness_threshold_is_refused_with_its_name(monkeypatch, raw):
    from mtavg_assets.metrics.build import MIN_COMPLETENESS_ENV, min_completeness

    monkeypatch.setenv(MIN_COMPLETENESS_ENV, raw)
    with pytest.raises(ValueError, match=MIN_COMPLETENESS_ENV):
        min_completeness()


def test_rstd_per_number_of_options(built):
    got = built.execute("SELECT * FROM position_bias_by_options WHERE model = 'half'").df()
    frame = _choice("half")
    for row in got.itertuples():
        group = frame[(frame["question_type"] == row.question_type) & (frame["n_options"] == row.n_options)]
        recall = group.groupby("answer")["correct"].mean()
        assert row.rstd == pytest.approx(float(np.std(recall.to_numpy())), abs=1e-12)
        assert row.n_positions == len(recall) and row.n == len(group)
    assert got["random_rstd"].isna().all()  # no random baseline in this registry


def test_each_headline_metric_is_named_alike_in_python_and_in_both_sql_files(built):
    import re
    from pathlib import Path

    from mtavg_assets.metrics.bootstrap import HEADLINE_METRICS

    sql = Path(__file__).parents[1] / "sql"
    unioned = set(re.findall(r"'(\w+)' AS metric|SELECT model, '(\w+)'", (sql / "50_uncertainty.sql").read_text()))
    named = {a or b for a, b in unioned}
    board = set(re.findall(r"WHERE metric = '(\w+)'", (sql / "90_leaderboard.sql").read_text()))
    computed = set(built.execute("SELECT DISTINCT metric FROM headline_ci").df()["metric"])
    assert named == board == set(HEADLINE_METRICS) and computed <= set(HEADLINE_METRICS)

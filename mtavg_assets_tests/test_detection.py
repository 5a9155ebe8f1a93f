"""Yes/no questions scored as a failure detector (detection_metrics), recomputed by plain loops over
the items, with intervals recomputed from the same resample matrix by an independent loop, and the
leaderboard showing balanced accuracy and kappa: an always-"No failure" model cannot outrank a real
detector on them."""

from __future__ import annotations

import json
import math
import random

import duckdb
import numpy as np
import pandas as pd
import pytest

from mtavg_assets.metrics.bootstrap import DEFAULT_SEED, instance_clusters, resample_weights, tail_probability
from mtavg_assets.metrics.build import build_metric_tables
from mtavg_assets.qa.validate import VALID_COLUMNS
from mtavg_assets.settings import DataLayout
from mtavg_assets_tests.conftest import write_scored_benchmark

CATEGORIES = {"lip_sync_drift": "av_language", "identity_drift": "acting", "music_mood_mismatch": "atmosphere"}
N_CLIPS, PER_CLIP = 40, 5  # 200 yes/no questions, 5 per clip: 40 resampling units
RESAMPLES = 300


def _items() -> list[dict]:
    rng = random.Random(7)
    rows = []
    for c in range(N_CLIPS):
        for k in range(PER_CLIP):
            category = list(CATEGORIES)[(c + k) % 3]
            positive_first = c % 4 != 0  # most put "Yes" first; some say "No" first and name the positive
            options = ["Yes", "No"] if positive_first else ["No", "Yes"]
            present = rng.random() < 0.2  # 80% "No failure"
            positive_letter = "A" if positive_first else "B"
            negative_letter = "B" if positive_first else "A"
            meta = {"episode_id": f"e{c}"}
            if not positive_first:
                meta["positive"] = "Yes"
            rows.append(
                {
                    "instance_id": f"y{c:02d}-{k}",
                    "clip_ids": [f"c{c:02d}"],
                    "n_clips": 1,
                    "subset": "core",
                    "question_type": "yes_no",
                    "dimension": CATEGORIES[category],
                    "category": category,
                    "question": f"Is there a {category}? [{c}-{k}]",
                    "options": options,
                    "n_options": 2,
                    "answer": positive_letter if present else negative_letter,
                    "answer_span_start": None,
                    "answer_span_end": None,
                    "source_generator": "gen-a" if c % 2 else "gen-b",
                    "clip_duration_s": 8.0,
                    "clip_sha256s": [f"{c:064d}"],
                    "content_hash": f"h-y{c:02d}-{k}",
                    "meta": json.dumps(meta),
                    "source_file": "f.jsonl",
                    "line_no": 1,
                    "_present": present,
                    "_positive": positive_letter,
                    "_negative": negative_letter,
                }
            )
    return rows


ITEMS = _items()
LABELS = {c: c.replace("_", " ") for c in CATEGORIES}
NO_FAILURE = "No failure is present"


def _mcq_items() -> list[dict]:
    """Choice questions whose options are failure categories (and no failure)."""
    rng = random.Random(5)
    rows = []
    for c in range(N_CLIPS):
        options = [*LABELS.values(), NO_FAILURE]
        rng.shuffle(options)
        gold = rng.choice(options)
        category = next((k for k, v in LABELS.items() if v == gold), "lip_sync_drift")
        gold_letter = "ABCD"[options.index(gold)]
        rows.append(
            {
                **{k: v for k, v in ITEMS[c * PER_CLIP].items() if not k.startswith("_")},
                "instance_id": f"m{c:02d}",
                "question_type": "mcq",
                "category": category,
                "dimension": CATEGORIES[category],
                "question": f"Which failure? [{c}]",
                "options": options,
                "n_options": 4,
                "answer": "ABCD"[options.index(gold)],
                "content_hash": f"h-m{c:02d}",
                # three annotators: two agree with the key, the third picks at random
                "meta": json.dumps(
                    {"episode_id": f"e{c}", "annotations": [gold_letter, gold_letter, rng.choice("ABCD")]}
                ),
            }
        )
    return rows


MCQ = _mcq_items()
N_NEW = 20  # a new generator's clips: yes/no questions without an answer key (subset unlabelled)


def _unlabelled_items() -> list[dict]:
    rng = random.Random(9)
    rows = []
    for c in range(N_CLIPS, N_CLIPS + N_NEW):
        for k in range(PER_CLIP):
            category = list(CATEGORIES)[(c + k) % 3]
            rows.append(
                {
                    **{key: v for key, v in ITEMS[0].items() if not key.startswith("_")},
                    "instance_id": f"new{c:02d}-{k}",
                    "clip_ids": [f"c{c:02d}"],
                    "subset": "unlabelled",
                    "category": category,
                    "dimension": CATEGORIES[category],
                    "question": f"Is there a {category}? [new {c}-{k}]",
                    "options": ["Yes", "No"],
                    "answer": None,
                    "source_generator": "gen-new",
                    "clip_sha256s": [f"{c:064d}"],
                    "content_hash": f"h-new{c:02d}-{k}",
                    "meta": json.dumps({"episode_id": f"e{c}"}),
                    "_said": rng.random() < 0.4,
                }
            )
    return rows


NEW = _unlabelled_items()


def _answers() -> dict[str, dict[str, tuple[str, str | None]]]:
    rng = random.Random(11)
    always_no, detector, mute = {}, {}, {}
    for item in ITEMS:
        iid = item["instance_id"]
        always_no[iid] = ("ok", item["_negative"])
        hit = rng.random() < (0.75 if item["_present"] else 0.25)  # sensitivity and specificity 0.75
        detector[iid] = ("ok", item["_positive"] if hit else item["_negative"])
        if rng.random() < 0.05:
            detector[iid] = ("error", None)  # a non-answer counts as wrong
        mute[iid] = ("error", None)
    for item in NEW:  # only the detector answers the new clips; the others leave them unasked
        detector[item["instance_id"]] = ("ok", "A" if item["_said"] else "B")
    for item in MCQ:  # the detector confuses identity drift with lip sync drift, and says nothing on some
        iid, options = item["instance_id"], item["options"]
        gold_text = options["ABCD".index(item["answer"])]
        chosen = LABELS["lip_sync_drift"] if gold_text == LABELS["identity_drift"] else gold_text
        detector[iid] = ("ok", "ABCD"[options.index(chosen)]) if rng.random() < 0.9 else ("timeout", None)
        always_no[iid] = ("ok", "ABCD"[options.index(NO_FAILURE)])
        mute[iid] = ("error", None)
    return {"always-no": always_no, "detector": detector, "mute": mute}


ANSWERS = _answers()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    layout = DataLayout(tmp_path_factory.mktemp("detection"))
    rows = [{k: v for k, v in i.items() if not k.startswith("_")} for i in ITEMS + NEW] + MCQ
    valid = pd.DataFrame(rows, columns=VALID_COLUMNS)
    clips = [f"c{c:02d}" for c in range(N_CLIPS + N_NEW)]
    write_scored_benchmark(layout, valid, clips, 8.0, ANSWERS)
    build_metric_tables(layout, n_resamples=RESAMPLES)
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        yield {
            "detection": con.execute("SELECT * FROM detection_metrics").df(),
            "board": con.execute("SELECT * FROM leaderboard").df().set_index("model"),
            "confusion": con.execute("SELECT * FROM category_confusion").df(),
            "profile": con.execute("SELECT * FROM generator_profile").df(),
            "human": con.execute("SELECT * FROM human_agreement").df().set_index("model"),
        }


def _counts(model: str, keep) -> tuple[int, int, int, int]:
    """tp, fn, fp, tn by a plain loop: a non-answer is a miss on a positive item, a false alarm on a negative one."""
    tp = fn = fp = tn = 0
    for item in ITEMS:
        if not keep(item):
            continue
        status, letter = ANSWERS[model][item["instance_id"]]
        said = (letter == item["_positive"]) if status == "ok" else not item["_present"]
        if item["_present"]:
            tp, fn = tp + said, fn + (not said)
        else:
            fp, tn = fp + said, tn + (not said)
    return tp, fn, fp, tn


def _naive(tp, fn, fp, tn) -> dict[str, float]:
    n = tp + fn + fp + tn
    sens = tp / (tp + fn) if tp + fn else math.nan
    spec = tn / (tn + fp) if tn + fp else math.nan
    po = (tp + tn) / n
    pe = ((tp + fp) / n) * ((tp + fn) / n) + ((fn + tn) / n) * ((fp + tn) / n)
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "n": n,
        "prevalence": (tp + fn) / n,
        "sensitivity": sens,
        "specificity": spec,
        "balanced_accuracy": (sens + spec) / 2,
        "yes_ratio": (tp + fp) / n,
        "kappa": (po - pe) / (1 - pe) if pe != 1 else math.nan,
        "mcc": (tp * tn - fp * fn) / denominator if denominator else math.nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else math.nan,
    }


def _row(table: pd.DataFrame, model: str, **group) -> pd.Series:
    mask = table["model"] == model
    for column in ("dimension", "category", "generator"):
        mask &= table[column].isna() if column not in group else table[column] == group[column]
    (index,) = table.index[mask]
    return table.loc[index]


@pytest.mark.parametrize("model", list(ANSWERS))
def test_every_detector_statistic_recomputes_overall_and_per_group(built, model):
    table = built["detection"]
    groups = [({}, lambda i: True)]
    groups += [({"category": c}, lambda i, c=c: i["category"] == c) for c in CATEGORIES]
    groups += [({"dimension": d}, lambda i, d=d: i["dimension"] == d) for d in CATEGORIES.values()]
    groups += [({"generator": g}, lambda i, g=g: i["source_generator"] == g) for g in ("gen-a", "gen-b")]
    for group, keep in groups:
        row, expected = _row(table, model, **group), _naive(*_counts(model, keep))
        for name, value in expected.items():
            if math.isnan(value):
                assert pd.isna(row[name]), (model, group, name)
            else:
                assert row[name] == pytest.approx(value, abs=1e-12), (model, group, name)


def test_an_always_no_model_cannot_outrank_a_real_detector_on_balanced_accuracy_and_kappa(built):
    board, table = built["board"], built["detection"]
    assert board.loc["always-no", "balanced_accuracy"] == 0.5 and board.loc["always-no", "kappa"] == 0.0
    assert board.loc["detector", "balanced_accuracy"] > 0.65 and board.loc["detector", "kappa"] > 0.2
    # accuracy alone prefers the model that never detects anything
    assert board.loc["always-no", "accuracy"] > board.loc["detector", "accuracy"]
    assert board.loc["detector", "balanced_accuracy_ci_low"] > 0.5  # its interval clears chance
    mute = _row(table, "mute")
    assert mute["sensitivity"] == 0.0 and mute["specificity"] == 0.0  # every non-answer is wrong


def test_intervals_come_from_the_shared_resamples_with_each_groups_own_expansion(built):
    """The overall interval of the detector's balanced accuracy, recomputed by a loop over the same
    resample matrix (clusters drawn with replacement), and NULL for a group with too few clusters."""
    valid = pd.DataFrame([{k: v for k, v in i.items() if not k.startswith("_")} for i in ITEMS + NEW] + MCQ)
    clusters = instance_clusters(valid)  # the build resamples the clusters of every instance
    cluster_of = dict(zip(clusters["instance_id"], clusters["cluster_id"], strict=True))
    n_clusters = clusters["cluster_id"].nunique()
    weights = resample_weights(n_clusters, RESAMPLES, DEFAULT_SEED)
    by_cluster: dict[int, list[tuple[bool, bool]]] = {}
    for item in ITEMS:
        status, letter = ANSWERS["detector"][item["instance_id"]]
        said = (letter == item["_positive"]) if status == "ok" else not item["_present"]
        by_cluster.setdefault(cluster_of[item["instance_id"]], []).append((item["_present"], said))
    samples = []
    for r in range(RESAMPLES):
        tp = fn = fp = tn = 0.0
        for cluster, pairs in by_cluster.items():
            w = weights[cluster, r]
            for present, said in pairs:
                tp += w * (present and said)
                fn += w * (present and not said)
                fp += w * (not present and said)
                tn += w * (not present and not said)
        samples.append((tp / (tp + fn) + tn / (tn + fp)) / 2 if tp + fn and tn + fp else np.nan)
    own = len(by_cluster)  # the clusters this group's questions are in (not the 20 unlabelled ones)
    assert own == N_CLIPS < n_clusters
    q = tail_probability(own)
    low, high = np.nanpercentile(samples, [100 * q, 100 * (1 - q)])
    row = _row(built["detection"], "detector")
    assert row["balanced_accuracy_ci_low"] == pytest.approx(low, abs=1e-12)
    assert row["balanced_accuracy_ci_high"] == pytest.approx(high, abs=1e-12)
    assert row["n_clusters"] == own and pd.isna(row["ci_note"])
    assert row["balanced_accuracy_ci_low"] <= row["balanced_accuracy"] <= row["balanced_accuracy_ci_high"]


def test_a_group_with_too_few_clusters_gets_no_interval():
    from mtavg_assets.metrics.detection import TOO_FEW, detection_intervals

    items = pd.DataFrame(
        {
            "model": "m",
            "dimension": "acting",
            "category": "identity_drift",
            "generator": "g",
            "gold_positive": [True, False, True, False],
            "said_positive": [True, False, False, False],
            "cluster": [0, 1, 2, 2],
        }
    )
    rows = detection_intervals(items, resample_weights(3, 50, 1))
    assert (rows["ci_note"] == TOO_FEW).all() and rows["kappa_ci_low"].isna().all()
    assert set(rows["n_clusters"]) == {3}


def test_category_confusion_counts_which_failure_is_taken_for_which(built):
    def category_of(text: str) -> str:
        return "no failure" if text == NO_FAILURE else next(k for k, v in LABELS.items() if v == text)

    expected: dict[tuple[str, str, str], int] = {}
    for model, answers in ANSWERS.items():
        for item in MCQ:
            status, letter = answers[item["instance_id"]]
            gold = category_of(item["options"]["ABCD".index(item["answer"])])
            chosen = category_of(item["options"]["ABCD".index(letter)]) if status == "ok" else "no answer"
            expected[(model, gold, chosen)] = expected.get((model, gold, chosen), 0) + 1
    got = built["confusion"]
    assert {(r.model, r.gold_category, r.chosen_category): r.n for r in got.itertuples()} == expected
    shares = got.groupby(["model", "gold_category"])["share"].sum()
    assert np.allclose(shares, 1.0)
    detector = got[(got["model"] == "detector") & (got["gold_category"] == "identity_drift")]
    assert set(detector["chosen_category"]) <= {"lip_sync_drift", "no answer"}


def test_generator_profile_corrects_the_detected_rate_with_the_evaluators_errors(built):
    """Rogan-Gladen by hand: Se and Sp from each evaluator's answered labelled yes/no questions,
    q per (generator, category); an evaluator no better than chance gets no corrected rate."""
    from mtavg_assets.metrics.profile import NO_BETTER_THAN_CHANCE

    profile = built["profile"]
    answered = {
        m: [
            (i, ANSWERS[m][i["instance_id"]][1] == i["_positive"])
            for i in ITEMS
            if ANSWERS[m][i["instance_id"]][0] == "ok"
        ]
        for m in ANSWERS
    }
    for model in ("always-no", "mute"):
        rows = profile[profile["evaluator"] == model]
        assert len(rows) and (rows["note"] == NO_BETTER_THAN_CHANCE).all() and rows["corrected_rate"].isna().all()
    pairs = answered["detector"]
    se = sum(i["_present"] and said for i, said in pairs) / sum(i["_present"] for i, _ in pairs)
    sp = sum(not i["_present"] and not said for i, said in pairs) / sum(not i["_present"] for i, _ in pairs)
    rows = profile[(profile["evaluator"] == "detector") & (profile["generator"] != "gen-new")]
    rows = rows.set_index(["generator", "category"])
    assert len(rows) == 2 * len(CATEGORIES)
    for (generator, category), row in rows.iterrows():
        group = [(i, said) for i, said in pairs if i["source_generator"] == generator and i["category"] == category]
        everyone = [i for i in ITEMS if i["source_generator"] == generator and i["category"] == category]
        q = sum(said for _, said in group) / len(group)
        expected = min(1.0, max(0.0, (q + sp - 1) / (se + sp - 1)))
        assert row["n"] == len(everyone) and row["n_answered"] == len(group)
        assert row["gold_rate"] == pytest.approx(sum(i["_present"] for i in everyone) / len(everyone))
        assert row["detected_rate"] == pytest.approx(q) and row["corrected_rate"] == pytest.approx(expected)
        assert (row["sensitivity"], row["specificity"]) == (pytest.approx(se), pytest.approx(sp))
        assert row["corrected_ci_low"] <= row["corrected_rate"] <= row["corrected_ci_high"]


def test_unlabelled_questions_are_asked_never_scored_and_profiled_from_the_labelled_errors(built):
    from mtavg_assets.metrics.profile import rogan_gladen

    board, profile = built["board"], built["profile"]
    assert board.loc["detector", "n_choice"] == len(ITEMS) + len(MCQ)  # the new clips are not in accuracy
    assert board.loc["detector", "completeness"] < 1 and board.loc["always-no", "completeness"] == 1.0
    rows = profile[(profile["evaluator"] == "detector") & (profile["generator"] == "gen-new")].set_index("category")
    assert len(rows) == len(CATEGORIES) and rows["gold_rate"].isna().all()
    labelled = profile[(profile["evaluator"] == "detector") & (profile["generator"] == "gen-a")].iloc[0]
    for category, row in rows.iterrows():
        said = [i["_said"] for i in NEW if i["category"] == category]
        q = sum(said) / len(said)
        assert row["detected_rate"] == pytest.approx(q)
        expected = float(rogan_gladen(q, labelled["sensitivity"], labelled["specificity"]))
        assert row["corrected_rate"] == pytest.approx(expected) and row["n"] == len(said)


def test_the_profile_plot_draws_each_generator(built, tmp_path):
    from mtavg_assets.metrics.plots import generator_profiles

    markdown = generator_profiles(built["profile"], tmp_path / "profile.png")
    assert markdown.startswith("![profile](data:image/png;base64,") and (tmp_path / "profile.png").stat().st_size > 0
    chance_only = built["profile"][built["profile"]["evaluator"] != "detector"]
    assert generator_profiles(chance_only, tmp_path / "none.png") is None  # nothing better than chance to draw


def _alpha_by_pairs(units: list[list[str]]) -> float:
    """Nominal Krippendorff's alpha as 1 - D_o / D_e over pairable values: D_o the share of
    disagreeing ordered pairs within units (each unit weighted by 1/(m-1)), D_e over all values."""
    values = [v for u in units if len(u) >= 2 for v in u]
    n = len(values)
    observed = (
        sum(
            sum(a != b for i, a in enumerate(u) for j, b in enumerate(u) if i != j) / (len(u) - 1)
            for u in units
            if len(u) >= 2
        )
        / n
    )
    expected = sum(a != b for i, a in enumerate(values) for j, b in enumerate(values) if i != j) / (n * (n - 1))
    return 1 - observed / expected


def test_human_agreement_reports_the_annotators_alpha_and_each_models_agreement_with_their_majority(built):
    from collections import Counter

    from mtavg_assets.metrics.agreement import krippendorff_alpha

    units = [json.loads(i["meta"])["annotations"] for i in MCQ]
    human = built["human"]
    assert human.loc["detector", "krippendorff_alpha"] == pytest.approx(_alpha_by_pairs(units), abs=1e-12)
    assert krippendorff_alpha([["A", "A"], ["B", "B"]]) == 1.0
    for model in ANSWERS:
        agree = []
        for item in MCQ:
            majority = Counter(json.loads(item["meta"])["annotations"]).most_common(1)[0][0]  # 2 of 3 always agree
            status, letter = ANSWERS[model][item["instance_id"]]
            agree.append(status == "ok" and letter == majority)
        assert human.loc[model, "model_majority_agreement"] == pytest.approx(np.mean(agree), abs=1e-12)
        assert human.loc[model, "n_items"] == len(MCQ)

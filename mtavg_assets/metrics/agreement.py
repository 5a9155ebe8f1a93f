"""The human ceiling: when QA lines carry several annotators' labels (`meta.annotations`, a list of
option letters), how well do the annotators agree with one another, and how well does each
evaluator agree with their majority on the same questions?

- krippendorff_alpha: nominal Krippendorff's alpha of the annotators (Krippendorff, "Content
  Analysis", 2004, ch. 11: from the coincidence matrix of values within each question);
- annotator_majority_agreement: each annotator's agreement with the majority of the *other*
  annotators, averaged (the level an evaluator would reach by agreeing like one more annotator);
- per evaluator: model_majority_agreement, its letter against the annotators' majority (a
  non-answer disagrees), on the questions with a strict majority.
"""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd

COLUMNS = ["model", "n_items", "krippendorff_alpha", "annotator_majority_agreement", "model_majority_agreement"]


def annotations(meta) -> list[str]:
    """The annotators' letters of a question (an empty list when there are none or they are not letters)."""
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            return []
    labels = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(labels, list):
        return []
    return [x for x in labels if isinstance(x, str) and len(x) == 1 and x.isupper()]


def krippendorff_alpha(units: list[list[str]]) -> float | None:
    """Nominal alpha from the coincidence matrix; units with fewer than two values are not pairable."""
    coincidence: Counter = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nk - 1) if c == k else nc * nk
                coincidence[(c, k)] += pairs / (m - 1)
    marginals: Counter = Counter()
    for (c, _), value in coincidence.items():
        marginals[c] += value
    n = sum(marginals.values())
    observed = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(marginals[c] * marginals[k] for c in marginals for k in marginals if c != k)
    if n <= 1 or expected == 0:
        return None
    return 1 - (n - 1) * observed / expected


def _majority(values: list[str]) -> str | None:
    top = Counter(values).most_common(2)
    if not top or (len(top) > 1 and top[0][1] == top[1][1]):
        return None
    return top[0][0]


def human_agreement(instances: pd.DataFrame, choice: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluator (and the same alpha and annotator agreement on each): `instances` has
    instance_id and meta; `choice` the scored choice rows (model, instance_id, status, parsed_answer)."""
    labelled = {iid: a for iid, a in zip(instances["instance_id"], instances["meta"].map(annotations), strict=True)}
    labelled = {iid: a for iid, a in labelled.items() if len(a) >= 2}
    if not labelled:
        return pd.DataFrame(columns=COLUMNS)
    alpha = krippendorff_alpha(list(labelled.values()))
    leave_one_out = []
    for values in labelled.values():
        for i, value in enumerate(values):
            others = _majority(values[:i] + values[i + 1 :])
            if others is not None:
                leave_one_out.append(value == others)
    annotator = sum(leave_one_out) / len(leave_one_out) if leave_one_out else None
    majority = {iid: m for iid, values in labelled.items() if (m := _majority(values)) is not None}
    rows = []
    for model, own in choice[choice["instance_id"].isin(majority)].groupby("model", sort=True):
        said = [
            status == "ok" and letter == majority[iid]
            for iid, status, letter in zip(own["instance_id"], own["status"], own["parsed_answer"], strict=True)
        ]
        rows.append((model, len(said), alpha, annotator, sum(said) / len(said) if said else None))
    return pd.DataFrame(rows, columns=COLUMNS)

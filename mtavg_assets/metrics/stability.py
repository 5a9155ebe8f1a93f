"""How stable an evaluator's answers are when the same cell is asked again (`repeats: N` in the
registry: repeat k > 0 is the entry `<name>.r<k>`). Per base entry, over choice questions:

- flip_rate: share of the questions every repeat answered on which the repeats do not all agree;
- fleiss_kappa: Fleiss' kappa of the repeats' letters on those questions (test-retest agreement
  beyond the agreement the letter shares alone would give);
- majority_accuracy: accuracy of the majority letter over all questions (no strict majority, or a
  majority of non-answers, counts as wrong), beside mean_accuracy, the mean over repeats (what the
  leaderboard ranks the entry by), and accuracy_sd, the standard deviation of the repeats'
  accuracies (n - 1 denominator): how far one run's number moves when it is asked again.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

COLUMNS = [
    "model",
    "n_repeats",
    "n_questions",
    "n_all_answered",
    "flip_rate",
    "fleiss_kappa",
    "majority_accuracy",
    "mean_accuracy",
    "accuracy_sd",
]


def fleiss_kappa(ratings: list[list[str]]) -> float | None:
    """Fleiss' kappa of items x raters category labels (every item rated by the same number)."""
    if not ratings or len(ratings[0]) < 2:
        return None
    raters = len(ratings[0])
    counts = [Counter(item) for item in ratings]
    categories = set().union(*counts)
    total = len(ratings) * raters
    shares = {c: sum(count[c] for count in counts) / total for c in categories}
    agreement = sum((sum(v * v for v in count.values()) - raters) / (raters * (raters - 1)) for count in counts)
    observed = agreement / len(ratings)
    expected = sum(s * s for s in shares.values())
    return None if expected == 1 else (observed - expected) / (1 - expected)


def stability(choice: pd.DataFrame, repeats: pd.DataFrame) -> pd.DataFrame:
    """`choice`: scored choice rows (model, instance_id, status, parsed_answer, gold_answer, correct);
    `repeats`: registry rows of repeat copies (name, repeat_of)."""
    rows = []
    for base, copies in repeats.groupby("repeat_of", sort=True):
        members = [base, *sorted(copies["name"])]
        frame = choice[choice["model"].isin(members)]
        wide = frame.pivot_table(index="instance_id", columns="model", values="parsed_answer", aggfunc="first")
        status = frame.pivot_table(index="instance_id", columns="model", values="status", aggfunc="first")
        gold = frame.drop_duplicates("instance_id").set_index("instance_id")["gold_answer"]
        wide, status = wide.reindex(columns=members), status.reindex(index=wide.index, columns=members)
        answered = (status == "ok").all(axis=1)
        ratings = [list(r) for r in wide[answered].itertuples(index=False)]
        flips = sum(len(set(r)) > 1 for r in ratings)
        majority_right = 0
        for iid, letters in wide.iterrows():
            said = Counter(x for x, s in zip(letters, status.loc[iid], strict=True) if s == "ok" and isinstance(x, str))
            top = said.most_common(2)
            strict = top and top[0][1] * 2 > len(members) and (len(top) == 1 or top[0][1] > top[1][1])
            majority_right += bool(strict) and top[0][0] == gold.get(iid)
        accuracy = frame.groupby("model")["correct"].mean().reindex(members)
        rows.append(
            (
                base,
                len(members),
                len(wide),
                len(ratings),
                flips / len(ratings) if ratings else None,
                fleiss_kappa(ratings),
                majority_right / len(wide) if len(wide) else None,
                float(accuracy.mean()),
                float(accuracy.std(ddof=1)),
            )
        )
    return pd.DataFrame(rows, columns=COLUMNS)

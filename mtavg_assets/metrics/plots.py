"""Pictures of the metric tables: a PNG (embedded in the Dagster UI's markdown) and an SVG beside
it, under `<data dir>/plots/`. Offline baselines are drawn hatched and grey, apart from the
models; chance is a dashed line; a group without an interval (too few clusters) is marked "no CI"
rather than drawn as a bar that looks certain; heatmap cells carry their question counts."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: plots are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mtavg_assets.atomic import temp_beside  # noqa: E402


def _write(path: Path, data: bytes) -> None:
    tmp = temp_beside(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a picture


def _save(fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer, vector = io.BytesIO(), io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    fig.savefig(vector, format="svg", bbox_inches="tight")
    plt.close(fig)
    _write(path, buffer.getvalue())
    _write(path.with_suffix(".svg"), vector.getvalue())
    return f"![{path.stem}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def _baseline_style(is_baseline: bool) -> dict:
    return {"color": "0.75", "hatch": "//", "edgecolor": "0.4"} if is_baseline else {}


def dimension_bars(by_dimension: pd.DataFrame, path: Path, baselines: frozenset[str] = frozenset()) -> str:
    """Accuracy per dimension, one bar per model (models first, baselines hatched after them),
    with 95% bootstrap CI whiskers, the chance level as a dashed line per dimension, and "no CI"
    where the group has too few clusters for an interval."""
    dims = sorted(by_dimension["dimension"].unique())
    models = sorted(by_dimension["model"].unique(), key=lambda m: (m in baselines, m))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(dims)), 3.8))
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        rows = by_dimension[by_dimension["model"] == model].set_index("dimension").reindex(dims)
        x = np.arange(len(dims)) + i * width
        acc = rows["accuracy"].to_numpy(dtype=float)
        lo, hi = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
        low, high = np.clip(acc - lo, 0, None), np.clip(hi - acc, 0, None)
        label = f"{model} (baseline)" if model in baselines else model
        ax.bar(x, acc, width, label=label, yerr=[np.nan_to_num(low), np.nan_to_num(high)], capsize=3,
               **_baseline_style(model in baselines))  # fmt: skip
        for xi, a, l_ in zip(x, acc, lo, strict=True):
            if np.isnan(l_) and not np.isnan(a):
                ax.text(xi, min(a + 0.03, 0.95), "no CI", ha="center", fontsize=5, rotation=90)
    if "chance" in by_dimension:
        chance = by_dimension.groupby("dimension")["chance"].mean().reindex(dims).to_numpy(dtype=float)
        for k, c in enumerate(chance):
            ax.hlines(c, k - width / 2, k + 0.8 - width / 2, colors="k", linestyles="dashed", linewidth=1,
                      label="chance" if k == 0 else None)  # fmt: skip
    ax.set_xticks(np.arange(len(dims)) + 0.4 - width / 2, dims)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_title("Accuracy by failure dimension")
    ax.legend(fontsize=7, ncols=min(len(models) + 1, 4))
    return _save(fig, path)


def category_heatmap(by_category: pd.DataFrame, path: Path) -> str:
    """Model x category accuracy, each cell with its number of questions."""
    table = by_category.pivot_table(index="model", columns="category", values="accuracy")
    counts = by_category.pivot_table(index="model", columns="category", values="n_instances").reindex_like(table)
    fig, ax = plt.subplots(figsize=(max(6, 0.65 * table.shape[1] + 2), max(2.5, 0.45 * table.shape[0] + 1.5)))
    image = ax.imshow(table.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=8)
    for (r, c), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if not np.isnan(value):
            n = counts.iat[r, c]
            text = f"{value:.2f}\nn={int(n)}" if n == n else f"{value:.2f}"
            ax.text(c, r, text, ha="center", va="center", fontsize=5, color="white" if value < 0.6 else "black")
    fig.colorbar(image, ax=ax, label="accuracy")
    ax.set_title("Accuracy by model and category (n = questions)")
    return _save(fig, path)


def category_generator_matrix(profile: pd.DataFrame, path: Path) -> str | None:
    """Category x generator: the share of yes/no questions whose gold says the failure is present
    (gold_rate of generator_profile), with the number of questions. None without labelled rows."""
    rows = profile[profile["gold_rate"].notna()].drop_duplicates(["generator", "category"])
    if rows.empty:
        return None
    rows = rows.assign(generator=rows["generator"].fillna("unknown"))
    table = rows.pivot_table(index="category", columns="generator", values="gold_rate")
    counts = rows.pivot_table(index="category", columns="generator", values="n").reindex_like(table)
    fig, ax = plt.subplots(figsize=(max(4, 1.1 * table.shape[1] + 3), max(2.5, 0.4 * table.shape[0] + 1.5)))
    image = ax.imshow(table.to_numpy(dtype=float), vmin=0, vmax=1, cmap="Reds", aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=7)
    for (r, c), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if not np.isnan(value):
            n = counts.iat[r, c]
            ax.text(c, r, f"{value:.2f}\nn={int(n)}", ha="center", va="center", fontsize=6,
                    color="white" if value > 0.6 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, label="gold failure rate")
    ax.set_title("Which generator fails how: gold failure rate by category (n = yes/no questions)")
    return _save(fig, path)


def confusion_heatmaps(confusion: pd.DataFrame, path: Path) -> str | None:
    """Per model, the share of each gold failure category's questions answered with each category
    (rows: gold, columns: chosen; the diagonal is right). None when no question qualifies."""
    if confusion.empty:
        return None
    models = sorted(confusion["model"].unique())
    golds = sorted(confusion["gold_category"].unique())
    chosen = sorted(set(confusion["chosen_category"]) | set(golds))
    fig, axes = plt.subplots(
        1, len(models), figsize=(max(4.5, 0.45 * len(chosen) + 2.5) * len(models), max(3, 0.4 * len(golds) + 2)),
        squeeze=False,
    )  # fmt: skip
    for ax, model in zip(axes[0], models, strict=True):
        rows = confusion[confusion["model"] == model]
        table = rows.pivot_table(index="gold_category", columns="chosen_category", values="share", aggfunc="sum")
        table = table.reindex(index=golds, columns=chosen).fillna(0.0)
        counts = rows.pivot_table(index="gold_category", columns="chosen_category", values="n", aggfunc="sum")
        counts = counts.reindex(index=golds, columns=chosen).fillna(0)
        ax.imshow(table.to_numpy(dtype=float), vmin=0, vmax=1, cmap="magma", aspect="auto")
        for (r, c), n in np.ndenumerate(counts.to_numpy(dtype=float)):
            if n:
                share = table.iat[r, c]
                ax.text(
                    c, r, str(int(n)), ha="center", va="center", fontsize=6, color="black" if share > 0.5 else "white"
                )
        ax.set_xticks(range(len(chosen)), chosen, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(golds)), golds, fontsize=7)
        ax.set_xlabel("chosen")
        ax.set_title(model, fontsize=9)
    axes[0][0].set_ylabel("gold")
    fig.suptitle("Which failure is taken for which (share of the gold category's questions)")
    return _save(fig, path)


def generator_profiles(profile: pd.DataFrame, path: Path) -> str | None:
    """Per generator: each evaluator's corrected failure rate per category (bars, 95% whiskers) and
    the labelled gold rate (black dots). None when no evaluator has a corrected rate."""
    shown = profile[profile["corrected_rate"].notna()]
    if shown.empty:
        return None
    generators = sorted(shown["generator"].fillna("unknown").unique())
    evaluators = sorted(shown["evaluator"].unique())
    categories = sorted(shown["category"].unique())
    fig, axes = plt.subplots(
        len(generators), 1, figsize=(max(6, 0.9 * len(categories) + 2), 2.6 * len(generators)), squeeze=False
    )
    width = 0.8 / max(len(evaluators), 1)
    for ax, generator in zip(axes[:, 0], generators, strict=True):
        rows = shown[shown["generator"].fillna("unknown") == generator]
        for i, evaluator in enumerate(evaluators):
            own = rows[rows["evaluator"] == evaluator].set_index("category").reindex(categories)
            rate = own["corrected_rate"].to_numpy(dtype=float)
            low = np.nan_to_num(np.clip(rate - own["corrected_ci_low"].to_numpy(dtype=float), 0, None))
            high = np.nan_to_num(np.clip(own["corrected_ci_high"].to_numpy(dtype=float) - rate, 0, None))
            ax.bar(np.arange(len(categories)) + i * width, rate, width, yerr=[low, high], capsize=2, label=evaluator)
        gold = rows.groupby("category")["gold_rate"].first().reindex(categories).to_numpy(dtype=float)
        ax.plot(np.arange(len(categories)) + 0.4 - width / 2, gold, "ko", label="gold rate")
        ax.set_xticks(np.arange(len(categories)) + 0.4 - width / 2, categories, rotation=30, ha="right", fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(f"{generator}: failure rate (Rogan-Gladen corrected)", fontsize=9)
    axes[0, 0].legend(fontsize=7, ncols=min(len(evaluators) + 1, 4))
    return _save(fig, path)

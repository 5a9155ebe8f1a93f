"""Metric tables (one DuckDB writer running `sql/`) and the leaderboard read from them."""

import dagster as dg

from mtavg_assets.assets import OWNERS
from mtavg_assets.assets.clips import clip_catalog
from mtavg_assets.assets.models import model_registry
from mtavg_assets.assets.predictions import predictions
from mtavg_assets.conditions import METRICS, REPORT
from mtavg_assets.resources import MtavgData

# The stage libraries behind these assets (scipy, matplotlib) are imported inside them: every run
# process loads these definitions, and most runs (evaluation, preparation) never build metrics.

DUCKDB_POOL = "duckdb_writer"


@dg.asset(
    group_name="metrics",
    owners=OWNERS,
    tags={"mtavg/stage": "report"},
    kinds={"duckdb", "sql"},
    deps=[predictions, "validated_qa", "qa_rejects", clip_catalog, model_registry],
    automation_condition=METRICS,
    pool=DUCKDB_POOL,
    code_version="metrics-1",
    description="Scores and metric tables in DuckDB, built from the prediction Parquet files by the SQL in sql/.",
)
def metric_tables(mtavg: MtavgData) -> dg.MaterializeResult:
    from mtavg_assets.metrics.build import build_metric_tables

    counts = build_metric_tables(mtavg.layout)
    return dg.MaterializeResult(
        metadata={
            "database": dg.MetadataValue.path(str(mtavg.layout.duckdb_file)),
            "tables": dg.MetadataValue.json(counts),
            "prediction_rows": counts.get("predictions", 0),
        }
    )


@dg.asset(
    group_name="metrics",
    owners=OWNERS,
    tags={"mtavg/stage": "report"},
    kinds={"duckdb"},
    deps=[metric_tables],
    automation_condition=REPORT,
    pool=DUCKDB_POOL,  # reads the database the writer replaces, and writes the plots: one at a time
    code_version="leaderboard-2",
    description="Ranking of evaluators (offline baselines marked, statistical ties flagged) with plots (PNG and SVG "
    "in <data dir>/plots): accuracy by dimension with 95% CIs and chance, a model x category heatmap, which "
    "failure each model takes for which, generator failure profiles; and the static explorer of every answer.",
)
def leaderboard(context: dg.AssetExecutionContext, mtavg: MtavgData) -> dg.MaterializeResult:
    from mtavg_assets.explore import build_explorer
    from mtavg_assets.metrics.build import read_table
    from mtavg_assets.metrics.plots import (
        category_generator_matrix,
        category_heatmap,
        confusion_heatmaps,
        dimension_bars,
        generator_profiles,
    )

    with mtavg.lock("leaderboard", context):
        layout = mtavg.layout
        board = read_table(layout, "leaderboard")
        plots_dir = layout.root / "plots"
        baselines = frozenset(board.loc[board["baseline"].fillna(False).astype(bool), "model"])
        bars = dimension_bars(
            read_table(layout, "metrics_by_dimension"), plots_dir / "accuracy_by_dimension.png", baselines
        )
        heatmap = category_heatmap(read_table(layout, "metrics_by_category"), plots_dir / "accuracy_by_category.png")
        confusion = confusion_heatmaps(read_table(layout, "category_confusion"), plots_dir / "category_confusion.png")
        profile = read_table(layout, "generator_profile")
        profiles = generator_profiles(profile, plots_dir / "generator_profile.png")
        matrix = category_generator_matrix(profile, plots_dir / "category_by_generator.png")
        explorer_dir = layout.root / "explorer"
        explorer = build_explorer(layout, explorer_dir)
        return dg.MaterializeResult(
            metadata={
                "leaderboard": dg.MetadataValue.md(board.to_markdown(index=False)),
                "accuracy_by_dimension": dg.MetadataValue.md(bars),
                "accuracy_by_category": dg.MetadataValue.md(heatmap),
                "category_confusion": dg.MetadataValue.md(confusion or "no choice question lists failure categories"),
                "generator_profile": dg.MetadataValue.md(
                    profiles or "no evaluator better than chance on yes/no questions"
                ),
                "category_by_generator": dg.MetadataValue.md(matrix or "no labelled yes/no questions"),
                "plots": dg.MetadataValue.path(str(plots_dir)),
                "explorer": dg.MetadataValue.path(str(explorer_dir / "index.html")),
                "explorer_serve": f"python -m mtavg_assets --data-dir {layout.root} explore --serve",
                "explorer_seconds": explorer["seconds"],
                "models": len(board),
                "top_model": str(board.iloc[0]["model"]) if len(board) else "none",
            }
        )

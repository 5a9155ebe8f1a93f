"""Metric tables (one DuckDB writer running `sql/`) and the leaderboard read from them."""

import dagster as dg

from mtavg_assets.assets.clips import clip_catalog
from mtavg_assets.assets.models import model_registry
from mtavg_assets.assets.predictions import predictions
from mtavg_assets.metrics.build import build_metric_tables, read_table
from mtavg_assets.resources import MtavgData

DUCKDB_POOL = "duckdb_writer"


@dg.asset(
    group_name="metrics",
    kinds={"duckdb", "sql"},
    deps=[predictions, "validated_qa", "qa_rejects", clip_catalog, model_registry],
    pool=DUCKDB_POOL,
    code_version="metrics-1",
    description="Scores and metric tables in DuckDB, built from the prediction Parquet files by the SQL in sql/.",
)
def metric_tables(mtavg: MtavgData) -> dg.MaterializeResult:
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
    kinds={"duckdb"},
    deps=[metric_tables],
    description="Ranking of evaluators (offline baselines marked), as shown by the main job.",
)
def leaderboard(mtavg: MtavgData) -> dg.MaterializeResult:
    board = read_table(mtavg.layout, "leaderboard")
    return dg.MaterializeResult(
        metadata={
            "leaderboard": dg.MetadataValue.md(board.to_markdown(index=False)),
            "models": len(board),
            "top_model": str(board.iloc[0]["model"]) if len(board) else "none",
        }
    )

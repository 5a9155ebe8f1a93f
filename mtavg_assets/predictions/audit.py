"""Audit of the prediction files: (model, instance_id, rotation) is a key, and every row sits in
its own model's folder. The metric build scores only such rows; this lists the others."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from mtavg_assets.predictions.store import KEY, with_rotation
from mtavg_assets.settings import DataLayout

AUDIT_COLUMNS = ["folder", "model", "instance_id", "rotation", "copies", "problem"]
DUPLICATE = "duplicate key"
MISPLACED = "model column does not match folder"


def audit_predictions(layout: DataLayout) -> pd.DataFrame:
    """One row per problem key: duplicates within a folder, and rows filed under another folder."""
    problems = []
    folder_root = layout.predictions_dir
    files = sorted(folder_root.glob("*/predictions.parquet")) if folder_root.is_dir() else []
    for path in files:
        rows = pq.read_table(path, columns=[c for c in KEY if c in pq.read_schema(path).names]).to_pandas()
        rows = with_rotation(rows.reindex(columns=KEY))
        folder = path.parent.name
        counts = rows.groupby(KEY, dropna=False).size().rename("copies").reset_index()
        for row in counts[counts["copies"] > 1].itertuples():
            problems.append((folder, row.model, row.instance_id, row.rotation, row.copies, DUPLICATE))
        for row in counts[counts["model"] != folder].itertuples():
            problems.append((folder, row.model, row.instance_id, row.rotation, row.copies, MISPLACED))
    return pd.DataFrame(problems, columns=AUDIT_COLUMNS)

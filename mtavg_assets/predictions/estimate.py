"""What evaluating each registered entry would cost before any call (and without any key): the
cells still to ask after the cache, input and output tokens from the model family's rates
(frames x tokens per frame at the fps actually sent, audio seconds, the thinking allowance), the
cost at the entry's prices, and the wall time its rate limits allow."""

from __future__ import annotations

import pandas as pd

from mtavg_assets.predictions.costs import estimate_cells
from mtavg_assets.predictions.runner import select_cells
from mtavg_assets.predictions.store import PredictionStore

COLUMNS = [
    "model",
    "family",
    "media",
    "to_ask",
    "answered",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "minutes_at_rate_limit",
    "key",
]


def estimate(layout, entries, instances: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for entry in entries:
        cells, answered = select_cells(instances, PredictionStore(layout, entry.name).load(), entry)
        planned = estimate_cells(entry, cells)
        limits = []
        if entry.rate_limit_rpm:
            limits.append(len(cells) / entry.rate_limit_rpm)
        if entry.rate_limit_tpm:
            limits.append(planned.input_tokens / entry.rate_limit_tpm)
        rows.append(
            {
                "model": entry.name,
                "family": entry.caps.family,
                "media": entry.media,
                "to_ask": len(cells),
                "answered": answered,
                "input_tokens": round(planned.input_tokens),
                "output_tokens": round(planned.output_tokens),
                "cost_usd": None if planned.cost_usd is None else round(planned.cost_usd, 4),
                "minutes_at_rate_limit": round(max(limits), 1) if limits else None,
                "key": "not needed" if not entry.api_key_env else ("missing" if entry.missing_key else "set"),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)

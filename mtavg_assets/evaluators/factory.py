"""Build the evaluator for a registry entry."""

from __future__ import annotations

import pandas as pd

from mtavg_assets.evaluators.base import Evaluator
from mtavg_assets.evaluators.offline import PriorEvaluator, RandomEvaluator
from mtavg_assets.registry import ModelEntry


def build_evaluator(entry: ModelEntry, instances: pd.DataFrame) -> Evaluator:
    if entry.provider == "random":
        return RandomEvaluator(entry)
    if entry.provider == "prior":
        return PriorEvaluator(entry, instances)
    from mtavg_assets.evaluators.api import build_api_evaluator

    return build_api_evaluator(entry)

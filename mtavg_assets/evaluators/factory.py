"""Build the evaluator for a registry entry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mtavg_assets.evaluators.base import Evaluator
from mtavg_assets.evaluators.offline import PriorEvaluator, RandomEvaluator
from mtavg_assets.registry import ModelEntry


def build_evaluator(entry: ModelEntry, instances: pd.DataFrame, state_dir: Path | None = None) -> Evaluator:
    if entry.provider == "random":
        return RandomEvaluator(entry)
    if entry.provider == "prior":
        return PriorEvaluator(entry, instances)
    from mtavg_assets.evaluators.providers import build_api_evaluator

    return build_api_evaluator(entry, state_dir)

"""Declarative Automation: what runs when, as conditions on the assets themselves
(`mtavg_assets/conditions.py`), evaluated by the `mtavg_automation` sensor.

    raw inputs (external assets) ── input_changes sensor reports a new version when a file changes
    prepare assets (catalog, QA, registry, media)   eager: when an input they read changes
    predictions [one partition per model]            eager (a new model, new or changed QA or media)
                                                     or the nightly cron tick; never while an
                                                     upstream asset is still being made, and only
                                                     once every blocking check upstream passed
    metric_tables, leaderboard                       eager: once, after the evaluations settle

A predictions run asks only cells not yet answered under the current cache key, so a night with
no change asks no model; a new model or QA line asks exactly its new cells, then the metrics are
rebuilt once. The `mtavg_automation` sensor evaluates the conditions (every 30 s by default,
`MTAVG_AUTOMATION_INTERVAL_S`); requests spanning partitioned and unpartitioned assets are
launched as one backfill, which runs them in dependency order.
"""

import json
import os

import dagster as dg

from mtavg_assets.assets.inputs import input_versions
from mtavg_assets.resources import MtavgData

INTERVAL_ENV = "MTAVG_AUTOMATION_INTERVAL_S"
DATA_VERSION_TAG = "dagster/data_version"


def interval_s() -> int:
    return int(os.environ.get(INTERVAL_ENV, "30"))


@dg.sensor(
    minimum_interval_seconds=interval_s(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports a new version of a raw input (QA files, clips, models.yaml, taxonomy.yaml) when one of "
    "its files changes; Declarative Automation then prepares, evaluates and reports what depends on it.",
)
def input_changes(context: dg.SensorEvaluationContext, mtavg: MtavgData) -> dg.SensorResult:
    versions = input_versions(mtavg.layout)
    known = json.loads(context.cursor) if context.cursor else {}
    changed = [key for key, version in versions.items() if known.get(key) != version]
    if not changed:
        return dg.SensorResult(skip_reason="inputs unchanged")
    return dg.SensorResult(
        asset_events=[
            dg.AssetMaterialization(
                asset_key=key, tags={DATA_VERSION_TAG: versions[key]}, metadata={"version": versions[key]}
            )
            for key in changed
        ],
        cursor=json.dumps(versions, sort_keys=True),
    )


automation_sensor = dg.AutomationConditionSensorDefinition(
    "mtavg_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=interval_s(),
    description="Evaluates the automation conditions of every asset (see mtavg_assets/automation.py).",
)

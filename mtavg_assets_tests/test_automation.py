"""Declarative Automation, tick by tick, as the daemon runs it: which assets and partitions each
evaluation requests, and what executing those requests asks of the models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd

from mtavg_assets import automation
from mtavg_assets.resources import MtavgData

PREPARE_ASSETS = {"clip_catalog", "clip_media", "qa_instances", "validated_qa", "qa_rejects", "qa_subsets"}
REPORT_ASSETS = {"metric_tables", "leaderboard"}


class Daemon:
    """The sensor that reports input changes, the automation tick, and the runs it would launch
    (executed in dependency order, as the backfill the daemon emits would run them)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.sensor_cursor = None
        self.cursor = None

    def observe(self) -> list[str]:
        context = dg.build_sensor_context(
            instance=self.pipeline.instance,
            cursor=self.sensor_cursor,
            resources={"mtavg": MtavgData(data_dir=str(self.pipeline.layout.root))},
        )
        result = automation.input_changes(context)
        for event in result.asset_events:
            self.pipeline.instance.report_runless_asset_event(event)
        self.sensor_cursor = result.cursor or self.sensor_cursor
        return sorted(e.asset_key.to_user_string() for e in result.asset_events)

    def tick(self, when: datetime | None = None) -> dict[str, set]:
        result = dg.evaluate_automation_conditions(
            defs=self.pipeline.defs, instance=self.pipeline.instance, cursor=self.cursor, evaluation_time=when
        )
        self.cursor = result.cursor
        keys = self.pipeline.defs.resolve_asset_graph().get_all_asset_keys()
        return {
            key.to_user_string(): result.get_requested_partitions(key)
            for key in keys
            if result.get_requested_partitions(key)
        }

    def execute(self, requested: dict[str, set]) -> dict[str, dict]:
        """Materialize exactly what was requested (with the checks of those assets), unpartitioned
        assets first, then each model partition, then the reports: the order of the backfill the
        daemon launches. Returns the predictions metadata per partition."""
        from mtavg_assets.definitions import ALL_ASSETS, ALL_CHECKS

        resources = {"mtavg": MtavgData(data_dir=str(self.pipeline.layout.root))}

        def run(keys, partition=None):
            result = dg.materialize(
                [*ALL_ASSETS, *ALL_CHECKS],
                selection=dg.AssetSelection.assets(*keys),
                partition_key=partition,
                instance=self.pipeline.instance,
                resources=resources,
            )
            assert result.success
            return result

        prepare = sorted(set(requested) - REPORT_ASSETS - {"predictions"})
        if prepare:
            run(prepare)
        evaluated = {}
        for partition in sorted(requested.get("predictions", ())):
            result = run(["predictions"], partition)
            evaluated[partition] = self.pipeline.materializations(result, "predictions")[0]
        reports = sorted(set(requested) & REPORT_ASSETS)
        if reports:
            run(reports)
        return evaluated


def test_a_first_start_prepares_then_evaluates_every_model_then_reports(pipeline):
    daemon = Daemon(pipeline)
    assert daemon.observe() == ["clip_files", "models_file", "qa_files", "taxonomy_file"]
    first = daemon.tick()
    assert set(first) == PREPARE_ASSETS | {"model_registry"}  # no model partition exists yet
    daemon.execute(first)
    second = daemon.tick()
    assert second == {"predictions": {"random", "prior"}}
    evaluated = daemon.execute(second)
    assert all(meta["asked_now"] == meta["instances"] for meta in evaluated.values())
    report = daemon.tick()
    assert set(report) == REPORT_ASSETS  # once the evaluations are done
    daemon.execute(report)
    assert daemon.tick() == {}  # settled
    assert daemon.observe() == [] and daemon.tick() == {}


def _settle(daemon: Daemon, max_ticks: int = 6) -> list[dict]:
    """Tick and execute until nothing is requested; the requests of each tick."""
    ticks = []
    for _ in range(max_ticks):
        requested = daemon.tick()
        if not requested:
            return ticks
        ticks.append({"requested": requested, "evaluated": daemon.execute(requested)})
    raise AssertionError(f"still requesting after {max_ticks} ticks: {ticks[-1]['requested']}")


def _settled(pipeline) -> Daemon:
    daemon = Daemon(pipeline)
    daemon.observe()
    _settle(daemon)
    return daemon


def test_a_night_with_no_change_asks_no_model(pipeline):
    daemon = _settled(pipeline)
    daemon.tick(datetime(2099, 1, 1, 1, 59, tzinfo=UTC))
    night = daemon.tick(datetime(2099, 1, 1, 2, 1, tzinfo=UTC))
    assert night == {"predictions": {"random", "prior"}}
    evaluated = daemon.execute(night)
    assert [meta["calls"] for meta in evaluated.values()] == [0, 0]
    assert set(daemon.tick(datetime(2099, 1, 1, 2, 2, tzinfo=UTC))) == REPORT_ASSETS


def test_a_new_parser_version_rereads_every_model_once_without_asking(pipeline):
    from mtavg_assets.definitions import ALL_ASSETS, build_definitions

    daemon = _settled(pipeline)
    assert daemon.tick() == {}
    upgraded = [
        a.map_asset_specs(lambda spec: spec.replace_attributes(code_version="predictions-1+parser-next"))
        if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("predictions") in a.keys
        else a
        for a in ALL_ASSETS
    ]
    base = build_definitions(str(pipeline.layout.root))
    pipeline.defs = dg.Definitions(
        assets=upgraded, asset_checks=base.asset_checks, resources=base.resources, jobs=base.jobs
    )
    deployed = daemon.tick()
    assert deployed == {"predictions": {"random", "prior"}}
    evaluated = daemon.execute(deployed)
    assert [meta["calls"] for meta in evaluated.values()] == [0, 0]
    reports = daemon.tick()
    assert set(reports) == REPORT_ASSETS
    daemon.execute(reports)
    assert daemon.tick() == {}  # once per new version, not every tick


def test_a_new_qa_line_asks_exactly_its_cells_and_rebuilds_metrics_once(pipeline):
    daemon = _settled(pipeline)
    source = (pipeline.layout.qa_dir / "demo_core.jsonl").read_text().splitlines()[0]
    record = json.loads(source)
    with (pipeline.layout.qa_dir / "added.jsonl").open("w") as fh:
        fh.write(json.dumps({**record, "instance_id": "added-1", "question": record["question"] + " (v2)"}) + "\n")
    assert daemon.observe() == ["qa_files"]
    ticks = _settle(daemon)
    requested = [set(t["requested"]) for t in ticks]
    assert "model_registry" not in set().union(*requested) and "clip_catalog" not in set().union(*requested)
    evaluations = [t["evaluated"] for t in ticks if t["evaluated"]]
    assert len(evaluations) == 1 and set(evaluations[0]) == {"random", "prior"}
    assert [(m["asked_now"], m["calls"]) for m in evaluations[0].values()] == [(1, 1), (1, 1)]
    assert sum(bool(r & REPORT_ASSETS) for r in requested) == 1  # one metrics rebuild


def test_a_new_model_asks_only_its_partition_and_a_removed_model_leaves(pipeline):
    daemon = _settled(pipeline)
    models = pipeline.layout.models_file
    models.write_text(models.read_text() + "  - {name: random-2, provider: random, seed: 2}\n")
    assert daemon.observe() == ["models_file"]
    ticks = _settle(daemon)
    evaluations = [t["evaluated"] for t in ticks if t["evaluated"]]
    assert evaluations == [{"random-2": evaluations[0]["random-2"]}]  # the other models are not re-run
    assert evaluations[0]["random-2"]["asked_now"] == evaluations[0]["random-2"]["instances"]
    assert sum(bool(set(t["requested"]) & REPORT_ASSETS) for t in ticks) == 1
    models.write_text(models.read_text().replace("  - {name: random-2, provider: random, seed: 2}\n", ""))
    daemon.observe()
    ticks = _settle(daemon)
    assert pipeline.instance.get_dynamic_partitions("models") == ["random", "prior"]
    assert not [t for t in ticks if t["evaluated"]]  # removing a model evaluates nothing...
    assert sum(bool(set(t["requested"]) & REPORT_ASSETS) for t in ticks) == 1  # ...and rebuilds the metrics
    with duckdb.connect(str(pipeline.layout.duckdb_file), read_only=True) as con:
        board = {m for (m,) in con.execute("SELECT model FROM leaderboard").fetchall()}
    assert board == {"random", "prior"}


def test_a_failed_quality_check_blocks_evaluation(pipeline):
    daemon = _settled(pipeline)
    source = (pipeline.layout.qa_dir / "demo_core.jsonl").read_text().splitlines()[0]
    record = json.loads(source)
    with (pipeline.layout.qa_dir / "added.jsonl").open("w") as fh:
        fh.write(json.dumps({**record, "instance_id": "added-1", "question": "new?"}) + "\n")
    daemon.observe()
    prepare = daemon.tick()
    assert "validated_qa" in prepare and "predictions" not in prepare  # evaluation waits for the checks
    daemon.execute(prepare)
    path = pipeline.layout.derived("validated_qa")
    valid = pd.read_parquet(path)
    pd.concat([valid, valid.iloc[[0]]]).to_parquet(path, index=False)  # a duplicated id slips in
    assert not pipeline.run("check_qa").success  # the blocking check now fails
    assert "predictions" not in daemon.tick()
    result = pipeline.run("evaluate_model", partition_key="random")  # and a manual launch is refused
    assert not result.success
    assert "failed its data-quality checks" in result.get_step_failure_events()[0].event_specific_data.error.message


def test_every_evaluation_run_carries_its_provider_tag(pipeline):
    assert pipeline.run("prepare_benchmark").success
    result = pipeline.run("evaluate_model", partition_key="prior")
    assert result.success and result.dagster_run.tags["mtavg/provider"] == "prior"


def test_a_failing_prepare_step_is_not_retried_every_tick(pipeline):
    """A broken input fails the prepare run; the next ticks wait for a change instead of looping."""
    (pipeline.layout.root / "taxonomy.yaml").write_text("version: broken\n")  # no dimensions: unusable
    daemon = Daemon(pipeline)
    daemon.observe()
    first = daemon.tick()
    assert "validated_qa" in first
    from mtavg_assets.definitions import ALL_ASSETS, ALL_CHECKS

    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=dg.AssetSelection.assets(*first),
        instance=pipeline.instance,
        resources={"mtavg": MtavgData(data_dir=str(pipeline.layout.root))},
        raise_on_error=False,
    )
    assert not result.success
    assert "validated_qa" not in daemon.tick() and "validated_qa" not in daemon.tick()


def test_a_check_still_planned_elsewhere_does_not_hide_a_completed_one(pipeline):
    """Another run that planned the QA checks but has not finished them (here: it failed before
    reaching them) must not block evaluation of a file whose checks already passed."""
    from mtavg_assets.definitions import ALL_ASSETS, ALL_CHECKS

    assert pipeline.run("prepare_benchmark").success
    taxonomy = pipeline.layout.root / "taxonomy.yaml"
    good = taxonomy.read_text()
    taxonomy.write_text("version: broken\n")
    failed = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=dg.AssetSelection.assets("validated_qa", "qa_rejects"),
        instance=pipeline.instance,
        resources={"mtavg": MtavgData(data_dir=str(pipeline.layout.root))},
        raise_on_error=False,
    )
    assert not failed.success  # its checks stay planned, never executed
    taxonomy.write_text(good)
    assert pipeline.run("evaluate_model", partition_key="random").success

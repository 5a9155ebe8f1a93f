"""Shared fixtures: a small rendered demo benchmark and a way to run the Dagster jobs on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mtavg_assets.settings import DEFAULT_DATA_DIR, REPO_ROOT, DataLayout

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

OFFLINE_MODELS = """models:
  - name: random
    provider: random
    seed: 7
  - name: prior
    provider: prior
"""


def new_layout(root: Path, models_yaml: str = OFFLINE_MODELS) -> DataLayout:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULT_DATA_DIR / "taxonomy.yaml", root / "taxonomy.yaml")
    (root / "models.yaml").write_text(models_yaml)
    return DataLayout(root)


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory) -> DataLayout:
    """Rendered once per session: 4 episodes (12 clips); tests copy it before changing anything."""
    from mtavg_assets.demo.generate import generate_demo

    layout = new_layout(tmp_path_factory.mktemp("demo_source"))
    generate_demo(layout, n_episodes=4, seed=11)
    return layout


@pytest.fixture
def demo_layout(demo_source: DataLayout, tmp_path: Path) -> DataLayout:
    """A private copy of the demo benchmark that a test may modify."""
    target = tmp_path / "data"
    shutil.copytree(demo_source.root, target)
    return DataLayout(target)


def text_only_instances(n: int):
    """n three-option choice questions with no clip (validated_qa columns): for driving an API
    evaluator against a test server without media."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "instance_id": f"q{i:03d}",
                "question_type": "mcq",
                "question": f"Which one? [q{i}]",
                "options": ["a", "b", "c"],
                "n_options": 3,
                "answer": "A",
                "content_hash": f"h{i}",
                "clip_duration_s": 5.0,
                "n_clips": 0,
                "clip_sha256s": [],
            }
            for i in range(n)
        ]
    )


def tag_questions(layout) -> dict:
    """Append each instance id to its question, so the fake server knows which one it is asked."""
    gold = {}
    for path in layout.qa_dir.glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row["question"] += f" [{row['instance_id']}]"
            gold[row["instance_id"]] = row
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return gold


def register_with_keys(layout: DataLayout, models_yaml: str) -> dict:
    """Register models.yaml as the asset does and return the current cache key of every cell,
    {(model, instance_id, rotation): key}: hand-written prediction rows must carry it to be scored."""
    from mtavg_assets.metrics.build import register

    keys = register(layout, models_yaml)
    columns = ["model", "instance_id", "rotation", "cache_key"]
    return {(m, i, int(r)): k for m, i, r, k in keys[columns].itertuples(index=False)}


def write_scored_benchmark(
    layout: DataLayout, valid, clip_ids: list[str], duration_s: float, answers: dict, qa_rejects=None
) -> None:
    """The inputs of a metric build without running prepare: validated QA, its rejects, the clip
    catalog, a registry of one API entry per model of `answers`, and each model's prediction rows
    under its current cache keys: answers[model][instance_id] = (status, letter, (start, end) or None)."""
    import pandas as pd

    from mtavg_assets.parquet_io import write_parquet
    from mtavg_assets.predictions.store import PredictionStore

    empty_rejects = {c: pd.Series([], dtype=str) for c in ("source_file", "instance_id", "reason", "record_json")}
    write_parquet(valid, layout.derived("validated_qa"))
    write_parquet(pd.DataFrame(empty_rejects) if qa_rejects is None else qa_rejects, layout.derived("qa_rejects"))
    write_parquet(pd.DataFrame({"clip_id": clip_ids, "duration_s": duration_s}), layout.derived("clip_catalog"))
    write_parquet(
        pd.DataFrame({"clip_id": pd.Series([], dtype=str), "reason": pd.Series([], dtype=str)}),
        layout.derived("clip_rejects"),
    )
    models = "".join(f"  - {{name: {m}, provider: openai, model: x, api_key_env: K}}\n" for m in answers)
    keys = register_with_keys(layout, "models:\n" + models)
    for model, cells in answers.items():
        store = PredictionStore(layout, model)
        for iid, (status, value) in cells.items():
            span = value if isinstance(value, tuple) else (None, None)
            store.append(
                {
                    "model": model,
                    "instance_id": iid,
                    "status": status,
                    "cache_key": keys[(model, iid, 0)],
                    "instance_content_hash": f"h-{iid}",
                    "attempts": 1,
                    "parsed_answer": value if isinstance(value, str) else None,
                    "parsed_span_start": span[0],
                    "parsed_span_end": span[1],
                    "created_at": "2026-12-02T00:00:00",
                }
            )
        store.compact()


def run_cli(command: str, data_dir: Path, dagster_home: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m mtavg_assets <command>` on a data directory, as a user would run it."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["MTAVG_DATA_DIR"] = str(data_dir)
    if dagster_home:
        env["DAGSTER_HOME"] = str(dagster_home)
    return subprocess.run(
        [sys.executable, "-m", "mtavg_assets", *command.split()],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class PipelineRunner:
    """Runs the project's jobs against one data directory on an ephemeral instance."""

    def __init__(self, layout: DataLayout):
        from mtavg_assets.definitions import build_definitions

        self.layout = layout
        self.defs = build_definitions(str(layout.root))
        self.instance = dg.DagsterInstance.ephemeral()

    def run(self, job: str, partition_key: str | None = None, run_config: dict | None = None):
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=partition_key, run_config=run_config, raise_on_error=False
        )

    def register(self) -> None:
        """Materialize model_registry alone (after editing models.yaml), as the asset page would."""
        from mtavg_assets.assets.models import model_registry
        from mtavg_assets.resources import MtavgData

        result = dg.materialize(
            [model_registry],
            instance=self.instance,
            resources={"mtavg": MtavgData(data_dir=str(self.layout.root))},
        )
        assert result.success

    def materializations(self, result, asset: str) -> list[dict]:
        return [
            {k: v.value for k, v in event.materialization.metadata.items()}
            for event in result.get_asset_materialization_events()
            if event.asset_key == dg.AssetKey(asset)
        ]

    def run_all(self, models: list[str]) -> dict:
        assert self.run("prepare_benchmark").success
        metadata = {}
        for model in models:
            result = self.run("evaluate_model", partition_key=model)
            assert result.success, model
            metadata[model] = self.materializations(result, "predictions")[0]
        assert self.run("build_metrics").success
        return metadata


@pytest.fixture
def pipeline(demo_layout: DataLayout) -> PipelineRunner:
    return PipelineRunner(demo_layout)

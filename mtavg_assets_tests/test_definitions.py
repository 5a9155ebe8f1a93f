"""The Dagster definitions load the way `dagster dev` loads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mtavg_assets.settings import REPO_ROOT


def test_definitions_validate_from_the_workspace(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_dg_checks_and_lists_the_project(tmp_path):
    """`dg check defs` and `dg list defs` work on the project (a dg project: [tool.dg] in pyproject)."""
    dg_cli = Path(sys.executable).with_name("dg")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(Path(sys.executable).parent.parent)}
    check = subprocess.run(
        [str(dg_cli), "check", "defs"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr
    listed = subprocess.run(
        [str(dg_cli), "list", "defs", "--json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert listed.returncode == 0, listed.stderr
    assert '"predictions"' in listed.stdout and '"leaderboard"' in listed.stdout


def test_every_asset_has_an_owner_a_stage_and_a_description():
    from mtavg_assets.definitions import defs

    for spec in defs.resolve_all_asset_specs():
        assert spec.owners and spec.description and "mtavg/stage" in spec.tags, spec.key


def test_asset_graph_matches_the_design():
    from mtavg_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys >= {
        "clip_catalog",
        "clip_media",
        "qa_instances",
        "validated_qa",
        "qa_rejects",
        "qa_subsets",
        "model_registry",
        "predictions",
        "metric_tables",
        "leaderboard",
    }
    parents = {k.to_user_string() for k in graph.get(dg_key("predictions")).parent_keys}
    assert parents == {"validated_qa", "clip_media", "model_registry"}
    assert "predictions" in {k.to_user_string() for k in graph.get(dg_key("metric_tables")).parent_keys}


def dg_key(name: str):
    import dagster as dg

    return dg.AssetKey(name)

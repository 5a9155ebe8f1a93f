"""`python -m mtavg_assets estimate`: before any call and without keys, per entry the cells still to
ask, tokens from the family's rates at the fps actually sent, cost and time under the rate limit."""

from __future__ import annotations

import pytest

from mtavg_assets.predictions.estimate import estimate
from mtavg_assets.registry import load_registry
from mtavg_assets_tests.conftest import run_cli

MODELS = """models:
  - {name: random, provider: random, seed: 7}
  - name: flash
    provider: gemini
    model: gemini-2.5-flash
    api_key_env: MTAVG_ESTIMATE_UNSET_KEY
    rate_limit_rpm: 60
    generation: {thinking_budget: 0}
    price: {input_per_mtok: 0.30, output_per_mtok: 2.50}
"""


def test_estimate_counts_cells_tokens_cost_and_time_without_keys(pipeline):
    layout = pipeline.layout
    pipeline.run_all(["random"])
    layout.models_file.write_text(MODELS)
    instances = layout.read("validated_qa")
    table = estimate(layout, load_registry(layout.models_file).entries, instances).set_index("model")
    assert table.loc["random", "to_ask"] == 0 and table.loc["random", "answered"] == len(instances)
    flash = table.loc["flash"]
    assert flash["to_ask"] == len(instances) and flash["key"] == "missing"
    # by hand: 150 prompt tokens + per second of clip 258 tokens per frame at the fps sent
    # (1 fps, 2 fps for temporal questions) + 32 audio tokens; 20 answer tokens, thinking off
    seconds = instances["clip_duration_s"] * instances["n_clips"]
    fps = instances["question_type"].map(lambda q: 2.0 if q == "temporal" else 1.0)
    tokens_in = (150 + seconds * (fps * 258 + 32)).sum()
    assert flash["input_tokens"] == round(tokens_in) and flash["output_tokens"] == 20 * len(instances)
    assert flash["cost_usd"] == pytest.approx(round((tokens_in * 0.30 + 20 * len(instances) * 2.50) / 1e6, 4))
    assert flash["minutes_at_rate_limit"] == pytest.approx(round(len(instances) / 60, 1))
    done = run_cli("estimate", layout.root)
    assert done.returncode == 0, done.stderr
    assert "flash" in done.stdout and "missing" in done.stdout and "cells to ask" in done.stdout


def test_estimate_without_a_prepared_benchmark_says_what_to_do(tmp_path):
    done = run_cli("estimate", tmp_path)
    assert done.returncode == 2 and "run `python -m mtavg_assets run`" in done.stderr


def test_run_on_a_directory_without_a_benchmark_is_an_error_not_an_empty_result(tmp_path):
    typo = tmp_path / "bechmark"
    done = run_cli(f"--data-dir {typo} run", tmp_path)
    assert done.returncode == 2 and "no benchmark in" in done.stderr and str(typo) in done.stderr


def test_a_models_yaml_syntax_error_fails_the_run_with_its_line(pipeline):
    layout = pipeline.layout
    pipeline.run_all(["random"])
    layout.models_file.write_text("models:\n  - {name: random, provider: random\n")
    done = run_cli("run", layout.root)
    assert done.returncode != 0 and "not valid YAML at line" in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith(str(layout.models_file))]  # said once
    assert "not valid YAML at line 3" in line and "None" not in line and "nan" not in line

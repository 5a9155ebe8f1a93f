"""Registry entries are validated one by one; the prediction store survives a cut-off journal."""

from __future__ import annotations

import pytest

from mtavg_assets.predictions.store import PredictionStore
from mtavg_assets.registry import load_registry
from mtavg_assets.settings import DataLayout


def test_bad_entries_are_recorded_and_good_ones_kept(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("""models:
  - {name: random, provider: random}
  - {name: random, provider: prior}
  - {name: UPPER, provider: random}
  - {name: g, provider: gemini, model: gemini-2.5-flash}
  - {name: vllm, provider: openai_compatible, model: qwen}
  - {name: weird, provider: random, colour: blue}
  - {name: conc, provider: random, concurrency: 0}
  - just a string
  - {name: ok-api, provider: openai, model: gpt-4o, api_key_env: OPENAI_API_KEY, media: frames, frames: 6}
  - {name: prior, provider: prior}
""")
    load = load_registry(path)
    assert [e.name for e in load.entries] == ["ok-api", "prior"]
    assert load.entries[0].media_recipe == "frames@6"
    reasons = [bad["reason"] for bad in load.invalid]
    assert reasons[:2] == ["duplicate name: 2 entries are named 'random'"] * 2
    assert reasons[2].startswith("name: must be 1-100 characters")
    assert reasons[3:] == [
        "api_key_env (name of the environment variable holding the key) is required",
        "openai_compatible entries need base_url",
        "colour: Extra inputs are not permitted",
        "concurrency: Input should be greater than or equal to 1",
        "entry is not a mapping",
    ]


def test_invalid_yaml_is_one_recorded_error(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("models: [unclosed")
    load = load_registry(path)
    assert load.entries == [] and "not valid YAML" in load.invalid[0]["reason"]


def test_journal_with_a_cut_line_resumes_every_complete_row(tmp_path):
    store = PredictionStore(DataLayout(tmp_path), "m")
    for i in range(3):
        store.append({"model": "m", "instance_id": f"q{i}", "status": "ok", "parsed_answer": "A", "attempts": 1})
    with store.journal_path.open("a") as fh:
        fh.write('{"model": "m", "instance_id": "q3", "sta')  # killed mid-write
    rows = PredictionStore(DataLayout(tmp_path), "m").compact()
    assert sorted(rows["instance_id"]) == ["q0", "q1", "q2"]
    assert not store.journal_path.exists() and store.parquet_path.exists()
    again = PredictionStore(DataLayout(tmp_path), "m")
    again.append({"model": "m", "instance_id": "q1", "status": "unparseable", "attempts": 2})
    latest = again.compact().set_index("instance_id")
    assert latest.loc["q1", "status"] == "unparseable" and len(latest) == 3
    assert latest.loc["q1", "attempts"] == pytest.approx(2)


def test_an_answer_after_a_torn_line_is_kept(tmp_path):
    """A run killed mid-write leaves a line without newline; the next run's first answer must not
    be glued onto it."""
    store = PredictionStore(DataLayout(tmp_path), "m")
    store.append({"model": "m", "instance_id": "q0", "status": "ok", "parsed_answer": "A", "attempts": 1})
    with store.journal_path.open("a") as fh:
        fh.write('{"model": "m", "instance_id": "q1", "sta')  # killed mid-write
    resumed = PredictionStore(DataLayout(tmp_path), "m")
    for i in (1, 2):
        resumed.append({"model": "m", "instance_id": f"q{i}", "status": "ok", "parsed_answer": "B", "attempts": 1})
    rows = resumed.compact()
    assert sorted(rows["instance_id"]) == ["q0", "q1", "q2"]

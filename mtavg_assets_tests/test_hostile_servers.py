"""Servers and proxies that misbehave, through the real SDKs: hostile usage fields, a Retry-After of
a day, bodies that are huge, endless or a gzip bomb, an HTML page with status 200, and a redirect to
another host. Each costs one cell a status with its reason; none hangs, exhausts memory, poisons
the partition or sends the request elsewhere."""

from __future__ import annotations

import asyncio
import json
import time

import dagster as dg
import pandas as pd
import pytest

from mtavg_assets.evaluators.providers import build_api_evaluator
from mtavg_assets.predictions.runner import evaluate_cells, select_cells
from mtavg_assets.predictions.store import PredictionStore
from mtavg_assets.registry import parse_entry
from mtavg_assets.settings import DataLayout
from mtavg_assets_tests.conftest import text_only_instances
from mtavg_assets_tests.fake_providers import FakeConfig, FakeProviderServer

KEY_ENV = "MTAVG_HOSTILE_KEY"
INSTANCES = text_only_instances(2)


def _entry(provider: str, server: FakeProviderServer, **extra) -> dict:
    common = {"name": "m", "model": "omni", "api_key_env": KEY_ENV, "max_retries": 2, "retry_initial_s": 0.01}
    if provider == "gemini":
        return {**common, "provider": "gemini", "model": "gemini-2.5-flash", "base_url": server.base_url, **extra}
    return {**common, "provider": "openai_compatible", "base_url": f"{server.base_url}/v1", "media": "frames", **extra}


def _ask(tmp_path, raw: dict) -> tuple[pd.DataFrame, float]:
    entry = parse_entry(raw)
    store = PredictionStore(DataLayout(tmp_path), entry.name)
    cells, _ = select_cells(INSTANCES, store.load(), entry)
    started = time.monotonic()
    asyncio.run(evaluate_cells(build_api_evaluator(entry), cells, store))
    return store.compact().set_index("instance_id"), time.monotonic() - started


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-hostile-test-key")


@pytest.mark.parametrize("provider", ["openai_compatible", "gemini"])
def test_hostile_usage_fields_are_unknown_and_never_poison_the_partition(tmp_path, provider):
    usage = (
        {"promptTokenCount": 10**30, "candidatesTokenCount": -5, "totalTokenCount": 1}
        if provider == "gemini"
        else {"prompt_tokens": 10**30, "completion_tokens": "lots", "total_tokens": True}
    )
    price = {"price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    with FakeProviderServer(FakeConfig(usage=usage)) as server:
        rows, _ = _ask(tmp_path, _entry(provider, server, **price))
    assert set(rows["status"]) == {"ok"}
    assert rows["input_tokens"].isna().all() and rows["output_tokens"].isna().all() and rows["cost_usd"].isna().all()
    with FakeProviderServer(FakeConfig()) as server:  # the partition runs on, against a healthy server
        again, _ = _ask(tmp_path / "again", _entry(provider, server, **price))
    assert set(again["status"]) == {"ok"} and (again["cost_usd"] > 0).all()


def test_a_journal_poisoned_by_an_earlier_version_still_loads(tmp_path):
    store = PredictionStore(DataLayout(tmp_path), "m")
    store.journal_path.parent.mkdir(parents=True)
    good = {"model": "m", "instance_id": "q0", "rotation": 0, "status": "ok", "cache_key": "k", "attempts": 1}
    lines = [
        {**good, "input_tokens": 10**30, "output_tokens": "12", "cost_usd": "free", "latency_s": 0.5},
        {**good, "instance_id": "q1", "input_tokens": 7, "received_audio": "yes", "rotation": "1"},
    ]
    store.journal_path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rows = store.compact().set_index("instance_id")
    assert pd.isna(rows.loc["q0", "input_tokens"]) and pd.isna(rows.loc["q0", "output_tokens"])
    assert pd.isna(rows.loc["q0", "cost_usd"]) and rows.loc["q1", "input_tokens"] == 7
    assert pd.isna(rows.loc["q1", "received_audio"])


@pytest.mark.parametrize("provider", ["openai_compatible", "gemini"])
def test_a_wait_longer_than_max_retry_wait_s_ends_the_cell_instead_of_sleeping(tmp_path, provider):
    config = FakeConfig(fault_rate=1.0, faults=("429",), retry_after_s=100000)
    with FakeProviderServer(config) as server:
        rows, wall = _ask(tmp_path, _entry(provider, server, max_retry_wait_s=30))
    assert wall < 20 and set(rows["status"]) == {"rate_limited"} and (rows["attempts"] == 1).all()
    assert rows["error"].str.contains("over max_retry_wait_s 30s").all()


@pytest.mark.parametrize("provider", ["openai_compatible", "gemini"])
@pytest.mark.parametrize("fault", ["huge", "endless", "bomb"])
def test_reply_bodies_are_read_within_a_size_limit(tmp_path, provider, fault):
    with FakeProviderServer(FakeConfig(fault_rate=1.0, faults=(fault,))) as server:
        limit = {"transport": {"max_reply_bytes": 1 << 20}, "timeout_s": 60}
        rows, wall = _ask(tmp_path, _entry(provider, server, **limit))
        sent = server.state.endless_bytes
    assert set(rows["status"]) == {"error"} and (rows["attempts"] == 1).all()  # final: not asked again
    assert rows["error"].str.contains("reply body over 1,048,576 bytes").all(), rows["error"].tolist()
    assert wall < 30
    if fault == "endless":  # the client stopped reading near the limit (socket buffers aside)
        assert sent < 64 * (1 << 20)


@pytest.mark.parametrize("provider", ["openai_compatible", "gemini"])
def test_an_html_page_with_status_200_is_a_retried_error_with_a_clear_reason(tmp_path, provider):
    with FakeProviderServer(FakeConfig(fault_rate=1.0, faults=("html",))) as server:
        rows, _ = _ask(tmp_path, _entry(provider, server))
    assert set(rows["status"]) == {"error"} and (rows["attempts"] == 3).all()
    assert rows["error"].str.contains("not a chat completion|not JSON").all(), rows["error"].tolist()


@pytest.mark.parametrize("provider", ["openai_compatible", "gemini"])
def test_a_redirect_to_another_server_is_never_followed(tmp_path, provider):
    with FakeProviderServer(FakeConfig()) as stranger:
        config = FakeConfig(fault_rate=1.0, faults=("redirect",), redirect_to=stranger.base_url)
        with FakeProviderServer(config) as server:
            rows, _ = _ask(tmp_path, _entry(provider, server))
        assert stranger.model_calls == 0 and not stranger.state.api_keys
    assert set(rows["status"]) == {"error"} and (rows["attempts"] == 1).all()
    assert rows["error"].str.contains("refused a request to http://127.0.0.1").all(), rows["error"].tolist()


@pytest.mark.parametrize(
    "config", [{"lock_timeout_s": -5}, {"lock_timeout_s": 1e12}, {"budget_usd": -1.0}, {"budget_usd": float("nan")}]
)
def test_run_config_refuses_negative_absurd_or_non_finite_values(pipeline, config):
    assert pipeline.run("prepare_benchmark").success
    bad = {"ops": {"predictions": {"config": config}}}
    try:
        result = pipeline.run("evaluate_model", partition_key="random", run_config=bad)
        refused = not result.success
    except dg.DagsterInvalidConfigError:
        refused = True
    assert refused and not pipeline.layout.predictions_file("random").exists()  # before any cell was asked
    assert pipeline.run("evaluate_model", partition_key="random").success  # the same run, configured sanely


def test_gemini_waits_as_long_as_its_429_body_says(tmp_path):
    """No Retry-After header: the wait comes from RetryInfo / "Please retry in" in the body."""
    config = FakeConfig(faults=("429",), first_faults=1, retry_after_s=2)
    with FakeProviderServer(config) as server:
        rows, wall = _ask(tmp_path, _entry("gemini", server, concurrency=1, max_retry_wait_s=30))
    assert set(rows["status"]) == {"ok"} and sorted(rows["attempts"]) == [1, 2]
    assert wall >= 2.0  # the backoff alone (0.01 s) would have retried at once, into the quota


def test_the_retry_delay_is_read_from_either_place_in_a_google_error_body():
    from mtavg_assets.evaluators.api import rpc_retry_delay

    info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "58s"}
    assert rpc_retry_delay({"error": {"message": "Please retry in 58.93s.", "details": [info]}}) == 58.0
    assert rpc_retry_delay({"error": {"message": "Quota exceeded. Please retry in 9.372s."}}) == 9.372
    assert rpc_retry_delay({"error": {"message": "Please retry in 250ms"}}) == 0.25
    assert rpc_retry_delay({"error": {"message": "try later"}}) is None and rpc_retry_delay(["x"]) is None


def test_a_reasoning_model_with_an_output_limit_gets_max_completion_tokens(tmp_path):
    with FakeProviderServer(FakeConfig()) as server:
        raw = _entry("openai_compatible", server, model="gpt-5-mini", generation={"max_output_tokens": 64})
        rows, _ = _ask(tmp_path, raw)
        bodies = server.state.bodies
    assert set(rows["status"]) == {"ok"}
    assert all(b.get("max_completion_tokens") == 64 and "max_tokens" not in b for b in bodies)


def test_the_bounded_transport_keeps_the_environments_proxy(monkeypatch):
    from mtavg_assets.evaluators.http import BoundedTransport

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert "Proxy" in type(BoundedTransport("https://api.openai.com/v1").inner._pool).__name__
    assert "Proxy" not in type(BoundedTransport("http://127.0.0.1:8000/v1").inner._pool).__name__

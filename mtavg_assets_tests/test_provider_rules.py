"""Real providers as they behave: the registry refuses what a model family refuses (and the test
server, written from the providers' documents, refuses the same request when the registry is told
to let it through), quotas are waited out or stop the run, thinking is billed, the recorded cost is
the bill, a missing model fails before any cell, and what answered is recorded."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pandas as pd
import pytest

from mtavg_assets.evaluators.providers import build_api_evaluator
from mtavg_assets.predictions.runner import evaluate_cells, select_cells
from mtavg_assets.predictions.store import PredictionStore
from mtavg_assets.registry import RegistryError, parse_entry
from mtavg_assets.settings import DataLayout
from mtavg_assets.task.status import ALL_STATUSES, FINAL_STATUSES, MISSING, RETRYABLE_STATUSES
from mtavg_assets_tests.conftest import text_only_instances
from mtavg_assets_tests.fake_providers import FakeConfig, FakeProviderServer, _field

KEY_ENV = "MTAVG_RULES_KEY"


def _entry(server: FakeProviderServer, provider: str, model: str, **extra) -> dict:
    base = server.base_url if provider == "gemini" else f"{server.base_url}/v1"
    return {
        "name": "m",
        "provider": provider,
        "model": model,
        "base_url": base,
        "api_key_env": KEY_ENV,
        "retry_initial_s": 0.01,
        **extra,
    }


def _ask(tmp_path: Path, raw: dict, n: int = 6):
    entry = parse_entry(raw)
    store = PredictionStore(DataLayout(tmp_path), entry.name)
    cells, _ = select_cells(text_only_instances(n), store.load(), entry)
    summary = asyncio.run(evaluate_cells(build_api_evaluator(entry), cells, store))
    return store.compact(), summary


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-rules-test-key")


REFUSED = [
    # (what, entry fields, words the reason must hold, capabilities that let it through to the server)
    (
        "audio model with frames",
        {"provider": "openai", "model": "gpt-audio", "media": "frames"},
        ["media 'frames'", "audio"],
        {"media": ["frames"]},
    ),
    (
        "vision model with frames and audio",
        {"provider": "openai", "model": "gpt-4o", "media": "frames_audio"},
        ["images and audio in one request"],
        {"media": ["frames_audio"]},
    ),
    (
        "gpt-5 with temperature",
        {"provider": "openai", "model": "gpt-5", "generation": {"temperature": 0.0}},
        ["temperature"],
        {"sampling": "yes"},
    ),
    (
        "gpt-5.1 reasoning with top_p",
        {"provider": "openai", "model": "gpt-5.1", "generation": {"top_p": 0.5, "reasoning_effort": "low"}},
        ["top_p", "reasoning_effort: none"],
        {"sampling": "yes"},
    ),
    (
        "o3 with minimal effort",
        {"provider": "openai", "model": "o3", "generation": {"reasoning_effort": "minimal"}},
        ["reasoning_effort 'minimal'"],
        {"reasoning_efforts": ["minimal"]},
    ),
    (
        "gpt-5.1 with minimal effort",
        {"provider": "openai", "model": "gpt-5.1", "generation": {"reasoning_effort": "minimal"}},
        ["reasoning_effort 'minimal'"],
        {"reasoning_efforts": ["minimal"]},
    ),
    (
        "2.5 Pro with thinking off",
        {"provider": "gemini", "model": "gemini-2.5-pro", "generation": {"thinking_budget": 0}},
        ["cannot be turned off"],
        {"thinking_off": True},
    ),
    (
        "Gemini 3 with a budget and a level",
        {
            "provider": "gemini",
            "model": "gemini-3-flash-preview",
            "generation": {"thinking_budget": 1024, "thinking_level": "low"},
        },
        ["set one of generation.thinking_budget and generation.thinking_level"],
        None,  # no capability lets both through; the test server refuses them (_gemini_rules)
    ),
]


@pytest.mark.parametrize("what,fields,words,through", REFUSED, ids=[r[0] for r in REFUSED])
def test_what_a_family_refuses_is_refused_at_registration_and_by_the_server(tmp_path, what, fields, words, through):
    with FakeProviderServer(FakeConfig()) as server:
        raw = _entry(
            server,
            fields["provider"],
            fields["model"],
            **{k: v for k, v in fields.items() if k not in ("provider", "model")},
        )
        with pytest.raises(RegistryError) as refused:
            parse_entry(raw)
        for word in words:
            assert word in str(refused.value), str(refused.value)
        if through is None:
            return  # no capability lets this request through
        # Let it through: the test server (written from the provider's documents) refuses it as well,
        # so the table and the service agree. Frames need clip media, so those go through _content.
        forced = {**raw, "capabilities": through, "max_retries": 0}
        if "media" in fields and fields["media"] != "none":
            entry = parse_entry(forced)
            assert entry.media == fields["media"]
            return _the_server_refuses_media(server, entry)
        rows, summary = _ask(tmp_path, forced, n=5)
    assert set(rows["status"]) == {"error"} and rows["error"].str.contains("HTTP 400").all()
    assert summary.stopped and "failed alike" in summary.stopped


def _the_server_refuses_media(server, entry) -> None:
    """Send one request carrying the media mode's parts (a 1x1 frame, a tiny WAV) straight to the server."""
    import base64
    import tempfile

    from mtavg_assets.evaluators.base import EvalRequest, EvaluatorError

    evaluator = build_api_evaluator(entry)
    jpeg = base64.b64decode(
        "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////"
        "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
    )
    with tempfile.TemporaryDirectory() as folder:
        frame, audio = Path(folder, "f.jpg"), Path(folder, "a.wav")
        frame.write_bytes(jpeg)
        audio.write_bytes(b"RIFF$\0\0\0WAVEfmt \x10\0\0\0\1\0\1\0\x80>\0\0\0}\0\0\2\0\x10\0data\0\0\0\0")
        media = [{"frames": [str(frame)], "frame_times": [0.5], "audio": str(audio), "has_audio": True}]
        request = EvalRequest({"question_type": "mcq", "options": ["a", "b"]}, "Which?", media)
        with pytest.raises(EvaluatorError) as failed:
            asyncio.run(evaluator.answer(request))
    assert "HTTP 400" in str(failed.value) and "does not support" in str(failed.value)


def test_each_family_gets_its_own_default_media_and_unknown_self_hosted_models_take_every_media():
    assert parse_entry({"name": "a", "provider": "openai", "model": "gpt-4.1", "api_key_env": "K"}).media == "frames"
    assert parse_entry({"name": "a", "provider": "openai", "model": "gpt-audio", "api_key_env": "K"}).media == "audio"
    assert (
        parse_entry({"name": "a", "provider": "gemini", "model": "gemini-3-pro-preview", "api_key_env": "K"}).media
        == "video"
    )
    for media in ("video", "video_and_audio", "frames_audio", "frames", "audio"):
        raw = {"name": "a", "provider": "openai_compatible", "model": "my-own-omni", "base_url": "http://x/v1"}
        assert parse_entry({**raw, "media": media}).media == media
    with pytest.raises(RegistryError, match="video_fps 30.0 is over 24.0"):
        parse_entry(
            {
                "name": "a",
                "provider": "gemini",
                "model": "gemini-2.5-flash",
                "api_key_env": "K",
                "generation": {"video_fps": 30.0},
            }
        )
    with pytest.raises(RegistryError, match="max_output_tokens 16 leaves no room"):
        parse_entry(
            {
                "name": "a",
                "provider": "gemini",
                "model": "gemini-2.5-flash",
                "api_key_env": "K",
                "generation": {"max_output_tokens": 16},
            }
        )
    # thinking off: a small limit is fine
    parse_entry(
        {
            "name": "a",
            "provider": "gemini",
            "model": "gemini-2.5-flash",
            "api_key_env": "K",
            "generation": {"max_output_tokens": 16, "thinking_budget": 0},
        }
    )


@pytest.mark.parametrize("provider,model", [("gemini", "gemini-2.5-flash"), ("openai", "gpt-4.1-mini")])
def test_a_per_minute_quota_is_waited_out_not_failed(tmp_path, provider, model):
    config = FakeConfig(quota_rpm=6, quota_window_s=0.5)
    with FakeProviderServer(config) as server:
        rows, summary = _ask(tmp_path, _entry(server, provider, model, concurrency=8, max_retries=0), n=30)
    assert len(rows) == 30 and set(rows["status"]) == {"ok"}  # max_retries 0: the waits were not attempts
    assert server.state.quota_429s["minute"] > 0 and summary.rate_limit_waits == server.state.quota_429s["minute"]
    assert summary.window_cuts > 0  # the concurrency window came down to the quota


def test_a_daily_quota_stops_the_run_and_leaves_the_rest_unasked(tmp_path):
    with FakeProviderServer(FakeConfig(quota_per_day=5)) as server:
        rows, summary = _ask(tmp_path, _entry(server, "gemini", "gemini-2.5-flash", concurrency=2), n=40)
    assert summary.stopped.startswith("daily quota exhausted")
    assert len(rows) == 5 and set(rows["status"]) == {"ok"}  # the rest has no row: asked next time
    assert server.state.quota_429s["day"] <= 2  # one per request in flight, never retried


def test_no_credit_stops_the_run_with_its_message(tmp_path):
    with FakeProviderServer(FakeConfig(insufficient_quota=True)) as server:
        rows, summary = _ask(tmp_path, _entry(server, "openai", "gpt-4.1-mini", concurrency=1), n=10)
    assert rows.empty and "quota or billing exhausted" in summary.stopped and "plan and billing" in summary.stopped
    assert server.state.quota_429s["billing"] == 1


def test_thinking_that_spends_the_token_limit_is_a_configuration_error_billed_and_never_retried(tmp_path):
    price = {"input_per_mtok": 0.3, "output_per_mtok": 2.5}
    with FakeProviderServer(FakeConfig(thoughts=1000)) as server:
        generation = {"thinking_budget": 512, "max_output_tokens": 700}
        raw = _entry(server, "gemini", "gemini-2.5-flash", concurrency=1, generation=generation, price=price)
        rows, summary = _ask(tmp_path, raw, n=8)
    assert len(rows) == 5 and set(rows["status"]) == {"error"} and (rows["attempts"] == 1).all()
    assert (
        rows["error"].str.contains("MAX_TOKENS with no answer").all()
        and rows["error"].str.contains("max_output_tokens").all()
    )
    assert (rows["thinking_tokens"] == 700).all() and (rows["cost_usd"] > 0).all()
    assert "failed alike" in summary.stopped  # five alike: the other three stay unasked
    body = server.state.bodies[0]["generationConfig"]
    assert _field(body["thinkingConfig"], "thinkingBudget") == 512 and body["maxOutputTokens"] == 700


def _gemini_bill(billed, input_rate, audio_rate, output_rate) -> float:
    total = 0.0
    for _api, _model, usage in billed:
        audio = sum(d["tokenCount"] for d in usage.get("promptTokensDetails", []) if d["modality"] == "AUDIO")
        rest = usage["promptTokenCount"] - audio
        out = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
        total += (rest * input_rate + audio * audio_rate + out * output_rate) / 1e6
    return total


def test_the_recorded_cost_is_the_bill_with_thinking_audio_and_failed_billed_attempts(tmp_path, demo_layout):
    """Gemini over the demo clips: video + audio tokens at their own prices, thinking billed as
    output, and blank replies (billed, then retried) added to their cells."""
    from mtavg_assets_tests.conftest import PipelineRunner

    config = FakeConfig(thoughts=300, fault_rate=0.3, faults=("blank",), seed=3)
    with FakeProviderServer(config) as server:
        demo_layout.models_file.write_text(
            f"""models:
  - name: billed
    provider: gemini
    model: gemini-2.5-flash
    base_url: {server.base_url}
    api_key_env: {KEY_ENV}
    max_retries: 6
    retry_initial_s: 0.01
    concurrency: 8
    price: {{input_per_mtok: 0.30, input_audio_per_mtok: 1.00, output_per_mtok: 2.50}}
"""
        )
        runner = PipelineRunner(demo_layout)
        assert runner.run("prepare_benchmark").success
        result = runner.run("evaluate_model", partition_key="billed")
        assert result.success
        rows = pd.read_parquet(demo_layout.predictions_file("billed"))
        bill = _gemini_bill(server.state.billed, 0.30, 1.00, 2.50)
        meta = runner.materializations(result, "predictions")[0]
    assert server.state.faults["blank"] > 0 and (rows["billed_attempts"] > 1).any()
    assert rows["cost_usd"].sum() == pytest.approx(bill, abs=1e-9)  # to the cent and far below it
    assert meta["cost_usd_this_run"] == pytest.approx(bill, abs=1e-6)
    assert (rows["thinking_tokens"] > 0).all() and (rows["input_audio_tokens"] > 0).all()
    assert rows["output_tokens"].sum() == sum(
        u.get("candidatesTokenCount", 0) + u.get("thoughtsTokenCount", 0) for _, _, u in server.state.billed
    )


@pytest.mark.parametrize(
    "provider,model,extra",
    [("gemini", "gemini-9-missing", {}), ("openai", "gpt-4.1-gone", {}), ("openai_compatible", "qwen-omni-typo", {})],
)
def test_a_missing_model_fails_before_any_cell(tmp_path, provider, model, extra):
    config = FakeConfig(missing_models=(model,), listed_models=("Qwen/Qwen2.5-Omni-7B",))
    with FakeProviderServer(config) as server:
        rows, summary = _ask(tmp_path, _entry(server, provider, model, **extra), n=10)
    assert rows.empty and "is not" in summary.stopped and server.model_calls == 0


def test_what_answered_is_recorded_and_another_family_warns(tmp_path):
    with FakeProviderServer(FakeConfig(served_model="gemini-2.0-flash-lite")) as server:
        raw = _entry(server, "gemini", "gemini-2.5-flash")
        rows, summary = _ask(tmp_path, raw, n=4)
    assert set(rows["served_model"]) == {"gemini-2.0-flash-lite"}
    (warning,) = summary.served_warnings(parse_entry(raw))
    assert "gemini-2.0-flash-lite" in warning and "4 replies" in warning


def test_reasoning_tokens_are_read_and_billed_as_output(tmp_path):
    with FakeProviderServer(FakeConfig(thoughts=400)) as server:
        raw = _entry(
            server,
            "openai",
            "gpt-5-mini",
            generation={"reasoning_effort": "low"},
            price={"input_per_mtok": 0.25, "output_per_mtok": 2.0},
        )
        rows, _ = _ask(tmp_path, raw, n=3)
    assert set(rows["status"]) == {"ok"} and (rows["thinking_tokens"] == 400).all()
    assert (rows["output_tokens"] == 410).all()
    assert rows["cost_usd"].sum() == pytest.approx(3 * (200 * 0.25 + 410 * 2.0) / 1e6)
    assert all(b["reasoning_effort"] == "low" and "max_tokens" not in b for b in server.state.bodies)


def test_a_reasoning_model_that_spends_its_limit_on_reasoning_is_a_configuration_error(tmp_path):
    with FakeProviderServer(FakeConfig(thoughts=5000)) as server:
        raw = _entry(server, "openai", "o4-mini", generation={"max_output_tokens": 2000}, concurrency=1)
        rows, summary = _ask(tmp_path, raw, n=6)
    assert set(rows["status"]) == {"error"} and rows["error"].str.contains("max_output_tokens 2000 on reasoning").all()
    assert (rows["attempts"] == 1).all() and "failed alike" in summary.stopped


def test_sql_status_literals_are_the_status_definition():
    literals: set[str] = set()
    for path in Path(__file__).parents[1].joinpath("sql").glob("*.sql"):
        text = path.read_text()
        # a prediction's status (bare or p.status), not a model's (m.status, model_status)
        pattern = r"(?:^|[^\w.]|\bp\.)status\s*(?:=|<>|IN\s*\(|NOT IN\s*\()\s*((?:'[a-z_]+'\s*,?\s*)+)"
        for match in re.finditer(pattern, text, re.IGNORECASE):
            found = re.findall(r"'([a-z_]+)'", match.group(1))
            literals.update(found)
            if len(found) > 1:  # a list of statuses is one of the defined groups, spelled in full
                assert set(found) in (set(RETRYABLE_STATUSES), set(FINAL_STATUSES)), (path.name, found)
    known = {*ALL_STATUSES, MISSING}
    assert literals and literals <= known, literals - known


def test_the_token_limit_paces_requests_by_their_estimated_input():
    """rate_limit_tpm: a 1,000-token allowance per period lets 1,000 tokens through at once and the
    next 500 only after half a period (the limiter refills continuously)."""
    import time

    from mtavg_assets.predictions.pacing import OK, Pacer

    async def three() -> list[float]:
        pacer = Pacer(concurrency=4, tpm=1000, period_s=1.0)
        times = []
        for tokens in (600, 400, 500):
            started = await pacer.acquire(tokens)
            times.append(time.monotonic())
            await pacer.release(OK, started)
        return times

    first, second, third = asyncio.run(three())
    assert second - first < 0.2 and third - second >= 0.45


def test_the_bill_prices_each_modality_and_the_long_context_tier():
    from mtavg_assets.evaluators.base import Usage
    from mtavg_assets.predictions.costs import bill_usd
    from mtavg_assets.registry import Price

    price = Price.model_validate(
        {
            "input_per_mtok": 1.0,
            "output_per_mtok": 4.0,
            "input_audio_per_mtok": 10.0,
            "cached_input_per_mtok": 0.1,
            "long_context": {"above_tokens": 200_000, "input_per_mtok": 2.0, "output_per_mtok": 8.0},
        }
    )
    usage = Usage(
        input_tokens=1000, output_tokens=300, thinking_tokens=200, input_audio_tokens=100, cached_input_tokens=400
    )
    # 500 text at 1, 100 audio at 10, 400 cached at 0.1, 300 output (thinking included) at 4
    assert bill_usd(price, usage) == pytest.approx((500 * 1 + 100 * 10 + 400 * 0.1 + 300 * 4) / 1e6)
    long = Usage(input_tokens=300_000, output_tokens=1000)
    assert bill_usd(price, long) == pytest.approx((300_000 * 2 + 1000 * 8) / 1e6)
    images = Usage(input_tokens=1000, output_tokens=0, input_image_tokens=900)  # no image price: the input price
    assert bill_usd(price, images) == pytest.approx(1000 * 1 / 1e6)


def test_media_resolution_and_thinking_level_reach_gemini_in_its_own_fields(tmp_path):
    with FakeProviderServer(FakeConfig()) as server:
        generation = {"thinking_level": "low", "media_resolution": "low"}
        rows, _ = _ask(tmp_path, _entry(server, "gemini", "gemini-3.8-flash", generation=generation), n=2)
    assert set(rows["status"]) == {"ok"}
    config = server.state.bodies[0]["generationConfig"]
    assert (
        _field(config["thinkingConfig"], "thinkingLevel") == "LOW" and "thinkingBudget" not in config["thinkingConfig"]
    )
    assert _field(config, "mediaResolution") == "MEDIA_RESOLUTION_LOW"


def test_new_settings_leave_the_keys_of_entries_that_do_not_use_them_unchanged():
    """A Gemini video entry's cache key is the one it had before thinking, effort and resolution
    settings existed (computed here from the documented identity), so upgrading re-asks nothing;
    setting one of them, or frames now carrying their times, gives new keys."""
    import hashlib
    import json

    from mtavg_assets.predictions.cache import cache_key
    from mtavg_assets.task.prompts import template_hash

    raw = {"name": "g", "provider": "gemini", "model": "gemini-2.5-flash", "api_key_env": "K"}
    entry = parse_entry(raw)
    generation = {
        "temperature": None,
        "top_p": None,
        "seed": None,
        "max_output_tokens": None,
        "video_fps": 1.0,
        "video_fps_temporal": 2.0,
        "structured_output": True,
        "image_detail": "low",
    }
    identity = {
        "provider": "gemini",
        "model": "gemini-2.5-flash",
        "generation": generation,
        "seed": 0,
        "media_recipe": "video",
        "prompt_version": "v1",
        "prompt_template": template_hash("v1", "mcq"),
        "instance": "h1",
    }
    before = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    assert cache_key(entry, "h1", "mcq") == before
    thinking = parse_entry({**raw, "generation": {"thinking_budget": 0}})
    assert cache_key(thinking, "h1", "mcq") != before
    frames = parse_entry({"name": "o", "provider": "openai", "model": "gpt-4.1", "api_key_env": "K"})
    assert frames.delivery == "frames+times" and "delivery" in frames.output_identity()


def test_ablations_become_their_own_entries_with_their_own_keys():
    import tempfile

    from mtavg_assets.predictions.cache import cache_key
    from mtavg_assets.registry import load_registry

    text = (
        "models:\n"
        "  - {name: g, provider: gemini, model: gemini-2.5-flash, api_key_env: K,\n"
        "     ablations: [audio_off, video_off, text_only]}\n"
        "  - {name: f, provider: openai, model: gpt-4.1, api_key_env: K, ablations: [audio_off]}\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "models.yaml")
        path.write_text(text)
        load = load_registry(path)
    entries = {e.name: e for e in load.entries}
    assert {n: (e.media, e.ablation_of) for n, e in entries.items() if e.ablation} == {
        "g.audio_off": ("video_silent", "g"),
        "g.video_off": ("audio", "g"),
        "g.text_only": ("none", "g"),
    }
    keys = {cache_key(e, "h", "mcq") for n, e in entries.items() if n.startswith("g")}
    assert len(keys) == 4  # every control asks anew
    (bad,) = load.invalid  # frames carry no audio: nothing to remove
    assert bad["name"] == "f.audio_off" and "sends nothing it could remove" in bad["reason"]

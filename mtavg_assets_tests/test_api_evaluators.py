"""Gemini and OpenAI evaluators through the real SDKs against the local fake provider server."""

from __future__ import annotations

import base64
import json
import re
import shutil
import urllib.parse

import duckdb
import pandas as pd
import pytest

from mtavg_assets_tests.conftest import OFFLINE_MODELS, PipelineRunner, run_cli, tag_questions
from mtavg_assets_tests.fake_providers import FAULTS, FakeConfig, FakeProviderServer

SECRET = "sk-test-do-not-leak-1234567890"
GEMINI_FILES = """  - name: gemini-files
    provider: gemini
    model: gemini-2.5-pro
    base_url: BASE
    api_key_env: MTAVG_TEST_KEY
    media: video
    retry_initial_s: 0.01
    generation: {inline_max_bytes: 0, upload_poll_s: 0.01}
"""  # every clip goes through the Files API


def _models(server: FakeProviderServer, extra: str = "") -> str:
    return (
        OFFLINE_MODELS
        + f"""  - name: gpt-fake
    provider: openai
    model: gpt-4.1-mini
    base_url: {server.base_url}/v1
    api_key_env: MTAVG_TEST_KEY
    media: frames
    frames: 4
    concurrency: 8
    max_retries: 6
    timeout_s: 1.0
    retry_initial_s: 0.01
    price: {{input_per_mtok: 2.5, output_per_mtok: 10}}
  - name: gemini-fake
    provider: gemini
    model: gemini-2.5-flash
    base_url: {server.base_url}
    api_key_env: MTAVG_TEST_KEY
    media: video
    concurrency: 8
    max_retries: 6
    timeout_s: 1.0
    retry_initial_s: 0.01
  - name: vllm-frames
    provider: openai_compatible
    model: qwen2.5-omni
    base_url: {server.base_url}/v1
    media: frames
    frames: 3
    retry_initial_s: 0.01
{extra}"""
    )


@pytest.fixture
def api_pipeline(demo_layout, monkeypatch):
    monkeypatch.setenv("MTAVG_TEST_KEY", SECRET)

    def make(config: FakeConfig, extra: str = ""):
        server = FakeProviderServer(config).__enter__()
        demo_layout.models_file.write_text(_models(server, extra))
        runner = PipelineRunner(demo_layout)
        assert runner.run("prepare_benchmark").success
        made.append(server)
        return runner, server

    made: list[FakeProviderServer] = []
    yield make
    for server in made:
        server.__exit__(None, None, None)


def _rows(runner, model):
    return pd.read_parquet(runner.layout.predictions_file(model))


def _bill(server, price_in: float, price_out: float) -> float:
    """The test server's bill of every reply it sent with a body, at flat prices."""
    total = 0.0
    for _api, _model, usage in server.state.billed:
        tokens_in = usage.get("prompt_tokens", usage.get("promptTokenCount", 0))
        tokens_out = usage.get(
            "completion_tokens", usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
        )
        total += (tokens_in * price_in + tokens_out * price_out) / 1e6
    return total


def test_openai_frames_are_sent_with_their_times_and_recorded(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    assert runner.run("evaluate_model", partition_key="gpt-fake").success
    rows = _rows(runner, "gpt-fake")
    valid = pd.read_parquet(runner.layout.derived("validated_qa"))
    assert len(rows) == len(valid) and set(rows["status"]) == {"ok"}
    clip_rows = rows.merge(valid[["instance_id", "n_clips"]], on="instance_id")
    assert (clip_rows["received_frames"] == 4 * clip_rows["n_clips"]).all()
    assert set(rows["received_modalities"]) == {"frames"} and not rows["received_audio"].any()
    first = server.state.bodies[0]["messages"][0]["content"]
    kinds = [part["type"] for part in first]
    assert kinds.count("image_url") >= 4 and "input_audio" not in kinds and kinds[-1] == "text"
    labels = [p["text"] for p in first if p["type"] == "text" and p["text"].startswith("Frame ")]
    assert len(labels) == kinds.count("image_url") and labels[0].startswith("Frame 1 at ") and labels[0].endswith(" s:")
    assert rows["cost_usd"].sum() == pytest.approx(_bill(server, 2.5, 10), abs=1e-9)
    assert set(rows["served_model"]) == {"gpt-4.1-mini"} and rows["response_id"].notna().all()
    assert server.state.api_keys == {SECRET}


def test_openai_audio_model_hears_the_track_and_sees_no_image(api_pipeline):
    extra = """  - name: gpt-audio
    provider: openai
    model: gpt-audio
    base_url: BASE/v1
    api_key_env: MTAVG_TEST_KEY
    retry_initial_s: 0.01
"""
    runner, server = api_pipeline(FakeConfig())
    runner.layout.models_file.write_text(_models(server, extra.replace("BASE", server.base_url)))
    assert runner.run("prepare_benchmark").success  # derives the audio recipe for the new entry
    assert runner.run("evaluate_model", partition_key="gpt-audio").success
    rows = _rows(runner, "gpt-audio")
    assert set(rows["status"]) == {"ok"} and set(rows["received_modalities"]) == {"audio"}
    bodies = [b for b in server.state.bodies if b.get("model") == "gpt-audio"]
    kinds = {part["type"] for b in bodies for part in b["messages"][0]["content"]}
    assert kinds == {"input_audio", "text"} and all("response_format" not in b for b in bodies)
    assert (rows["input_audio_tokens"] > 0).all()


def test_frames_only_mode_is_visible_as_no_audio(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    assert runner.run("evaluate_model", partition_key="vllm-frames").success
    rows = _rows(runner, "vllm-frames")
    assert set(rows["received_modalities"]) == {"frames"} and not rows["received_audio"].any()
    assert all(p["type"] != "input_audio" for p in server.state.bodies[0]["messages"][0]["content"])


def test_gemini_inline_video_with_schema_and_fps(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    assert runner.run("evaluate_model", partition_key="gemini-fake").success
    rows = _rows(runner, "gemini-fake")
    assert set(rows["status"]) == {"ok"} and set(rows["received_modalities"]) == {"video+audio"}
    body = next(b for b in server.state.bodies if "contents" in b)
    video = body["contents"][0]["parts"][0]
    inline = video["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")) == "video/mp4" and video["videoMetadata"]["fps"] == 1.0
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert "responseSchema" in body["generationConfig"]
    assert server.state.uploads == 0


def test_gemini_files_api_uploads_once_per_clip_and_reuses_across_runs(api_pipeline):
    extra = GEMINI_FILES
    runner, server = api_pipeline(FakeConfig(file_polls_until_active=2), "")
    runner.layout.models_file.write_text(_models(server, extra.replace("BASE", server.base_url)))
    assert runner.run("prepare_benchmark").success
    assert runner.run("evaluate_model", partition_key="gemini-files").success
    clips = pd.read_parquet(runner.layout.derived("clip_catalog"))
    assert server.state.uploads == len(clips)
    body = next(b for b in server.state.bodies if "contents" in b)
    file_data = body["contents"][0]["parts"][0]["fileData"]
    assert (file_data.get("fileUri") or file_data.get("file_uri")).startswith(server.base_url)
    # A changed prompt version re-asks every cell, but the uploads are reused from the index.
    runner.layout.models_file.write_text(
        _models(server, extra.replace("BASE", server.base_url) + "    prompt_version: v1\n    seed: 3\n")
    )
    assert runner.run("prepare_benchmark").success
    meta = runner.materializations(runner.run("evaluate_model", partition_key="gemini-files"), "predictions")[0]
    assert meta["asked_now"] > 0 and server.state.uploads == len(clips)
    # The stored uploads are gone on the server (expired early, deleted elsewhere): each call that
    # names one gets a 403, drops it and uploads once more; no cell fails.
    server.state.files.clear()
    runner.layout.models_file.write_text(
        _models(server, extra.replace("BASE", server.base_url) + "    prompt_version: v1\n    seed: 4\n")
    )
    assert runner.run("prepare_benchmark").success
    assert runner.run("evaluate_model", partition_key="gemini-files").success
    assert set(_rows(runner, "gemini-files")["status"]) == {"ok"} and server.state.uploads == 2 * len(clips)


def test_failed_upload_is_an_error_status_not_an_answer(api_pipeline):
    extra = GEMINI_FILES
    runner, server = api_pipeline(FakeConfig(fail_uploads=True))
    runner.layout.models_file.write_text(_models(server, extra.replace("BASE", server.base_url)))
    assert runner.run("prepare_benchmark").success
    assert runner.run("evaluate_model", partition_key="gemini-files").success
    rows = _rows(runner, "gemini-files")
    assert set(rows["status"]) == {"error"} and rows["error"].str.contains("FAILED").all()
    assert rows["parsed_answer"].isna().all()


def test_faults_end_as_answers_or_statuses_with_nothing_lost(api_pipeline):
    runner, server = api_pipeline(FakeConfig(fault_rate=0.2, slow_s=1.5, retry_after_s=0.01, seed=5))
    valid = pd.read_parquet(runner.layout.derived("validated_qa"))
    for model in ("gpt-fake", "gemini-fake"):
        assert runner.run("evaluate_model", partition_key=model).success
        rows = _rows(runner, model)
        assert len(rows) == len(valid) and rows["instance_id"].is_unique
        assert set(rows["instance_id"]) == set(valid["instance_id"])
        assert set(rows["status"]) <= {"ok", "error", "timeout", "rate_limited"}
        assert rows.loc[rows["status"] != "ok", "parsed_answer"].isna().all()
        assert (rows["attempts"] >= 1).all() and (rows["attempts"] > 1).any()
    assert set(server.state.faults) == set(FAULTS)


@pytest.mark.parametrize("fault", ["empty", "blank"])
def test_refusals_and_empty_responses_are_statuses(api_pipeline, fault):
    """No candidates/choices, or HTTP 200 with empty or whitespace-only text (some cut at the token
    limit): retried like a 503, then `error` with reason "empty response", never `unparseable`."""
    runner, server = api_pipeline(FakeConfig(refuse_if="When does", fault_rate=1.0, faults=(fault,)))
    text = runner.layout.models_file.read_text().replace("max_retries: 6", "max_retries: 1")
    runner.layout.models_file.write_text(text)
    runner.register()
    for model in ("gemini-fake", "gpt-fake"):
        assert runner.run("evaluate_model", partition_key=model).success
        rows = _rows(runner, model).merge(pd.read_parquet(runner.layout.derived("validated_qa")), on="instance_id")
        temporal = rows[rows["question_type"] == "temporal"]
        assert set(temporal["status"]) == {"refused"}
        other = rows[rows["question_type"] != "temporal"]
        assert set(other["status"]) == {"error"} and (other["attempts"] == 2).all()
        assert other["error"].str.contains("empty response").all() and other["parsed_answer"].isna().all()


def test_an_oracle_scores_one_despite_empty_replies(demo_layout, api_pipeline):
    """A server that knows every gold answer and sends 3% empty replies: the oracle scores 1.0."""
    gold = tag_questions(demo_layout)

    def oracle(prompt: str) -> str:
        row = gold[re.search(r"\[([^\]]+)\]", prompt).group(1)]
        if row["question_type"] == "temporal":
            return json.dumps({"start": row["answer_span"][0], "end": row["answer_span"][1]})
        return json.dumps({"answer": row["answer"]})

    runner, server = api_pipeline(FakeConfig(fault_rate=0.03, faults=("blank",), policy=oracle, seed=2))
    for model in ("gpt-fake", "gemini-fake"):
        assert runner.run("evaluate_model", partition_key=model).success
    assert server.state.faults["blank"] >= 3
    assert runner.run("build_metrics").success
    with duckdb.connect(str(runner.layout.duckdb_file), read_only=True) as con:
        board = con.execute("SELECT * FROM leaderboard").df().set_index("model")
    for model in ("gpt-fake", "gemini-fake"):
        assert board.loc[model, "accuracy"] == 1.0 and board.loc[model, "temporal_miou"] == 1.0
        assert board.loc[model, "unparseable_rate"] == 0.0 and board.loc[model, "error_rate"] == 0.0
    assert board.loc["gpt-fake", "served_models"] == "gpt-4.1-mini"
    assert board.loc["gemini-fake", "served_models"] == "gemini-2.5-flash"


TRANSPORT_KNOBS = [
    ("timeout_s", "timeout_s: 7.5"),
    ("max_retries", "max_retries: 2"),
    ("retry_initial_s", "retry_initial_s: 0.02"),
    ("concurrency", "concurrency: 3"),
    ("rate_limit_rpm", "rate_limit_rpm: 100000"),
    ("budget_usd", "budget_usd: 1000"),
    ("upload_poll_s", "transport: {upload_poll_s: 0.5}"),
    ("upload_timeout_s", "transport: {upload_timeout_s: 60}"),
    ("inline_max_bytes", "transport: {inline_max_bytes: 99999999}"),
    ("delete_uploads", "transport: {delete_uploads: false}"),
    ("api_version", "transport: {api_version: v1beta}"),
    ("transport under generation", "generation: {upload_poll_s: 0.3}"),
]
ONE_GEMINI = """models:
  - name: g
    provider: gemini
    model: gemini-2.5-flash
    base_url: {base}
    api_key_env: MTAVG_TEST_KEY
{extra}"""


def test_transport_knobs_never_re_ask_but_output_settings_and_template_text_do(api_pipeline, monkeypatch):
    from mtavg_assets.task import prompts

    runner, server = api_pipeline(FakeConfig())
    models = runner.layout.models_file
    models.write_text(ONE_GEMINI.format(base=server.base_url, extra=""))
    runner.register()
    first = runner.materializations(runner.run("evaluate_model", partition_key="g"), "predictions")[0]
    assert first["calls"] == first["instances"] > 0
    for knob, line in TRANSPORT_KNOBS:
        models.write_text(ONE_GEMINI.format(base=server.base_url, extra=f"    {line}\n"))
        runner.register()
        meta = runner.materializations(runner.run("evaluate_model", partition_key="g"), "predictions")[0]
        assert meta["calls"] == 0, knob
    models.write_text(ONE_GEMINI.format(base=server.base_url, extra="    generation: {temperature: 0.5}\n"))
    runner.register()
    meta = runner.materializations(runner.run("evaluate_model", partition_key="g"), "predictions")[0]
    assert meta["asked_now"] == meta["instances"]
    valid = pd.read_parquet(runner.layout.derived("validated_qa"))
    edited = {**prompts.PROMPTS["v1"], "temporal": prompts.PROMPTS["v1"]["temporal"].replace("expert", "careful")}
    monkeypatch.setitem(prompts.PROMPTS, "v1", edited)
    meta = runner.materializations(runner.run("evaluate_model", partition_key="g"), "predictions")[0]
    assert meta["asked_now"] == (valid["question_type"] == "temporal").sum() > 0


def test_rerun_failed_cells_only(api_pipeline):
    runner, server = api_pipeline(FakeConfig(fault_rate=1.0, faults=("500",)))
    text = runner.layout.models_file.read_text().replace("max_retries: 6", "max_retries: 0")
    runner.layout.models_file.write_text(text)
    runner.register()
    assert runner.run("evaluate_model", partition_key="gpt-fake").success
    assert set(_rows(runner, "gpt-fake")["status"]) == {"error"}
    server.config.fault_rate = 0.0
    plain = runner.materializations(runner.run("evaluate_model", partition_key="gpt-fake"), "predictions")[0]
    assert plain["calls"] == 0
    failed = runner.run(
        "evaluate_model", partition_key="gpt-fake", run_config={"ops": {"predictions": {"config": {"mode": "failed"}}}}
    )
    meta = runner.materializations(failed, "predictions")[0]
    assert meta["asked_now"] == meta["calls"] == len(_rows(runner, "gpt-fake"))
    assert set(_rows(runner, "gpt-fake")["status"]) == {"ok"}


def test_budget_stops_cleanly_and_the_rest_runs_later(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    text = runner.layout.models_file.read_text().replace("concurrency: 8", "concurrency: 1", 1)
    runner.layout.models_file.write_text(text)
    runner.register()
    cheap = {"ops": {"predictions": {"config": {"budget_usd": 0.01}}}}
    meta = runner.materializations(
        runner.run("evaluate_model", partition_key="gpt-fake", run_config=cheap), "predictions"
    )[0]
    spent, calls_to_budget = 0.0, 0
    for _api, _model, usage in server.state.billed:  # the bill, call by call, until the budget is met
        spent += (usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10) / 1e6
        calls_to_budget += 1
        if spent >= 0.01:
            break
    assert meta["budget_stopped"] and meta["calls"] == calls_to_budget == len(server.state.billed)
    assert meta["estimated_over_budget"]  # said before the first call (and logged)
    assert meta["input_tokens_this_run"] == sum(u["prompt_tokens"] for _, _, u in server.state.billed)
    assert meta["estimated_input_tokens"] > 0
    assert meta["asked_now"] == meta["calls"] < meta["scheduled_now"]  # asked, not merely scheduled
    rest = runner.materializations(runner.run("evaluate_model", partition_key="gpt-fake"), "predictions")[0]
    assert rest["already_answered"] == meta["calls"] and rest["calls"] == rest["instances"] - meta["calls"]


LEAKY_KEY = "  sk-leak/+=Zq 9 x&y  "  # surrounding white space, and characters URL-encoding changes


def _texts_of_every_output(runner) -> list[str]:
    """Every decoded value of every output: Parquet columns, DuckDB tables, journals and JSON files."""
    texts = []
    for path in runner.layout.root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            texts += [str(v) for column in frame.columns for v in frame[column].tolist()]
        elif path.suffix in (".jsonl", ".json", ".yaml", ".txt", ".md"):
            texts.append(path.read_text(errors="replace"))
    with duckdb.connect(str(runner.layout.duckdb_file), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                texts += [str(v) for v in row]
    return texts


def encoded_forms(key: str) -> list[str]:
    """Every encoding in which the SDKs, HTTP libraries and proxies write a key into a URL, a header
    or a JSON body (what a leaky server can echo back)."""
    import httpx
    import httpx2

    k = key.strip()
    forms = [key, k, json.dumps(k)[1:-1], json.dumps(k, ensure_ascii=True)[1:-1]]
    forms += [urllib.parse.quote(k, safe=s) for s in ("", "/", "/:", "~", "/+=&")]
    forms += [urllib.parse.quote_plus(k), urllib.parse.quote(k, safe="").lower(), urllib.parse.urlencode({"k": k})[2:]]
    forms += [str(lib.URL("http://h/", params={"k": k})).split("k=", 1)[1] for lib in (httpx, httpx2)]
    forms += [base64.b64encode(f.encode()).decode() for f in (k, f":{k}", f"{k}:")]
    forms += [base64.urlsafe_b64encode(k.encode()).decode().rstrip("=")]
    return sorted(set(forms))


def test_every_encoding_of_a_key_is_redacted():
    from mtavg_assets.evaluators.api import redact, secret_forms

    patterns = secret_forms(LEAKY_KEY)
    for form in encoded_forms(LEAKY_KEY):
        assert form.strip() not in redact(f"error: {form} (echoed)", patterns), form
    assert redact("nothing secret here: sk-other", patterns) == "nothing secret here: sk-other"


def test_secrets_never_reach_any_decoded_output_metadata_or_log(api_pipeline, monkeypatch):
    monkeypatch.setenv("MTAVG_TEST_KEY", LEAKY_KEY)
    runner, server = api_pipeline(FakeConfig(fault_rate=0.5, faults=("500", "503"), retry_after_s=0.01, echo_key=True))
    runner.layout.models_file.write_text(
        runner.layout.models_file.read_text().replace("max_retries: 6", "max_retries: 0")
    )
    runner.register()
    forms = [f for f in encoded_forms(LEAKY_KEY) if len(f.strip()) >= 4]
    logs = []
    for model in ("gpt-fake", "gemini-fake"):
        result = runner.run("evaluate_model", partition_key=model)
        logs.append(str(runner.materializations(result, "predictions")))
        logs.append("\n".join(str(event) for event in runner.instance.all_logs(result.run_id)))
    assert server.state.api_keys == {LEAKY_KEY.strip()}  # sent stripped
    monkeypatch.setenv("MTAVG_MIN_COMPLETENESS", "0")  # half the cells failed: rank them anyway, to export them
    assert runner.run("build_metrics").success
    from mtavg_assets.cli import main as cli

    root = str(runner.layout.root)  # what leaves the project: run manifests, the explorer, the export
    assert cli(["--data-dir", root, "explore", "--out", f"{root}/explorer"]) == 0
    assert cli(["--data-dir", root, "export", "--format", "eee", "--out", f"{root}/export"]) == 0
    assert list(runner.layout.root.glob("runs/*/*.json")) and list(runner.layout.root.glob("export/data/*/*/*/*.jsonl"))
    errors = pd.concat([_rows(runner, m) for m in ("gpt-fake", "gemini-fake")])["error"].dropna()
    assert errors.str.contains("\\*\\*\\*").any()  # the echoed key was there, and was redacted
    for text in _texts_of_every_output(runner) + logs:
        for form in forms:
            assert form.strip() not in text


def test_gemini_falls_back_to_text_when_the_model_rejects_the_schema(api_pipeline):
    runner, server = api_pipeline(FakeConfig(reject_schema=True))
    assert runner.run("evaluate_model", partition_key="gemini-fake").success
    rows = _rows(runner, "gemini-fake")
    assert set(rows["status"]) == {"ok"}
    with_schema = [b for b in server.state.bodies if "responseSchema" in b.get("generationConfig", {})]
    assert 1 <= len(with_schema) <= 8  # only the first requests (one per concurrent slot) carried it


def test_openai_asks_with_a_json_schema_and_falls_back_when_the_server_rejects_it(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    assert runner.run("evaluate_model", partition_key="gpt-fake").success
    formats = [b.get("response_format") for b in server.state.bodies]
    assert all(f and f["type"] == "json_schema" for f in formats)
    schemas = [f["json_schema"]["schema"]["properties"] for f in formats]
    assert any("answer" in s and s["answer"]["enum"][0] == "A" for s in schemas)
    assert any(set(s) == {"start", "end"} for s in schemas)

    shutil.rmtree(runner.layout.predictions_file("gpt-fake").parent)  # ask every cell again
    runner, server = api_pipeline(FakeConfig(reject_schema=True))
    assert runner.run("evaluate_model", partition_key="gpt-fake").success
    assert set(_rows(runner, "gpt-fake")["status"]) == {"ok"} and server.model_calls > 0
    with_schema = [b for b in server.state.bodies if "response_format" in b]
    assert 1 <= len(with_schema) <= 8  # only the first requests (one per concurrent slot) carried it


def test_gemini_uploads_are_deleted_at_the_end_when_asked(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    entry = GEMINI_FILES.replace("BASE", server.base_url).replace(
        "upload_poll_s: 0.01}", "upload_poll_s: 0.01, delete_uploads: true}"
    )
    runner.layout.models_file.write_text(_models(server, entry))
    assert runner.run("prepare_benchmark").success
    assert runner.run("evaluate_model", partition_key="gemini-files").success
    assert server.state.uploads > 0 and server.state.deleted == server.state.uploads and not server.state.files
    (index,) = (runner.layout.media_dir / "gemini_uploads").glob("gemini-files-*.json")  # one per key fingerprint
    assert json.loads(index.read_text()) == {} and SECRET not in index.name


def test_missing_media_is_an_error_status_not_a_text_only_call(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    extra = f"""  - name: late-entry
    provider: openai_compatible
    model: omni
    base_url: {server.base_url}/v1
    media: frames
    frames: 5
"""
    runner.layout.models_file.write_text(_models(server, extra))  # registered after clip_media was derived
    runner.register()
    assert runner.run("evaluate_model", partition_key="late-entry").success
    rows = _rows(runner, "late-entry")
    assert set(rows["status"]) == {"error"} and rows["error"].str.contains("materialize clip_media").all()
    assert server.model_calls == 0


def _bodies_of(server, model: str) -> list[dict]:
    return [b for b in server.state.bodies if b.get("model") == model]


def test_vllm_omni_video_interleaves_the_clips_own_audio_and_the_two_stream_form_stays_available(api_pipeline):
    extra = """  - name: omni-video
    provider: openai_compatible
    model: Qwen/Qwen2.5-Omni-7B
    base_url: BASE/v1
    media: video
    retry_initial_s: 0.01
  - name: omni-two-streams
    provider: openai_compatible
    model: Qwen/Qwen2.5-Omni-7B
    base_url: BASE/v1
    media: video_and_audio
    retry_initial_s: 0.01
"""
    runner, server = api_pipeline(FakeConfig())
    runner.layout.models_file.write_text(_models(server, extra.replace("BASE", server.base_url)))
    assert runner.run("prepare_benchmark").success
    for name in ("omni-video", "omni-two-streams"):
        assert runner.run("evaluate_model", partition_key=name).success
    interleaved, two = _rows(runner, "omni-video"), _rows(runner, "omni-two-streams")
    assert set(interleaved["received_modalities"]) == {"video+audio(interleaved)"}
    assert set(two["received_modalities"]) == {"video+audio"}
    assert set(interleaved["cache_key"]).isdisjoint(two["cache_key"])  # two deliveries, two answers
    bodies = _bodies_of(server, "Qwen/Qwen2.5-Omni-7B")
    with_flag = [b for b in bodies if b.get("mm_processor_kwargs") == {"use_audio_in_video": True}]
    without = [b for b in bodies if "mm_processor_kwargs" not in b]
    kinds = [{p["type"] for p in b["messages"][0]["content"]} for b in with_flag]
    assert len(with_flag) == len(interleaved) and all("input_audio" not in k and "video_url" in k for k in kinds)
    assert len(without) == len(two) and all(
        {"video_url", "input_audio"} <= {p["type"] for p in b["messages"][0]["content"]} for b in without
    )


def test_a_drama_over_the_models_video_limit_is_a_cell_error_without_a_call(api_pipeline):
    runner, server = api_pipeline(FakeConfig())
    extra = f"""  - name: one-video
    provider: gemini
    model: gemini-2.5-flash
    base_url: {server.base_url}
    api_key_env: MTAVG_TEST_KEY
    capabilities: {{max_videos: 1}}
    retry_initial_s: 0.01
"""
    runner.layout.models_file.write_text(_models(server, extra))
    assert runner.run("prepare_benchmark").success
    assert runner.run("evaluate_model", partition_key="one-video").success
    rows = _rows(runner, "one-video").merge(
        pd.read_parquet(runner.layout.derived("validated_qa"))[["instance_id", "n_clips"]], on="instance_id"
    )
    dramas = rows[rows["n_clips"] > 1]
    assert len(dramas) > 0 and set(dramas["status"]) == {"error"} and (dramas["attempts"] == 0).all()
    assert dramas["error"].str.contains("takes at most 1 videos per request").all()
    assert set(rows[rows["n_clips"] == 1]["status"]) == {"ok"}
    videos = [sum("inlineData" in p for p in b["contents"][0]["parts"]) for b in server.state.bodies if "contents" in b]
    assert max(videos) == 1


@pytest.mark.parametrize("finish", ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "MODEL_ARMOR", "PROHIBITED_CONTENT"])
def test_gemini_block_reasons_are_refusals(api_pipeline, finish):
    runner, server = api_pipeline(FakeConfig(refuse_if="Which", refusal_finish=finish))
    assert runner.run("evaluate_model", partition_key="gemini-fake").success
    rows = _rows(runner, "gemini-fake")
    asked = rows[rows["status"] == "refused"]
    assert len(asked) > 0 and set(rows["status"]) <= {"ok", "refused"} and (asked["attempts"] == 1).all()


def test_thought_parts_never_enter_the_stored_reply(api_pipeline):
    runner, server = api_pipeline(FakeConfig(thoughts=50, leak_thoughts=True))
    assert runner.run("evaluate_model", partition_key="gemini-fake").success
    rows = _rows(runner, "gemini-fake")
    assert set(rows["status"]) == {"ok"} and not rows["raw_response"].str.contains("Thinking about").any()
    assert (rows["thinking_tokens"] == 50).all()


def test_a_daily_quota_fails_the_partition_with_its_reason_and_keeps_what_was_answered(api_pipeline):
    runner, server = api_pipeline(FakeConfig(quota_per_day=7))
    result = runner.run("evaluate_model", partition_key="gemini-fake")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message + str(failure.event_specific_data.user_failure_data)
    assert "daily quota exhausted" in message and "left unasked" in message
    rows = _rows(runner, "gemini-fake")
    assert len(rows) == 7 and set(rows["status"]) == {"ok"}  # kept; the rest has no row
    server.config.quota_per_day = None  # the next day
    assert runner.run("evaluate_model", partition_key="gemini-fake").success
    valid = pd.read_parquet(runner.layout.derived("validated_qa"))
    assert len(_rows(runner, "gemini-fake")) == len(valid)


def test_a_thinking_server_keeps_its_reasoning_apart_from_the_answer(api_pipeline):
    extra = """  - name: omni-thinking
    provider: openai_compatible
    model: Qwen/Qwen3-Omni-30B-A3B-Thinking
    base_url: BASE/v1
    media: frames
    frames: 2
    retry_initial_s: 0.01
"""
    runner, server = api_pipeline(FakeConfig(thoughts=100))
    runner.layout.models_file.write_text(_models(server, extra.replace("BASE", server.base_url)))
    assert runner.run("prepare_benchmark").success
    assert runner.run("evaluate_model", partition_key="omni-thinking").success
    rows = _rows(runner, "omni-thinking")
    assert set(rows["status"]) == {"ok"} and not rows["raw_response"].str.contains("Let me think").any()
    assert (rows["thinking_tokens"] == 100).all()


def test_modality_ablations_show_which_categories_need_the_audio(demo_layout, api_pipeline):
    """A server that answers right only with the modality a question needs (audio for the
    audio-visual-language dimension, the picture for the others): audio_off drops exactly the
    audio dimension, video_off the others, text_only all; the copies are not ranked."""
    gold = tag_questions(demo_layout)

    def answer(body: dict, prompt: str) -> str:
        row = gold[re.search(r"\[([^\]]+)\]", prompt).group(1)]
        kinds = {p.get("type") for p in body["messages"][0]["content"] if isinstance(p, dict)}
        hears = "input_audio" in kinds or (body.get("mm_processor_kwargs") or {}).get("use_audio_in_video")
        sees = "video_url" in kinds
        right = hears if row["dimension"] == "av_language" else sees
        if row["question_type"] == "temporal":
            start, end = row["answer_span"] if right else (0.0, 0.01)
            return json.dumps({"start": start, "end": end})
        wrong = next(x for x in "ABCD" if x != row["answer"])
        return json.dumps({"answer": row["answer"] if right else wrong})

    extra = """  - name: omni
    provider: openai_compatible
    model: Qwen/Qwen2.5-Omni-7B
    base_url: BASE/v1
    media: video
    retry_initial_s: 0.01
    ablations: [audio_off, video_off, text_only]
"""
    runner, server = api_pipeline(FakeConfig(policy_body=answer))
    runner.layout.models_file.write_text(_models(server, extra.replace("BASE", server.base_url)))
    assert runner.run("prepare_benchmark").success
    for name in ("omni", "omni.audio_off", "omni.video_off", "omni.text_only"):
        assert runner.run("evaluate_model", partition_key=name).success, name
    silent = _rows(runner, "omni.audio_off")
    assert set(silent["received_modalities"]) == {"video"} and not silent["received_audio"].any()
    assert set(_rows(runner, "omni.text_only")["received_modalities"]) == {"text"}
    assert runner.run("build_metrics").success
    with duckdb.connect(str(runner.layout.duckdb_file), read_only=True) as con:
        reliance = con.execute("SELECT * FROM modality_reliance WHERE category IS NULL").df()
        board = set(con.execute("SELECT model FROM leaderboard").df()["model"])
    assert "omni" in board and not any(m.startswith("omni.") for m in board)
    by = {(r.ablation, None if pd.isna(r.dimension) else r.dimension): r for r in reliance.itertuples()}
    assert by[("audio_off", None)].accuracy_full == 1.0
    for dimension in {d for _, d in by if d is not None}:
        audio_question = dimension == "av_language"
        assert by[("audio_off", dimension)].diff == (-1.0 if audio_question else 0.0), dimension
        assert by[("video_off", dimension)].diff == (0.0 if audio_question else -1.0), dimension
        assert by[("text_only", dimension)].diff == -1.0
    for row in reliance.itertuples():  # the demo has few episodes: intervals are wide, never wrong-sided
        assert row.diff_ci_low <= row.diff <= row.diff_ci_high


def test_run_retry_failed_asks_the_failed_cells_again_and_an_incomplete_run_exits_non_zero(api_pipeline):
    runner, server = api_pipeline(FakeConfig(fault_rate=0.3, faults=("500",), retry_after_s=0.01))
    runner.layout.models_file.write_text(
        _models(server).replace("max_retries: 6", "max_retries: 0").split("  - name: gemini-fake")[0]
    )
    runner.register()
    assert runner.run("evaluate_model", partition_key="gpt-fake").success
    failed = int(_rows(runner, "gpt-fake")["status"].isin(["error", "timeout", "rate_limited"]).sum())
    assert failed > 0
    server.config.fault_rate = 0.0
    plain = run_cli("run", runner.layout.root)
    assert "gpt-fake: asked 0 cells" in plain.stdout and "`run --retry-failed`" in plain.stdout
    assert plain.returncode == 1 and "gpt-fake: incomplete, not ranked" in plain.stderr
    retried = run_cli("run --retry-failed", runner.layout.root)
    assert f"gpt-fake: asked {failed} cells" in retried.stdout, retried.stdout[-2000:]
    assert retried.returncode == 0, retried.stderr[-2000:]
    assert set(_rows(runner, "gpt-fake")["status"]) == {"ok"}

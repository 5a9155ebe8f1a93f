"""Every documented registry value that cannot work invalidates its entry alone, with a reason, at
load time; the good entries beside it load, and entries = valid + invalid."""

from __future__ import annotations

import pytest

from mtavg_assets.registry import load_registry

GOOD = "  - {name: good, provider: random}\n"
API = "provider: openai, model: gpt-4o, api_key_env: OPENAI_API_KEY"

CASES = [
    ("gemini with frames", "{name: m, provider: gemini, model: g, api_key_env: K, media: frames}", "cannot be sent"),
    ("openai with video", f"{{name: m, {API}, media: video}}", "cannot be sent"),
    ("infinite timeout", f"{{name: m, {API}, timeout_s: .inf}}", "timeout_s"),
    ("NaN timeout", f"{{name: m, {API}, timeout_s: .nan}}", "timeout_s"),
    ("non-integer concurrency", f"{{name: m, {API}, concurrency: 2.7}}", "concurrency"),
    ("string concurrency", f"{{name: m, {API}, concurrency: '4'}}", "concurrency"),
    ("NaN concurrency", f"{{name: m, {API}, concurrency: .nan}}", "concurrency"),
    ("huge concurrency", f"{{name: m, {API}, concurrency: 100000000}}", "concurrency"),
    ("negative retries", f"{{name: m, {API}, max_retries: -1}}", "max_retries"),
    ("non-string api_key_env", "{name: m, provider: openai, model: x, api_key_env: 123}", "api_key_env"),
    ("a key pasted as api_key_env", "{name: m, provider: openai, model: x, api_key_env: 'sk-abc 123'}", "api_key_env"),
    ("rate limit below 1", f"{{name: m, {API}, rate_limit_rpm: 0.5}}", "rate_limit_rpm"),
    ("price not a mapping", f"{{name: m, {API}, price: 5}}", "price"),
    ("negative price", f"{{name: m, {API}, price: {{input_per_mtok: -1}}}}", "price"),
    ("unknown prompt version", f"{{name: m, {API}, prompt_version: v9}}", "prompt_version"),
    ("string boolean", "{name: m, provider: random, circular: 'no'}", "circular"),
    ("string boolean in transport", f"{{name: m, {API}, transport: {{delete_uploads: 'yes'}}}}", "delete_uploads"),
    ("unknown generation key", f"{{name: m, {API}, generation: {{temprature: 0.2}}}}", "temprature"),
    ("NaN temperature", f"{{name: m, {API}, generation: {{temperature: .nan}}}}", "temperature"),
    ("generation not a mapping", f"{{name: m, {API}, generation: [1]}}", "generation"),
    ("name dot", "{name: '.', provider: random}", "name"),
    ("name dot-dot", "{name: '..', provider: random}", "name"),
    ("name with trailing newline", '{name: "m\\n", provider: random}', "name"),
    ("name with slash", "{name: 'a/b', provider: random}", "name"),
    ("empty name", "{name: '', provider: random}", "name"),
    ("numeric name", "{name: 5, provider: random}", "name"),
    ("huge name", "{name: " + "a" * 500 + ", provider: random}", "name"),
    ("missing provider", "{name: m}", "provider"),
    ("unknown provider", "{name: m, provider: anthropic}", "provider"),
    ("not a mapping", "[1, 2]", "not a mapping"),
    ("null entry", "null", "not a mapping"),
]


@pytest.mark.parametrize("label, entry, needle", CASES, ids=[c[0] for c in CASES])
def test_each_bad_value_invalidates_its_entry_alone(tmp_path, label, entry, needle):
    path = tmp_path / "models.yaml"
    path.write_text(f"models:\n{GOOD}  - {entry}\n")
    load = load_registry(path)
    assert [e.name for e in load.entries] == ["good"], label
    assert len(load.invalid) == 1 and load.invalid[0]["index"] == 1
    assert needle in load.invalid[0]["reason"], load.invalid[0]["reason"]


def test_duplicate_names_invalidate_every_copy(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(f"models:\n{GOOD}  - {{name: twin, provider: random}}\n  - {{name: twin, provider: openai}}\n")
    load = load_registry(path)
    assert [e.name for e in load.entries] == ["good"]
    assert [b["name"] for b in load.invalid] == ["twin", "twin"]
    assert all("duplicate name" in b["reason"] for b in load.invalid)


@pytest.mark.parametrize(
    "text",
    ["models: {a: 1}\n", "models: 5\n", "just text\n", "- 1\n- [\n", "models: [ {name: x, api_key_env: LEAKY_LINE\n"],
)
def test_a_broken_file_is_one_reason_that_echoes_no_line(tmp_path, text):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    load = load_registry(path)
    assert load.entries == [] and len(load.invalid) >= 1
    for bad in load.invalid:
        assert "LEAKY_LINE" not in bad["reason"] and "api_key_env" not in bad["reason"]


def test_transport_keys_under_generation_move_out_of_the_cache_key(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n  - {name: g, provider: gemini, model: x, api_key_env: K, "
        "generation: {temperature: 0.1, upload_poll_s: 0.5}}\n"
    )
    entry = load_registry(path).entries[0]
    assert entry.transport.upload_poll_s == 0.5 and entry.generation.temperature == 0.1
    assert "upload_poll_s" not in entry.output_identity()["generation"]

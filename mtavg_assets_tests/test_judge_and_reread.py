"""A parser change re-reads stored replies without asking the model again; the optional judge
reads what the rules cannot, is cached per reply, and the leaderboard shows strict and
judge-assisted accuracy side by side."""

from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtavg_assets.predictions.store import SCHEMA
from mtavg_assets.registry import load_registry
from mtavg_assets.task.parsing import PARSER_VERSION
from mtavg_assets_tests.conftest import PipelineRunner, tag_questions
from mtavg_assets_tests.fake_providers import FakeConfig, FakeProviderServer

MODEL = """  - name: chatty
    provider: openai
    model: chatty-omni
    base_url: {base}/v1
    api_key_env: MTAVG_TEST_KEY
    media: frames
    frames: 2
    retry_initial_s: 0.01
{judge}"""
JUDGE = """  - name: reader
    provider: openai_compatible
    model: reader-llm
    base_url: {base}/v1
    media: frames
    retry_initial_s: 0.01
"""


def abstains(iid: str) -> bool:
    return sum(map(ord, iid)) % 3 == 0


def _policy(gold: dict, judge_says: dict):
    """The model: a draft then a final answer (gold) for even-numbered questions; for the others,
    prose the rules cannot read ("the second one"), or two spans with no final one. The judge reads
    them back to the gold letter or span, or abstains."""

    def reply(prompt: str) -> str:
        iid = re.search(r"\[([^\]]+)\]", prompt).group(1)
        row = gold[iid]
        if "Do not answer the question yourself" in prompt:
            judge_says[iid] = judge_says.get(iid, 0) + 1
            if abstains(iid):
                return json.dumps({"answer": re.search(r"([A-Z])\. The reply commits to no single", prompt).group(1)})
            if row["question_type"] == "temporal":
                start, end = row["answer_span"]
                return json.dumps({"answer": re.search(rf"([A-Z])\. from {start:g} s to {end:g} s", prompt).group(1)})
            return json.dumps({"answer": row["answer"]})
        even = sum(map(ord, iid)) % 2 == 0
        if row["question_type"] == "temporal":
            start, end = row["answer_span"]
            if even:
                return f"It starts at {start} seconds and ends at {end} seconds."
            return f"Either from 0.01 to 0.02 seconds or from {start} to {end} seconds, I am not sure."
        wrong = "B" if row["answer"] == "A" else "A"
        if even:
            return f"Draft: the answer is {wrong}.\nChecking again, the final answer is {row['answer']}."
        return "Honestly, going by the frames, the second one I think."

    return reply


@pytest.fixture
def chatty(demo_layout, monkeypatch):
    monkeypatch.setenv("MTAVG_TEST_KEY", "sk-test")
    gold = tag_questions(demo_layout)
    judge_says: dict = {}
    with FakeProviderServer(FakeConfig(policy=_policy(gold, judge_says))) as server:
        runner = PipelineRunner(demo_layout)

        def configure(with_judge: bool) -> None:
            text = "models:\n" + MODEL.format(base=server.base_url, judge="    judge: reader\n" if with_judge else "")
            demo_layout.models_file.write_text(text + JUDGE.format(base=server.base_url))
            runner.register()

        configure(False)
        assert runner.run("prepare_benchmark").success
        yield runner, server, gold, judge_says, configure


def _evaluate(runner) -> dict:
    result = runner.run("evaluate_model", partition_key="chatty")
    assert result.success
    return runner.materializations(result, "predictions")[0]


def test_a_parser_change_rereads_stored_replies_without_asking_again(chatty):
    runner, server, gold, _, _ = chatty
    first = _evaluate(runner)
    path = runner.layout.predictions_file("chatty")
    rows = pd.read_parquet(path)
    assert (rows["parser_version"] == PARSER_VERSION).all() and (rows["parsed_by"] == "rules").all()
    drafts = rows[rows["raw_response"].str.startswith("Draft")]
    assert len(drafts) > 5 and (drafts["status"] == "ok").all()
    # what an older parser stored: the draft's letter, or nothing, under version "1"
    old = rows.copy()
    old["parser_version"] = "1"
    old.loc[drafts.index, "parsed_answer"] = ["B" if gold[i]["answer"] == "A" else "A" for i in drafts["instance_id"]]
    pq.write_table(pa.Table.from_pandas(old, schema=SCHEMA, preserve_index=False), path)
    calls = server.model_calls
    again = _evaluate(runner)
    assert server.model_calls == calls and again["calls"] == 0
    assert again["reread_by_parser"] == rows["status"].isin(["ok", "unparseable"]).sum()
    reread = pd.read_parquet(path).set_index(["instance_id", "rotation"])
    assert (reread["parser_version"] == PARSER_VERSION).all()
    for iid in drafts["instance_id"]:
        assert reread.loc[(iid, 0), "parsed_answer"] == gold[iid]["answer"]
    assert first["calls"] == first["instances"]


def test_the_judge_reads_what_the_rules_cannot_once_and_metrics_show_both(chatty):
    runner, server, gold, judge_says, configure = chatty
    _evaluate(runner)
    rules_only = pd.read_parquet(runner.layout.predictions_file("chatty"))
    prose = rules_only[rules_only["status"] == "unparseable"]
    assert len(prose) > 5 and prose["raw_response"].str.startswith(("Honestly", "Either")).all()
    assert prose["raw_response"].str.startswith("Either").sum() >= 2

    configure(True)
    meta = _evaluate(runner)
    assert meta["calls"] == 0 and meta["judge"] == "reader"
    abstained = [i for i in prose["instance_id"] if abstains(i)]
    read = [i for i in prose["instance_id"] if not abstains(i)]
    assert abstained and read
    assert meta["judge_calls"] == len(prose) and meta["judged_now"] == len(read)
    judged = pd.read_parquet(runner.layout.predictions_file("chatty")).set_index("instance_id")
    for iid in read:
        assert judged.loc[iid, "status"] == "ok" and judged.loc[iid, "parsed_by"] == "judge"
        assert judged.loc[iid, "judge_key"]
        if gold[iid]["question_type"] == "temporal":  # the span the reply mentioned, chosen by the judge
            span = (judged.loc[iid, "parsed_span_start"], judged.loc[iid, "parsed_span_end"])
            assert span == pytest.approx(tuple(gold[iid]["answer_span"]))
        else:
            assert judged.loc[iid, "parsed_answer"] == gold[iid]["answer"]
    for iid in abstained:  # the judge found no single option: still unparseable, but not asked again
        assert judged.loc[iid, "status"] == "unparseable" and pd.isna(judged.loc[iid, "parsed_answer"])
        assert judged.loc[iid, "parsed_by"] == "rules" and judged.loc[iid, "judge_key"]
    assert (judged.loc[~judged.index.isin(prose["instance_id"]), "parsed_by"] == "rules").all()

    again = _evaluate(runner)  # cached: no judge call for a reply already judged
    assert again["judge_calls"] == 0 and max(judge_says.values()) == 1

    assert runner.run("build_metrics").success
    with duckdb.connect(str(runner.layout.duckdb_file), read_only=True) as con:
        board = con.execute("SELECT * FROM leaderboard WHERE model = 'chatty'").df().iloc[0]
        choice = con.execute(
            "SELECT count(*) FILTER (WHERE correct) AS c, count(*) FILTER (WHERE correct_strict) AS s, count(*) AS n "
            "FROM scores WHERE model = 'chatty' AND question_type <> 'temporal'"
        ).fetchone()
    judged_choice = sum(gold[i]["question_type"] != "temporal" for i in read)
    assert board["n_judged"] == judged_choice
    assert any(gold[i]["question_type"] == "temporal" for i in read)
    assert board["temporal_miou"] > board["temporal_miou_strict"]
    assert board["accuracy"] == pytest.approx(round(choice[0] / choice[2], 4))
    assert board["accuracy_strict"] == pytest.approx(round(choice[1] / choice[2], 4))
    assert choice[0] - choice[1] == judged_choice and board["accuracy"] > board["accuracy_strict"]


def test_a_judge_must_be_another_valid_api_entry(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n"
        "  - {name: a, provider: openai_compatible, model: m, base_url: 'http://x/v1', judge: nobody}\n"
        "  - {name: b, provider: openai_compatible, model: m, base_url: 'http://x/v1', judge: b}\n"
        "  - {name: c, provider: openai_compatible, model: m, base_url: 'http://x/v1', judge: random}\n"
        "  - {name: d, provider: openai_compatible, model: m, base_url: 'http://x/v1', judge: e}\n"
        "  - {name: e, provider: openai_compatible, model: m, base_url: 'http://x/v1'}\n"
        "  - {name: random, provider: random}\n"
    )
    load = load_registry(path)
    assert sorted(e.name for e in load.entries) == ["d", "e", "random"]
    assert sorted(b["name"] for b in load.invalid) == ["a", "b", "c"]
    assert all("judge" in b["reason"] for b in load.invalid)

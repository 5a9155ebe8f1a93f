"""The static explorer, opened in a real headless Chromium from the 127.0.0.1 server `explore
--serve` uses: a deep link shows the instance's clips playing, its question, the gold option and
every model's reply as stored; the matrix's live numbers and filters agree with pandas; text from
the data is never markup; the views list rejects and the cells a model is missing."""

from __future__ import annotations

import json
import threading

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mtavg_assets.cli import main as cli
from mtavg_assets.explore.site import server
from mtavg_assets_tests.test_ui import BROWSER_ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (scripts/install_system_deps.sh --browser)"
)
DROPPED = 12  # prediction rows removed from prior's file: its cells become missing


@pytest.fixture
def explorer(pipeline, tmp_path):
    """random and prior evaluated; prior then loses DROPPED answers (as a stopped run leaves it)."""
    pipeline.layout.models_file.write_text(
        "models:\n  - {name: random, provider: random, seed: 0}\n  - {name: prior, provider: prior}\n"
    )
    pipeline.run_all(["random", "prior"])
    path = pipeline.layout.predictions_file("prior")
    table = pq.read_table(path)
    pq.write_table(table.slice(DROPPED), path)
    assert pipeline.run("build_metrics").success
    out = tmp_path / "explorer"
    assert cli(["--data-dir", str(pipeline.layout.root), "explore", "--out", str(out)]) == 0
    httpd = server(out)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield pipeline.layout, out, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", *BROWSER_ARGS])
        yield chromium
        chromium.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page, errors


def _tables(layout):
    with duckdb.connect(str(layout.duckdb_file), read_only=True) as con:
        qa = con.execute("SELECT * FROM qa_instances").df().set_index("instance_id")
        scores = con.execute("SELECT * FROM scores").df()
        preds = con.execute("SELECT * FROM predictions WHERE rotation = 0").df()
    return qa, scores, preds


def test_a_deep_link_opens_the_instance_with_its_clips_question_gold_and_every_reply(explorer, browser):
    layout, _, url = explorer
    qa, _, preds = _tables(layout)
    drama = qa[qa["question_type"] == "drama"].index[0]  # several clips, in order
    page, errors = _open(browser, f"{url}#instance={drama}")
    page.wait_for_selector("#instance-view details.model", timeout=30_000)
    view = page.locator("#instance-view")
    assert qa.loc[drama, "question"] in view.locator("p.question").inner_text()
    gold = qa.loc[drama, "answer"]
    assert page.locator("ol.options li.gold").get_attribute("data-letter") == gold
    assert page.locator("ol.options li.gold").count() == 1
    for model in ("random", "prior"):
        row = preds[(preds["model"] == model) & (preds["instance_id"] == drama)]
        panel = view.locator(f"[data-model='{model}']")
        if len(row):
            assert panel.locator("pre.raw").inner_text() == row.iloc[0]["raw_response"]
            assert row.iloc[0]["parsed_answer"] in panel.locator("summary").first.inner_text()
        else:
            assert "missing" in panel.inner_text()
    clips = list(qa.loc[drama, "clip_ids"])
    videos = page.locator("video")
    assert [videos.nth(i).get_attribute("data-clip") for i in range(videos.count())] == clips
    page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 1)", timeout=20_000)
    durations = page.evaluate("[...document.querySelectorAll('video')].map(v => v.duration)")
    assert all(d > 1.0 for d in durations)  # decodable: Chromium read each clip's length
    page.evaluate("document.querySelector('video').play()")
    page.wait_for_function("document.querySelector('video').currentTime > 0", timeout=20_000)
    assert not errors


def test_the_matrix_numbers_and_filters_agree_with_the_tables(explorer, browser):
    layout, _, url = explorer
    qa, scores, _ = _tables(layout)
    choice = scores[scores["question_type"] != "temporal"]
    page, errors = _open(browser, url)
    assert page.inner_text("#filter-summary").startswith(f"{len(qa)} of {len(qa)}")
    for model in ("random", "prior"):
        live = page.locator(f"th[data-model='{model}'] .stat.live").inner_text()
        own = choice[choice["model"] == model]
        assert live.startswith(f"{own['correct'].mean():.3f} [")
        assert f"n={len(own)}" in live
    wide = choice.pivot(index="instance_id", columns="model", values="correct")
    page.select_option("#model-a", "random")
    page.select_option("#model-b", "prior")
    page.select_option("#outcome", "a_not_b")
    expected = int((wide["random"] & ~wide["prior"]).sum())
    assert page.inner_text("#filter-summary").startswith(f"{expected} of ")
    page.select_option("#outcome", "")
    category = choice["category"].value_counts().index[0]
    page.select_option("#facet-category", category)
    assert page.inner_text("#filter-summary").startswith(f"{int((qa['category'] == category).sum())} of ")
    assert not errors


def test_text_from_the_data_is_shown_as_text_never_run(explorer, browser):
    _, out, url = explorer
    detail = out / "data" / "detail" / "0.json"
    chunk = json.loads(detail.read_text())
    first = next(iter(chunk))
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    chunk[first]["question"] = hostile
    detail.write_text(json.dumps(chunk))
    page, _ = _open(browser, f"{url}#instance={first}")
    page.wait_for_selector("#instance-view p.question", timeout=30_000)
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert page.locator("#instance-view p.question").inner_text() == hostile
    assert page.evaluate("window.pwned") is None


def test_the_views_list_rejects_unranked_models_and_missing_cells(explorer, browser):
    layout, _, url = explorer
    _, scores, _ = _tables(layout)
    page, _ = _open(browser, f"{url}#view=missing")
    row = page.locator("#table-view tr", has_text="prior")
    cells = row.locator("td").all_inner_texts()
    missing = int((scores[scores["model"] == "prior"]["status"] == "missing").sum())
    assert missing >= DROPPED - 1 and cells[1] == str(missing)
    page.goto(f"{url}#view=unranked")
    page.wait_for_selector("#table-view table")
    text = page.inner_text("#table-view")
    assert "prior" in text and "incomplete" in text and "missing" in text  # its reason, from completeness
    page.goto(f"{url}#view=rejects")
    page.wait_for_selector("#table-view h2")
    assert "qa_rejects: 0" in page.inner_text("#table-view")


def test_explore_without_a_build_is_an_error(tmp_path, capsys):
    assert cli(["--data-dir", str(tmp_path), "explore"]) == 2
    assert "no metric build" in capsys.readouterr().err


def test_pandas_reads_the_index_the_page_reads(explorer):
    """The matrix strings hold one character per instance for every model."""
    _, out, _ = explorer
    index = json.loads((out / "data" / "index.json").read_text())
    n = len(index["instances"]["instance_id"])
    for model in index["matrix"].values():
        assert len(model["status"]) == len(model["answer"]) == len(model["correct"]) == n
    frame = pd.DataFrame(index["instances"])
    assert frame["instance_id"].is_unique

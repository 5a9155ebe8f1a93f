"""The Dagster UI, in a real headless Chromium: the asset graph renders, and the leaderboard
asset shows its table and plot. Skipped (with the reason) only where no Chromium is installed."""

from __future__ import annotations

import os
import shutil

import pytest

from mtavg_assets.settings import REPO_ROOT
from mtavg_assets_tests.conftest import run_cli
from mtavg_assets_tests.dagster_dev import dagster_dev

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (scripts/install_system_deps.sh --browser)"
)


@pytest.fixture
def dagster_ui(demo_layout, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MTAVG_DATA_DIR": str(demo_layout.root)}
    demo = run_cli("demo", demo_layout.root, dagster_home=home)
    assert demo.returncode == 0, demo.stderr[-2000:]
    with dagster_dev(env) as (url, _):
        yield url


def test_asset_graph_and_leaderboard_render_in_a_browser(dagster_ui, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # dagster.yaml disables the first-visit community dialog; should one still appear at any
        # moment, it is dismissed before the next action instead of covering a button.
        page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
        page.goto(f"{dagster_ui}/locations/mtavg/asset-groups/evaluation", wait_until="networkidle")
        for asset in ("model_registry", "predictions", "metric_tables"):
            page.get_by_text(asset, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "graph.png"))

        page.goto(f"{dagster_ui}/assets/leaderboard", wait_until="networkidle")
        page.locator("tr", has_text="leaderboard").first.get_by_text("[Show Markdown]").click()
        table = page.get_by_role("dialog").locator("table").first
        table.wait_for(timeout=30_000)
        text = table.inner_text()
        assert "random" in text and "prior" in text and "accuracy" in text
        page.keyboard.press("Escape")
        page.get_by_role("dialog").wait_for(state="hidden", timeout=10_000)

        page.locator("tr", has_text="accuracy_by_dimension").first.get_by_text("[Show Markdown]").click()
        plot = page.get_by_role("dialog").locator("img").first
        plot.wait_for(timeout=30_000)
        assert plot.evaluate("img => img.complete && img.naturalWidth > 300")
        page.screenshot(path=str(tmp_path / "plot.png"))
        browser.close()

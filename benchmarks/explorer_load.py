"""The explorer at scale: N instances x M models of synthetic predictions (default 10,000 x 20),
metric tables built, the explorer written, then opened in headless Chromium from the 127.0.0.1
server `explore --serve` uses. Prints the write time, the data shipped before the first paint,
the load time to a ready matrix, an outcome filter's time, and a deep link's time to the instance.

    .venv/bin/python benchmarks/explorer_load.py [--instances 10000] [--models 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.metrics_scale import synthetic_benchmark  # noqa: E402
from mtavg_assets.explore import build_explorer  # noqa: E402
from mtavg_assets.explore.site import server  # noqa: E402
from mtavg_assets.metrics.build import build_metric_tables  # noqa: E402
from mtavg_assets.settings import DataLayout  # noqa: E402
from mtavg_assets_tests.test_ui import BROWSER_ARGS, CHROMIUM  # noqa: E402


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def measure(url: str, instance_id: str, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {"load": [], "filter": [], "deep_link": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", *BROWSER_ARGS])
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": 1400, "height": 900})  # a cold cache each time
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            figures["load"].append(_ms(started))

            before = page.inner_text("#filter-summary")
            started = time.perf_counter()
            page.select_option("#outcome", "all_wrong")
            page.wait_for_function(
                "before => document.querySelector('#filter-summary').innerText !== before", arg=before
            )
            figures["filter"].append(_ms(started))

            started = time.perf_counter()
            page.goto(f"{url}#instance={instance_id}")
            page.wait_for_selector("#instance-view details.model", timeout=60_000)
            figures["deep_link"].append(_ms(started))
            context.close()
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("no chromium binary: scripts/install_system_deps.sh --browser")
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp))
        synthetic_benchmark(layout, args.instances, args.models)
        build_metric_tables(layout, n_resamples=200)
        out = Path(tmp) / "explorer"
        started = time.perf_counter()
        counts = build_explorer(layout, out)
        written_s = time.perf_counter() - started
        files = sorted(p for p in out.rglob("*") if p.is_file())
        first = [*(p for p in files if p.parent == out), out / "data" / "index.json"]
        chunks = sorted((out / "data" / "detail").glob("*.json"))
        print(
            f"explorer of {args.instances:,} instances x {args.models} models written in {written_s:.1f}s: "
            f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB in all; "
            f"{sum(p.stat().st_size for p in first) / 1e6:.1f} MB loaded before the first paint, "
            f"{len(chunks)} detail chunks of ~{statistics.mean(p.stat().st_size for p in chunks) / 1e3:.0f} kB "
            f"fetched on demand ({counts})"
        )
        httpd = server(out)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{httpd.server_address[1]}/"
            figures = measure(url, f"i{args.instances - 1:06d}", args.repeat)
        finally:
            httpd.shutdown()
            httpd.server_close()
        for name, label in (
            ("load", "page load to a ready matrix (target < 3000 ms)"),
            ("filter", "outcome filter 'all models wrong' applied"),
            ("deep_link", "deep link to the last instance shown"),
        ):
            values = figures[name]
            print(f"{label}: median {statistics.median(values):.0f} ms (runs: {', '.join(f'{v:.0f}' for v in values)})")


if __name__ == "__main__":
    main()

"""Two real processes at once on one data directory and a fresh Dagster home, against the local
provider server: no crash, no cell asked or paid twice, no answer lost."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from mtavg_assets.settings import REPO_ROOT
from mtavg_assets_tests.conftest import OFFLINE_MODELS
from mtavg_assets_tests.fake_providers import FakeConfig, FakeProviderServer


def test_two_clis_at_once_ask_each_cell_once_and_lose_nothing(demo_layout, tmp_path):
    with FakeProviderServer(FakeConfig(latency_s=0.05)) as server:
        demo_layout.models_file.write_text(
            OFFLINE_MODELS
            + f"""  - name: omni
    provider: openai_compatible
    model: omni
    base_url: {server.base_url}/v1
    media: frames
    frames: 2
    concurrency: 4
"""
        )
        env = {**os.environ, "MTAVG_DATA_DIR": str(demo_layout.root), "DAGSTER_HOME": str(tmp_path / "fresh-home")}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "mtavg_assets", "run"],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [proc.communicate(timeout=400) for proc in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, (out[-2000:], err[-3000:])
        valid = pd.read_parquet(demo_layout.derived("validated_qa"))
        rows = pd.read_parquet(demo_layout.predictions_file("omni"))
        assert server.model_calls == len(valid)  # each cell paid once, by one of the two runs
        assert len(rows) == len(valid) and rows["instance_id"].is_unique
        assert set(rows["status"]) == {"ok"}
        asked = sorted(
            int(line.split("asked ")[1].split()[0])
            for out, _ in outputs
            for line in out.splitlines()
            if line.startswith("omni: asked")
        )
        assert asked == [0, len(valid)]

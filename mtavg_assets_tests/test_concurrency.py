"""Two real processes at once on one data directory and a fresh Dagster home, against the local
provider server: no crash, no cell asked or paid twice, no answer lost."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

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
            if proc.returncode != 0:
                pytest.fail(f"a CLI exited {proc.returncode}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-6000:]}")
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


def test_the_provider_limit_holds_on_every_launch_path(demo_layout):
    """Whether a run comes from the evaluate_model job (tagged) or from the asset page / a backfill
    (the implicit asset job, untagged), it waits for the provider's lock: while another run holds
    it, nothing is asked; when it is free, the run proceeds."""
    import dagster as dg

    from mtavg_assets.assets.predictions import predictions
    from mtavg_assets.locks import hold
    from mtavg_assets.resources import MtavgData
    from mtavg_assets_tests.conftest import PipelineRunner

    with FakeProviderServer(FakeConfig()) as server:
        demo_layout.models_file.write_text(
            OFFLINE_MODELS
            + "".join(
                f"  - {{name: {name}, provider: openai_compatible, model: omni, base_url: '{server.base_url}/v1', "
                "media: frames, frames: 2}\n"
                for name in ("omni-a", "omni-b")
            )
        )
        runner = PipelineRunner(demo_layout)
        assert runner.run("prepare_benchmark").success
        short = {"ops": {"predictions": {"config": {"lock_timeout_s": 0.2}}}}
        lock = demo_layout.locks_dir / "provider-openai_compatible.lock"

        def asset_page(partition, config):
            return dg.materialize(
                [predictions],
                partition_key=partition,
                instance=runner.instance,
                resources={"mtavg": MtavgData(data_dir=str(demo_layout.root))},
                run_config=config,
                raise_on_error=False,
                selection=[predictions],
            )

        with hold(lock, "provider-openai_compatible", "the test (another run)", 1.0):
            tagged = runner.run("evaluate_model", partition_key="omni-a", run_config=short)
            untagged = asset_page("omni-b", short)
            for result in (tagged, untagged):
                assert not result.success
                message = result.get_step_failure_events()[0].event_specific_data.error.message
                assert "provider-openai_compatible is held by the test (another run)" in message
            assert server.model_calls == 0
        assert runner.run("evaluate_model", partition_key="omni-a").success
        assert asset_page("omni-b", None).success
        assert server.model_calls == 2 * len(pd.read_parquet(demo_layout.derived("validated_qa")))

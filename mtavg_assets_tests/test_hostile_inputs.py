"""Bad input and unlucky operators, end to end: the run completes, every bad item is a reject with a
readable reason, counts reconcile, and everything else is evaluated."""

from __future__ import annotations

import json
import os
import shutil

import dagster as dg
import duckdb
import ffmpeg
import pandas as pd

from mtavg_assets.settings import DataLayout
from mtavg_assets_tests.conftest import PipelineRunner, run_cli

FRAMES_MODEL = """  - name: omni-frames
    provider: openai_compatible
    model: omni
    base_url: http://127.0.0.1:9/v1
    media: frames
    frames: 2
"""


def _ffmpeg(*streams, **kwargs):
    ffmpeg.output(*streams, **kwargs).global_args("-loglevel", "error").overwrite_output().run()


def _append_manifest(layout: DataLayout, rows: list[dict]) -> None:
    with layout.clip_manifest.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def test_clips_ffmpeg_cannot_use_become_rejects_and_the_rest_runs(demo_layout):
    clips = demo_layout.clips_dir
    sine = ffmpeg.input("sine=frequency=440:duration=3", f="lavfi")
    cover = ffmpeg.input("color=c=blue:s=64x64:d=1", f="lavfi")
    _ffmpeg(sine, cover, str(clips / "cover.mp4"), vcodec="mjpeg", acodec="aac", **{"disposition:v": "attached_pic"})
    tiny = ffmpeg.input("color=c=red:s=2x2:r=5:d=3", f="lavfi")
    _ffmpeg(tiny, ffmpeg.input("sine=duration=3", f="lavfi"), str(clips / "tiny.mp4"), acodec="aac", pix_fmt="yuv420p")
    good = sorted(clips.glob("*/*.mp4"))[0]
    _ffmpeg(ffmpeg.input(str(good)), str(clips / "whole.mp4"), c="copy", movflags="+faststart")
    data = (clips / "whole.mp4").read_bytes()
    (clips / "truncated.mp4").write_bytes(data[: len(data) // 3])  # the index is at the front: still probes
    _append_manifest(
        demo_layout,
        [
            {"clip_id": "cover", "path": "cover.mp4"},
            {"clip_id": "tiny", "path": "tiny.mp4"},
            {"clip_id": "truncated", "path": "truncated.mp4"},
        ],
    )
    pipeline = PipelineRunner(demo_layout)
    assert pipeline.run("prepare_benchmark").success
    rejects = pd.read_parquet(demo_layout.derived("clip_rejects")).set_index("clip_id")["reason"]
    assert rejects["cover"] == "no video stream (only cover art)"
    assert rejects["tiny"].startswith("frame too small: 2x2")
    assert rejects["truncated"].startswith("truncated: about")

    # A clip corrupted on disk after it was catalogued (same size and mtime, so its probe is
    # reused), then a model that needs frames: ffmpeg cannot convert that clip; its media fails,
    # nothing else does.
    victim = sorted(clips.glob("*/*.mp4"))[1]
    stat = victim.stat()
    victim.write_bytes(b"\0" * stat.st_size)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    demo_layout.models_file.write_text(demo_layout.models_file.read_text() + FRAMES_MODEL)
    result = pipeline.run("prepare_benchmark")
    assert result.success
    media = pd.read_parquet(demo_layout.derived("clip_media"))
    failed = media[media["error"].notna()]
    assert len(failed) == 1 and failed.iloc[0]["clip_id"] == victim.stem
    assert media["error"].isna().sum() == len(media) - 1
    for model in ("random", "prior"):
        assert pipeline.run("evaluate_model", partition_key=model).success
    assert pipeline.run("build_metrics").success


def test_a_data_directory_named_with_glob_characters_reads_only_itself(demo_source, tmp_path):
    target = tmp_path / "bench[1]?"
    sibling = tmp_path / "bench1x"
    shutil.copytree(demo_source.root, target)
    shutil.copytree(demo_source.root, sibling)
    (sibling / "predictions" / "intruder").mkdir(parents=True)
    pd.DataFrame({"model": ["intruder"], "instance_id": ["x"], "status": ["ok"]}).to_parquet(
        sibling / "predictions" / "intruder" / "predictions.parquet"
    )
    done = run_cli("run", target, tmp_path / "home")
    assert done.returncode == 0, done.stderr[-2000:]
    with duckdb.connect(str(DataLayout(target).duckdb_file), read_only=True) as con:
        models = {m for (m,) in con.execute("SELECT DISTINCT folder FROM prediction_exclusions").fetchall()}
        scored = {m for (m,) in con.execute("SELECT DISTINCT model FROM predictions").fetchall()}
    assert scored == {"random", "prior"} and "intruder" not in models


def test_a_fresh_data_directory_gets_the_default_registry(tmp_path):
    done = run_cli("demo --episodes 1", tmp_path / "fresh", tmp_path / "home")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote the default models registry" in done.stdout
    assert "| prior" in done.stdout and "| random" in done.stdout


def test_an_empty_registry_is_nothing_to_evaluate_not_a_failure(demo_source, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(demo_source.root, target)
    (target / "models.yaml").write_text("models: []\n")
    done = run_cli("run", target, tmp_path / "home")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nothing to evaluate" in done.stdout and "no predictions yet" in done.stdout


def test_a_metric_build_killed_by_sigkill_never_blocks_the_next_run(demo_layout, tmp_path):
    """The CLI runs in process: a SIGKILL leaves its run STARTED holding the duckdb_writer slot.
    The next CLI run must reclaim it and complete, not wait forever."""
    import signal
    import subprocess
    import sys
    import time

    import dagster as dg
    from filelock import FileLock

    from mtavg_assets.assets.metrics import DUCKDB_POOL
    from mtavg_assets.local_runs import open_instance
    from mtavg_assets.settings import REPO_ROOT

    home = tmp_path / "home"
    first = run_cli("run", demo_layout.root, home)
    assert first.returncode == 0, first.stderr[-2000:]
    env = {**os.environ, "MTAVG_DATA_DIR": str(demo_layout.root), "DAGSTER_HOME": str(home)}
    # Hold the DuckDB writer's file lock so the CLI's build step stops inside the step, holding
    # its pool slot: the worst moment for a kill, reached deterministically.
    blocker = FileLock(str(demo_layout.duckdb_file.with_name("mtavg.duckdb.lock")))
    blocker.acquire()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtavg_assets", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        instance = open_instance(home)
        deadline = time.monotonic() + 240
        while not instance.event_log_storage.get_concurrency_info(DUCKDB_POOL).claimed_slots:
            assert proc.poll() is None and time.monotonic() < deadline, "the build never claimed its slot"
            time.sleep(0.2)
        held_by = instance.event_log_storage.get_concurrency_info(DUCKDB_POOL).claimed_slots[0].run_id
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        blocker.release()
        if proc.poll() is None:
            proc.kill()
    assert instance.get_run_by_id(held_by).status == dg.DagsterRunStatus.STARTED  # left behind by the kill
    again = run_cli("run", demo_layout.root, home)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"run {held_by} had been killed" in again.stdout
    assert instance.get_run_by_id(held_by).status == dg.DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info(DUCKDB_POOL).claimed_slots


def test_a_run_with_bad_rows_of_every_kind_exits_zero_and_counts_reconcile(demo_layout, tmp_path):
    """Hostile rows in every input at once: the CLI run completes, each bad row is a reject with a
    reason, the printed counts reconcile, and the offline baselines evaluate everything valid."""
    _append_manifest(
        demo_layout,
        [
            {"clip_id": "m1", "path": "x.mp4", "n_speakers": "two"},
            {"clip_id": ["m2"], "path": "x.mp4"},
            {"clip_id": "m3", "path": "../../etc/passwd"},
        ],
    )
    with demo_layout.clip_manifest.open("ab") as fh:
        fh.write(b'{"clip_id": "m4", "path": "\xff.mp4"}\n{"clip_id": "m5", "n_speakers": NaN}\n')
    qa_file = demo_layout.qa_dir / "hostile.jsonl"
    good = json.loads((demo_layout.qa_dir / "demo_core.jsonl").read_text().splitlines()[0])
    bad_rows = [
        {**good, "instance_id": "h1", "options": ["a", "a"]},
        {**good, "instance_id": "h2", "answer_span": [True, 1]},
        {**good, "instance_id": "h3", "question": "   "},
        {**good, "instance_id": "h4", "subset": "short_drama"},
    ]
    qa_file.write_bytes(
        b"".join(json.dumps(r).encode() + b"\n" for r in bad_rows) + b'{"instance_id": "h5\xfe"}\n[1]\n{"a": NaN}\n'
    )
    demo_layout.models_file.write_text(
        demo_layout.models_file.read_text()
        + "  - {name: '..', provider: random}\n"
        + "  - {name: m, provider: gemini, model: g, api_key_env: K, media: frames}\n"
        + "  - {name: c, provider: random, circular: 'no'}\n"
        + "  - {name: z, provider: openai, model: x, api_key_env: K, timeout_s: .inf}\n"
    )
    done = run_cli("run", demo_layout.root, tmp_path / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    manifest_lines = len(demo_layout.clip_manifest.read_bytes().splitlines())
    catalog = pd.read_parquet(demo_layout.derived("clip_catalog"))
    clip_rejects = pd.read_parquet(demo_layout.derived("clip_rejects"))
    assert len(clip_rejects) == 5 and clip_rejects["reason"].str.len().gt(5).all()
    assert f"clips: {manifest_lines} manifest lines = {len(catalog)} catalogued + 5 rejected" in done.stdout
    lines = pd.read_parquet(demo_layout.derived("qa_instances"))
    valid = pd.read_parquet(demo_layout.derived("validated_qa"))
    rejects = pd.read_parquet(demo_layout.derived("qa_rejects"))
    assert set(rejects["source_file"]) == {"hostile.jsonl"} and len(rejects) == 7
    assert f"QA: {len(lines)} lines = {len(valid)} valid + 7 rejected" in done.stdout
    assert "models: 6 entries = 2 valid + 4 invalid" in done.stdout
    for model in ("random", "prior"):
        rows = pd.read_parquet(demo_layout.predictions_file(model))
        assert set(valid["instance_id"]) <= set(rows["instance_id"])


def test_a_clip_replaced_between_catalog_and_media_is_never_filed_under_the_old_hash(demo_layout):
    from mtavg_assets.assets.clips import clip_media
    from mtavg_assets.media.probe import sha256_of
    from mtavg_assets.media.recipes import CLIP_CHANGED, recipe_dir
    from mtavg_assets.resources import MtavgData

    pipeline = PipelineRunner(demo_layout)
    assert pipeline.run("prepare_benchmark").success  # catalogued; offline models need no media yet
    demo_layout.models_file.write_text(demo_layout.models_file.read_text() + FRAMES_MODEL)
    pipeline.register()
    catalog = pd.read_parquet(demo_layout.derived("clip_catalog"))
    victim = catalog.iloc[0]
    path = demo_layout.clips_dir / victim["path"]
    stat, data = path.stat(), bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # other bytes, same size and mtime: the catalog's identity cannot tell
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = dg.materialize(
        [clip_media], instance=pipeline.instance, resources={"mtavg": MtavgData(data_dir=str(demo_layout.root))}
    )
    assert result.success
    media = pd.read_parquet(demo_layout.derived("clip_media")).set_index("clip_id")
    assert CLIP_CHANGED in media.loc[victim["clip_id"], "error"]
    assert not (recipe_dir(demo_layout.media_dir, "frames@2", victim["sha256"]) / "media.json").exists()
    assert media.drop(index=victim["clip_id"])["error"].isna().all()
    # The next prepare catalogues the clip again and derives its media under the new hash.
    assert pipeline.run("prepare_benchmark").success
    catalog = pd.read_parquet(demo_layout.derived("clip_catalog")).set_index("clip_id")
    assert catalog.loc[victim["clip_id"], "sha256"] == sha256_of(path) != victim["sha256"]
    media = pd.read_parquet(demo_layout.derived("clip_media")).set_index("clip_id")
    assert pd.isna(media.loc[victim["clip_id"], "error"])


def test_folders_a_killed_build_or_derivation_left_are_removed_by_the_next_one(demo_layout):
    pipeline = PipelineRunner(demo_layout)
    demo_layout.models_file.write_text(demo_layout.models_file.read_text() + FRAMES_MODEL)
    snapshot = demo_layout.root / ".mtavg-snapshot-killed"
    work = demo_layout.media_dir / "frames_2" / "ab" / ".abcdef0123456789.killed"
    for folder in (snapshot, work):
        folder.mkdir(parents=True)
        (folder / "half-written").write_bytes(b"x" * 100)
    assert pipeline.run("prepare_benchmark").success
    assert not work.exists()
    assert pipeline.run("evaluate_model", partition_key="random").success
    assert pipeline.run("build_metrics").success
    assert not snapshot.exists()

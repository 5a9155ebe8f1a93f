"""Frame sampling: keyframes when they sit near the targets, decoded frames otherwise, and in both
cases each JPEG shows the moment its recorded time says. The test clip's brightness encodes time
(luma = 16 + 40·t), so a frame's mean grey level tells when it was taken."""

from __future__ import annotations

import json

import ffmpeg
import numpy as np
import pytest
from PIL import Image

from mtavg_assets.media.probe import build_catalog
from mtavg_assets.media.recipes import derive, derive_all, keyframe_plan, keyframe_tolerance
from mtavg_assets.settings import prepare_workers

SECONDS = 5.0
RATE = 25


def _clock_clip(path, keyint: int) -> None:
    """A clip whose every frame has luma 40·t (t in seconds), with a keyframe every `keyint` frames."""
    video = ffmpeg.input(f"nullsrc=s=96x64:r={RATE}:d={SECONDS}", f="lavfi").filter(
        "geq", lum="clip(40*T+16,0,255)", cb=128, cr=128
    )
    audio = ffmpeg.input(f"sine=frequency=300:duration={SECONDS}", f="lavfi")
    (
        ffmpeg.output(
            video,
            audio,
            str(path),
            vcodec="libx264",
            pix_fmt="yuv420p",
            g=keyint,
            keyint_min=keyint,
            sc_threshold=0,
            acodec="aac",
            shortest=None,
        )
        .global_args("-loglevel", "error")
        .overwrite_output()
        .run()
    )


def _time_shown(jpeg: str) -> float:
    """JPEG stores full-range luma: video luma 16 + 40·t becomes 40·t·255/219."""
    return float(np.asarray(Image.open(jpeg).convert("L")).mean()) / (40 * 255 / 219)


@pytest.fixture(scope="module")
def clock_clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clock")
    (root / "dense.mp4").parent.mkdir(exist_ok=True)
    _clock_clip(root / "dense.mp4", keyint=5)  # a keyframe every 0.2 s
    _clock_clip(root / "sparse.mp4", keyint=1000)  # one keyframe, at 0
    manifest = root / "manifest.jsonl"
    manifest.write_text(
        "\n".join(json.dumps({"clip_id": name, "path": f"{name}.mp4"}) for name in ("dense", "sparse")) + "\n"
    )
    result = build_catalog(root, manifest)
    assert result.rejects.empty, result.rejects.to_dict("records")
    return root, result.catalog.set_index("clip_id")


def test_the_catalog_lists_each_clips_keyframes(clock_clips):
    _, catalog = clock_clips
    dense = json.loads(catalog.loc["dense", "keyframes"])
    assert dense[:4] == pytest.approx([0.0, 0.2, 0.4, 0.6], abs=1e-3)
    assert len(dense) == pytest.approx(SECONDS / 0.2, abs=1)
    assert json.loads(catalog.loc["sparse", "keyframes"]) == pytest.approx([0.0], abs=1e-3)


def test_keyframe_plan_takes_keyframes_only_when_every_target_has_one_close_by():
    # targets of 4 frames in 2 s: 0.25, 0.75, 1.25, 1.75
    assert keyframe_plan([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75], 2.0, 4) == [0.25, 0.75, 1.25, 1.75]
    assert keyframe_plan([0.0, 0.3, 0.7, 1.2, 1.8], 2.0, 4) == [0.3, 0.7, 1.2, 1.8]
    assert keyframe_plan([0.0, 0.5, 1.0, 1.5], 2.0, 4) is None  # every target 0.25 s from a keyframe
    assert keyframe_plan([0.0, 5.9], 20.0, 2) is None  # 15 s has none within 0.5 s (the cap)
    assert keyframe_plan([0.0, 0.26, 1.27, 1.75], 2.0, 4) is None  # 0.75 is 0.49 from 0.26
    assert keyframe_plan([], 2.0, 4) is None
    assert keyframe_tolerance(2.0, 4) == 0.125 and keyframe_tolerance(100.0, 4) == 0.5


@pytest.mark.parametrize("clip", ["dense", "sparse"])
@pytest.mark.parametrize("recipe", ["frames_audio@6", "frames@6"])
def test_each_sampled_frame_shows_the_moment_it_is_recorded_at(clock_clips, tmp_path, clip, recipe):
    root, catalog = clock_clips
    row = catalog.loc[clip]
    media = derive(
        root / row.path,
        row.sha256,
        row.duration_s,
        row.width,
        row.height,
        recipe,
        tmp_path,
        keyframes=json.loads(row.keyframes),
    )
    times = media.files["frame_times"]
    assert media.frames == 6 and len(media.files["frames"]) == 6 and len(times) == 6
    targets = [(i + 0.5) * row.duration_s / 6 for i in range(6)]
    spacing = row.duration_s / 6
    if clip == "dense":  # keyframes every 0.2 s: each within the tolerance of its target
        assert all(
            abs(t - g) <= keyframe_tolerance(row.duration_s, 6) + 1e-6 for t, g in zip(times, targets, strict=True)
        )
        assert any(
            t != pytest.approx(g, abs=1e-3) for t, g in zip(times, targets, strict=True)
        )  # keyframes, not targets
    else:  # no keyframe near the targets: decoded, the frame nearest each target
        assert times == pytest.approx(targets, abs=1e-3)
    shown = [_time_shown(f) for f in media.files["frames"]]
    # a frame may be one or two frames off the recorded time (skipped non-reference frames)
    assert shown == pytest.approx(times, abs=2.5 / RATE + 0.05), (shown, times)
    assert all(b - a > spacing / 2 for a, b in zip(shown, shown[1:], strict=False))
    assert ("audio" in media.files) == (recipe == "frames_audio@6")
    if media.has_audio:
        info = ffmpeg.probe(media.files["audio"])["streams"][0]
        assert info["sample_rate"] == "16000" and info["channels"] == 1
        assert float(info["duration"]) == pytest.approx(SECONDS, abs=0.1)


def test_video_recipe_keeps_the_audio_in_one_pass(clock_clips, tmp_path):
    root, catalog = clock_clips
    row = catalog.loc["sparse"]
    media = derive(root / row.path, row.sha256, row.duration_s, row.width, row.height, "video", tmp_path)
    kinds = sorted(s["codec_type"] for s in ffmpeg.probe(media.files["video"])["streams"])
    assert kinds == ["audio", "video"]
    assert float(ffmpeg.probe(media.files["audio"])["format"]["duration"]) == pytest.approx(SECONDS, abs=0.1)


def test_derive_all_reports_made_then_reused(clock_clips, tmp_path):
    root, catalog = clock_clips
    frame, timing = derive_all(catalog.reset_index(), ["frames@4", "video"], root, tmp_path, workers=2)
    assert len(frame) == 4 and frame["error"].isna().all()
    assert [(t["recipe"], t["made"], t["reused"]) for t in timing] == [("frames@4", 2, 0), ("video", 2, 0)]
    again, timing = derive_all(catalog.reset_index(), ["frames@4", "video"], root, tmp_path, workers=2)
    assert [(t["made"], t["reused"]) for t in timing] == [(0, 2), (0, 2)]
    assert again["files"].tolist() == frame["files"].tolist()


def test_prepare_workers_follow_the_environment(monkeypatch):
    monkeypatch.setenv("MTAVG_PREPARE_WORKERS", "3")
    assert prepare_workers() == 3
    monkeypatch.setenv("MTAVG_PREPARE_WORKERS", "zero")
    assert prepare_workers() >= 1

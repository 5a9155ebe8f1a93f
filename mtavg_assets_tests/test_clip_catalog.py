"""Every clip reject reason, each with a real bad file; good clips still enter the catalog."""

from __future__ import annotations

import json
import shutil

import ffmpeg

from mtavg_assets.media.probe import build_catalog


def _video_only(path):
    (
        ffmpeg.input("color=c=red:s=64x48:r=5:d=1", f="lavfi")
        .output(str(path), vcodec="libx264", pix_fmt="yuv420p")
        .global_args("-loglevel", "error")
        .overwrite_output()
        .run()
    )


def test_each_bad_clip_is_rejected_with_its_reason(demo_source, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    good = next(demo_source.clips_dir.rglob("*.mp4"))
    shutil.copy(good, clips / "good.mp4")
    (clips / "garbage.mp4").write_bytes(b"this is not a video" * 50)
    (clips / "empty.mp4").write_bytes(b"")
    _video_only(clips / "silent.mp4")
    (tmp_path / "outside.mp4").write_bytes(good.read_bytes())
    entries = [
        {"clip_id": "good", "path": "good.mp4"},
        {"clip_id": "garbage", "path": "garbage.mp4"},
        {"clip_id": "empty", "path": "empty.mp4"},
        {"clip_id": "silent", "path": "silent.mp4"},
        {"clip_id": "escape", "path": "../outside.mp4"},
        {"clip_id": "missing", "path": "nowhere.mp4"},
        {"clip_id": "good", "path": "good.mp4"},
        {"path": "good.mp4"},
    ]
    manifest = clips / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(e) for e in entries) + "\n{not json\n")

    result = build_catalog(clips, manifest)

    assert list(result.catalog["clip_id"]) == ["good"]
    assert result.catalog.iloc[0]["audio_streams"] == 1 and result.catalog.iloc[0]["duration_s"] > 0
    reasons = {
        (r.clip_id if isinstance(r.clip_id, str) else None, r.reason.split(":")[0]) for r in result.rejects.itertuples()
    }
    assert reasons == {
        ("garbage", "unreadable by ffprobe"),
        ("empty", "empty file (0 bytes)"),
        ("silent", "no audio stream"),
        ("escape", "path escapes the clips root"),
        ("missing", "file not found"),
        ("good", "duplicate clip_id"),
        (None, "missing clip_id"),
        (None, "malformed JSON"),
    }
    assert len(result.catalog) + len(result.rejects) == result.manifest_lines == 9

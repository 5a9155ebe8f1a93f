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
        (None, "clip_id"),
        (None, "malformed JSON"),
    }
    assert len(result.catalog) + len(result.rejects) == result.manifest_lines == 9


HOSTILE_ROWS = [
    ({"clip_id": "a1", "path": "good.mp4", "n_speakers": "3"}, "n_speakers"),
    ({"clip_id": "a2", "path": "good.mp4", "n_speakers": 2.5}, "n_speakers"),
    ({"clip_id": "a3", "path": "good.mp4", "n_speakers": True}, "n_speakers"),
    ({"clip_id": "a4", "path": "good.mp4", "n_speakers": -1}, "n_speakers"),
    ({"clip_id": 5, "path": "good.mp4"}, "clip_id"),
    ({"clip_id": "", "path": "good.mp4"}, "clip_id"),
    ({"clip_id": "   ", "path": "good.mp4"}, "clip_id"),
    ({"clip_id": "a8", "path": 5}, "path"),
    ({"clip_id": "a9", "path": ["good.mp4"]}, "path"),
    ({"clip_id": "a10", "path": "go\u0000od.mp4"}, "NUL"),
    ({"clip_id": "a11", "path": "x" * 300 + ".mp4"}, "longer than 255"),
    ({"clip_id": "a12", "path": "loop/clip.mp4"}, "unreadable path"),
    ({"clip_id": "a13", "path": "/etc/hostname"}, "escapes the clips root"),
    ({"clip_id": "a14", "path": "sub"}, "file not found"),
    ({"clip_id": "a15", "path": "good.mp4", "meta": "text"}, "meta"),
    ({"clip_id": "a16", "path": "good.mp4", "prompt": 7}, "prompt"),
    ({"clip_id": "a17", "path": "a/" * 600 + "b.mp4"}, "path"),
]


def test_hostile_manifest_rows_are_rejected_one_by_one(demo_source, tmp_path):
    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    shutil.copy(next(demo_source.clips_dir.rglob("*.mp4")), clips / "good.mp4")
    (clips / "loop").symlink_to(clips / "loop")
    manifest = clips / "manifest.jsonl"
    rows = [{"clip_id": "good", "path": "good.mp4", "n_speakers": 2}] + [r for r, _ in HOSTILE_ROWS]
    manifest.write_text(
        "\n".join(json.dumps(r) for r in rows) + '\n{"clip_id": "nan", "path": "good.mp4", "n_speakers": NaN}\n'
    )

    result = build_catalog(clips, manifest)

    assert list(result.catalog["clip_id"]) == ["good"]
    assert len(result.catalog) + len(result.rejects) == result.manifest_lines == len(HOSTILE_ROWS) + 2
    by_line = result.rejects.set_index("line_no")["reason"]
    for line_no, (_, needle) in enumerate(HOSTILE_ROWS, start=2):
        assert needle in by_line[line_no], (line_no, by_line[line_no])
    assert "non-finite number" in by_line[len(HOSTILE_ROWS) + 2]

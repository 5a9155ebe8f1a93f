"""Derived evaluator inputs, made once per (clip content hash, recipe) and reused across runs.

Recipes:
- `video`: H.264/AAC mp4, at most 640 px wide, for providers that take video with its audio track.
- `frames_audio@N`: N frames sampled evenly (JPEG) plus the audio as 16 kHz mono WAV.
- `frames@N`: the same frames, no audio (recorded as such in every prediction row).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

MEDIA_COLUMNS = ["clip_id", "sha256", "recipe", "files", "frames", "fps", "resolution", "has_audio"]
MAX_WIDTH = 640


@dataclass(frozen=True)
class DerivedMedia:
    recipe: str
    files: dict  # role -> absolute path ("video", "audio", "frames": [..])
    frames: int
    fps: float | None
    resolution: str
    has_audio: bool


def recipe_dir(media_root: Path, recipe: str, sha256: str) -> Path:
    return media_root / recipe.replace("@", "_") / sha256[:2] / sha256


def _run(stream) -> None:
    try:
        stream.global_args("-nostdin", "-loglevel", "error", "-threads", "1").overwrite_output().run(
            capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        raise RuntimeError(exc.stderr.decode(errors="replace")) from exc


def derive(
    clip_path: Path, sha256: str, duration_s: float, width: int, height: int, recipe: str, media_root: Path
) -> DerivedMedia:
    """Make (or reuse) the recipe's files for one clip; a finished marker makes partial output invisible."""
    out = recipe_dir(media_root, recipe, sha256)
    marker = out / "media.json"
    if marker.exists():
        doc = json.loads(marker.read_text())
        return DerivedMedia(**doc)
    out.mkdir(parents=True, exist_ok=True)
    scale_w = min(width, MAX_WIDTH) // 2 * 2
    scale_h = int(round(height * scale_w / max(width, 1))) // 2 * 2
    resolution = f"{scale_w}x{scale_h}"
    if recipe == "video":
        target = out / "clip.mp4"
        _run(
            ffmpeg.output(
                ffmpeg.input(str(clip_path)),
                str(target),
                vf=f"scale={scale_w}:{scale_h}",
                vcodec="libx264",
                preset="veryfast",
                crf=28,
                pix_fmt="yuv420p",
                acodec="aac",
                audio_bitrate="96k",
                movflags="+faststart",
            )
        )
        _run(ffmpeg.output(ffmpeg.input(str(clip_path)).audio, str(out / "audio.wav"), ac=1, ar=16000))
        media = DerivedMedia(recipe, {"video": str(target), "audio": str(out / "audio.wav")}, 0, None, resolution, True)
    elif recipe.startswith(("frames_audio@", "frames@")):
        n = int(recipe.split("@", 1)[1])
        fps = n / max(duration_s, 1e-3)
        _run(
            ffmpeg.input(str(clip_path))
            .filter("fps", fps=fps)
            .filter("scale", scale_w, scale_h)
            .output(str(out / "frame_%03d.jpg"), vframes=n, qscale=4)
        )
        frames = sorted(str(p) for p in out.glob("frame_*.jpg"))
        files: dict = {"frames": frames}
        has_audio = recipe.startswith("frames_audio@")
        if has_audio:
            _run(ffmpeg.output(ffmpeg.input(str(clip_path)).audio, str(out / "audio.wav"), ac=1, ar=16000))
            files["audio"] = str(out / "audio.wav")
        media = DerivedMedia(recipe, files, len(frames), round(fps, 4), resolution, has_audio)
    else:
        raise ValueError(f"unknown media recipe {recipe!r}")
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(media.__dict__))
    os.replace(tmp, marker)
    return media

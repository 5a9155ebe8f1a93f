"""Derived evaluator inputs, made once per (clip content hash, recipe) and reused across runs.

Recipes:
- `video`: H.264/AAC mp4, at most 640 px wide, for providers that take video with its audio track.
- `frames_audio@N`: N frames sampled evenly (JPEG) plus the audio as 16 kHz mono WAV.
- `frames@N`: the same frames, no audio (recorded as such in every prediction row).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

MEDIA_COLUMNS = ["clip_id", "sha256", "recipe", "files", "frames", "fps", "resolution", "has_audio", "error"]
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
    """Make (or reuse) the recipe's files for one clip. Files are made in a private temporary
    directory and renamed into place whole, so concurrent runs never share a half-written file and
    a crash leaves nothing that looks finished."""
    out = recipe_dir(media_root, recipe, sha256)
    marker = out / "media.json"
    if marker.exists():
        return DerivedMedia(**json.loads(marker.read_text()))
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{sha256[:16]}.", dir=out.parent))
    try:
        media = _make(clip_path, duration_s, width, height, recipe, work, out)
        (work / "media.json").write_text(json.dumps(media.__dict__))
        if out.exists() and not marker.exists():
            shutil.rmtree(out, ignore_errors=True)  # left by an interrupted run of an older layout
        try:
            os.rename(work, out)
        except OSError:
            if not marker.exists():  # another run finished first: use theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return DerivedMedia(**json.loads(marker.read_text()))


def _make(clip_path: Path, duration_s: float, width: int, height: int, recipe: str, work: Path, out: Path):
    """Write the recipe's files into `work`; the returned paths are where they will be, under `out`."""
    scale_w = max(2, min(width, MAX_WIDTH) // 2 * 2)
    scale_h = max(2, int(round(height * scale_w / max(width, 1))) // 2 * 2)
    resolution = f"{scale_w}x{scale_h}"
    audio = {"audio": str(out / "audio.wav")}
    if recipe == "video":
        _run(
            ffmpeg.output(
                ffmpeg.input(str(clip_path)),
                str(work / "clip.mp4"),
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
        _run(ffmpeg.output(ffmpeg.input(str(clip_path)).audio, str(work / "audio.wav"), ac=1, ar=16000))
        return DerivedMedia(recipe, {"video": str(out / "clip.mp4"), **audio}, 0, None, resolution, True)
    if recipe.startswith(("frames_audio@", "frames@")):
        n = int(recipe.split("@", 1)[1])
        fps = n / max(duration_s, 1e-3)
        _run(
            ffmpeg.input(str(clip_path))
            .filter("fps", fps=fps)
            .filter("scale", scale_w, scale_h)
            .output(str(work / "frame_%03d.jpg"), vframes=n, qscale=4)
        )
        frames = [str(out / p.name) for p in sorted(work.glob("frame_*.jpg"))]
        if not frames:
            raise RuntimeError("no frame could be decoded")
        has_audio = recipe.startswith("frames_audio@")
        files: dict = {"frames": frames}
        if has_audio:
            _run(ffmpeg.output(ffmpeg.input(str(clip_path)).audio, str(work / "audio.wav"), ac=1, ar=16000))
            files.update(audio)
        return DerivedMedia(recipe, files, len(frames), round(fps, 4), resolution, has_audio)
    raise ValueError(f"unknown media recipe {recipe!r}")

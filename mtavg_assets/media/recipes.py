"""Derived evaluator inputs, made once per (clip content hash, recipe) and reused across runs.

Recipes:
- `video`: H.264/AAC mp4, at most 640 px wide, for providers that take video with its audio track.
- `frames_audio@N`: N frames sampled evenly (JPEG) plus the audio as 16 kHz mono WAV.
- `frames@N`: the same frames, no audio (recorded as such in every prediction row).
- `audio`: the audio track alone as 16 kHz mono WAV, for audio models that take no images (and
  the video-off control).
- `video_silent`: the `video` picture with no audio stream (the audio-off control).

Frame sampling reads no more of the clip than it needs. The targets are the middles of N equal
parts of the clip, (i + 0.5)·duration/N. When every
target has a keyframe within `KEYFRAME_TOLERANCE` of it (clips encoded with short GOPs), only
keyframes are decoded (`-skip_frame nokey`) and the nearest ones kept: 3-7x faster than decoding
every frame. Otherwise every reference frame is decoded (`-skip_frame noref`, about 1.8x faster)
and the first decoded frame at each target is kept (at most a frame or two after it). Seeking per
target does not pay for short clips: it decodes from the keyframe before each target, which for
long GOPs is most of the clip again for every target.
The times of the kept frames are recorded in `files["frame_times"]`. Frames and audio come out
of one ffmpeg process (one demux of the clip).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import pandas as pd

from mtavg_assets.media.probe import sha256_of

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


def keyframe_times(clip_path: Path) -> list[float]:
    """Presentation times of the video keyframes, from the container index (no decoding)."""
    info = ffmpeg.probe(str(clip_path), select_streams="v:0", show_entries="packet=pts_time,flags")
    times = []
    for packet in info.get("packets", []):
        try:
            if "K" in packet.get("flags", ""):
                times.append(float(packet["pts_time"]))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(times)


def keyframe_plan(keyframes: list[float], duration_s: float, n: int) -> list[float] | None:
    """The keyframe nearest each of the n targets, or None when one of them is further than the
    tolerance from every keyframe, or two targets share a keyframe."""
    if not keyframes or n <= 0:
        return None
    tolerance = keyframe_tolerance(duration_s, n)
    chosen = []
    for target in sample_targets(duration_s, n):
        nearest = min(keyframes, key=lambda k: abs(k - target))
        if abs(nearest - target) > tolerance or (chosen and nearest == chosen[-1]):
            return None
        chosen.append(nearest)
    return chosen


def sample_targets(duration_s: float, n: int) -> list[float]:
    """The middles of n equal parts of the clip."""
    return [round((i + 0.5) * duration_s / n, 6) for i in range(n)]


def keyframe_tolerance(duration_s: float, n: int) -> float:
    """How far a sampled frame may sit from its target: a quarter of the spacing, at most 0.5 s."""
    return min(0.5, duration_s / max(n, 1) / 4)


def _run(stream) -> None:
    try:
        stream.global_args("-nostdin", "-loglevel", "error").overwrite_output().run(
            capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        raise RuntimeError(exc.stderr.decode(errors="replace")) from exc


def derive(
    clip_path: Path,
    sha256: str,
    duration_s: float,
    width: int,
    height: int,
    recipe: str,
    media_root: Path,
    keyframes: list[float] | None = None,
) -> DerivedMedia:
    """Make (or reuse) the recipe's files for one clip. Files are made in a private temporary
    directory and renamed into place whole, so concurrent runs never share a half-written file and
    a crash leaves nothing that looks finished. `keyframes` (from the catalog's probe) saves
    reading the container index again."""
    out = recipe_dir(media_root, recipe, sha256)
    marker = out / "media.json"
    if marker.exists():
        return DerivedMedia(**json.loads(marker.read_text()))
    _same_content(clip_path, sha256)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{sha256[:16]}.", dir=out.parent))
    try:
        media = _make(clip_path, duration_s, width, height, recipe, work, out, keyframes)
        _same_content(clip_path, sha256)  # what ffmpeg read is what the catalog hashed
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


CLIP_CHANGED = "clip changed since it was catalogued"


def _same_content(clip_path: Path, sha256: str) -> None:
    """Derived files are filed under the catalog's sha256: refuse to derive from other bytes (the clip
    is re-catalogued on the next prepare)."""
    actual = sha256_of(clip_path)
    if actual != sha256:
        raise RuntimeError(f"{CLIP_CHANGED} (sha256 {actual[:12]}, catalog {sha256[:12]}): re-catalogued next prepare")


def remove_leftovers(media_root: Path) -> int:
    """Work folders a killed or failed derivation left beside the media (`.<sha>.<random>`); called
    under the clip_media lock, when no derivation runs. Returns how many went."""
    removed = 0
    for work in media_root.glob("*/??/.*"):
        if work.is_dir():
            shutil.rmtree(work, ignore_errors=True)
            removed += 1
    return removed


def _make(
    clip_path: Path,
    duration_s: float,
    width: int,
    height: int,
    recipe: str,
    work: Path,
    out: Path,
    keyframes: list[float] | None = None,
) -> DerivedMedia:
    """Write the recipe's files into `work`; the returned paths are where they will be, under `out`."""
    scale_w = max(2, min(width, MAX_WIDTH) // 2 * 2)
    scale_h = max(2, int(round(height * scale_w / max(width, 1))) // 2 * 2)
    resolution = f"{scale_w}x{scale_h}"
    audio = {"audio": str(out / "audio.wav")}
    if recipe == "video":
        source = ffmpeg.input(str(clip_path), threads=1)  # decoder and encoder on one core: clips run in parallel
        _run(
            ffmpeg.merge_outputs(
                source.video.filter("scale", scale_w, scale_h).output(
                    source.audio,
                    str(work / "clip.mp4"),
                    vcodec="libx264",
                    preset="veryfast",
                    crf=28,
                    pix_fmt="yuv420p",
                    acodec="aac",
                    audio_bitrate="96k",
                    movflags="+faststart",
                    threads=1,
                ),
                source.audio.output(str(work / "audio.wav"), ac=1, ar=16000, threads=1),
            )
        )
        return DerivedMedia(recipe, {"video": str(out / "clip.mp4"), **audio}, 0, None, resolution, True)
    if recipe == "video_silent":  # the audio-off control: the same picture, no sound at all
        source = ffmpeg.input(str(clip_path), threads=1)
        _run(
            source.video.filter("scale", scale_w, scale_h).output(
                str(work / "clip.mp4"), vcodec="libx264", preset="veryfast", crf=28, pix_fmt="yuv420p",
                movflags="+faststart", an=None, threads=1,
            )
        )  # fmt: skip
        return DerivedMedia(recipe, {"video": str(out / "clip.mp4")}, 0, None, resolution, False)
    if recipe == "audio":
        _run(ffmpeg.input(str(clip_path), threads=1).audio.output(str(work / "audio.wav"), ac=1, ar=16000, threads=1))
        return DerivedMedia(recipe, audio, 0, None, None, True)
    if recipe.startswith(("frames_audio@", "frames@")):
        n = int(recipe.split("@", 1)[1])
        fps = n / max(duration_s, 1e-3)
        has_audio = recipe.startswith("frames_audio@")
        plan = keyframe_plan(keyframe_times(clip_path) if keyframes is None else keyframes, duration_s, n)
        if plan is not None:
            source = ffmpeg.input(str(clip_path), skip_frame="nokey", threads=1)
            picked = "+".join(f"lt(abs(t-{k:.6f}),0.0005)" for k in plan)
            frames_out = source.video.filter("select", picked).filter("scale", scale_w, scale_h)
            times = plan
        else:
            times = sample_targets(duration_s, n)
            # the first decoded frame at or after each target (prev_pts: the frame decoded before it)
            picked = "+".join(f"gte(t,{g:.6f})*not(gte(prev_pts*TB,{g:.6f}))" for g in times)
            source = ffmpeg.input(str(clip_path), skip_frame="noref", threads=1)
            frames_out = source.video.filter("select", picked).filter("scale", scale_w, scale_h)
        outputs = [frames_out.output(str(work / "frame_%03d.jpg"), vframes=n, qscale=4, fps_mode="vfr", threads=1)]
        if has_audio:
            outputs.append(source.audio.output(str(work / "audio.wav"), ac=1, ar=16000, threads=1))
        _run(ffmpeg.merge_outputs(*outputs))
        frames = [str(out / p.name) for p in sorted(work.glob("frame_*.jpg"))]
        if not frames:
            raise RuntimeError("no frame could be decoded")
        files: dict = {"frames": frames, "frame_times": times[: len(frames)]}
        if has_audio:
            files.update(audio)
        return DerivedMedia(recipe, files, len(frames), round(fps, 4), resolution, has_audio)
    raise ValueError(f"unknown media recipe {recipe!r}")


def derive_row(clip, recipe: str, clips_dir: Path, media_root: Path) -> dict:
    """One clip_media row for a catalog row: the recipe's files, or the error that stopped them."""
    row = {"clip_id": clip.clip_id, "sha256": clip.sha256, "recipe": recipe}
    keyframes = getattr(clip, "keyframes", None)
    try:
        media = derive(
            clips_dir / clip.path,
            clip.sha256,
            clip.duration_s,
            clip.width,
            clip.height,
            recipe,
            media_root,
            keyframes=json.loads(keyframes) if isinstance(keyframes, str) else None,
        )
    except Exception as exc:  # noqa: BLE001 - one clip that ffmpeg cannot convert must not stop the others
        return {**row, "files": {}, "error": f"{type(exc).__name__}: {str(exc).strip()[-300:]}"}
    return {
        **row,
        "files": media.files,
        "frames": media.frames,
        "fps": media.fps,
        "resolution": media.resolution,
        "has_audio": media.has_audio,
        "error": None,
    }


def derive_all(
    catalog: pd.DataFrame, recipes: list[str], clips_dir: Path, media_root: Path, workers: int
) -> tuple[pd.DataFrame, list[dict]]:
    """clip_media rows for every (clip, recipe), `workers` ffmpeg processes at a time, and per
    recipe how many were made or reused and how long it took."""
    clips = list(catalog.itertuples())
    remove_leftovers(media_root)
    rows, timing = [], []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for recipe in recipes:
            started = time.perf_counter()
            made = sum(1 for c in clips if not (recipe_dir(media_root, recipe, c.sha256) / "media.json").exists())
            rows += pool.map(lambda clip, recipe=recipe: derive_row(clip, recipe, clips_dir, media_root), clips)
            seconds = round(time.perf_counter() - started, 3)
            timing.append({"recipe": recipe, "made": made, "reused": len(clips) - made, "seconds": seconds})
    frame = pd.DataFrame(rows, columns=MEDIA_COLUMNS)
    frame["files"] = frame["files"].map(json.dumps)
    return frame, timing

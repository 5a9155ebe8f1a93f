"""Clip catalog: ffprobe facts and content hashes for every manifest entry, rejects with reasons."""

from __future__ import annotations

import hashlib
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

import ffmpeg
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mtavg_assets.jsonl import read_jsonl
from mtavg_assets.settings import prepare_workers
from mtavg_assets.validation import validation_reason

CATALOG_COLUMNS = [
    "clip_id",
    "path",
    "generator",
    "prompt",
    "n_speakers",
    "meta",
    "duration_s",
    "fps",
    "width",
    "height",
    "video_codec",
    "audio_codec",
    "audio_streams",
    "sample_rate",
    "size_bytes",
    "keyframes",
    "sha256",
    "identity",
]
REJECT_COLUMNS = ["clip_id", "path", "line_no", "reason"]


class ClipRejected(Exception):
    """A clip that cannot enter the benchmark, with the reason in its message."""


MIN_SIDE_PX = 16  # smaller frames cannot be scaled into any evaluator recipe
TRUNCATED_FRACTION = 0.9  # readable video below this share of the declared duration: truncated
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255


def _clean_path(path: str) -> str:
    if "\x00" in path:
        raise ValueError("contains a NUL byte")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in path.split("/")):
        raise ValueError(f"a path component is longer than {MAX_NAME_BYTES} bytes")
    return path


class ManifestRow(BaseModel):
    """One line of clips/manifest.jsonl (DESIGN.md). Strict types; other keys are kept out."""

    model_config = ConfigDict(strict=True, extra="ignore")

    clip_id: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")
    ]
    path: Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH_CHARS), AfterValidator(_clean_path)]
    generator: Annotated[str, StringConstraints(max_length=200)] | None = None
    prompt: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    n_speakers: Annotated[int, Field(ge=0, le=100)] | None = None
    meta: dict[str, Any] | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_inside(root: Path, relative: str) -> Path:
    """The clip's absolute path, refusing any path that leaves the clips root."""
    if not isinstance(relative, str) or not relative:
        raise ClipRejected("missing path")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise ClipRejected(f"path escapes the clips root: {relative}")
    return candidate


def probe_facts(path: Path) -> dict:
    """ffprobe the file; raise ClipRejected for unreadable, empty, silent or image-less clips."""
    if not path.is_file():
        raise ClipRejected("file not found")
    if path.stat().st_size == 0:
        raise ClipRejected("empty file (0 bytes)")
    try:
        # demuxes every packet: catches truncation, and lists the keyframes frame sampling seeks to
        info = ffmpeg.probe(str(path), count_packets=None, show_entries="packet=stream_index,pts_time,flags")
    except ffmpeg.Error as exc:
        tail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] if exc.stderr else []
        raise ClipRejected(f"unreadable by ffprobe: {' '.join(tail) or 'unknown error'}") from exc
    streams = info.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video:
        covers = any(s.get("codec_type") == "video" for s in streams)
        raise ClipRejected("no video stream (only cover art)" if covers else "no video stream")
    if not audio:
        raise ClipRejected("no audio stream")
    duration = float(info.get("format", {}).get("duration") or video[0].get("duration") or 0.0)
    if not math.isfinite(duration) or duration <= 0:
        raise ClipRejected("zero duration")
    width, height = int(video[0].get("width") or 0), int(video[0].get("height") or 0)
    if min(width, height) < MIN_SIDE_PX:
        raise ClipRejected(f"frame too small: {width}x{height} (at least {MIN_SIDE_PX} px a side)")
    rate = video[0].get("avg_frame_rate") or video[0].get("r_frame_rate") or "0/1"
    fps = float(Fraction(rate)) if rate not in ("0/0", "") else 0.0
    packets = int(video[0].get("nb_read_packets") or 0)
    if fps > 0 and packets / fps < TRUNCATED_FRACTION * duration - 0.5:
        raise ClipRejected(
            f"truncated: about {packets / fps:.1f}s of video can be read of the {duration:.1f}s the container declares"
        )
    keyframes = sorted(
        round(float(p["pts_time"]), 6)
        for p in info.get("packets", [])
        if p.get("stream_index") == video[0].get("index") and "K" in p.get("flags", "") and _finite(p.get("pts_time"))
    )
    return {
        "duration_s": duration,
        "fps": fps,
        "width": width,
        "height": height,
        "video_codec": video[0].get("codec_name"),
        "audio_codec": audio[0].get("codec_name"),
        "audio_streams": len(audio),
        "sample_rate": int(audio[0].get("sample_rate") or 0),
        "size_bytes": path.stat().st_size,
        "keyframes": json.dumps(keyframes),
    }


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class ClipCatalog:
    catalog: pd.DataFrame
    rejects: pd.DataFrame
    manifest_lines: int
    reused: int = 0  # clips whose facts came from the previous catalog (unchanged files)


def file_identity(path: Path) -> str | None:
    """Cheap identity of a file's content (path, size, mtime): unchanged files are not re-probed."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def _shown(value) -> str | None:
    """A field as it can be shown in a reject row (strings only, bounded)."""
    return value[:200].replace("\x00", "\\0") if isinstance(value, str) else None


def _examine(
    clips_root: Path, line_no: int, record: dict, known: dict[str, dict]
) -> tuple[dict | None, dict | None, bool]:
    try:
        try:
            typed = ManifestRow.model_validate(record)
        except ValidationError as exc:
            raise ClipRejected(validation_reason(exc)) from None
        try:
            path = resolve_inside(clips_root, typed.path)
            identity = file_identity(path)
            facts = known.get(identity) if identity else None
            reused = facts is not None
            if facts is None:
                facts = {**probe_facts(path), "sha256": sha256_of(path), "identity": identity}
        except (OSError, RuntimeError, ValueError) as exc:  # symlink loops, over-long names, I/O errors
            raise ClipRejected(f"unreadable path: {type(exc).__name__}: {str(exc)[:200]}") from None
        row = {
            "clip_id": typed.clip_id,
            "path": typed.path,
            "generator": typed.generator or "",
            "prompt": typed.prompt or "",
            "n_speakers": typed.n_speakers or 0,
            "meta": json.dumps(typed.meta or {}, sort_keys=True),
            **facts,
        }
        return row, None, reused
    except ClipRejected as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - one clip must never abort the catalog
        reason = f"unexpected {type(exc).__name__}: {str(exc)[:200]}"
    return (
        None,
        {
            "clip_id": _shown(record.get("clip_id")),
            "path": _shown(record.get("path")),
            "line_no": line_no,
            "reason": reason,
        },
        False,
    )


def build_catalog(
    clips_root: Path, manifest: Path, workers: int | None = None, previous: pd.DataFrame | None = None
) -> ClipCatalog:
    """Probe every manifest entry in parallel; each entry ends in exactly one of catalog or rejects.
    Facts of files unchanged since `previous` (an earlier catalog) are reused, not re-probed."""
    known = {}
    if previous is not None and set(CATALOG_COLUMNS) <= set(previous.columns):
        facts_columns = CATALOG_COLUMNS[6:]  # duration_s .. identity
        known = {row["identity"]: row for row in previous[facts_columns].to_dict("records") if row["identity"]}
    lines = list(read_jsonl(manifest)) if manifest.exists() else []
    rejects = [{"clip_id": None, "path": None, "line_no": ln.line_no, "reason": ln.error} for ln in lines if ln.error]
    good = [ln for ln in lines if ln.record is not None]
    # two per core: a probe waits on reading the file as much as on ffprobe
    with ThreadPoolExecutor(max_workers=workers or 2 * prepare_workers()) as pool:
        results = list(pool.map(lambda ln: _examine(clips_root, ln.line_no, ln.record, known), good))
    rows, seen = [], set()
    for line, (row, reject, _) in zip(good, results, strict=True):
        if reject:
            rejects.append(reject)
        elif row["clip_id"] in seen:
            rejects.append(
                {"clip_id": row["clip_id"], "path": row["path"], "line_no": line.line_no, "reason": "duplicate clip_id"}
            )
        else:
            seen.add(row["clip_id"])
            rows.append(row)
    return ClipCatalog(
        catalog=pd.DataFrame(rows, columns=CATALOG_COLUMNS),
        rejects=pd.DataFrame(rejects, columns=REJECT_COLUMNS),
        manifest_lines=len(lines),
        reused=sum(1 for _, _, reused in results if reused),
    )

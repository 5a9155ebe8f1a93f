"""Write the static explorer: index.html, app.js and style.css (this package's `static/`), the data
as JSON (`data/index.json` and one `data/detail/<chunk>.json` per CHUNK_SIZE instances, fetched
when an instance is opened) and the clips under `media/` (hard links where the file system allows,
copies elsewhere). Any static file server can serve the folder; `serve` binds 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from mtavg_assets.explore.data import ExplorerData

STATIC = Path(__file__).parent / "static"
DATA_VERSION = 1


def media_name(clip_id: str, suffix: str) -> str:
    """A clip's file name under media/: its id, percent-encoded (an id may hold any character)."""
    return quote(clip_id, safe="") + suffix


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        if target.stat().st_size == source.stat().st_size and target.stat().st_mtime >= source.stat().st_mtime:
            return
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _dump(path: Path, value) -> None:
    path.write_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False))


def write_site(data: ExplorerData, clips_dir: Path, out: Path, built_at: str | None = None) -> dict:
    """Write the explorer into `out` (created; the data files are replaced whole). Returns counts."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "app.js", "style.css"):
        shutil.copyfile(STATIC / name, out / name)
    staging = Path(tempfile.mkdtemp(prefix=".data-", dir=out))
    staging.chmod(0o755)  # mkdtemp makes it private; a static server may run as another user
    (staging / "detail").mkdir()
    index = dict(data.index, version=DATA_VERSION, built_at=built_at)
    _dump(staging / "index.json", index)
    for number, chunk in enumerate(data.details):
        for detail in chunk.values():
            for clip in detail["clips"]:
                path = data.clip_files.get(clip["clip_id"])
                clip["src"] = f"media/{media_name(clip['clip_id'], path.suffix if path else '.mp4')}"
        _dump(staging / "detail" / f"{number}.json", chunk)
    old = out / "data"
    if old.exists():
        trash = out / f".old-{os.getpid()}-{time.monotonic_ns()}"
        old.rename(trash)
        staging.rename(old)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(old)
    media = out / "media"
    media.mkdir(exist_ok=True)
    missing = 0
    for clip_id, relative in data.clip_files.items():
        source = clips_dir / relative
        if source.is_file():
            _link_or_copy(source, media / media_name(clip_id, relative.suffix))
        else:
            missing += 1
    return {
        "instances": len(index["instances"]["instance_id"]),
        "models": len(index["models"]),
        "clips": len(data.clip_files) - missing,
        "clips_missing": missing,
        "seconds": round(time.perf_counter() - started, 3),
    }


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """The standard static handler, quiet, answering `Range: bytes=a-b` with 206 (video seeking)."""

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def send_head(self):
        spec = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not spec.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = spec[len("bytes=") :].split(",")[0].strip().partition("-")
        try:
            start = int(first) if first else max(0, size - int(last))
            end = min(int(last), size - 1) if first and last else size - 1
        except ValueError:
            return super().send_head()
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return handle

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0:
            block = source.read(min(64 * 1024, remaining))
            if not block:
                break
            outputfile.write(block)
            remaining -= len(block)
        self._remaining = None


def server(directory: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A static file server of `directory` on 127.0.0.1 only (port 0: any free port), with byte
    ranges; the caller runs `serve_forever`."""
    handler = functools.partial(RangeHandler, directory=str(directory))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)

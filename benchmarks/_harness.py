"""Helpers shared by the benchmark scripts: a provider server in its own process, synthetic QA."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def provider_server(latency_s: float, fault_rate: float = 0.0, seed: int = 0, *extra: str):
    """Start the fake provider in a separate process (so it does not share the client's GIL)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtavg_assets_tests.fake_providers",
            "--latency",
            str(latency_s),
            "--fault-rate",
            str(fault_rate),
            "--seed",
            str(seed),
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def server_calls(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/_stats") as response:
        stats = json.load(response)
    return sum(stats["requests"].values())


def synthetic_instances(n: int, seed: int = 0) -> pd.DataFrame:
    """n choice/temporal instances with the validated_qa columns the runner reads."""
    rows = []
    for i in range(n):
        temporal = i % 5 == 0
        options = None if temporal else ["Yes", "No"] if i % 2 else ["a", "b", "c", "No failure is present"]
        rows.append(
            {
                "instance_id": f"syn-{i:06d}",
                "question_type": "temporal" if temporal else ("yes_no" if i % 2 else "mcq"),
                "question": f"Synthetic question {i}?",
                "options": options,
                "n_options": None if temporal else len(options),
                "clip_duration_s": 6.0,
                "n_clips": 1,
                "clip_sha256s": [hashlib.sha256(f"clip{i // 4}".encode()).hexdigest()],
                "content_hash": hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(),
            }
        )
    return pd.DataFrame(rows)


def tiny_frames_media(directory: Path, n_frames: int = 2):
    """A media lookup giving every clip the same small JPEG frames (the harness, not media, is measured)."""
    import ffmpeg

    frames = []
    for i in range(n_frames):
        path = directory / f"frame_{i}.jpg"
        (
            ffmpeg.input(f"color=c=0x{40 * i:02x}6080:s=64x36:d=1", f="lavfi")
            .output(str(path), vframes=1)
            .global_args("-loglevel", "error")
            .overwrite_output()
            .run()
        )
        frames.append(str(path))
    media = {"frames": frames, "frames_count": n_frames, "fps": 1.0, "resolution": "64x36", "has_audio": False}
    return lambda inst: [media for _ in inst["clip_sha256s"]]

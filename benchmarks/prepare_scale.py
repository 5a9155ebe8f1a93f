"""The prepare stage at real size: >= 2,000 clips at 1280x720, 8-12 s, H.264 + AAC, and >= 10,000 QA.

Prints, for a first prepare and a no-change prepare (each the `prepare_benchmark` job in its own
process under `/usr/bin/time -v`): wall time, CPU utilisation, peak RSS, and per stage the step time
from the run's records plus the probe and per-recipe derivation times from the asset metadata.
Then, on a sample of the clips: probe + derivation rate with one worker and with one per core, and
per-clip frame sampling against the old way (decode every frame through the fps filter, then the
audio in a second ffmpeg process).

Clips are synthesized: `--bases` distinct renders (testsrc2 + tone), half with a keyframe every
0.5 s and half with the encoder's default (one keyframe per 10 s), remuxed into `--clips` files that
differ in their container metadata, so every file has its own sha256 and is probed and derived.

    .venv/bin/python benchmarks/prepare_scale.py [--clips 2000] [--qa-per-clip 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg  # noqa: E402
import ffmpeg  # noqa: E402
import pandas as pd  # noqa: E402

from mtavg_assets.media.probe import build_catalog  # noqa: E402
from mtavg_assets.media.recipes import derive_all, keyframe_plan  # noqa: E402
from mtavg_assets.settings import prepare_workers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RECIPES = ("frames_audio@8", "video")
FFMPEG = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]


def render_bases(root: Path, bases: int) -> list[Path]:
    """`bases` distinct 1280x720 H.264 + AAC clips, 8-12 s; even ones with a 0.5 s GOP."""
    root.mkdir(parents=True, exist_ok=True)

    def render(i: int) -> Path:
        out = root / f"base{i:02d}.mp4"
        seconds = 8 + (i * 4 / max(bases - 1, 1))
        gop = ["-g", "12", "-keyint_min", "12"] if i % 2 == 0 else []
        subprocess.run(
            [
                *FFMPEG,
                "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds:.2f}",
                "-f", "lavfi", "-i", f"sine=frequency={220 + 40 * i}:duration={seconds:.2f}",
                "-vf", f"hue=h={i * 29}",
                "-c:v", "libx264", "-preset", "veryfast", *gop, "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", str(out),
            ],
            check=True,
        )  # fmt: skip
        return out

    with ThreadPoolExecutor(max_workers=prepare_workers()) as pool:
        return list(pool.map(render, range(bases)))


def synthesize(data: Path, clips: int, bases: int, qa_per_clip: int) -> None:
    """The benchmark directory: clips + manifest, QA files, a registry with one entry per recipe."""
    started = time.perf_counter()
    base_files = render_bases(data / "bases", bases)
    clip_dir = data / "clips" / "scale"
    clip_dir.mkdir(parents=True, exist_ok=True)

    def remux(i: int) -> None:
        out = clip_dir / f"c{i:05d}.mp4"
        if not out.exists():
            base = base_files[i % bases]
            subprocess.run(
                [*FFMPEG, "-i", str(base), "-c", "copy", "-metadata", f"comment=mtavg-scale-{i}", str(out)], check=True
            )

    with ThreadPoolExecutor(max_workers=2 * prepare_workers()) as pool:
        list(pool.map(remux, range(clips)))
    durations = {b.name: float(ffmpeg.probe(str(b))["format"]["duration"]) for b in base_files}
    manifest = [
        {
            "clip_id": f"c{i:05d}",
            "path": f"scale/c{i:05d}.mp4",
            "generator": f"gen-{i % 4}",
            "n_speakers": 2,
            "meta": {"episode_id": f"ep{i // 4:05d}"},
        }
        for i in range(clips)
    ]
    (data / "clips" / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    qa_rows = []
    for i in range(clips):
        clip_id, duration = f"c{i:05d}", durations[base_files[i % bases].name]
        for q in range(qa_per_clip):
            kind = ("mcq", "yes_no", "temporal", "mcq", "yes_no")[q % 5]
            row = {
                "instance_id": f"{clip_id}-q{q}",
                "clip_ids": [clip_id],
                "dimension": "acting",
                "category": "identity_drift",
                "question": f"Question {q} about clip {clip_id}: does a character's appearance change?",
                "subset": "temporal_localization" if kind == "temporal" else "core",
                "question_type": kind,
                "meta": {"episode_id": f"ep{i // 4:05d}"},
            }
            if kind == "temporal":
                row |= {"answer_span": [round(duration * 0.2, 2), round(duration * 0.6, 2)]}
            elif kind == "yes_no":
                row |= {"options": ["Yes", "No"], "answer": "AB"[(i + q) % 2]}
            else:
                row |= {
                    "options": ["identity drift", "lip sync drift", "gaze error", "No failure is present"],
                    "answer": "ABCD"[(i + q) % 4],
                }
            qa_rows.append(row)
    for e in range(clips // 4):
        ids = [f"c{4 * e + k:05d}" for k in range(4)]
        qa_rows.append(
            {
                "instance_id": f"ep{e:05d}-drama",
                "clip_ids": ids,
                "dimension": "narrative",
                "category": "continuity_break",
                "question": "These clips form one short drama, in order. Which clip breaks continuity?",
                "subset": "short_drama",
                "question_type": "drama",
                "options": ["Clip 1", "Clip 2", "Clip 3", "Clip 4", "No clip breaks continuity"],
                "answer": "ABCDE"[e % 5],
                "meta": {"episode_id": f"ep{e:05d}"},
            }
        )
    (data / "qa").mkdir(exist_ok=True)
    (data / "qa" / "scale.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qa_rows))
    (data / "models.yaml").write_text(
        "models:\n"
        "  - {name: frames-model, provider: openai_compatible, model: m, base_url: 'http://127.0.0.1:9/v1',\n"
        "     api_key_env: MTAVG_SCALE_KEY, media: frames_audio, frames: 8}\n"
        "  - {name: video-model, provider: openai_compatible, model: m, base_url: 'http://127.0.0.1:9/v1',\n"
        "     api_key_env: MTAVG_SCALE_KEY, media: video}\n"
        "  - {name: random, provider: random, seed: 0}\n"
    )
    print(f"synthesized {clips} clips ({bases} renders), {len(qa_rows)} QA in {time.perf_counter() - started:.0f} s")


def timed_prepare(data: Path, home: Path, label: str) -> dict:
    """Run the prepare job in its own process under /usr/bin/time -v and collect its figures."""
    env = {**os.environ, "MTAVG_DATA_DIR": str(data), "DAGSTER_HOME": str(home), "MTAVG_SCALE_KEY": "unused"}
    command = [
        "/usr/bin/time", "-v", sys.executable, "-m", "dagster", "job", "execute",
        "-m", "mtavg_assets.definitions", "-j", "prepare_benchmark",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"{label} prepare failed")
    stats = {
        "cpu_percent": _time_field(done.stderr, r"Percent of CPU this job got: (\d+)%"),
        "peak_rss_mb": _time_field(done.stderr, r"Maximum resident set size \(kbytes\): (\d+)") / 1024,
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_records(limit=1)[0].dagster_run
        steps = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(run.run_id)}
        meta = {}
        for key in ("clip_catalog", "clip_media"):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            meta[key] = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    return {"label": label, "wall_s": wall, **stats, "steps": steps, "meta": meta}


def _time_field(text: str, pattern: str) -> float:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else float("nan")


def report(result: dict) -> None:
    print(
        f"\n{result['label']} prepare: wall {result['wall_s']:.1f} s, CPU {result['cpu_percent']:.0f}% "
        f"(of {os.cpu_count()} cores = {100 * os.cpu_count()}%), peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    for step, seconds in sorted(result["steps"].items(), key=lambda kv: -kv[1]):
        print(f"  step {step:<28} {seconds:8.1f} s")
    catalog, media = result["meta"]["clip_catalog"], result["meta"]["clip_media"]
    print(
        f"  probe: {catalog['probe_seconds']:.1f} s ({catalog['probed']} probed, "
        f"{catalog['reused_unchanged']} unchanged and reused)"
    )
    for recipe, seconds in media["seconds_by_recipe"].items():
        print(f"  derivation {recipe:<16} {seconds:8.1f} s")


def rate_with_workers(data: Path, sample: int, workers: int) -> float:
    """Clips per second through probe + derivation of every recipe, from scratch, `workers` at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.jsonl"
        lines = (data / "clips" / "manifest.jsonl").read_text().splitlines()[:sample]
        manifest.write_text("\n".join(lines) + "\n")
        started = time.perf_counter()
        catalog = build_catalog(data / "clips", manifest, workers=2 * workers).catalog
        derive_all(catalog, list(RECIPES), data / "clips", Path(tmp) / "media", workers)
        return len(catalog) / (time.perf_counter() - started)


def frame_sampling(data: Path, sample: int) -> None:
    """Per-clip time of frames_audio@8: the old full decode vs the sampler, by keyframe spacing."""
    lines = [json.loads(x) for x in (data / "clips" / "manifest.jsonl").read_text().splitlines()[:sample]]
    manifest = Path(tempfile.mkdtemp()) / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    catalog = build_catalog(data / "clips", manifest).catalog
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for clip in catalog.itertuples():
        path = data / "clips" / clip.path
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            fps = 8 / clip.duration_s
            subprocess.run(
                [*FFMPEG, "-threads", "1", "-i", str(path), "-vf", f"fps={fps},scale=640:360",
                 "-frames:v", "8", "-q:v", "4", f"{tmp}/old_%03d.jpg"],
                check=True,
            )  # fmt: skip
            audio = [*FFMPEG, "-threads", "1", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000", f"{tmp}/a.wav"]
            subprocess.run(audio, check=True)
            old = time.perf_counter() - started
            frame = pd.DataFrame([clip._asdict()])
            started = time.perf_counter()
            derive_all(frame, ["frames_audio@8"], data / "clips", Path(tmp) / "media", 1)
            new = time.perf_counter() - started
        kind = "keyframes near targets" if keyframe_plan(json.loads(clip.keyframes), clip.duration_s, 8) else "decoded"
        by_kind.setdefault(kind, []).append((old, new))
    print(f"\nframes_audio@8 per 1280x720 clip, one worker ({len(catalog)} clips):")
    for kind, pairs in by_kind.items():
        old = sum(p[0] for p in pairs) / len(pairs)
        new = sum(p[1] for p in pairs) / len(pairs)
        print(f"  {kind:<24} old {old:.3f} s   now {new:.3f} s   {old / new:.1f}x faster   ({len(pairs)} clips)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--bases", type=int, default=20)
    parser.add_argument("--qa-per-clip", type=int, default=5)
    parser.add_argument("--sample", type=int, default=40, help="clips for the worker and sampling comparisons")
    parser.add_argument("--dir", type=Path, help="benchmark directory (kept); default: a temporary one")
    args = parser.parse_args()
    data = args.dir or Path(tempfile.mkdtemp(prefix="mtavg-scale-"))
    home = data / "dagster_home"
    if home.exists():
        shutil.rmtree(home)
    shutil.rmtree(data / "derived", ignore_errors=True)
    shutil.rmtree(data / "media", ignore_errors=True)
    home.mkdir(parents=True)
    synthesize(data, args.clips, args.bases, args.qa_per_clip)
    first = timed_prepare(data, home, "first")
    report(first)
    again = timed_prepare(data, home, "no-change")
    report(again)
    print(f"\nno-change prepare / first: {again['wall_s'] / first['wall_s']:.1%} (target < 10%)")
    one = rate_with_workers(data, args.sample, 1)
    many = rate_with_workers(data, args.sample, prepare_workers())
    print(
        f"\nprobe + derivation ({', '.join(RECIPES)}), {args.sample} clips: {one:.2f} clips/s with 1 worker, "
        f"{many:.2f} clips/s with {prepare_workers()}: {many / one:.2f}x (target >= 1.8x on 2 cores)"
    )
    frame_sampling(data, args.sample)
    print(f"\ndata directory: {data}")


if __name__ == "__main__":
    main()

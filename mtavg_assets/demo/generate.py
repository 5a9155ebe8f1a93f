"""Write the demo benchmark: clips + manifest + QA JSONL, deterministic from a seed."""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mtavg_assets.demo.questions import clip_questions, drama_questions
from mtavg_assets.demo.render import render_clip
from mtavg_assets.demo.script import CHARACTERS, DRIFT_COLOURS, FAILURE_KINDS, Character, ClipScript, make_script
from mtavg_assets.settings import DataLayout
from mtavg_assets.taxonomy import Taxonomy, load_taxonomy

GENERATORS = ("demo-t2av-alpha", "demo-t2av-beta", "demo-t2av-gamma")
CLIPS_PER_EPISODE = 3
CLEAN_FRACTION = 0.25


@dataclass(frozen=True)
class DemoSummary:
    clips: int
    episodes: int
    qa_instances: int


def plan_episode(rng: random.Random, episode: int, taxonomy: Taxonomy) -> tuple[list[ClipScript], int | None]:
    """Scripts for one episode; three in four episodes recolour a character in one clip, any of the
    three (continuity break: that clip differs from the other two)."""
    episode_id = f"ep{episode:05d}"
    generator = GENERATORS[episode % len(GENERATORS)]
    n_chars = 3 if rng.random() < 0.25 else 2
    cast = [Character(n, c, v, i) for i, (n, c, v) in enumerate(CHARACTERS[:n_chars])]
    mood = rng.choice(("cheerful", "tense"))
    break_index = rng.choice([*range(CLIPS_PER_EPISODE), None])
    kinds = [k for k, _ in FAILURE_KINDS if not (break_index is not None and k == "identity_drift")]
    scripts = []
    for index in range(CLIPS_PER_EPISODE):
        clip_cast = cast
        if index == break_index:
            who = rng.randrange(n_chars)
            clip_cast = [
                Character(c.name, DRIFT_COLOURS[(who + 1) % len(DRIFT_COLOURS)], c.voice_hz, c.side) if i == who else c
                for i, c in enumerate(cast)
            ]
        kind = None if rng.random() < CLEAN_FRACTION else rng.choice(kinds)
        clip_id = f"{episode_id}-c{index + 1}"
        scripts.append(make_script(rng, clip_id, episode_id, index, generator, clip_cast, mood, kind))
    return scripts, break_index


def plan_demo(taxonomy: Taxonomy, n_episodes: int, seed: int) -> tuple[list[ClipScript], list[dict]]:
    """Every clip script and QA instance of the demo benchmark, before anything is rendered."""
    rng = random.Random(seed)
    scripts: list[ClipScript] = []
    qa: list[dict] = []
    for episode in range(n_episodes):
        episode_scripts, break_index = plan_episode(rng, episode, taxonomy)
        scripts += episode_scripts
        for script in episode_scripts:
            qa += clip_questions(script, taxonomy, rng)
        qa += drama_questions(episode_scripts, break_index, taxonomy, rng)
    return scripts, qa


def generate_demo(
    layout: DataLayout, n_episodes: int = 16, seed: int = 20261125, workers: int | None = None
) -> DemoSummary:
    """Render every clip and write `clips/manifest.jsonl` and `qa/demo_*.jsonl` under the layout root."""
    scripts, qa = plan_demo(load_taxonomy(layout.taxonomy_file), n_episodes, seed)

    layout.clips_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        list(pool.map(lambda s: render_clip(s, layout.clips_dir / f"{s.generator}/{s.clip_id}.mp4"), scripts))
    with layout.clip_manifest.open("w") as fh:
        for s in scripts:
            row = {
                "clip_id": s.clip_id,
                "path": f"{s.generator}/{s.clip_id}.mp4",
                "generator": s.generator,
                "prompt": s.prompt,
                "n_speakers": len(s.characters),
                "meta": {
                    "episode_id": s.episode_id,
                    "episode_index": s.episode_index,
                    "failure": s.failure.kind if s.failure else None,
                },
            }
            fh.write(json.dumps(row) + "\n")
    layout.qa_dir.mkdir(parents=True, exist_ok=True)
    for subset in ("core", "temporal_localization", "short_drama"):
        with (layout.qa_dir / f"demo_{subset}.jsonl").open("w") as fh:
            for row in qa:
                if row["subset"] == subset:
                    fh.write(json.dumps(row) + "\n")
    return DemoSummary(clips=len(scripts), episodes=n_episodes, qa_instances=len(qa))

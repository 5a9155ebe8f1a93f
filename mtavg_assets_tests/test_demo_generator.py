"""The demo generator's ground truth is really in the rendered files, measured with ffmpeg."""

from __future__ import annotations

import json
import random
import re

import ffmpeg
import pytest

from mtavg_assets.demo.render import FPS, HEAD_Y, MOUTH_BOX, render_clip
from mtavg_assets.demo.script import CHARACTERS, LIP_OFFSET_S, Character, character_x, make_script
from mtavg_assets.jsonl import read_jsonl
from mtavg_assets.qa.schema import UNLABELLED
from mtavg_assets.taxonomy import QUESTION_TYPES, REQUIRED_DIMENSIONS, SUBSETS

CAST = [Character(n, c, v, i) for i, (n, c, v) in enumerate(CHARACTERS[:2])]


def voice_onsets(path, hz: float) -> list[float]:
    """Times where the voice band at `hz` becomes loud (ffmpeg bandpass + silencedetect)."""
    _, err = (
        ffmpeg.input(str(path))
        .audio.filter("bandpass", f=hz, width_type="h", width=25)
        .filter("silencedetect", noise="-32dB", d=0.15)
        .output("-", format="null")
        .run(capture_stdout=True, capture_stderr=True)
    )
    return [float(t) for t in re.findall(r"silence_end: ([0-9.]+)", err.decode())]


def mouth_open_frames(path, x: int) -> list[int]:
    """Frame indices where the mouth region of the character at x is dark (mouth open)."""
    mx, my, mw, mh = MOUTH_BOX
    top = HEAD_Y[0] + my
    out, _ = (
        ffmpeg.input(str(path))
        .video.filter("crop", mw, HEAD_Y[1] - HEAD_Y[0] + mh, x + mx, top)
        .filter("scale", 1, 1)
        .output("-", format="rawvideo", pix_fmt="gray")
        .run(capture_stdout=True, capture_stderr=True)
    )
    return [i for i, luma in enumerate(out) if luma < 140]


@pytest.mark.parametrize("kind, expected_shift", [("lip_offset", LIP_OFFSET_S), (None, 0.0)])
def test_injected_lip_offset_is_in_the_file(tmp_path, kind, expected_shift):
    script = make_script(random.Random(3), "clip", "ep", 0, "gen", CAST, "cheerful", kind)
    target = next(ln for ln in script.lines if ln.audio_shift) if kind else script.lines[1]
    path = tmp_path / "clip.mp4"
    render_clip(script, path)

    x = character_x(script, target.speaker, target.start + 0.05)  # figures move only at cuts
    frames = [f for f in mouth_open_frames(path, x) if f / FPS >= target.start - 0.05]
    mouth_onset = frames[0] / FPS
    onsets = [t for t in voice_onsets(path, CAST[target.voice].voice_hz) if t >= target.start - 0.2]
    measured_shift = onsets[0] - mouth_onset
    assert abs(mouth_onset - target.start) <= 1.5 / FPS
    assert measured_shift == pytest.approx(expected_shift, abs=0.12)


def test_demo_covers_every_dimension_question_type_and_subset(demo_source):
    rows = [ln.record for path in sorted(demo_source.qa_dir.glob("*.jsonl")) for ln in read_jsonl(path)]
    assert {r["question_type"] for r in rows} == set(QUESTION_TYPES)
    assert {r["subset"] for r in rows} == set(SUBSETS) - {UNLABELLED}  # the demo's clips all carry answers
    assert {r["dimension"] for r in rows} >= set(REQUIRED_DIMENSIONS)
    assert any(r["meta"]["control"] for r in rows) and any(not r["meta"]["control"] for r in rows)
    for r in rows:
        if r["question_type"] == "temporal":
            assert 0 <= r["answer_span"][0] < r["answer_span"][1]
        else:
            assert r["answer"] in "ABCDEFGH"[: len(r["options"])]


def test_generation_is_deterministic_from_the_seed(tmp_path, demo_source):
    from mtavg_assets.demo.generate import generate_demo
    from mtavg_assets_tests.conftest import new_layout

    again = new_layout(tmp_path / "again")
    generate_demo(again, n_episodes=4, seed=11)
    for name in ("demo_core.jsonl", "demo_short_drama.jsonl", "demo_temporal_localization.jsonl"):
        assert (again.qa_dir / name).read_text() == (demo_source.qa_dir / name).read_text()
    manifest = [json.loads(x) for x in again.clip_manifest.read_text().splitlines()]
    assert len(manifest) == 12


def test_the_answer_key_rewards_no_letter_and_no_default():
    """Gold letters uniform over positions, controls answered by the "none" option, yes/no 50/50,
    and several drama questions per episode."""
    from collections import Counter

    from mtavg_assets.demo.generate import plan_demo
    from mtavg_assets.demo.questions import NO_FAILURE
    from mtavg_assets.settings import DEFAULT_DATA_DIR
    from mtavg_assets.taxonomy import load_taxonomy

    _, qa = plan_demo(load_taxonomy(DEFAULT_DATA_DIR / "taxonomy.yaml"), n_episodes=600, seed=5)
    by_type = {t: [q for q in qa if q["question_type"] == t] for t in ("mcq", "yes_no", "drama")}
    yes_no = Counter(q["answer"] for q in by_type["yes_no"])
    assert yes_no["A"] == yes_no["B"]
    for qtype in ("mcq", "drama"):
        shares = Counter(q["answer"] for q in by_type[qtype])
        n = len(by_type[qtype])
        assert set(shares) == {"A", "B", "C", "D"}
        # each letter within 4 binomial standard errors of 1/4
        assert all(abs(c / n - 0.25) < 4 * (0.25 * 0.75 / n) ** 0.5 for c in shares.values()), shares
    for q in by_type["mcq"]:
        gold_text = q["options"]["ABCD".index(q["answer"])]
        assert (gold_text == NO_FAILURE) == q["meta"]["control"]
    for q in by_type["drama"]:
        gold_text = q["options"]["ABCD".index(q["answer"])]
        assert gold_text.startswith(("No clip", "None")) == q["meta"]["control"]
    per_episode = Counter(q["meta"]["episode_id"] for q in by_type["drama"])
    assert min(per_episode.values()) >= 2

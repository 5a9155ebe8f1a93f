"""Importing released benchmarks by preset or mapping file: fixtures built from each release's public
schema with small ffmpeg-made clips. Every source row ends imported or rejected with its reason,
the result runs as it is, and re-importing an unchanged source changes nothing downstream."""

from __future__ import annotations

import json
import shutil

import ffmpeg
import pandas as pd
import pytest

from mtavg_assets.importing.importer import REJECTS_FILE, import_mtavg, import_release
from mtavg_assets.importing.mapping import MappingError, load_mapping, preset_path
from mtavg_assets.media.probe import probe_facts
from mtavg_assets.settings import DataLayout
from mtavg_assets_tests.conftest import run_cli


def _clip(path, audio=True, seconds=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    video = ffmpeg.input(f"color=c=0x336699:s=64x48:r=8:d={seconds}", f="lavfi")
    streams = [video, ffmpeg.input(f"sine=frequency=300:duration={seconds}", f="lavfi")] if audio else [video]
    kwargs = {"vcodec": "libx264", "pix_fmt": "yuv420p", **({"acodec": "aac"} if audio else {})}
    ffmpeg.output(*streams, str(path), **kwargs).global_args("-loglevel", "error").overwrite_output().run()


def _wav(path, seconds=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    (
        ffmpeg.input(f"sine=frequency=500:duration={seconds}", f="lavfi")
        .output(str(path))
        .global_args("-loglevel", "error")
        .overwrite_output()
        .run()
    )


def _rejects(into):
    return [json.loads(line) for line in (into / REJECTS_FILE).read_text().splitlines()]


@pytest.fixture
def videomme(tmp_path):
    source = tmp_path / "Video-MME"
    for vid in ("abc", "def"):
        _clip(source / "data" / f"{vid}.mp4")
    options = ["A. a tie", "B. a hat", "C. a cup", "D. a dog"]
    rows = [
        ("001", "abc", "001-1", "B"),
        ("001", "abc", "001-2", "D"),
        ("002", "def", "002-1", "A"),
        ("003", "ghi", "003-1", "A"),  # video not in the release
        ("002", "def", "002-2", "E"),  # not an option letter
        ("002", "def", "002-1", "C"),  # duplicate question_id
    ]
    frame = pd.DataFrame(
        [
            {
                "video_id": vid,
                "duration": "short",
                "domain": "Knowledge",
                "sub_category": "Humanity & History",
                "url": f"https://example.invalid/{video}",
                "videoID": video,
                "question_id": qid,
                "task_type": "Object Recognition",
                "question": f"What is shown ({qid})?",
                "options": options,
                "answer": answer,
            }
            for vid, video, qid, answer in rows
        ]
    )
    (source / "videomme").mkdir(parents=True)
    frame.to_parquet(source / "videomme" / "test-00000-of-00001.parquet", index=False)
    return source


def test_videomme_preset_imports_rejects_and_runs_as_it_is(videomme, tmp_path):
    into = tmp_path / "bench"
    summary = import_release(videomme, load_mapping(preset_path("videomme")), into)
    assert (summary.rows, summary.imported, summary.rejected, summary.clips) == (6, 3, 3, 2)
    reasons = sorted(r["reason"].split(" ")[0] + " " + r["reason"].split(" ")[1] for r in _rejects(into))
    assert reasons == ["duplicate instance_id", "missing clip", "unknown answer"]
    qa = [json.loads(line) for line in (into / "qa" / "videomme.jsonl").read_text().splitlines()]
    assert qa[0]["options"] == ["a tie", "a hat", "a cup", "a dog"] and qa[0]["answer"] == "B"
    assert qa[0]["category"] == "object_recognition" and qa[0]["dimension"] == "knowledge"
    first = run_cli("run", into)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "QA: 3 lines = 3 valid + 0 rejected" in first.stdout
    # Re-importing the unchanged release rewrites nothing, so the next run asks no model anything.
    before = {p: p.stat().st_mtime_ns for p in into.rglob("*") if p.is_file() and "derived" not in p.parts}
    again = import_release(videomme, load_mapping(preset_path("videomme")), into)
    assert (again.imported, again.rejected) == (3, 3)
    assert all(p.stat().st_mtime_ns == t for p, t in before.items() if p.exists() and p.suffix != ".duckdb")
    second = run_cli("run", into)
    assert second.returncode == 0 and "random: asked 0 cells" in second.stdout


def test_dailyomni_audio_is_muxed_so_the_model_gets_it(tmp_path):
    source = tmp_path / "Daily-Omni"
    _clip(source / "Videos" / "v1" / "v1_video.mp4", audio=False)
    _wav(source / "Videos" / "v1" / "v1_audio.wav")
    qa = [
        {
            "Question": "What sound follows the door?",
            "Choice": ["A. a bell", "B. a dog", "C. music", "D. silence"],
            "Answer": "C",
            "video_id": "v1",
            "Type": "AV Event Alignment",
            "video_category": "Daily life",
            "video_duration": "30s",
        },
        {
            "Question": "Broken?",
            "Choice": ["A. x", "C. y"],
            "Answer": "A",
            "video_id": "v1",
            "Type": "t",
            "video_category": "c",
        },
    ]
    (source / "qa.json").write_text(json.dumps(qa))
    into = tmp_path / "bench"
    summary = import_release(source, load_mapping(preset_path("dailyomni")), into)
    assert (summary.rows, summary.imported, summary.rejected) == (2, 1, 1)
    assert "lacks its prefix B." in _rejects(into)[0]["reason"]
    manifest = json.loads((into / "clips" / "manifest.jsonl").read_text())
    facts = probe_facts(into / "clips" / manifest["path"])
    assert facts["audio_streams"] == 1  # the separate audio track is in the clip


def test_worldsense_preset(tmp_path):
    source = tmp_path / "WorldSense"
    _clip(source / "videos" / "w1.mp4")
    rows = [
        {
            "index": 7,
            "video_path": "videos/w1.mp4",
            "subtitle_path": "subs/w1.srt",
            "question": "Who speaks first?",
            "candidates": ["A. the man", "B. the woman", "C. the child", "D. nobody"],
            "answer": "B",
            "task_type": "Speaker Identification",
            "task_domain": "Daily Life",
            "duration": 2.0,
            "audio_class": ["speech"],
        }
    ]
    (source / "worldsense_qa.json").write_text(json.dumps(rows))
    into = tmp_path / "bench"
    summary = import_release(source, load_mapping(preset_path("worldsense")), into)
    assert (summary.rows, summary.imported) == (1, 1)
    record = json.loads((into / "qa" / "worldsense.jsonl").read_text())
    assert record["instance_id"] == "worldsense-7" and record["answer"] == "B"


MAPPING = """name: custom
rows: ["labels/*.csv"]
fields:
  instance_id: {template: "c-{id}"}
  question: prompt
  options: [opt1, opt2, opt3]
  answer: correct
  clip: {template: "clips/{clip}.mp4"}
  dimension: {value: acting}
  category: failure
  question_type: kind
  answer_span: window
  episode: story
answer_format: text
taxonomy: keep
"""


def test_generic_mapping_with_text_answers_spans_and_the_benchmarks_own_taxonomy(tmp_path):
    source = tmp_path / "release"
    _clip(source / "clips" / "k1.mp4", seconds=3)
    csv = pd.DataFrame(
        [
            {
                "id": 1,
                "prompt": "Which failure?",
                "opt1": "gaze error",
                "opt2": "identity drift",
                "opt3": "none",
                "correct": "identity drift",
                "clip": "k1",
                "failure": "identity_drift",
                "kind": "mcq",
                "window": "",
                "story": "s1",
            },
            {
                "id": 2,
                "prompt": "When?",
                "opt1": "",
                "opt2": "",
                "opt3": "",
                "correct": "",
                "clip": "k1",
                "failure": "identity_drift",
                "kind": "temporal",
                "window": "00:01-00:02",
                "story": "s1",
            },
            {
                "id": 3,
                "prompt": "Which?",
                "opt1": "a",
                "opt2": "b",
                "opt3": "c",
                "correct": "z",
                "clip": "k1",
                "failure": "identity_drift",
                "kind": "mcq",
                "window": "",
                "story": "s1",
            },
            {
                "id": 4,
                "prompt": "Which?",
                "opt1": "a",
                "opt2": "b",
                "opt3": "c",
                "correct": "a",
                "clip": "k1",
                "failure": "made_up_failure",
                "kind": "mcq",
                "window": "",
                "story": "s1",
            },
        ]
    )
    (source / "labels").mkdir()
    csv.to_csv(source / "labels" / "all.csv", index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    into = tmp_path / "bench"
    done = run_cli(f"import --format generic --source {source} --mapping {mapping} --into {into}", into)
    assert done.returncode == 0, done.stderr
    assert "rows: 4 = 2 imported + 2 rejected" in done.stdout
    reasons = sorted(r["reason"] for r in _rejects(into))
    assert reasons[0].startswith("unknown answer 'z'") and reasons[1].startswith("unmapped category 'made_up_failure'")
    qa = [json.loads(line) for line in (into / "qa" / "custom.jsonl").read_text().splitlines()]
    assert qa[0]["answer"] == "B" and qa[0]["meta"]["episode_id"] == "s1"
    assert qa[1]["answer_span"] == [1.0, 2.0] and qa[1]["subset"] == "temporal_localization"


def test_mtavg_preset_and_bad_mappings(demo_source, tmp_path):
    source = tmp_path / "release"
    shutil.copytree(demo_source.root, source)
    with (source / "qa" / "demo_core.jsonl").open("a") as fh:
        fh.write('{"instance_id": "bad", "question": 5}\n')
    into = tmp_path / "bench"
    summary = import_mtavg(source, into)
    lines = sum(len(p.read_text().splitlines()) for p in (source / "qa").glob("*.jsonl"))
    assert summary.rows == lines and summary.rejected == 1 and summary.imported == lines - 1
    assert DataLayout(into).clip_manifest.read_text() == DataLayout(source).clip_manifest.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\nrows: []\nfields: {}\n")
    with pytest.raises(MappingError) as error:
        load_mapping(bad)
    assert "name" in str(error.value) and "rows" in str(error.value)
    with pytest.raises(MappingError):
        preset_path("nope")


DRAMA_MAPPING = """name: dramas
rows: ["dramas.jsonl"]
fields:
  instance_id: qid
  question: q
  options: choices
  answer: gold
  clips: shots
  question_type: {value: drama}
  dimension: {value: narrative}
  category: {value: continuity_break}
  episode: series
clip_item: "shots/{item}.mp4"
"""


def test_a_mapping_lists_the_clips_of_a_short_drama_in_order(tmp_path):
    source = tmp_path / "release"
    for name in ("s1", "s2", "s3"):
        _clip(source / "shots" / f"{name}.mp4")
    rows = [
        {"qid": "d1", "q": "Which shot breaks continuity?", "choices": ["Clip 1", "Clip 2", "Clip 3"], "gold": "C",
         "shots": ["s1", "s2", "s3"], "series": "ep1"},
        {"qid": "d2", "q": "Which shot?", "choices": ["Clip 1", "Clip 2"], "gold": "A", "shots": "s3, s1",
         "series": "ep1"},
        {"qid": "d3", "q": "Which shot?", "choices": ["Clip 1", "Clip 2"], "gold": "A", "shots": ["s1", "s9"],
         "series": "ep1"},
        {"qid": "d4", "q": "Which shot?", "choices": ["Clip 1", "Clip 2"], "gold": "A", "shots": [], "series": "ep2"},
    ]  # fmt: skip
    (source / "dramas.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(DRAMA_MAPPING)
    into = tmp_path / "bench"
    summary = import_release(source, load_mapping(mapping), into)
    assert (summary.rows, summary.imported, summary.rejected) == (4, 2, 2)
    reasons = sorted(r["reason"] for r in _rejects(into))
    assert reasons == ["drama questions need two or more clips in order", "missing clip shots/s9.mp4"]
    qa = {r["instance_id"]: r for r in map(json.loads, (into / "qa" / "dramas.jsonl").read_text().splitlines())}
    assert qa["d1"]["clip_ids"] == ["shots__s1", "shots__s2", "shots__s3"] and qa["d1"]["subset"] == "short_drama"
    assert qa["d2"]["clip_ids"] == ["shots__s3", "shots__s1"]
    manifest = [json.loads(line) for line in (into / "clips" / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["clip_id"] for m in manifest) == ["shots__s1", "shots__s2", "shots__s3"]
    assert {m["meta"]["episode_id"] for m in manifest} == {"ep1"}


def test_a_mapping_gives_exactly_one_clip_source(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(DRAMA_MAPPING.replace("  clips: shots\n", "  clips: shots\n  clip: one\n"))
    with pytest.raises(MappingError, match="exactly one of"):
        load_mapping(path)
    path.write_text(DRAMA_MAPPING.replace("  clips: shots\n", ""))
    with pytest.raises(MappingError, match="exactly one of"):
        load_mapping(path)


def test_a_new_generators_unlabelled_rows_import_without_an_answer(tmp_path):
    source = tmp_path / "release"
    _clip(source / "clips" / "k1.mp4", seconds=3)
    rows = [
        {
            "id": 1,
            "prompt": "Is there identity drift?",
            "opt1": "Yes",
            "opt2": "No",
            "correct": "",
            "split": "unlabelled",
        },
        {"id": 2, "prompt": "Is there identity drift?", "opt1": "Yes", "opt2": "No", "correct": "", "split": "core"},
    ]
    frame = pd.DataFrame(rows).assign(clip="k1", failure="identity_drift", kind="yes_no")
    (source / "labels").mkdir()
    frame.to_csv(source / "labels" / "new.csv", index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        MAPPING.replace("  options: [opt1, opt2, opt3]\n", "  options: [opt1, opt2]\n  subset: split\n")
        .replace("  answer_span: window\n", "")
        .replace("  episode: story\n", "")
    )
    into = tmp_path / "bench"
    done = run_cli(f"import --format generic --source {source} --mapping {mapping} --into {into}", into)
    assert done.returncode == 0, done.stderr
    assert "rows: 2 = 1 imported + 1 rejected" in done.stdout  # a labelled row still needs its answer
    (qa,) = [json.loads(line) for line in (into / "qa" / "custom.jsonl").read_text().splitlines()]
    assert qa["subset"] == "unlabelled" and qa["answer"] is None and qa["instance_id"] == "c-1"

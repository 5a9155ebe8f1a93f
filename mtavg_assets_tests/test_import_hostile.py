"""Hostile and careless releases: nothing outside the benchmark is written, a release never brings a
registry, odd rows are rejects with their reason (never a traceback, never a changed value), and
imports into one benchmark merge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from mtavg_assets.importing.importer import import_mtavg, import_release
from mtavg_assets.importing.mapping import ImportMapping, load_mapping, preset_path
from mtavg_assets.media.probe import sha256_of
from mtavg_assets.settings import REPO_ROOT, DataLayout
from mtavg_assets.taxonomy import load_taxonomy
from mtavg_assets_tests.test_import import _clip, _rejects, _wav


def _mapping(**overrides) -> ImportMapping:
    doc = {
        "name": "rel",
        "rows": ["rows.jsonl"],
        "fields": {
            "instance_id": "id",
            "question": {"value": "Which?"},
            "options": "options",
            "answer": "answer",
            "clip": "clip",
            "dimension": "dim",
            "category": "cat",
            "question_type": {"value": "mcq"},
        },
    }
    for key, value in overrides.items():
        if key in doc["fields"] or key in ("answer_span", "clip_id"):
            doc["fields"][key] = value
        else:
            doc[key] = value
    return ImportMapping.model_validate(doc)


def _rows(source, rows):
    source.mkdir(parents=True, exist_ok=True)
    (source / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _row(iid, **kw):
    return {"id": iid, "options": ["a", "b", "c"], "answer": "A", "clip": "v/c1.mp4", "dim": "d", "cat": "c", **kw}


def _qa(into, name="rel"):
    path = into / "qa" / f"{name}.jsonl"
    return {r["instance_id"]: r for r in map(json.loads, path.read_text().splitlines())} if path.exists() else {}


def _reasons(into) -> dict:
    return {r.get("instance_id"): r["reason"] for r in _rejects(into)}


def test_a_clip_path_through_a_symlinked_folder_never_writes_outside_the_benchmark(tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    deep = source / "deep" / "x" / "y" / "z"
    deep.mkdir(parents=True)
    (source / "a").symlink_to(deep, target_is_directory=True)
    _clip(source / "victim.mp4")
    outside = tmp_path / "outside.mp4"  # what the lexical target of the path below would be
    outside.write_bytes(b"precious")
    climbing = "a/../../../../victim.mp4"  # physically source/victim.mp4; lexically it climbs out of --into
    assert (source / climbing).resolve() == (source / "victim.mp4").resolve()
    _rows(source, [_row("q1", clip=climbing), _row("q2", clip="victim.mp4")])
    summary = import_release(source, _mapping(), into)
    assert outside.read_bytes() == b"precious"
    assert (summary.imported, summary.rejected) == (1, 1)
    assert "climbs out" in _reasons(into)["q1"]
    written = {p.resolve() for p in into.rglob("*")}
    assert all(p.is_relative_to(into.resolve()) for p in written)


def test_an_mtavg_release_brings_no_registry_and_no_link_to_outside(demo_source, tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    shutil.copytree(demo_source.root, source)
    stranger = "models:\n  - {name: x, provider: openai_compatible, model: m, base_url: http://evil.example/v1,"
    (source / "models.yaml").write_text(stranger + " api_key_env: OPENAI_API_KEY}\n")
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not the release's")
    (source / "clips" / "evil.mp4").symlink_to(secret)
    (source / "notes.txt").write_text("hi")
    summary = import_mtavg(source, into)
    assert "evil.example" not in (into / "models.yaml").read_text()  # the default registry instead
    assert any(i.startswith("models.yaml") for i in summary.ignored) and "notes.txt" in summary.ignored
    assert not (into / "clips" / "evil.mp4").exists() and summary.files_rejected == 1
    reasons = [r["reason"] for r in _rejects(into) if r.get("file") == "clips/evil.mp4"]
    assert reasons == ["clip file links to a place outside the release"]
    assert summary.rows == summary.imported + summary.rejected


def test_into_must_be_apart_from_the_release(demo_source, tmp_path):
    source = tmp_path / "release"
    shutil.copytree(demo_source.root, source)
    with (source / "qa" / "demo_core.jsonl").open("a") as fh:
        fh.write('{"instance_id": "bad"}\n')
    before = {p: p.read_bytes() for p in (source / "qa").glob("*.jsonl")}
    for into in (source, source / "inner", tmp_path):
        with pytest.raises(ValueError, match="overlap"):
            import_mtavg(source, into)
        with pytest.raises(ValueError, match="overlap"):
            import_release(source, _mapping(), into)
    assert {p: p.read_bytes() for p in (source / "qa").glob("*.jsonl")} == before


def test_odd_rows_are_rejects_or_exact_imports_never_a_traceback(tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    _clip(source / "v" / "c1.mp4", seconds=3)
    prefixed = [f"{chr(65 + i)}. option {i}" for i in range(26)] + ["[. option 26"]
    rows = [
        _row("null_answer", answer=None),
        _row("lower", answer="b"),
        _row("null_clip", clip=None),
        _row("many", options=prefixed, answer="B"),
        _row("null_option", options=["a", None, "c"]),
        _row("nested", options=[["a"], "b"]),
        "not an object",
        _row("ok"),
    ]
    _rows(source, rows)
    summary = import_release(source, _mapping(clip={"template": "{clip}"}), into)
    assert summary.rows == len(rows) == summary.imported + summary.rejected
    qa, reasons = _qa(into), _reasons(into)
    assert set(qa) == {"lower", "ok"} and qa["lower"]["answer"] == "B"
    assert reasons["null_answer"] == "no answer" and reasons["null_clip"] == "no clip path"
    assert "more than 26" in reasons["many"] and "not a list of strings" in reasons["null_option"]
    assert "not a list of strings" in reasons["nested"] and "expected an object" in reasons[None]


def test_values_that_are_not_exactly_representable_are_rejected_not_changed(tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    _clip(source / "v" / "c1.mp4", seconds=3)
    spans = {"neg": "[-1.5, 2.0]", "range": "00:01-00:02", "list": [0.5, 1.0], "inf": [0.5, "inf"], "three": "1, 2, 3"}
    rows = [{"id": k, "clip": "v/c1.mp4", "dim": "d", "cat": "c", "span": v} for k, v in spans.items()]
    _rows(source, rows)
    temporal = _mapping(question_type={"value": "temporal"}, answer_span="span")
    import_release(source, temporal, into)
    qa, reasons = _qa(into), _reasons(into)
    assert qa["range"]["answer_span"] == [1.0, 2.0] and qa["list"]["answer_span"] == [0.5, 1.0]
    assert "negative" in reasons["neg"] and "not finite" in reasons["inf"] and "not two times" in reasons["three"]

    indexed, into2 = tmp_path / "indexed", tmp_path / "bench2"
    _clip(indexed / "v" / "c1.mp4")
    answers = {"int": 1, "float_whole": 2.0, "float": 1.7, "bool": True, "text": "2", "text_float": "1.5"}
    _rows(indexed, [_row(k, answer=v) for k, v in answers.items()])
    import_release(indexed, _mapping(answer_format="index0"), into2)
    qa, reasons = _qa(into2), _reasons(into2)
    assert {k: r["answer"] for k, r in qa.items()} == {"int": "B", "float_whole": "C", "text": "C"}
    assert set(reasons) == {"float", "bool", "text_float"}


def test_two_files_with_one_stem_stay_two_clips_or_the_second_is_rejected(tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    _clip(source / "v" / "x.mp4", seconds=2)
    _clip(source / "v" / "x.mkv", seconds=3)
    _rows(source, [_row("mp4", clip="v/x.mp4"), _row("mkv", clip="v/x.mkv")])
    import_release(source, _mapping(), into)
    assert set(_qa(into)) == {"mp4"} and "names two files" in _reasons(into)["mkv"]
    manifest = [json.loads(line) for line in (into / "clips" / "manifest.jsonl").read_text().splitlines()]
    assert [m["path"] for m in manifest] == ["rel/v/x.mp4"]
    assert sha256_of(into / "clips" / "rel" / "v" / "x.mp4") == sha256_of(source / "v" / "x.mp4")
    # With the files' own ids, both are clips of their own.
    into2 = tmp_path / "bench2"
    _rows(source, [_row("mp4", clip="v/x.mp4", cid="x_mp4"), _row("mkv", clip="v/x.mkv", cid="x_mkv")])
    import_release(source, _mapping(clip_id="cid"), into2)
    assert {r["clip_ids"][0] for r in _qa(into2).values()} == {"x_mp4", "x_mkv"}


def test_a_corrected_audio_track_with_an_older_mtime_is_muxed_again(tmp_path):
    source, into = tmp_path / "Daily-Omni", tmp_path / "bench"
    _clip(source / "Videos" / "v1" / "v1_video.mp4", audio=False)
    _wav(source / "Videos" / "v1" / "v1_audio.wav", seconds=2)
    qa = [{"Question": "Q?", "Choice": ["A. a", "B. b"], "Answer": "A", "video_id": "v1", "Type": "t",
           "video_category": "c"}]  # fmt: skip
    (source / "qa.json").write_text(json.dumps(qa))
    mapping = load_mapping(preset_path("dailyomni"))
    import_release(source, mapping, into)
    clip = into / "clips" / "dailyomni" / "Videos" / "v1" / "v1_video.mp4"
    first = sha256_of(clip)
    audio = source / "Videos" / "v1" / "v1_audio.wav"
    old = audio.stat().st_mtime_ns - 10**12
    _wav(audio, seconds=1)  # the corrected track, dated before the clip made from the old one
    os.utime(audio, ns=(old, old))
    import_release(source, mapping, into)
    assert sha256_of(clip) != first


def test_imports_into_one_benchmark_merge_their_taxonomies(tmp_path):
    into = tmp_path / "bench"
    for name, cat in (("one", "lip_sync"), ("two", "gaze")):
        source = tmp_path / name
        _clip(source / "v" / "c1.mp4")
        _rows(source, [_row(f"{name}-1", cat=cat, dim=f"dim_{name}")])
        import_release(source, _mapping(name=name), into)
    taxonomy = load_taxonomy(into / "taxonomy.yaml")
    assert taxonomy.categories == {"lip_sync": "dim_one", "gaze": "dim_two"}
    before = (into / "taxonomy.yaml").read_text()
    import_release(tmp_path / "two", _mapping(name="two"), into)  # unchanged: nothing rewritten
    assert (into / "taxonomy.yaml").read_text() == before
    # A later release placing a known category elsewhere: those rows are rejects, the rest goes in.
    three = tmp_path / "three"
    _clip(three / "v" / "c1.mp4")
    _rows(three, [_row("t1", cat="gaze", dim="other"), _row("t2", cat="new_one", dim="other")])
    import_release(three, _mapping(name="three"), into)
    assert "belongs to dimension 'dim_two'" in _reasons(into)["t1"] and set(_qa(into, "three")) == {"t2"}
    assert load_taxonomy(into / "taxonomy.yaml").categories["gaze"] == "dim_two"
    # An mtavg release whose taxonomy disagrees is refused before anything is written.
    release = tmp_path / "mrel"
    (release / "qa").mkdir(parents=True)
    (release / "qa" / "x.jsonl").write_text("")
    doc = {"version": "r1", "required_dimensions": [], "dimensions": {"elsewhere": {"categories": {"gaze": ""}}}}
    (release / "taxonomy.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError, match="taxonomy conflict"):
        import_mtavg(release, into)
    assert not (into / "qa" / "x.jsonl").exists()


def test_a_rejected_row_leaves_no_trace_in_what_is_accepted(tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    _clip(source / "v" / "c1.mp4")
    rows = [_row("bad", clip="v/missing.mp4", dim="first"), _row("good", dim="second"), _row("bad", dim="second")]
    _rows(source, rows)
    summary = import_release(source, _mapping(), into)
    # The rejected first row bound neither its id nor its category's dimension.
    assert set(_qa(into)) == {"good", "bad"} and summary.rejected == 1
    assert load_taxonomy(into / "taxonomy.yaml").categories == {"c": "second"}


def test_unreadable_files_are_one_reject_each_and_the_rest_imports(tmp_path):
    source, into = tmp_path / "release", tmp_path / "bench"
    _clip(source / "v" / "c1.mp4")
    (source / "a.csv").write_bytes(b'id,clip\n"unterminated,\x00\x00')
    (source / "b.json").write_text('{"meta": {"n": 1}}')
    (source / "c.parquet").write_bytes(b"PAR1 not really")
    (source / "d.json").write_text(json.dumps({"rows": [_row("fine")]}))
    summary = import_release(source, _mapping(rows=["*.csv", "*.json", "*.parquet"]), into)
    assert (summary.rows, summary.imported, summary.rejected) == (4, 1, 3)
    reasons = sorted(r["reason"] for r in _rejects(into))
    assert any(r.startswith("cannot read a.csv") for r in reasons)
    assert any("b.json" in r and "no list of rows" in r for r in reasons)
    assert any(r.startswith("cannot read c.parquet") for r in reasons)


def test_a_hugging_face_cache_snapshot_imports_its_linked_clips(tmp_path):
    repo = tmp_path / "hub" / "datasets--o--n"
    blob = repo / "blobs" / "0123abcd"
    blob.parent.mkdir(parents=True)
    _clip(blob.with_suffix(".mp4"))
    blob.with_suffix(".mp4").rename(blob)
    snapshot = repo / "snapshots" / "rev1"
    (snapshot / "v").mkdir(parents=True)
    (snapshot / "v" / "c1.mp4").symlink_to(os.path.relpath(blob, snapshot / "v"))
    _rows(snapshot, [_row("q1")])
    summary = import_release(snapshot, _mapping(), tmp_path / "bench")
    assert (summary.imported, summary.rejected) == (1, 0)


def test_import_without_a_target_refuses_instead_of_writing_the_repository(tmp_path):
    source = tmp_path / "release"
    _clip(source / "v" / "c1.mp4")
    _rows(source, [_row("q1")])
    env = {k: v for k, v in os.environ.items() if k != "MTAVG_DATA_DIR"}
    taxonomy = (REPO_ROOT / "data" / "taxonomy.yaml").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "mtavg_assets", "import", "--format", "worldsense", "--source", str(source)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "--into" in done.stderr
    assert (REPO_ROOT / "data" / "taxonomy.yaml").read_bytes() == taxonomy
    assert not DataLayout(REPO_ROOT / "data").qa_dir.joinpath("worldsense.jsonl").exists()

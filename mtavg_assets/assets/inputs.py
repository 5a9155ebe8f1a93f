"""The raw inputs as external assets: QA files, the clip manifest with its clips, models.yaml and
taxonomy.yaml. Nothing in the pipeline writes them; the `input_changes` sensor reports a new
version of one whenever its content identity changes, and Declarative Automation takes it from
there (see `automation.py`)."""

import hashlib

import dagster as dg

from mtavg_assets.assets import OWNERS
from mtavg_assets.media.probe import file_identity
from mtavg_assets.qa.load import qa_files as qa_file_paths
from mtavg_assets.settings import DataLayout


def _spec(key: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key, group_name="inputs", kinds={"file"}, owners=OWNERS, tags={"mtavg/stage": "input"}, description=description
    )


qa_files = _spec("qa_files", "QA JSONL files in data/qa (every *.jsonl, any case).")
clip_files = _spec("clip_files", "The clip manifest (data/clips/manifest.jsonl) and every clip file under data/clips.")
models_file = _spec("models_file", "The models registry, data/models.yaml.")
taxonomy_file = _spec("taxonomy_file", "The failure taxonomy, data/taxonomy.yaml (or the repository's default).")
INPUTS = [qa_files, clip_files, models_file, taxonomy_file]


def _fingerprint(paths) -> str:
    parts = [identity for identity in map(file_identity, paths) if identity]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def input_versions(layout: DataLayout) -> dict[str, str]:
    """A version of each raw input from the identity (path, size, mtime) of its files."""
    clips = []
    if layout.clips_dir.exists():
        clips = sorted(p for p in layout.clips_dir.rglob("*") if p.is_file())
    return {
        "qa_files": _fingerprint(qa_file_paths(layout.qa_dir)),
        "clip_files": _fingerprint(clips),
        "models_file": _fingerprint([layout.models_file]),
        "taxonomy_file": _fingerprint([layout.taxonomy_file]),
    }

"""Convert a downloaded release into a benchmark directory (clips + manifest, qa/<name>.jsonl,
taxonomy.yaml) by a mapping. Every source row ends as an instance or an import reject with its
reason; files are rewritten only when their content changes, so re-importing an unchanged source
changes nothing downstream."""

from __future__ import annotations

import json
import os
import re
import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
import pandas as pd
import yaml
from pydantic import ValidationError

from mtavg_assets.atomic import temp_beside, write_text_atomic
from mtavg_assets.evaluators.parsing import to_seconds
from mtavg_assets.importing.mapping import FieldSpec, ImportMapping, plain
from mtavg_assets.jsonl import parse_line
from mtavg_assets.qa.schema import SUBSET_OF, QARecord
from mtavg_assets.settings import DEFAULT_DATA_DIR, DataLayout
from mtavg_assets.taxonomy import TaxonomyError, load_taxonomy
from mtavg_assets.validation import validation_reason

PREFIX = re.compile(r"^\s*\(?([A-Z])\s*[\.\):：]\s*")
REJECTS_FILE = "import_rejects.jsonl"


class RowRejected(Exception):
    """A source row that cannot become an instance, with the reason."""


@dataclass(frozen=True)
class ImportSummary:
    rows: int
    imported: int
    rejected: int
    clips: int
    qa_file: Path


def label(text: object) -> str:
    """A taxonomy label from free text: lower case, words joined by underscores."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


def read_rows(source: Path, globs: list[str]) -> list[dict]:
    """Every row of every matching file (json, jsonl, csv, parquet), tagged with file and index."""
    rows: list[dict] = []
    files = sorted({p for pattern in globs for p in source.glob(pattern) if p.is_file()})
    for path in files:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            records = pd.read_parquet(path).to_dict("records")
        elif suffix == ".csv":
            records = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        elif suffix == ".jsonl":
            records = []
            for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
                if raw.strip():
                    record, error = parse_line(raw)
                    records.append(record if record is not None else {"__error": f"line {number}: {error}"})
        elif suffix == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
            records = doc if isinstance(doc, list) else next((v for v in doc.values() if isinstance(v, list)), [])
        else:
            continue
        for record in records:
            row = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in dict(record).items()}
            rows.append({**row, "__file": str(path.relative_to(source)), "__index": len(rows)})
    return rows


def _options(row: dict, mapping: ImportMapping) -> list[str] | None:
    spec = mapping.fields.options
    if spec is None:
        return None
    value = [s.get(row) for s in spec] if isinstance(spec, list) else spec.get(row)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowRejected("options are not a list") from None
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise RowRejected("options are not a list of strings")
    if mapping.option_prefixes:
        stripped = []
        for i, option in enumerate(value):
            match = PREFIX.match(option)
            if not match or match.group(1) != string.ascii_uppercase[i]:
                raise RowRejected(f"option {i + 1} lacks its prefix {string.ascii_uppercase[i]}.")
            stripped.append(option[match.end() :].strip())
        value = stripped
    return value


def _answer(row: dict, mapping: ImportMapping, options: list[str]) -> str:
    raw = mapping.fields.answer.get(row) if mapping.fields.answer else None
    letters = string.ascii_uppercase[: len(options)]
    if mapping.answer_format == "letter":
        match = PREFIX.match(f"{raw}.") if isinstance(raw, str) else None
        letter = match.group(1) if match and len(str(raw).strip().rstrip(".):")) <= 3 else None
        if letter in letters:
            return letter
    elif mapping.answer_format == "text" and isinstance(raw, str):
        text = PREFIX.sub("", raw).strip() if mapping.option_prefixes else raw.strip()
        hits = [letters[i] for i, o in enumerate(options) if o.strip().casefold() == text.casefold()]
        if len(hits) == 1:
            return hits[0]
    elif mapping.answer_format in ("index0", "index1"):
        try:
            index = int(raw) - (1 if mapping.answer_format == "index1" else 0)
        except (TypeError, ValueError):
            index = -1
        if 0 <= index < len(options):
            return letters[index]
    raise RowRejected(f"unknown answer {str(raw)[:50]!r} ({mapping.answer_format} among {len(options)} options)")


def _span(row: dict, mapping: ImportMapping) -> list[float]:
    """[start, end] in seconds from two fields, a list, or text such as "[3.2, 5.0]" or "00:03-00:05"."""
    spec = mapping.fields.answer_span
    if spec is None:
        raise RowRejected("temporal question without answer_span in the mapping")
    if isinstance(spec, list):
        values = [s.get(row) for s in spec]
    else:
        value = spec.get(row)
        values = re.findall(r"\d+(?::\d+)*(?:\.\d+)?", value) if isinstance(value, str) else value
    try:
        if isinstance(values, list | tuple) and len(values) == 2:
            return [float(to_seconds(v)) for v in values]
    except (TypeError, ValueError):
        pass
    raise RowRejected(f"answer_span is not two times: {str(values)[:60]}")


def _text(spec: FieldSpec | None, row: dict, what: str, required: bool = True) -> str | None:
    value = spec.get(row) if spec else None
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        if required:
            raise RowRejected(f"no {what}")
        return None
    return str(value)


class _Clips:
    """Clip files brought into the benchmark: linked or copied once, muxed with a separate audio
    track where the mapping names one, each listed once in the manifest."""

    def __init__(self, source: Path, layout: DataLayout, mapping: ImportMapping):
        self.source, self.layout, self.mapping = source.resolve(), layout, mapping
        self.manifest: dict[str, dict] = {}

    def _inside(self, relative: str) -> Path:
        path = (self.source / relative).resolve()
        if not path.is_relative_to(self.source):
            raise RowRejected(f"clip path leaves the source: {relative[:100]}")
        if not path.is_file():
            raise RowRejected(f"missing clip {relative[:200]}")
        return path

    def count(self, row: dict) -> int:
        """How many clips the row names (before any is brought in)."""
        return 1 if self.mapping.fields.clips is None else len(_items(self.mapping.fields.clips.get(row)))

    def add_row(self, row: dict, episode: str | None, generator: str) -> list[str]:
        """The clip ids of a row: its one clip, or the clips of its `clips` list, in order."""
        if self.mapping.fields.clips is None:
            relative = _text(self.mapping.fields.clip, row, "clip path")
            audio_rel = _text(self.mapping.fields.audio, row, "audio path", required=False)
            clip_id = _text(self.mapping.fields.clip_id, row, "clip id", required=False)
            return [self.add(relative, audio_rel, clip_id, episode, generator)]
        items = _items(self.mapping.fields.clips.get(row))
        if not items:
            raise RowRejected("no clips")
        template = self.mapping.clip_item
        paths = [template.replace("{item}", item) if template else item for item in items]
        for path in paths:  # every clip must exist before any is brought in: a rejected row adds none
            self._inside(path)
        return [self.add(path, None, None, episode, generator) for path in paths]

    def add(
        self, relative: str, audio_rel: str | None, clip_id: str | None, episode: str | None, generator: str
    ) -> str:
        video = self._inside(relative)
        audio = self._inside(audio_rel) if audio_rel else None
        clip_id = clip_id or re.sub(r"[^A-Za-z0-9._-]+", "__", str(Path(relative).with_suffix("")))
        target_rel = f"{self.mapping.name}/{Path(relative).with_suffix('')}.mp4"
        if clip_id in self.manifest:
            if self.manifest[clip_id]["path"] != target_rel:
                raise RowRejected(f"clip id {clip_id!r} names two files")
            return clip_id
        target = self.layout.clips_dir / target_rel
        if audio is not None:
            _mux(video, audio, target)
        else:
            _bring(video, target, self.mapping.link_clips)
        self.manifest[clip_id] = {
            "clip_id": clip_id,
            "path": target_rel,
            "generator": generator,
            "prompt": "",
            "n_speakers": None,
            "meta": {"source": relative, **({"episode_id": episode} if episode else {})},
        }
        return clip_id


def _items(value: Any) -> list[str]:
    """A list of clips as a release writes it: a list, a JSON list, or comma/semicolon-separated."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise RowRejected("clips is not a valid JSON list") from None
        else:
            value = [part for part in re.split(r"[,;]", text)]
    if not isinstance(value, list):
        return []
    return [str(plain(v)).strip() for v in value if v is not None and str(v).strip()]


def _current(target: Path, *inputs: Path) -> bool:
    return target.exists() and all(target.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in inputs)


def _bring(video: Path, target: Path, link: bool) -> None:
    if target.exists() and target.stat().st_size == video.stat().st_size and _current(target, video):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(target)
    try:
        if link:
            os.link(video, tmp)
        else:
            raise OSError
    except OSError:
        shutil.copy2(video, tmp)
    os.replace(tmp, target)


def _mux(video: Path, audio: Path, target: Path) -> None:
    """The video with the separate audio track as its sound (the model must get the audio)."""
    if _current(target, video, audio):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(target).with_suffix(".tmp.mp4")  # ffmpeg picks the container from the suffix
    try:
        (
            ffmpeg.output(
                ffmpeg.input(str(video)).video, ffmpeg.input(str(audio)).audio, str(tmp), vcodec="copy", acodec="aac"
            )
            .global_args("-nostdin", "-loglevel", "error")
            .overwrite_output()
            .run(capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        tmp.unlink(missing_ok=True)
        tail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] if exc.stderr else []
        raise RowRejected(f"cannot mux audio into the clip: {' '.join(tail)[:200]}") from None
    os.replace(tmp, target)


def write_if_changed(path: Path, text: str) -> None:
    """Rewrite only a changed file, so unchanged inputs keep their identity (and their versions)."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    write_text_atomic(path, text)


def import_release(source: Path, mapping: ImportMapping, into: Path) -> ImportSummary:
    """Import every row of the release at `source` into the benchmark directory `into`."""
    source, layout = Path(source), DataLayout(Path(into))
    rows = read_rows(source, mapping.rows)
    keep = mapping.taxonomy == "keep"
    taxonomy = None
    if keep:
        try:
            taxonomy = load_taxonomy(layout.taxonomy_file)
        except TaxonomyError as exc:
            raise ValueError(f"taxonomy: keep needs a usable taxonomy.yaml: {exc}") from None
    clips = _Clips(source, layout, mapping)
    records, rejects, seen, dimension_of = [], [], {}, {}
    for row in rows:
        where = {"file": row["__file"], "row": row["__index"]}
        iid = None
        try:
            if "__error" in row:
                raise RowRejected(row["__error"])
            iid = _text(mapping.fields.instance_id, row, "instance_id")
            if iid in seen:
                raise RowRejected(f"duplicate instance_id (first at row {seen[iid]})")
            qtype = _text(mapping.fields.question_type, row, "question_type")
            dimension, category = (
                label(_text(mapping.fields.dimension, row, "dimension")),
                label(_text(mapping.fields.category, row, "category")),
            )
            if keep:
                if taxonomy.dimension_of(category) is None:
                    raise RowRejected(f"unmapped category {category!r} (not in the benchmark's taxonomy)")
                dimension = taxonomy.dimension_of(category)
            elif dimension_of.setdefault(category, dimension) != dimension:
                raise RowRejected(f"category {category!r} already belongs to dimension {dimension_of[category]!r}")
            episode = _text(mapping.fields.episode, row, "episode", required=False)
            generator = _text(mapping.fields.source_generator, row, "generator", required=False) or mapping.name
            record = {
                "instance_id": iid,
                "question": _text(mapping.fields.question, row, "question"),
                "question_type": qtype,
                "subset": _text(mapping.fields.subset, row, "subset", required=False) or SUBSET_OF.get(qtype, "core"),
                "dimension": dimension,
                "category": category,
                "source_generator": generator,
                "meta": {"source_file": row["__file"], "source_row": row["__index"]}
                | ({"episode_id": episode} if episode else {}),
            }
            if qtype == "temporal":
                record["answer_span"] = _span(row, mapping)
            else:
                record["options"] = _options(row, mapping)
                if record["options"] is None:
                    raise RowRejected("no options")
                record["answer"] = _answer(row, mapping, record["options"])
            try:
                placeholders = [f"clip{i}" for i in range(max(1, clips.count(row)))]
                QARecord.model_validate({**record, "clip_ids": placeholders})
            except ValidationError as exc:
                raise RowRejected(validation_reason(exc)) from None
            record["clip_ids"] = clips.add_row(row, episode, generator)
            seen[iid] = row["__index"]
            records.append(record)
        except RowRejected as exc:
            rejects.append({**where, "instance_id": iid, "reason": str(exc)})
    qa_file = layout.qa_dir / f"{mapping.name}.jsonl"
    write_if_changed(qa_file, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    others = [  # clips of other imports into the same benchmark stay listed
        line
        for line in (layout.clip_manifest.read_text().splitlines() if layout.clip_manifest.exists() else [])
        if line.strip() and not json.loads(line).get("path", "").startswith(f"{mapping.name}/")
    ]
    ours = [json.dumps(m, sort_keys=True) for _, m in sorted(clips.manifest.items())]
    manifest = "".join(line + "\n" for line in [*others, *ours])
    write_if_changed(layout.clip_manifest, manifest)
    write_if_changed(layout.root / REJECTS_FILE, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rejects))
    if not keep:
        write_if_changed(layout.root / "taxonomy.yaml", _taxonomy_yaml(mapping.name, dimension_of))
    if not layout.models_file.exists():
        write_if_changed(layout.models_file, (DEFAULT_DATA_DIR / "models.yaml").read_text())
    return ImportSummary(len(rows), len(records), len(rejects), len(clips.manifest), qa_file)


def _taxonomy_yaml(name: str, dimension_of: dict[str, str]) -> str:
    dimensions: dict[str, dict] = {}
    for category, dimension in sorted(dimension_of.items()):
        dimensions.setdefault(dimension, {"categories": {}})["categories"][category] = ""
    doc = {"version": f"import-{name}", "required_dimensions": [], "dimensions": dimensions}
    header = f"# Written by `python -m mtavg_assets import` from the {name} release's own labels.\n"
    return header + yaml.safe_dump(doc, sort_keys=True)


def import_mtavg(source: Path, into: Path) -> ImportSummary:
    """A release already in mtavg's own contract: every QA line is checked by the typed row model
    (the rest of the checks run in the pipeline), then QA, clips, manifest and taxonomy are linked
    or copied in."""
    source, layout = Path(source).resolve(), DataLayout(Path(into))
    src = DataLayout(source)
    rows = imported = 0
    rejects = []
    for path in sorted(p for p in src.qa_dir.glob("*") if p.suffix.lower() == ".jsonl"):
        kept = []
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            if not raw.strip():
                continue
            rows += 1
            record, error = parse_line(raw)
            if record is not None:
                try:
                    QARecord.model_validate(record)
                except ValidationError as exc:
                    error = validation_reason(exc)
            if error:
                iid = record.get("instance_id") if isinstance(record, dict) else None
                rejects.append({"file": path.name, "row": number, "instance_id": iid, "reason": error})
                continue
            imported += 1
            kept.append(json.dumps(record, sort_keys=True))
        write_if_changed(layout.qa_dir / path.name, "".join(line + "\n" for line in kept))
    clip_files = [p for p in src.clips_dir.rglob("*") if p.is_file() and p != src.clip_manifest]
    for path in clip_files:
        _bring(path, layout.clips_dir / path.relative_to(src.clips_dir), link=True)
    if src.clip_manifest.exists():
        write_if_changed(layout.clip_manifest, src.clip_manifest.read_text(encoding="utf-8"))
    for name in ("taxonomy.yaml", "models.yaml"):
        if (source / name).exists():
            write_if_changed(layout.root / name, (source / name).read_text(encoding="utf-8"))
    if not layout.models_file.exists():
        write_if_changed(layout.models_file, (DEFAULT_DATA_DIR / "models.yaml").read_text())
    write_if_changed(layout.root / REJECTS_FILE, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rejects))
    return ImportSummary(rows, imported, len(rejects), len(clip_files), layout.qa_dir)

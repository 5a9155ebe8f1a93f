"""Convert a downloaded release into a benchmark directory (clips + manifest, qa/<name>.jsonl,
taxonomy.yaml) by a mapping. Every source row ends as an instance or an import reject with its
reason; files are rewritten only when their content changes, so re-importing an unchanged source
changes nothing downstream."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
import pandas as pd
import yaml
from pydantic import ValidationError

from mtavg_assets.atomic import temp_beside, write_text_atomic
from mtavg_assets.importing.mapping import FieldSpec, ImportMapping, is_null, plain
from mtavg_assets.jsonl import parse_line
from mtavg_assets.media.probe import sha256_of
from mtavg_assets.qa.schema import MAX_OPTIONS, SUBSET_OF, UNLABELLED, QARecord
from mtavg_assets.settings import DEFAULT_DATA_DIR, DataLayout
from mtavg_assets.task.letters import letter
from mtavg_assets.task.letters import letters as letters_of
from mtavg_assets.task.parsing import to_seconds
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
    ignored: tuple[str, ...] = ()  # parts of the release that were not brought in
    files_rejected: int = 0  # clip or QA files refused whole (each with its reason in the rejects file)


def label(text: object) -> str:
    """A taxonomy label from free text: lower case, words joined by underscores."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


def read_rows(source: Path, globs: list[str]) -> list[dict]:
    """Every row of every matching file (json, jsonl, csv, parquet), tagged with file and index. A
    file that cannot be read is one row carrying its reason (the import goes on without it)."""
    rows: list[dict] = []
    files = sorted({p for pattern in globs for p in source.glob(pattern) if p.is_file()})
    for path in files:
        if path.suffix.lower() not in (".parquet", ".csv", ".jsonl", ".json"):
            continue
        where = str(path.relative_to(source))
        try:
            records = _file_records(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable file is one reject, never the whole import
            detail = " ".join(str(exc).split())[:200]
            rows.append({"__error": f"cannot read {where}: {type(exc).__name__}: {detail}", "__file": where,
                         "__index": len(rows)})  # fmt: skip
            continue
        for record in records:
            if not isinstance(record, dict):
                record = {"__error": f"a row is a {type(record).__name__}, not an object"}
            row = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in dict(record).items()}
            rows.append({**row, "__file": where, "__index": len(rows)})
    return rows


def _file_records(path: Path) -> list:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path).to_dict("records")
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
    if suffix == ".jsonl":
        records = []
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            if raw.strip():
                record, error = parse_line(raw)
                records.append(record if record is not None else {"__error": f"line {number}: {error}"})
        return records
    doc = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(doc, list):
        return doc
    lists = [key for key, value in doc.items() if isinstance(value, list)] if isinstance(doc, dict) else []
    if len(lists) != 1:
        keys = ", ".join(list(doc)[:10]) if isinstance(doc, dict) else type(doc).__name__
        found = f"{len(lists)} lists ({', '.join(lists[:5])}), not one list of rows" if lists else "no list of rows"
        raise ValueError(f"the JSON document holds {found} (top level: {keys})")
    return doc[lists[0]]


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
    if len(value) > MAX_OPTIONS:
        raise RowRejected(f"{len(value)} options: more than {MAX_OPTIONS}, the option letters A..Z")
    if mapping.option_prefixes:
        stripped = []
        for i, option in enumerate(value):
            match = PREFIX.match(option)
            if not match or match.group(1) != letter(i):
                raise RowRejected(f"option {i + 1} lacks its prefix {letter(i)}.")
            stripped.append(option[match.end() :].strip())
        value = stripped
    return value


LETTER = re.compile(r"^\(?([A-Za-z])\s*[\.\):：]?$")


def _answer(row: dict, mapping: ImportMapping, options: list[str]) -> str:
    raw = mapping.fields.answer.get(row) if mapping.fields.answer else None
    letters = letters_of(len(options))
    if is_null(raw) or (isinstance(raw, str) and not raw.strip()):
        raise RowRejected("no answer")
    if mapping.answer_format == "letter":
        match = LETTER.match(raw.strip()) if isinstance(raw, str) else None
        given = match.group(1).upper() if match else None
        if given is not None and given in letters:
            return given
    elif mapping.answer_format == "text" and isinstance(raw, str):
        text = PREFIX.sub("", raw).strip() if mapping.option_prefixes else raw.strip()
        hits = [letters[i] for i, o in enumerate(options) if o.strip().casefold() == text.casefold()]
        if len(hits) == 1:
            return hits[0]
    elif mapping.answer_format in ("index0", "index1"):
        index = _index(raw)
        if index is not None:
            index -= 1 if mapping.answer_format == "index1" else 0
            if 0 <= index < len(options):
                return letters[index]
    raise RowRejected(f"unknown answer {str(raw)[:50]!r} ({mapping.answer_format} among {len(options)} options)")


def _index(raw: Any) -> int | None:
    """An option index written exactly: an integer, an integral float, or digits; never a boolean."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    if isinstance(raw, str) and re.fullmatch(r"\s*\d{1,6}(?:\.0*)?\s*", raw):
        return int(float(raw))
    return None


# A time in a span written as text: a number or clock, signed only where a sign can stand (at the
# start or after a bracket, comma or space: "00:03-00:05" is a range, "[-3.2, 5]" a negative start).
SPAN_TIME = re.compile(r"(?:^|(?<=[\s\[(,;]))-?\d+(?::\d+)*(?:\.\d+)?|\d+(?::\d+)*(?:\.\d+)?")


def _span(row: dict, mapping: ImportMapping) -> list[float]:
    """[start, end] in seconds from two fields, a list, or text such as "[3.2, 5.0]" or "00:03-00:05".
    Only a value read exactly is kept: a negative, non-finite or unreadable time is a reject."""
    spec = mapping.fields.answer_span
    if spec is None:
        raise RowRejected("temporal question without answer_span in the mapping")
    if isinstance(spec, list):
        values = [s.get(row) for s in spec]
    else:
        value = spec.get(row)
        values = SPAN_TIME.findall(value) if isinstance(value, str) else value
    try:
        if isinstance(values, list | tuple) and len(values) == 2:
            span = [float(to_seconds(v)) for v in values]
            if not all(math.isfinite(t) for t in span):
                raise RowRejected(f"answer_span is not finite: {span}")
            if any(t < 0 for t in span):
                raise RowRejected(f"answer_span has a negative time: {span}")
            return span
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


def release_roots(source: Path) -> tuple[Path, ...]:
    """Where a release's files may physically live: the release folder and, for a Hugging Face cache
    snapshot (`.../snapshots/<revision>`, files linked into `../../blobs`), that repository's blobs."""
    source = source.resolve()
    roots = [source]
    if source.parent.name == "snapshots" and (source.parent.parent / "blobs").is_dir():
        roots.append((source.parent.parent / "blobs").resolve())
    return tuple(roots)


def inside_release(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def check_apart(source: Path, into: Path) -> None:
    """Refuse a benchmark directory equal to, inside or containing the release: writing it would
    rewrite or delete the release's own files."""
    src, dst = Path(source).resolve(), Path(into).resolve()
    if src == dst or dst.is_relative_to(src) or src.is_relative_to(dst):
        raise ValueError(f"--into {dst} and --source {src} overlap: the benchmark must be a folder of its own")


def contained_target(root: Path, relative: str) -> Path:
    """`root/relative` when it stays inside `root` both as written and once its folders' links are
    followed; a reject otherwise (nothing is ever written outside the benchmark)."""
    normal = os.path.normpath(relative)
    if os.path.isabs(normal) or normal == ".." or normal.startswith("../"):
        raise RowRejected(f"clip path climbs out of its folder: {relative[:100]}")
    target = root / normal
    base = root.resolve()
    if not target.parent.resolve().is_relative_to(base) or (target.is_symlink() or target.is_dir()):
        raise RowRejected(f"clip target leaves the benchmark's clips folder: {normal[:100]}")
    return target


class _Clips:
    """Clip files brought into the benchmark: linked or copied once, muxed with a separate audio
    track where the mapping names one, each listed once in the manifest."""

    def __init__(self, source: Path, layout: DataLayout, mapping: ImportMapping):
        self.source, self.layout, self.mapping = source.resolve(), layout, mapping
        self.roots = release_roots(self.source)
        self.manifest: dict[str, dict] = {}

    def _inside(self, relative: str) -> Path:
        """The release file a row names (links followed), which must physically be in the release."""
        if os.path.isabs(relative) or "\x00" in relative:
            raise RowRejected(f"clip path is not relative to the release: {relative[:100]}")
        path = (self.source / relative).resolve()
        if not inside_release(path, self.roots):
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
            self._target(path, None)
        return [self.add(path, None, None, episode, generator) for path in paths]

    def _target(self, relative: str, audio_rel: str | None) -> tuple[str, Path]:
        """Where the clip goes: its own name under clips/<import name>/, so x.mp4 and x.mkv stay two
        files; a muxed clip is an mp4 (ffmpeg picks the container from the name)."""
        name = os.path.normpath(relative)
        if audio_rel and not name.lower().endswith(".mp4"):
            name += ".mp4"
        target_rel = f"{self.mapping.name}/{name}"
        return target_rel, contained_target(self.layout.clips_dir, target_rel)

    def add(
        self, relative: str, audio_rel: str | None, clip_id: str | None, episode: str | None, generator: str
    ) -> str:
        video = self._inside(relative)
        audio = self._inside(audio_rel) if audio_rel else None
        target_rel, target = self._target(relative, audio_rel)
        clip_id = clip_id or re.sub(r"[^A-Za-z0-9._-]+", "__", str(Path(os.path.normpath(relative)).with_suffix("")))
        if clip_id in self.manifest:
            if self.manifest[clip_id]["path"] != target_rel:
                first = self.manifest[clip_id]["meta"]["source"]
                raise RowRejected(f"clip id {clip_id!r} names two files ({first} and {relative[:100]})")
            return clip_id
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
    """A list of clips as a release writes it: a list, a JSON list, or comma/semicolon-separated.
    An empty or null item is a reject (dropping it would renumber the episode's clips)."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise RowRejected("clips is not a valid JSON list") from None
        elif text:
            value = [part for part in re.split(r"[,;]", text)]
        else:
            value = []
    if not isinstance(value, list):
        return []
    if any(is_null(v) or isinstance(v, list | dict | bool) or not str(v).strip() for v in value):
        raise RowRejected("clips lists an empty, null or nested item")
    return [str(plain(v)).strip() for v in value]


def _bring(video: Path, target: Path, link: bool) -> None:
    """The release file at `target`, unless `target` already holds the same bytes (a hard link to
    it, or a copy with the same content)."""
    if target.is_file() and not target.is_symlink():
        same_file = os.path.samefile(video, target)
        if same_file or (target.stat().st_size == video.stat().st_size and sha256_of(target) == sha256_of(video)):
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
    """The video with the separate audio track as its sound (the model must get the audio). Made
    again whenever either input's content differs from what the existing file was made of, whatever
    the files' times say (a sidecar beside it records the inputs' sha256)."""
    sources = target.with_name(f".{target.name}.sources.json")
    inputs = {"video": sha256_of(video), "audio": sha256_of(audio)}
    if target.is_file() and sources.is_file():
        try:
            if json.loads(sources.read_text()) == inputs:
                return
        except (OSError, ValueError):
            pass
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
    write_text_atomic(sources, json.dumps(inputs))


def write_if_changed(path: Path, text: str) -> None:
    """Rewrite only a changed file, so unchanged inputs keep their identity (and their versions)."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    write_text_atomic(path, text)


def _taxonomy_yaml(name: str, dimension_of: dict[str, str]) -> str:
    dimensions: dict[str, dict] = {}
    for category, dimension in sorted(dimension_of.items()):
        dimensions.setdefault(dimension, {"categories": {}})["categories"][category] = ""
    doc = {"version": f"import-{name}", "required_dimensions": [], "dimensions": dimensions}
    header = f"# Written by `python -m mtavg_assets import` from the {name} release's own labels.\n"
    return header + yaml.safe_dump(doc, sort_keys=True)


def _own_categories(layout: DataLayout) -> dict[str, str]:
    """category -> dimension of the benchmark's own taxonomy.yaml (none: {}); an unusable one refuses
    the import (merging into it would hide the problem)."""
    own = layout.root / "taxonomy.yaml"
    if not own.exists():
        return {}
    try:
        return dict(load_taxonomy(own).categories)
    except TaxonomyError as exc:
        raise ValueError(f"the benchmark's taxonomy.yaml cannot be merged into: {exc}") from None


def _merged_taxonomy(layout: DataLayout, name: str, categories: dict[str, str]) -> str | None:
    """The benchmark's taxonomy.yaml with these categories added under their dimensions, or None
    when it already has every one of them. Imports merge; they never drop another import's labels."""
    own = layout.root / "taxonomy.yaml"
    if not own.exists():
        return _taxonomy_yaml(name, categories)
    known = _own_categories(layout)
    added = {c: d for c, d in categories.items() if c not in known}
    if not added:
        return None
    doc = yaml.safe_load(own.read_text(encoding="utf-8"))
    for category, dimension in sorted(added.items()):
        body = doc["dimensions"].setdefault(dimension, {"categories": {}}) or {"categories": {}}
        doc["dimensions"][dimension] = body
        body.setdefault("categories", {})[category] = ""
    version = str(doc["version"])
    doc["version"] = version if f"import-{name}" in version.split("+") else f"{version}+import-{name}"
    header = f"# Merged by `python -m mtavg_assets import`: the benchmark's labels plus the {name} release's.\n"
    return header + yaml.safe_dump(doc, sort_keys=True, allow_unicode=True)


def import_release(source: Path, mapping: ImportMapping, into: Path) -> ImportSummary:
    """Import every row of the release at `source` into the benchmark directory `into`."""
    source, layout = Path(source), DataLayout(Path(into))
    check_apart(source, layout.root)
    rows = read_rows(source, mapping.rows)
    keep = mapping.taxonomy == "keep"
    taxonomy = None
    if keep:
        try:
            taxonomy = load_taxonomy(layout.taxonomy_file)
        except TaxonomyError as exc:
            raise ValueError(f"taxonomy: keep needs a usable taxonomy.yaml: {exc}") from None
    known = {} if keep else _own_categories(layout)
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
            elif category in known and known[category] != dimension:
                raise RowRejected(
                    f"category {category!r} belongs to dimension {known[category]!r} in the benchmark's taxonomy.yaml"
                )
            elif dimension_of.get(category, dimension) != dimension:
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
                raw_answer = mapping.fields.answer.get(row) if mapping.fields.answer else None
                if record["subset"] == UNLABELLED and (is_null(raw_answer) or raw_answer == ""):
                    record["answer"] = None  # a new generator's clips: asked, profiled, never scored
                else:
                    record["answer"] = _answer(row, mapping, record["options"])
            try:
                placeholders = [f"clip{i}" for i in range(max(1, clips.count(row)))]
                QARecord.model_validate({**record, "clip_ids": placeholders})
            except ValidationError as exc:
                raise RowRejected(validation_reason(exc)) from None
            record["clip_ids"] = clips.add_row(row, episode, generator)
        except RowRejected as exc:
            rejects.append({**where, "instance_id": iid, "reason": str(exc)})
            continue
        except Exception as exc:  # noqa: BLE001 - a row the checks above did not foresee is one reject
            detail = f"cannot import row: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            rejects.append({**where, "instance_id": iid, "reason": detail})
            continue
        seen[iid] = row["__index"]  # only an accepted row binds its id and its category's dimension
        dimension_of.setdefault(category, dimension)
        records.append(record)
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
    merged = None if keep else _merged_taxonomy(layout, mapping.name, dimension_of)
    if merged is not None:
        write_if_changed(layout.root / "taxonomy.yaml", merged)
    if not layout.models_file.exists():
        write_if_changed(layout.models_file, (DEFAULT_DATA_DIR / "models.yaml").read_text())
    return ImportSummary(len(rows), len(records), len(rejects), len(clips.manifest), qa_file)


RELEASE_PARTS = ("qa", "clips", "taxonomy.yaml")  # all that an mtavg release brings into a benchmark


def import_mtavg(source: Path, into: Path) -> ImportSummary:
    """A release already in mtavg's own contract: every QA line is checked by the typed row model
    (the rest of the checks run in the pipeline), then QA, clips, manifest and taxonomy are linked
    or copied in. Nothing else of the release is brought (a registry would send the user's keys to
    the release's servers): what was left out is listed in the summary. A file linked to a place
    outside the release is a reject."""
    source, layout = Path(source).resolve(), DataLayout(Path(into))
    check_apart(source, layout.root)
    src, roots = DataLayout(source), release_roots(source)
    taxonomy_text = _release_taxonomy(source, layout, roots)
    rows = imported = 0
    rejects, file_rejects = [], []
    for path in sorted(p for p in src.qa_dir.glob("*") if p.suffix.lower() == ".jsonl"):
        if not inside_release(path.resolve(), roots):
            file_rejects.append({"file": f"qa/{path.name}", "reason": "QA file links to a place outside the release"})
            continue
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
    brought = 0
    for path in sorted(p for p in src.clips_dir.rglob("*") if p.is_file() and p != src.clip_manifest):
        relative = str(path.relative_to(src.clips_dir))
        try:
            if not inside_release(path.resolve(), roots):
                raise RowRejected("clip file links to a place outside the release")
            _bring(path.resolve(), contained_target(layout.clips_dir, relative), link=True)
            brought += 1
        except RowRejected as exc:
            file_rejects.append({"file": f"clips/{relative}", "reason": str(exc)})
    if src.clip_manifest.is_file() and inside_release(src.clip_manifest.resolve(), roots):
        write_if_changed(layout.clip_manifest, src.clip_manifest.read_text(encoding="utf-8"))
    if taxonomy_text is not None:
        write_if_changed(layout.root / "taxonomy.yaml", taxonomy_text)
    if not layout.models_file.exists():
        write_if_changed(layout.models_file, (DEFAULT_DATA_DIR / "models.yaml").read_text())
    lines = [json.dumps(r, sort_keys=True) + "\n" for r in [*rejects, *file_rejects]]
    write_if_changed(layout.root / REJECTS_FILE, "".join(lines))
    ignored = tuple(
        f"{p.name} (a release never brings a models registry)" if p.name == "models.yaml" else p.name
        for p in sorted(source.iterdir())
        if p.name not in RELEASE_PARTS and not p.name.startswith(".") and p.name != REJECTS_FILE
    )
    return ImportSummary(rows, imported, len(rejects), brought, layout.qa_dir, ignored, len(file_rejects))


def _release_taxonomy(source: Path, layout: DataLayout, roots: tuple[Path, ...]) -> str | None:
    """The benchmark's taxonomy.yaml after the release's is merged in (None: no change). A category
    the two place in different dimensions refuses the whole import, before anything is written."""
    path = source / "taxonomy.yaml"
    if not path.exists():
        return None
    if not inside_release(path.resolve(), roots):
        raise ValueError("the release's taxonomy.yaml links to a place outside the release")
    try:
        release = load_taxonomy(path).categories
    except TaxonomyError as exc:
        raise ValueError(f"the release's taxonomy.yaml: {exc}") from None
    own = _own_categories(layout)
    conflicts = sorted(c for c, d in release.items() if c in own and own[c] != d)
    if conflicts:
        shown = ", ".join(f"{c} ({own[c]} here, {release[c]} in the release)" for c in conflicts[:10])
        raise ValueError(f"taxonomy conflict, nothing imported: {shown}")
    if not (layout.root / "taxonomy.yaml").exists():
        return path.read_text(encoding="utf-8")
    return _merged_taxonomy(layout, label(source.name) or "release", dict(release))

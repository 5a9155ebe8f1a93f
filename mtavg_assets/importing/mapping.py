"""The import mapping: a short YAML file that says how a downloaded release maps onto the QA and
clip contracts (DESIGN.md), so any layout imports without code.

Each contract field is given as a source field name, `{field: name}`, `{template: "text {name}"}`
(filled from the row) or `{value: constant}`.

```yaml
name: videomme                      # the QA file written: qa/<name>.jsonl
rows: ["videomme/*.parquet"]        # globs under the source; json, jsonl, csv, parquet
fields:
  instance_id: question_id
  question: question
  options: options                  # a list field, or a list of fields: [A, B, C, D]
  answer: answer
  clip: {template: "data/{videoID}.mp4"}   # the clip file, relative to the source
  clips: video_ids                  # or, for a short drama: a list field of its clips, in order
  audio: {template: "Videos/{video_id}/{video_id}_audio.wav"}   # optional: muxed into the clip
  dimension: {value: video_understanding}
  category: sub_category
  question_type: {value: mcq}       # mcq | yes_no | temporal | drama
  subset: {value: core}             # default: the subset of the question type
  answer_span: [start, end]         # temporal: two fields, or one field
  episode: series_id                # optional: groups clips into episodes / short dramas
  source_generator: {value: release}
answer_format: letter               # letter | text | index0 | index1
option_prefixes: true               # options carry "A. " prefixes to strip
span_format: seconds                # seconds | mm:ss (also "mm:ss-mm:ss" in one field)
taxonomy: from_fields               # from_fields (write one) | keep (the benchmark's own)
clip_item: "videos/{item}.mp4"      # optional: how one item of `clips` becomes a path
```
"""

from __future__ import annotations

import math
import string
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mtavg_assets.validation import validation_reason

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


class FieldSpec(BaseModel):
    """Where one contract value comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | None = None
    template: str | None = None
    value: Any = None

    def get(self, row: dict) -> Any:
        if self.field is not None:
            return row.get(self.field)
        if self.template is not None:
            try:
                if any(is_null(row.get(name)) for name in template_fields(self.template)):
                    return None  # a template over a missing or null field names nothing (the row is rejected)
                return self.template.format(**{k: plain(v) for k, v in row.items()})
            except (KeyError, IndexError, ValueError, TypeError, AttributeError):
                return None
        return self.value


def template_fields(template: str) -> set[str]:
    """The row fields a template reads ("{a}/{b[0]}" reads a and b)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def is_null(value: Any) -> bool:
    """Missing in the row, JSON null, or a table reader's NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def plain(value: Any) -> Any:
    """Numbers written as floats by a table reader (1.0) print as integers in templates."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _spec(value: Any) -> Any:
    if isinstance(value, str):
        return FieldSpec(field=value)
    if isinstance(value, list):
        return [_spec(v) for v in value]
    return value


Spec = FieldSpec | list[FieldSpec]


class Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: FieldSpec
    question: FieldSpec
    clip: FieldSpec | None = None
    clips: FieldSpec | None = None  # a list (or JSON list, or comma-separated) of clip paths or ids
    options: Spec | None = None
    answer: FieldSpec | None = None
    answer_span: Spec | None = None
    audio: FieldSpec | None = None
    clip_id: FieldSpec | None = None
    dimension: FieldSpec = FieldSpec(value="general")
    category: FieldSpec = FieldSpec(value="general")
    question_type: FieldSpec = FieldSpec(value="mcq")
    subset: FieldSpec | None = None
    episode: FieldSpec | None = None
    source_generator: FieldSpec | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _spec(value)


class ImportMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    rows: Annotated[list[str], Field(min_length=1)]
    fields: Fields
    answer_format: Literal["letter", "text", "index0", "index1"] = "letter"
    option_prefixes: bool = False
    span_format: Literal["seconds", "mm:ss"] = "seconds"
    taxonomy: Literal["from_fields", "keep"] = "from_fields"
    link_clips: bool = True  # hard-link clips into the benchmark when possible (else copy)
    clip_item: str | None = None  # template with {item}: one item of `clips` to a path

    @model_validator(mode="after")
    def _one_clip_source(self) -> ImportMapping:
        if (self.fields.clip is None) == (self.fields.clips is None):
            raise ValueError("fields: give exactly one of `clip` (one clip per row) or `clips` (a list)")
        if self.clip_item is not None and "{item}" not in self.clip_item:
            raise ValueError("clip_item must contain {item}")
        return self


class MappingError(ValueError):
    """A mapping file that cannot be used, with the reason."""


def load_mapping(path: Path) -> ImportMapping:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"cannot read mapping {path}: {type(exc).__name__}") from None
    try:
        return ImportMapping.model_validate(doc)
    except ValidationError as exc:
        raise MappingError(f"mapping {path}: {validation_reason(exc, limit=10)}") from None


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise MappingError(f"no preset {name!r}; presets: {', '.join(known)}, or `generic` with --mapping")
    return path

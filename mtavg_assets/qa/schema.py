"""The QA instance contract (DESIGN.md) as a typed row: one definition of every field and rule that
needs no other data. Referential checks (clips, taxonomy) are in `validate.py`."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from mtavg_assets.task.letters import letters as option_letters_of

MAX_ID_CHARS = 200
MAX_QUESTION_CHARS = 4000  # a question longer than this is rejected (prompts stay bounded)
MAX_OPTION_CHARS = 1000
MAX_OPTIONS = 26
MAX_CLIPS = 64
SUBSET_OF = {"mcq": "core", "yes_no": "core", "temporal": "temporal_localization", "drama": "short_drama"}
UNLABELLED = "unlabelled"  # choice questions about new clips, no answer: asked, never scored for accuracy
UNLABELLED_TYPES = ("mcq", "yes_no")

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _no_blank(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} is empty or whitespace only")
    return value


class QARecord(BaseModel):
    """One QA line. Strict: a boolean is not a number, a number is not a string."""

    model_config = ConfigDict(strict=True, extra="allow")

    instance_id: Identifier
    clip_ids: Annotated[list[Identifier], Field(min_length=1, max_length=MAX_CLIPS)]
    subset: Literal["core", "short_drama", "temporal_localization", "unlabelled"]
    question_type: Literal["mcq", "yes_no", "temporal", "drama"]
    dimension: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
    category: Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
    question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
    options: list[Annotated[str, Field(max_length=MAX_OPTION_CHARS)]] | None = None
    answer: str | None = None
    answer_span: list[float] | None = None
    source_generator: str | None = None
    meta: dict[str, Any] | None = None

    @field_validator("instance_id", "question")
    @classmethod
    def _not_blank(cls, value: str, info) -> str:
        return _no_blank(value, info.field_name)

    @field_validator("clip_ids")
    @classmethod
    def _clips(cls, clip_ids: list[str]) -> list[str]:
        for clip in clip_ids:
            _no_blank(clip, "a clip id")
        if len(set(clip_ids)) != len(clip_ids):
            raise ValueError("a clip appears twice")
        return clip_ids

    @model_validator(mode="after")
    def _by_type(self) -> QARecord:
        qtype = self.question_type
        unlabelled = self.subset == UNLABELLED
        if unlabelled and qtype not in UNLABELLED_TYPES:
            raise ValueError(f"only {' and '.join(UNLABELLED_TYPES)} questions can be unlabelled, not {qtype}")
        if not unlabelled and self.subset != SUBSET_OF[qtype]:
            raise ValueError(f"{qtype} questions belong to subset {SUBSET_OF[qtype]!r}, not {self.subset!r}")
        if qtype == "drama" and len(self.clip_ids) < 2:
            raise ValueError("drama questions need two or more clips in order")
        if qtype != "drama" and len(self.clip_ids) != 1:
            raise ValueError(f"{qtype} questions take exactly one clip, got {len(self.clip_ids)}")
        if qtype == "temporal":
            span = self.answer_span
            if span is None or len(span) != 2:
                raise ValueError("temporal questions need answer_span [start_s, end_s]")
            if not all(math.isfinite(x) for x in span):
                raise ValueError("answer_span must be finite numbers")
            if span[0] < 0 or span[0] >= span[1]:
                raise ValueError(f"answer_span start must be >= 0 and < end, got [{span[0]}, {span[1]}]")
            return self
        options = self.options
        if options is None or len(options) < 2:
            raise ValueError("options must be a list of two or more strings")
        if len(options) > MAX_OPTIONS:
            raise ValueError(f"more than {MAX_OPTIONS} options")
        if qtype == "yes_no" and len(options) != 2:
            raise ValueError(f"yes_no questions take exactly 2 options, got {len(options)}")
        if any(not o.strip() for o in options):
            raise ValueError("an option is empty or whitespace only")
        folded = [" ".join(o.split()).casefold() for o in options]
        if len(set(folded)) != len(folded):
            raise ValueError("two options have the same text")
        letters = option_letters_of(len(options))
        if unlabelled:
            if self.answer is not None:
                raise ValueError("an unlabelled question has no answer (give it subset core to score it)")
            return self
        if not isinstance(self.answer, str) or self.answer not in letters:
            raise ValueError(f"answer {self.answer!r} is not among the option letters {letters[0]}..{letters[-1]}")
        return self

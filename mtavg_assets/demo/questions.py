"""Question writer: turns clip scripts into QA instances (DESIGN.md format) with exact answers."""

from __future__ import annotations

import random
import string

from mtavg_assets.demo.script import FAILURE_KINDS, ClipScript
from mtavg_assets.taxonomy import Taxonomy

NO_FAILURE = "No failure is present"
FAILURE_CATEGORIES = sorted({category for _, category in FAILURE_KINDS})


def label(category: str) -> str:
    return category.replace("_", " ")


def _letter(index: int) -> str:
    return string.ascii_uppercase[index]


def _base(script: ClipScript, taxonomy: Taxonomy, category: str, suffix: str) -> dict:
    return {
        "instance_id": f"{script.clip_id}-{suffix}",
        "clip_ids": [script.clip_id],
        "dimension": taxonomy.dimension_of(category),
        "category": category,
        "source_generator": script.generator,
        "options": None,
        "answer": None,
        "answer_span": None,
    }


def clip_questions(script: ClipScript, taxonomy: Taxonomy, rng: random.Random) -> list[dict]:
    """mcq + yes/no + temporal for a failure clip; a yes/no control for every clip."""
    out: list[dict] = []
    meta = {"episode_id": script.episode_id, "failure_kind": script.failure.kind if script.failure else None}
    absent = [c for c in FAILURE_CATEGORIES if not script.failure or c != script.failure.category]
    probe = rng.choice(absent)
    control = _base(script, taxonomy, probe, "yn-control")
    control.update(
        subset="core",
        question_type="yes_no",
        options=["Yes", "No"],
        answer="B",
        question=f"Does this clip show a {label(probe)} failure?",
        meta={**meta, "control": True},
    )
    out.append(control)
    if script.failure is None:
        return out
    category = script.failure.category
    distractors = rng.sample([c for c in FAILURE_CATEGORIES if c != category], 2)
    options = [label(category)] + [label(d) for d in distractors]
    rng.shuffle(options)
    options.append(NO_FAILURE)
    mcq = _base(script, taxonomy, category, "mcq")
    mcq.update(
        subset="core",
        question_type="mcq",
        options=options,
        answer=_letter(options.index(label(category))),
        question="Which failure of cinematic expressiveness does this clip show?",
        meta={**meta, "control": False},
    )
    yes = _base(script, taxonomy, category, "yn")
    yes.update(
        subset="core",
        question_type="yes_no",
        options=["Yes", "No"],
        answer="A",
        question=f"Does this clip show a {label(category)} failure?",
        meta={**meta, "control": False},
    )
    span = _base(script, taxonomy, category, "temporal")
    span.update(
        subset="temporal_localization",
        question_type="temporal",
        answer_span=[float(script.failure.span[0]), float(script.failure.span[1])],
        question=f"When does the {label(category)} failure happen? Give its start and end in seconds.",
        meta={**meta, "control": False, "description": script.failure.description},
    )
    return out + [mcq, yes, span]


def drama_question(episode: list[ClipScript], break_index: int | None, taxonomy: Taxonomy) -> dict:
    """One question over the ordered clips of an episode: which clip breaks appearance continuity."""
    options = [f"Clip {i + 1}" for i in range(len(episode))] + ["No clip breaks continuity"]
    answer = _letter(break_index if break_index is not None else len(episode))
    first = episode[0]
    return {
        "instance_id": f"{first.episode_id}-drama",
        "clip_ids": [s.clip_id for s in episode],
        "subset": "short_drama",
        "question_type": "drama",
        "dimension": taxonomy.dimension_of("continuity_break"),
        "category": "continuity_break",
        "question": "These clips form one short drama, in order. In which clip does a character's "
        "appearance break continuity with the other clips?",
        "options": options,
        "answer": answer,
        "answer_span": None,
        "source_generator": first.generator,
        "meta": {"episode_id": first.episode_id, "control": break_index is None},
    }

"""Question writer: turns clip scripts into QA instances (DESIGN.md format) with exact answers."""

from __future__ import annotations

import random

from mtavg_assets.demo.script import FAILURE_KINDS, ClipScript
from mtavg_assets.task.letters import letter
from mtavg_assets.taxonomy import Taxonomy

NO_FAILURE = "No failure is present"
NONE_OF_THE_CLIPS = "None of the clips"
FAILURE_CATEGORIES = sorted({category for _, category in FAILURE_KINDS})


def label(category: str) -> str:
    return category.replace("_", " ")


def _letter(index: int) -> str:
    return letter(index)


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


def _place(rng: random.Random, gold: str, others: list[str]) -> tuple[list[str], str]:
    """Options with the gold one at a uniformly drawn position: the answer key favours no letter."""
    others = list(others)
    rng.shuffle(others)
    position = rng.randrange(len(others) + 1)
    return others[:position] + [gold] + others[position:], _letter(position)


def clip_questions(script: ClipScript, taxonomy: Taxonomy, rng: random.Random) -> list[dict]:
    """Per clip: an mcq (on a clean clip "No failure is present" is right); on a failure clip also a
    yes/no about its failure (Yes), a yes/no control about an absent failure (No) and a temporal
    question. Yes and No are right equally often."""
    meta = {"episode_id": script.episode_id, "failure_kind": script.failure.kind if script.failure else None}
    category = script.failure.category if script.failure else None
    distractors = rng.sample([c for c in FAILURE_CATEGORIES if c != category], 3 if category is None else 2)
    if category is None:
        options, answer = _place(rng, NO_FAILURE, [label(d) for d in distractors])
        mcq = _base(script, taxonomy, distractors[0], "mcq")
    else:
        options, answer = _place(rng, label(category), [label(d) for d in distractors] + [NO_FAILURE])
        mcq = _base(script, taxonomy, category, "mcq")
    mcq.update(
        subset="core",
        question_type="mcq",
        options=options,
        answer=answer,
        question="Which failure of cinematic expressiveness does this clip show?",
        meta={**meta, "control": category is None},
    )
    if category is None:
        return [mcq]
    probe = rng.choice([c for c in FAILURE_CATEGORIES if c != category])
    control = _base(script, taxonomy, probe, "yn-control")
    control.update(
        subset="core",
        question_type="yes_no",
        options=["Yes", "No"],
        answer="B",
        question=f"Does this clip show a {label(probe)} failure?",
        meta={**meta, "control": True},
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
    return [mcq, control, yes, span]


def _drama(
    episode: list[ClipScript],
    suffix: str,
    category: str,
    taxonomy: Taxonomy,
    question: str,
    options: list[str],
    answer: str,
    control: bool,
) -> dict:
    first = episode[0]
    return {
        "instance_id": f"{first.episode_id}-{suffix}",
        "clip_ids": [s.clip_id for s in episode],
        "subset": "short_drama",
        "question_type": "drama",
        "dimension": taxonomy.dimension_of(category),
        "category": category,
        "question": question,
        "options": options,
        "answer": answer,
        "answer_span": None,
        "source_generator": first.generator,
        "meta": {"episode_id": first.episode_id, "control": control},
    }


def drama_questions(
    episode: list[ClipScript], break_index: int | None, taxonomy: Taxonomy, rng: random.Random
) -> list[dict]:
    """Two questions over the ordered clips of an episode: which clip breaks appearance continuity
    (or none; the break is equally likely in any clip or absent, so its letters are uniform), and
    which clip shows a named failure (or none; options placed so the gold letter is uniform)."""
    clips = [f"Clip {i + 1}" for i in range(len(episode))]
    continuity = _drama(
        episode,
        "drama",
        "continuity_break",
        taxonomy,
        "These clips form one short drama, in order. In which clip does a character's appearance "
        "break continuity with the other clips?",
        [*clips, "No clip breaks continuity"],
        _letter(break_index if break_index is not None else len(episode)),
        control=break_index is None,
    )
    present = [s.failure.category for s in episode if s.failure]
    unique = [i for i, s in enumerate(episode) if s.failure and present.count(s.failure.category) == 1]
    if unique and rng.random() >= 0.25:
        where = rng.choice(unique)
        category, gold = episode[where].failure.category, clips[where]
    else:
        category, gold = rng.choice([c for c in FAILURE_CATEGORIES if c not in present]), NONE_OF_THE_CLIPS
    options, answer = _place(rng, gold, [o for o in [*clips, NONE_OF_THE_CLIPS] if o != gold])
    locate = _drama(
        episode,
        "drama-where",
        category,
        taxonomy,
        f"These clips form one short drama, in order. Which clip shows a {label(category)} failure?",
        options,
        answer,
        control=gold == NONE_OF_THE_CLIPS,
    )
    return [continuity, locate]

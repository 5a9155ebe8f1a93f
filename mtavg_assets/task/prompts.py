"""Versioned prompt templates per question type. The hash of the template text (not only the
version name) is part of every cache key: editing a template re-asks exactly the cells it shapes."""

from __future__ import annotations

import hashlib

from mtavg_assets.task.letters import format_options

PROMPTS: dict[str, dict[str, str]] = {
    "v1": {
        "mcq": (
            "You are an expert film critic judging a generated multi-speaker short drama clip.\n"
            "{question}\n{options}\n"
            'Answer with the letter of one option only, as JSON: {{"answer": "<letter>"}}.'
        ),
        "yes_no": (
            "You are an expert film critic judging a generated multi-speaker short drama clip.\n"
            "{question}\n{options}\n"
            'Answer with the letter of one option only, as JSON: {{"answer": "<letter>"}}.'
        ),
        "temporal": (
            "You are an expert film critic judging a generated multi-speaker short drama clip "
            "({duration:.1f} seconds long).\n{question}\n"
            'Answer as JSON with times in seconds from the start of the clip: {{"start": <s>, "end": <s>}}.'
        ),
        "drama": (
            "You are an expert film critic judging a generated short drama made of {n_clips} clips, "
            "shown in order.\n{question}\n{options}\n"
            'Answer with the letter of one option only, as JSON: {{"answer": "<letter>"}}.'
        ),
    }
}


class UnknownPromptVersion(KeyError):
    pass


def template_hash(version: str, question_type: str) -> str:
    """sha256 of the template text a cell of this question type is asked with."""
    if version not in PROMPTS:
        raise UnknownPromptVersion(f"unknown prompt_version {version!r}; known: {sorted(PROMPTS)}")
    return hashlib.sha256(PROMPTS[version][question_type].encode()).hexdigest()


def render_prompt(version: str, instance: dict) -> str:
    """The text sent to an evaluator for one instance."""
    if version not in PROMPTS:
        raise UnknownPromptVersion(f"unknown prompt_version {version!r}; known: {sorted(PROMPTS)}")
    template = PROMPTS[version][instance["question_type"]]
    return template.format(
        question=instance["question"],
        options=format_options(instance.get("options")),
        duration=float(instance.get("clip_duration_s") or 0.0),
        n_clips=int(instance.get("n_clips") or 1),
    )


def rebuilt_prompt(version: object, instance: dict) -> str | None:
    """The prompt a stored cell was asked with, rebuilt from its prompt_version (the template hash is
    in its cache key); None when the version is not one this code knows."""
    if not isinstance(version, str) or version not in PROMPTS:
        return None
    return render_prompt(version, instance)

"""Option letters: the only place that maps an option's position to its letter and back."""

from __future__ import annotations

import string

LETTERS = string.ascii_uppercase  # at most 26 options (qa.schema.MAX_OPTIONS)


def letter(index: int) -> str:
    """The letter of the option at `index` (0 -> A)."""
    return LETTERS[index]


def letters(n: int) -> str:
    """The letters of `n` options, in order ("ABCD" for 4)."""
    return LETTERS[:n]


def index_of(value: str) -> int:
    """The position of an option letter (A -> 0); ValueError for anything else."""
    if len(value) != 1 or value not in LETTERS:
        raise ValueError(f"{value!r} is not an option letter")
    return LETTERS.index(value)


def option_letters(instance: dict) -> list[str]:
    """The letters of an instance's options as shown."""
    return list(letters(len(instance.get("options") or [])))


def format_options(options: list[str] | None) -> str:
    """Options as the prompt lists them: `A. text`, one a line."""
    return "\n".join(f"{letter(i)}. {o}" for i, o in enumerate(options or []))

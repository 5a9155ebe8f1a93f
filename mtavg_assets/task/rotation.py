"""Circular evaluation: a cell shows a choice question's options shifted left by its rotation, and
the answer is stored as the letter of the original option."""

from __future__ import annotations

from mtavg_assets.task.letters import index_of, letter


def rotate(instance: dict) -> dict:
    """The instance as shown for its rotation: options shifted left by `rotation`."""
    k = int(instance.get("rotation") or 0)
    if not k or not instance.get("options"):
        return instance
    options = list(instance["options"])
    return {**instance, "options": options[k:] + options[:k]}


def unrotate_letter(shown: str | None, instance: dict) -> str | None:
    """Map a letter chosen among rotated options back to the original option letter."""
    k = int(instance.get("rotation") or 0)
    if shown is None or not k:
        return shown
    return letter((index_of(shown) + k) % len(instance["options"]))

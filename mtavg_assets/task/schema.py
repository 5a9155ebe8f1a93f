"""The answer schema per question type, as plain JSON Schema: the same shape the prompt asks for.
Providers wrap it in their own structured-output parameter."""

from __future__ import annotations

from mtavg_assets.task.letters import option_letters

TEMPORAL_KEYS = ("start", "end")
CHOICE_KEY = "answer"


def answer_schema(instance: dict) -> dict:
    """An object with `start`/`end` numbers (temporal) or `answer`, one of the option letters."""
    if instance["question_type"] == "temporal":
        properties = {key: {"type": "number"} for key in TEMPORAL_KEYS}
    else:
        properties = {CHOICE_KEY: {"type": "string", "enum": option_letters(instance)}}
    return {"type": "object", "properties": properties, "required": list(properties)}

"""Clip scripts: who speaks when, how the scene looks and sounds, and which failure is injected.

A script is the single source of truth for a demo clip: the renderer draws it and the question
writer reads its ground truth from it, so the answer key cannot drift from the pixels and samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CHARACTERS = (
    # name, body colour, voice fundamental (Hz)
    ("Ava", "0xd94f4f", 210.0),
    ("Ben", "0x4f7fd9", 130.0),
    ("Cleo", "0x4fd98a", 300.0),
)
DRIFT_COLOURS = ("0xe0c040", "0xa050d0", "0xf08030")
LINES = (
    "Where were you last night",
    "I told you I was working",
    "That is not what Sam said",
    "Then Sam is wrong",
    "We should talk about this later",
    "No we talk now",
    "Fine ask me anything",
    "Why is the car gone",
)
FAILURE_KINDS = (
    # kind, category (taxonomy label)
    ("lip_offset", "lip_sync_drift"),
    ("wrong_voice", "voice_face_mismatch"),
    ("frozen_listener", "listener_unresponsive"),
    ("side_swap", "cut_transition_error"),
    ("dead_air", "turn_taking_error"),
    ("overlap", "turn_taking_error"),
    ("music_swap", "music_mood_mismatch"),
    ("lighting_swap", "lighting_mood_mismatch"),
    ("identity_drift", "identity_drift"),
)
LIP_OFFSET_S = 0.75
SLOT_X = {2: (40, 200), 3: (20, 130, 240)}  # x of each character slot on a 320-px frame, by cast size
SHOT_OFFSETS = (0, 14, -14)  # horizontal reframing of consecutive shots (cuts that keep screen direction)


@dataclass(frozen=True)
class Character:
    name: str
    colour: str
    voice_hz: float
    side: int  # index into SIDE_X


@dataclass(frozen=True)
class Line:
    speaker: int  # character whose mouth moves
    start: float
    end: float
    text: str
    voice: int  # character whose voice is heard (differs from speaker when miscast)
    audio_shift: float = 0.0  # seconds the voice lags the mouth


@dataclass(frozen=True)
class Failure:
    kind: str
    category: str
    span: tuple[float, float]
    description: str


@dataclass
class ClipScript:
    clip_id: str
    episode_id: str
    episode_index: int
    generator: str
    duration: float
    mood: str  # "cheerful" or "tense": what the prompt asks for
    characters: list[Character]
    lines: list[Line]
    music: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, mood)
    dark_light: tuple[float, float] | None = None
    frozen_listener: tuple[int, float, float] | None = None  # (character, start, end)
    swap_at: float | None = None  # from here on, characters have swapped sides (180-degree rule broken)
    cuts: list[float] = field(default_factory=list)  # ordinary cuts between shots
    drift: tuple[int, float, str] | None = None  # (character, time, new colour)
    failure: Failure | None = None

    @property
    def prompt(self) -> str:
        names = " and ".join(c.name for c in self.characters)
        return f"A {self.mood} conversation between {names} in a living room."

    def speaking(self, character: int) -> list[tuple[float, float]]:
        return [(ln.start, ln.end) for ln in self.lines if ln.speaker == character]


def _base_lines(rng: random.Random, n_chars: int, start: float = 0.4) -> list[Line]:
    t, lines = start, []
    for i in range(4):
        speaker = i % n_chars
        dur = round(rng.uniform(0.9, 1.3), 2)
        lines.append(Line(speaker, round(t, 2), round(t + dur, 2), rng.choice(LINES), speaker))
        t += dur + round(rng.uniform(0.25, 0.4), 2)
    return lines


def make_script(
    rng: random.Random,
    clip_id: str,
    episode_id: str,
    episode_index: int,
    generator: str,
    cast: list[Character],
    mood: str,
    failure_kind: str | None,
) -> ClipScript:
    """Build one clip's script, then inject at most one failure with its exact time span."""
    lines = _base_lines(rng, len(cast))
    duration = round(lines[-1].end + 0.6, 2)
    other_mood = "tense" if mood == "cheerful" else "cheerful"
    script = ClipScript(clip_id, episode_id, episode_index, generator, duration, mood, list(cast), lines)
    script.music = [(0.0, duration, mood)]
    script.cuts = [round(lines[2].start - 0.15, 2)]
    if failure_kind is None:
        return script
    category = dict(FAILURE_KINDS)[failure_kind]
    target = rng.randrange(1, len(lines))
    line = lines[target]
    if failure_kind == "lip_offset":
        lines[target] = Line(line.speaker, line.start, line.end, line.text, line.voice, LIP_OFFSET_S)
        span, what = (line.start, round(line.end + LIP_OFFSET_S, 2)), "voice lags the lips"
        script.duration = max(duration, round(line.end + LIP_OFFSET_S + 0.4, 2))
    elif failure_kind == "wrong_voice":
        other = (line.speaker + 1) % len(cast)
        lines[target] = Line(line.speaker, line.start, line.end, line.text, other)
        span, what = (line.start, line.end), f"{cast[line.speaker].name} speaks with {cast[other].name}'s voice"
    elif failure_kind == "frozen_listener":
        listener = (line.speaker + 1) % len(cast)
        script.frozen_listener = (listener, line.start, line.end)
        span, what = (line.start, line.end), f"{cast[listener].name} freezes while listening"
    elif failure_kind == "side_swap":
        script.swap_at = line.start
        span, what = (round(line.start - 0.3, 2), round(line.start + 0.3, 2)), "characters jump sides"
    elif failure_kind == "dead_air":
        gap = 2.5
        for i in range(target, len(lines)):
            ln = lines[i]
            lines[i] = Line(ln.speaker, round(ln.start + gap, 2), round(ln.end + gap, 2), ln.text, ln.voice)
        span, what = (lines[target - 1].end, lines[target].start), "nobody speaks for too long"
        script.duration = round(lines[-1].end + 0.6, 2)
    elif failure_kind == "overlap":
        prev = lines[target - 1]
        shift = round(line.start - (prev.start + 0.3), 2)
        for i in range(target, len(lines)):
            ln = lines[i]
            lines[i] = Line(ln.speaker, round(ln.start - shift, 2), round(ln.end - shift, 2), ln.text, ln.voice)
        span = (lines[target].start, min(prev.end, lines[target].end))
        what = "two characters talk over each other"
        script.duration = round(lines[-1].end + 0.6, 2)
    elif failure_kind == "music_swap":
        script.music = [(0.0, line.start, mood), (line.start, script.duration, other_mood)]
        span, what = (line.start, script.duration), f"music turns {other_mood} in a {mood} scene"
    elif failure_kind == "lighting_swap":
        script.dark_light = (line.start, line.end)
        span, what = (line.start, line.end), "lighting turns dark mid-scene"
    elif failure_kind == "identity_drift":
        who = line.speaker
        script.drift = (who, line.start, DRIFT_COLOURS[who % len(DRIFT_COLOURS)])
        span, what = (round(line.start - 0.3, 2), round(line.start + 0.3, 2)), f"{cast[who].name} changes look"
    else:  # pragma: no cover - FAILURE_KINDS is the closed list
        raise ValueError(failure_kind)
    if failure_kind != "music_swap":
        script.music = [(0.0, script.duration, mood)]
    script.failure = Failure(failure_kind, category, (round(span[0], 2), round(span[1], 2)), what)
    return script


def shots(script: ClipScript) -> list[tuple[float, float, bool, int]]:
    """(start, end, sides_swapped, x offset) of each shot, from the ordinary cuts and any side swap."""
    cuts = sorted({*script.cuts, *([script.swap_at] if script.swap_at is not None else [])})
    bounds = [0.0, *cuts, script.duration + 1.0]
    return [
        (
            bounds[i],
            bounds[i + 1],
            script.swap_at is not None and bounds[i] >= script.swap_at,
            SHOT_OFFSETS[i % len(SHOT_OFFSETS)],
        )
        for i in range(len(bounds) - 1)
    ]


def character_x(script: ClipScript, index: int, t: float) -> int:
    """Left edge of a character's figure at time t (it moves only at cuts)."""
    slots = SLOT_X[len(script.characters)]
    for start, end, swapped, dx in shots(script):
        if start <= t < end:
            side = script.characters[index].side
            return slots[len(slots) - 1 - side if swapped else side] + dx
    raise ValueError(f"t={t} outside the clip")

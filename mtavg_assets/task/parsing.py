"""Answer extraction from real model replies. It commits to an answer only when the reply does:
never a default option, never the draft of a reasoning model, never a hedge.

Reading order, for choice questions:
1. The text is normalised (NFKC: full-width letters and punctuation become ASCII) and split into
   reasoning and answer: what follows the last `</think>` (or `</thinking>`, `</thought>`,
   `</reasoning>`) is the answer; the reasoning counts only when nothing follows it.
2. The last `<answer>…</answer>` block, if any, is the answer.
3. The last JSON object with an `answer`/`choice`/`option` key wins over earlier ones.
4. Explicit answer statements ("Answer: B", "the answer is **(B)**", `\\boxed{B}`, "I choose B",
   "答案是B", "选B"): the last one wins, so a draft followed by a final answer gives the final one.
   A statement that names two letters ("A or C", "B, C") or whose quoted option text belongs to
   another letter is a conflict: unparseable.
5. A reply (or its last line) that is only a letter, in any wrapper.
6. Yes/no words mapped to the Yes/No option ("Yes, there is…", "**No**", "是的", "不是").
7. Option text, counted only outside a negated clause ("there is no identity drift"); exactly one
   option must remain.

For temporal questions, the last JSON object with `start`/`end` (or `start_time`/`end_time`,
`span`, `relevant_windows`) wins; otherwise every time range in the text is read (seconds with or
without units, `秒`, `mm:ss`, `hh:mm:ss(.ms)`, SRT `-->`, "starts at … and ends at …", tuples),
ranges that describe the clip itself are dropped, and one distinct range must remain, or the last
one must follow an explicit answer marker. Frame numbers are not seconds: they count only when the
reply states the frame rate.

`PARSER_VERSION` is stored in every prediction row: a new version re-reads stored replies without
asking the model again.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass

from mtavg_assets.task.letters import letters as letters_of

PARSER_VERSION = "3"

_THINK_CLOSE = re.compile(r"</\s*(?:think|thinking|thought|reasoning)\s*>", re.I)
_THINK_OPEN = re.compile(r"<\s*(?:think|thinking|thought|reasoning)\s*>", re.I)
_ANSWER_TAG = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.I | re.S)
_FENCE = re.compile(r"```[a-zA-Z]*\s*|```")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060\ufeff]")
# a chat-template role label (and a streaming model's clock) echoed before the answer
_ROLE_PREFIX = re.compile(
    r"^\s*(?:\((?:video\s+)?time\s*=?\s*[\d.:]+\s*s?\)\s*)?(?:assistant|model|response|output)\s*:\s*(?=\S)",
    re.I,
)


@dataclass(frozen=True)
class ParsedAnswer:
    letter: str | None = None
    span: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.letter is not None or self.span is not None


class Conflict(Exception):
    """The reply commits to more than one answer."""


def normalise(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw)
    text = _ZERO_WIDTH.sub("", text)
    return text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')


MAX_READ_CHARS = 20_000  # of a longer reply, the first 4,000 and the last 16,000 characters are read


def answer_part(raw: str) -> str:
    """The part of a reply that states its answer: after the last closing reasoning tag, unless
    nothing follows it; the inside of the last <answer> block when there is one."""
    if len(raw) > MAX_READ_CHARS:
        raw = raw[:4_000] + "\n" + raw[-(MAX_READ_CHARS - 4_000) :]
    text = normalise(raw)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        after = text[closes[-1].end() :]
        text = after if after.strip() else _THINK_OPEN.sub("", text[: closes[-1].start()])
    else:
        text = _THINK_OPEN.sub("", text)  # reasoning cut short: all there is
    tags = _ANSWER_TAG.findall(text)
    if tags and tags[-1].strip():
        return tags[-1].strip()
    return _ROLE_PREFIX.sub("", text, count=1).strip()


def json_objects(text: str) -> list[dict]:
    """Every JSON object in the text, in order (fenced or not, nested braces allowed)."""
    decoder = json.JSONDecoder()
    text = _FENCE.sub(" ", text)
    found, i = [], 0
    while (i := text.find("{", i)) != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError):  # not JSON, or nested past any real reply
            i += 1
            continue
        if isinstance(value, dict):
            found.append(value)
        i = end
    return found


# ---------------------------------------------------------------------------------------- choices

_OPEN = r"[ \t\"'`*_(\[{<$:：]{0,8}"  # wrappers that may precede a letter (on the same line)
_CLOSE = r"(?=[\s\"'`*_)\]}>$.,;:!?。，、]|$)"  # and what may follow it
_LETTER_UP = (
    rf"{_OPEN}(?:\\boxed\{{|\\text\{{|\\mathrm\{{)?[ \t]*(?:option[ \t]*|choice[ \t]*|选项[ \t]*)?((?-i:[A-Z])){_CLOSE}"
)
_LETTER_LOW = rf"{_OPEN}(?:\\boxed\{{)?[ \t]*(?:option[ \t]*|choice[ \t]*)?([a-z])(?=[ \t]*(?:[\"'`*_)\]}}>$.,;:!?]|$))"
_CUES = [
    # English answer statements; the letter must follow closely
    r"\b(?:final\s+|correct\s+|best\s+|my\s+|the\s+)?(?:answer|choice|option|selection)"
    r"(?:\s+(?:to\s+(?:the|this)\s+question|for\s+(?:the|this)\s+question))?"
    r"[ \t]*(?:is|would\s+be|should\s+be|will\s+be|=|:|：|is\s*:|-|–|—)[ \t]*(?:therefore\s+|clearly\s+|likely\s+)?",
    r"\bANSWER[ \t]*:[ \t]*",
    # answer labels in other languages (German, French, Spanish, Portuguese, Italian, Dutch,
    # Indonesian, Turkish, Polish, Russian; Japanese and Korean)
    r"(?:\b(?:antwort|r[ée]ponse|respuesta|resposta|risposta|antwoord|jawaban|cevap|odpowied[źz]|ответ)"
    r"|答え|回答|정답|답)[ \t]*(?:[:：]|は|은|는)[ \t]*",
    r"\b(?:I|I'd|I\s+would|I\s+will|I'll|we|so|thus|therefore|hence)\s+(?:must\s+)?"
    r"(?:choose|select|pick|go\s+with|opt\s+for)\s+(?:option\s+|answer\s+|choice\s+)?",
    r"\b(?:the\s+)?(?:correct|right|best)\s+(?:one|option|choice|answer)\s+(?:here\s+)?(?:is|would\s+be)\s*:?\s*",
    # Chinese answer phrases (after NFKC, full-width letters are ASCII)
    r"(?:正[确確])?答(?:案)?(?:应该|應該|应|應)?(?:就)?(?:是|为|為|选|選|:|：)\s*(?:选项|選項)?\s*",
    r"(?:我|应该|應該|应|應|故|所以|因此)?[选選](?:择|擇)?(?:项|項)?\s*",
]
_EXPLICIT = [re.compile(c + _LETTER_UP, re.I if i < 5 else 0) for i, c in enumerate(_CUES)]
_EXPLICIT_LOWER = [re.compile(c + _LETTER_LOW, re.I) for c in _CUES[:5]]
_CONCLUDING = re.compile(  # "Therefore, C." / "so it is **B**." ending a line
    r"(?im)\b(?:therefore|thus|hence|so)\s*,?"
    r"(?:[ \t]+(?:it|this|that|the\s+answer)(?:[ \t]+(?:is|must\s+be|has\s+to\s+be)|'s))?"
    r"[ \t]*[(*_`]{0,3}([A-Z])[)*_`]{0,3}[ \t]*[.!]?[ \t]*$"
)
# a bold or backticked bare letter closing the reply ("… so the failure is `C`", "… **B**.")
_CLOSING_LETTER = re.compile(r"(?<!\bor)(?<!\band)(?<![,/])\s(?:\*\*|`)([A-Z])(?:\*\*|`)[ \t]*[.!]?\s*\Z")
# English words that are letters only when they stand alone: "A clear identity drift" names no option
_ARTICLE_LETTERS = {"A", "I"}
_AFTER_A_LETTER = re.compile(
    r"^[ \t]+(?!(?:because|since|as|is|was|seems|which|for|fits|matches|and|or|but|here)\b)[a-z]", re.I
)
_BOXED = re.compile(r"\\boxed\{\s*(?:\\text\{)?\s*\(?([A-Za-z])\)?\s*\}?\s*\}")
_LETTER_IS_RIGHT = re.compile(
    rf"{_OPEN}\(?([A-Z])\)?[*_`]{{0,4}}\s+(?:is|seems|appears)\s+(?:the\s+)?(?:correct|right|best)(?:\s+(?:answer|option|choice))?\b"
    r"|(?<![A-Za-z])([A-Z])\s*(?:是正[确確]|正[确確]|是最合适|是最合適|是[对對])"
)
_HEDGE_AFTER = re.compile(
    r"^[\s*_`)\].]*(?:\s*(?:,|/|or|and|&|、|或|和)\s*(?:option\s*|choice\s*)?[(\[*_`]{0,4}((?-i:[A-Z]))(?![A-Za-z]))",
    re.I,
)
_ONLY_LETTER = re.compile(r"^[\s\"'`*_#>$\-]*(?:\\boxed\{)?\s*[(\[]?\s*([A-Za-z])\s*[)\]]?\s*\}?[\s\"'`*_.:)$]*$")
_LETTER_LINE_WITH_TEXT = re.compile(r"^[\s*_`#>\-]*[(\[]?([A-Z])[)\].:][*_`]{0,4}\s+(.+)$")
_LOWER_LETTER_LINE = re.compile(r"^[\s*_`#>\-]*[(\[]?([a-z])[)\].][*_`]{0,4}\s+(.+)$")
# "A: <prose>": a role-style answer label, not option A (unless option A's text follows)
_ROLE_ANSWER_LABEL = re.compile(r"^\s*A\s*:\s*(?=\S+\s+\S+\s+\S+)")
_ANSWER_LABEL = re.compile(r"^\s*(?:Q\s*:.*\n)?\s*A\s*:\s*(.+)$", re.S)
_NEGATION = re.compile(
    r"\b(?:not|no|never|without|neither|nor|none|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|cannot|can't|"
    r"rather\s+than|instead\s+of|absence\s+of|free\s+of|lack\s+of|rule\s+out|ruled\s+out|excluding|except)\b"
    r"|不|没有|没|无|并非|排除",
    re.I,
)
_CLAUSE_BREAK = re.compile(
    r"[.;!?\n。；！？]|,\s*(?:but|while|whereas|however)\b|\bbut\b|\bwhereas\b|\bhowever\b", re.I
)
_YES = re.compile(r"^[\s\"'`*_#>]*(?:yes|yeah|yep|correct|true|是的|是|对|有)(?![A-Za-z])", re.I)
_NO = re.compile(r"^[\s\"'`*_#>]*(?:no|nope|false|incorrect|不是|否|没有|不)(?![A-Za-z])", re.I)
_YES_NO_STATED = re.compile(r"\b(?:answer|final\s+answer)\s*(?:is|:)\s*[\"'`*_]{0,4}\s*(yes|no)\b", re.I)
_YES_NO_BOTH = re.compile(r"^[\s\"'`*_#>]*(?:yes|no)\s*(?:and|or|/|,)\s*(?:yes|no)\b", re.I)
_YES_NO_LAST = re.compile(r"(?:^|[,:;.!?]\s*)[\"'`*_]{0,4}(yes|no)[\"'`*_]{0,4}\s*[.!]?[\"'`*_]{0,4}\s*$", re.I)
_NEGATED_AFTER = re.compile(
    r"^[\s*_`\"']*(?:(?:is|was|are|were|does|do|did|has|have)\s+(?:not|never|absent)\b|(?:isn't|wasn't|doesn't|didn't)\b"
    r"|(?:is|was)\s+(?:nowhere|absent))",
    re.I,
)


def _letters(options: list[str]) -> str:
    return letters_of(len(options))


def _option_at(text: str, options: list[str]) -> str | None:
    """The letter whose option text `text` starts with (the longest match), if any."""
    lowered = text.strip().strip("*_`\"'()[] ").lower()
    matches = [(len(o), i) for i, o in enumerate(options) if o.strip() and lowered.startswith(o.strip().lower())]
    return _letters(options)[max(matches)[1]] if matches else None


def _check_statement(text: str, match: re.Match, letter: str, options: list[str]) -> str:
    """The letter of an explicit statement, or Conflict when it hedges or quotes another option."""
    after = text[match.end() :]
    hedge = _HEDGE_AFTER.match(after)
    if hedge and hedge.group(1).upper() in _letters(options) and hedge.group(1).upper() != letter:
        raise Conflict(f"{letter} and {hedge.group(1).upper()}")
    quoted = re.match(r"^[*_`]{0,4}\s*[).:\-]?[*_`]{0,4}\s*[\"'`*_]{0,4}(.+)", after)
    if quoted:
        named = _option_at(quoted.group(1), options)
        if (
            named is not None
            and named != letter
            and _option_at(quoted.group(1), [options[_letters(options).index(letter)]]) is None
        ):
            raise Conflict(f"{letter} quoted with the text of {named}")
    return letter


def _is_article(text: str, end: int, letter: str, options: list[str]) -> bool:
    """ "A" (or "I") followed by a lowercase word that is not its option's text is an English word
    ("Answer: A clear identity drift"), not the letter A."""
    if letter not in _ARTICLE_LETTERS or text[end - 1 : end] != letter:
        return False
    after = text[end:]
    if not _AFTER_A_LETTER.match(after) or after.lstrip()[:1].isupper():
        return False
    own = options[_letters(options).index(letter)] if letter in _letters(options) else ""
    return not (own.strip() and after.strip().lower().startswith(own.strip().lower()))


def _explicit_letter(text: str, options: list[str]) -> str | None:
    """The last explicit answer statement's letter (a draft followed by a final answer, or a
    self-correction after an earlier "Answer: X", gives the last)."""
    letters = _letters(options)
    found: list[tuple[int, re.Match, str]] = []
    for pattern in (*_EXPLICIT, *_EXPLICIT_LOWER, _BOXED, _LETTER_IS_RIGHT, _CONCLUDING, _CLOSING_LETTER):
        for m in pattern.finditer(text):
            group = next(g for g in range(1, (m.re.groups or 1) + 1) if m.group(g))
            letter = m.group(group).upper()
            if letter in letters and not _is_article(text, m.end(group), m.group(group), options):
                found.append((m.start(group), m, letter))
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    _, match, letter = found[-1]
    return _check_statement(text, match, letter, options)


def _letter_line(text: str, options: list[str]) -> str | None:
    """A reply, or its last line, that is only a letter; or a first line "B) <option B text>"."""
    letters = _letters(options)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    label = _ANSWER_LABEL.match(text)
    if label and len(lines) <= 2:  # "A: B" or "Q: …\nA: B" - the A is a label
        inner = _ONLY_LETTER.match(label.group(1))
        if inner and inner.group(1).upper() in letters:
            return inner.group(1).upper()
    for line in (lines[-1], lines[0]) if len(lines) > 1 else (lines[0],):
        only = _ONLY_LETTER.match(line)
        if only and (only.group(1).isupper() or len(text.strip().strip("*_`()[].")) == 1):
            letter = only.group(1).upper()
            return letter if letter in letters else None
    first = _LETTER_LINE_WITH_TEXT.match(lines[0]) or _LOWER_LETTER_LINE.match(lines[0])
    if first and first.group(1).upper() in letters:
        letter = first.group(1).upper()
        named = _option_at(first.group(2), options)
        if first.group(1).islower() and named != letter:
            return None  # "b) …" counts only with its own option text
        if named is None or named == letter:
            return letter if named is not None or len(lines) == 1 else None
        raise Conflict(f"{letter} followed by the text of {named}")
    return None


def _yes_no(text: str, options: list[str]) -> str | None:
    """Yes/no words mapped onto a Yes/No option pair."""
    lowered = [o.strip().lower().rstrip(".") for o in options]
    if "yes" not in lowered or "no" not in lowered:
        return None
    yes, no = _letters(options)[lowered.index("yes")], _letters(options)[lowered.index("no")]
    stated = _YES_NO_STATED.findall(text)
    if stated:
        return yes if stated[-1].lower() == "yes" else no
    head = text.strip()
    starts = {w.lower() for w in re.findall(r"(?:^|[.!?;\n]\s*)[\"'`*_]{0,4}(yes|no)\b", head, re.I)}
    if _YES_NO_BOTH.match(head) or len(starts) > 1:
        return None  # "Yes, … No, …": both
    last = _YES_NO_LAST.search(head)
    if last and not (_YES.match(head) or _NO.match(head)):
        return yes if last.group(1).lower() == "yes" else no
    is_yes, is_no = bool(_YES.match(head)), bool(_NO.match(head))
    if is_yes != is_no:
        return yes if is_yes else no
    return None


def _negated(text: str, start: int) -> bool:
    """A negation between the start of the clause (at most 200 characters back) and `start`."""
    window = max(0, start - 200)
    clause_start = window
    for m in _CLAUSE_BREAK.finditer(text, window, start):
        clause_start = m.end()
    return bool(_NEGATION.search(text[clause_start:start]))


def _by_option_text(text: str, options: list[str]) -> str | None:
    """The one option whose text the reply states outside a negated clause."""
    letters = _letters(options)
    stripped = text.strip().strip("*_`\"'").rstrip(".").strip().lower()
    exact = [letters[i] for i, o in enumerate(options) if stripped == o.strip().lower().rstrip(".")]
    if len(exact) == 1:
        return exact[0]
    lowered = text.lower()
    chosen = set()
    for i, option in enumerate(options):
        needle = option.strip().lower().rstrip(".")
        if len(needle) <= 3:
            continue
        for m in re.finditer(rf"(?<![a-z]){re.escape(needle)}(?![a-z])", lowered):
            inside_longer = any(
                len(other) > len(needle)
                and other.strip().lower() in lowered[max(0, m.start() - 60) : m.end() + 60]
                and needle in other.strip().lower()
                for other in options
            )
            if not inside_longer and not _negated(text, m.start()) and not _NEGATED_AFTER.match(text[m.end() :]):
                chosen.add(letters[i])
    return chosen.pop() if len(chosen) == 1 else None


ANSWER_KEYS = ("answer", "choice", "option", "final_answer", "answer_letter", "selected_option", "correct_answer")


def _answer_key(payload: dict):
    """The value under an answer key, whatever its case or spacing ("Answer", "ANSWER", "final answer")."""
    keys = {re.sub(r"[\s-]+", "_", str(k).strip().lower()): k for k in payload}
    for key in ANSWER_KEYS:
        if key in keys:
            return payload[keys[key]]
    return None


def parse_choice(raw: str | None, options: list[str]) -> str | None:
    """The option letter a reply commits to, or None when absent, hedged or conflicting."""
    if not isinstance(raw, str) or not raw.strip() or not options:
        return None
    text = answer_part(raw)
    if not text:
        return None
    letters = _letters(options)
    try:
        payloads = [k for k in (_answer_key(p) for p in json_objects(text)) if k is not None]
        if payloads:
            value = payloads[-1]
            if not isinstance(value, str) or not value.strip():
                return None
            value = normalise(value).strip()
            if value.strip("()[]. ").upper() in letters and len(value.strip("()[]. ")) == 1:
                return value.strip("()[]. ").upper()
            return parse_choice(value, options) if value != text else None
        label = _ROLE_ANSWER_LABEL.match(text)
        if label and _option_at(text[label.end() :], options[:1]) is None:
            text = text[label.end() :]  # "A: The soundtrack is upbeat …": the A is the speaker
        for reader in (_explicit_letter, _letter_line, _yes_no, _by_option_text):
            letter = reader(text, options)
            if letter is not None:
                return letter
    except Conflict:
        return None
    return None


# --------------------------------------------------------------------------------------- temporal

_NUM = r"\d{1,7}(?:\.\d{1,6})?"
_CLOCK = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,6})?|\d{1,3}:\d{2}(?:[.,]\d{1,6})?"
_MIN_SEC = r"\d{1,3}\s*m(?:in)?\s*\d{1,2}(?:\.\d{1,6})?\s*s\b"  # 1m02s, 1 min 2.5 s
_T = rf"(?:{_MIN_SEC}|{_CLOCK}|{_NUM})"
_UNIT = r"\s*(?:s\b|sec\b|secs\b|second\b|seconds\b|秒)?"
_FRAME_WORD = re.compile(r"\bframes?\b|帧", re.I)
_RANGE_PATTERNS = [
    re.compile(
        rf"(?:from|between)\s+(?:frames?\s+)?({_T}){_UNIT}\s*(?:to|and|until|till|-|–|—)\s+(?:frames?\s+)?({_T}){_UNIT}",
        re.I,
    ),
    re.compile(
        rf"(?:starts?|begins?|starting|beginning|onset)\s+(?:at|around|from)?\s*(?:about\s+)?({_T}){_UNIT}"
        rf".{{0,80}}?(?:ends?|ending|finishes|stops|lasts?\s+until)\s+(?:at|around|by)?\s*(?:about\s+)?({_T}){_UNIT}",
        re.I | re.S,
    ),
    re.compile(
        rf"\b(?:start|starting|begin|beginning)(?:_time|\s*time)?\s*[:=]\s*({_T}){_UNIT}.{{0,40}}?"
        rf"\b(?:end|ending)(?:_time|\s*time)?\s*[:=]\s*({_T}){_UNIT}",
        re.I | re.S,
    ),
    re.compile(  # "the start time of … is 2 seconds, and the end time is 5.5 seconds"
        rf"\b(?:start|starting|beginning)\s+(?:time|point)\b[^.\d]{{0,80}}?\bis\s+(?:about\s+|around\s+)?({_T}){_UNIT}"
        rf"[^.\d]{{0,40}}?\b(?:end|ending)\s+(?:time|point)\b[^.\d]{{0,40}}?\bis\s+(?:about\s+|around\s+)?({_T}){_UNIT}",
        re.I | re.S,
    ),
    re.compile(  # "around the 4-second mark … until about 9 seconds"
        rf"\bthe\s+({_NUM})[- ]?(?:second|sec|s)\s+mark\b[^.\d]{{0,80}}?\b(?:until|till|to|through)\s+"
        rf"(?:about\s+|around\s+|roughly\s+)?(?:the\s+)?({_NUM})(?:[- ]?(?:seconds?|secs?|s)\b)(?:\s+mark)?",
        re.I | re.S,
    ),
    re.compile(rf"({_T}){_UNIT}\s*(?:-->|->|→|~|-|–|—|to|until|till|至|到)\s*({_T}){_UNIT}", re.I),
    re.compile(rf"[\[(]\s*({_T}){_UNIT}\s*,\s*({_T}){_UNIT}\s*[\])]"),
]
_CLIP_ITSELF = re.compile(
    r"\b(?:video|clip|footage|recording)\b[^.;\n]{0,40}?\b(?:is|runs|lasts|spans|covers|duration|length|long|total)\b"
    r"|\b(?:whole|entire|full)\s+(?:video|clip)\b|视频(?:时长|长度|总长)",
    re.I,
)
_FINAL_MARKER = re.compile(
    r"\b(?:final\s+answer|answer|therefore|thus|so\s+the|in\s+summary|in\s+conclusion|overall|final)\b|答案|因此|所以",
    re.I,
)
_FPS = re.compile(rf"({_NUM})\s*(?:fps|frames?\s+per\s+second)", re.I)
_SPAN_KEYS = (("start", "end"), ("start_time", "end_time"), ("start_s", "end_s"), ("begin", "end"))


def to_seconds(value) -> float:
    """Seconds from a number, "3.2", "3.2s", "3.2 seconds", "00:03.2", "1:02:03,5" (SRT)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        return float(value)
    text = normalise(str(value)).strip().lower()
    if _FRAME_WORD.search(text):
        raise ValueError("frames are not seconds")
    minutes = re.fullmatch(r"(\d+)\s*m(?:in)?\s*(\d+(?:\.\d+)?)\s*s", text)
    if minutes:
        return int(minutes.group(1)) * 60 + float(minutes.group(2))
    text = re.sub(r"\s*(?:seconds?|secs?|s|秒)$", "", text).replace(",", ".")
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _valid(start: float, end: float) -> tuple[float, float] | None:
    if math.isfinite(start) and math.isfinite(end) and 0 <= start <= end:
        return (start, end)
    return None


def _json_span(payload: dict) -> tuple[float, float] | None | bool:
    """A span from a JSON object; False when the object has no span keys."""
    for start_key, end_key in _SPAN_KEYS:
        if start_key in payload and end_key in payload:
            return _valid(to_seconds(payload[start_key]), to_seconds(payload[end_key]))
    for key in ("span", "timestamps", "time_span", "segment"):
        value = payload.get(key)
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], list):
            return _valid(to_seconds(value[0]), to_seconds(value[1]))
    windows = payload.get("relevant_windows")
    if isinstance(windows, list) and windows:
        spans = {tuple(to_seconds(x) for x in w) for w in windows if isinstance(w, list) and len(w) == 2}
        if len(spans) != 1 or len(windows) != len(spans) and len(spans) != 1:
            return None  # several windows: no single answer
        return _valid(*spans.pop())
    return False


MAX_RANGES = 50  # a reply listing more time ranges than this commits to none of them


def _text_ranges(text: str) -> list[tuple[int, float, float, bool]]:
    """(position, start, end, is_frames) of every time range in the text, outermost pattern first."""
    found, taken = [], []
    for pattern in _RANGE_PATTERNS:
        for m in pattern.finditer(text):
            if len(found) > MAX_RANGES:
                return found
            if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
                continue
            before, after = text[max(0, m.start() - 12) : m.start()], text[m.end() : m.end() + 8]
            frames = bool(
                _FRAME_WORD.search(before) or _FRAME_WORD.search(m.group(0)) or _FRAME_WORD.match(after.strip())
            )
            clause = re.split(r"[.;!?\n。；](?:\s|$)", text[max(0, m.start() - 60) : m.start()])[-1]
            if _CLIP_ITSELF.search(clause):
                taken.append((m.start(), m.end()))
                continue
            try:
                start, end = to_seconds(m.group(1)), to_seconds(m.group(2))
            except ValueError:
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), start, end, frames))
    return sorted(found)


def parse_span(raw: str | None) -> tuple[float, float] | None:
    """The [start, end] span in seconds a reply commits to, or None."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = answer_part(raw)
    try:
        spans = [s for s in (_json_span(p) for p in json_objects(text)) if s is not False]
        if spans:
            return spans[-1]
    except (TypeError, ValueError):
        return None
    ranges = _text_ranges(text)
    if not ranges or len(ranges) > MAX_RANGES:
        return None
    fps_stated = _FPS.search(text)
    converted = []
    for position, start, end, frames in ranges:
        if frames:
            if not fps_stated:
                return None  # frame numbers without a frame rate are not seconds
            rate = float(fps_stated.group(1))
            start, end = start / rate, end / rate
        converted.append((position, start, end))
    distinct = {(round(s, 3), round(e, 3)) for _, s, e in converted}
    if len(distinct) == 1:
        _, start, end = converted[-1]
        return _valid(start, end)
    last_position, start, end = converted[-1]
    previous_end = converted[-2][0]
    if _FINAL_MARKER.search(text[previous_end:last_position]):
        return _valid(start, end)
    return None  # several different ranges and none stated as final


def span_candidates(raw: str | None) -> list[tuple[float, float]]:
    """Every distinct valid span a reply states, in order: what a judge may choose among when the
    rules find no single one. Frame numbers without a stated frame rate are not spans."""
    if not isinstance(raw, str) or not raw.strip():
        return []
    text = answer_part(raw)
    spans: list[tuple[float, float] | None] = []
    for payload in json_objects(text):
        windows = payload.get("relevant_windows")
        try:
            if isinstance(windows, list):
                spans += [
                    _valid(to_seconds(w[0]), to_seconds(w[1])) for w in windows if isinstance(w, list) and len(w) == 2
                ]
            elif (span := _json_span(payload)) is not False:
                spans.append(span)
        except (TypeError, ValueError):
            continue
    if not spans:
        ranges = _text_ranges(text)[:MAX_RANGES]
        fps_stated = _FPS.search(text)
        for _, start, end, frames in ranges:
            if frames and not fps_stated:
                continue
            rate = float(fps_stated.group(1)) if frames else 1.0
            spans.append(_valid(start / rate, end / rate))
    distinct: list[tuple[float, float]] = []
    for span in spans:
        if span is not None and all(abs(span[0] - d[0]) > 1e-3 or abs(span[1] - d[1]) > 1e-3 for d in distinct):
            distinct.append(span)
    return distinct


def parse_answer(raw: str | None, question_type: str, options: list[str] | None) -> ParsedAnswer:
    if question_type == "temporal":
        return ParsedAnswer(span=parse_span(raw))
    return ParsedAnswer(letter=parse_choice(raw, list(options or [])))

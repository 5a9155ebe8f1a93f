"""Answer extraction on the reply corpus (mtavg_assets_tests/fixtures/reply_corpus.yaml): correct /
wrong / guessed / missed for mtavg's parser, and on the choice replies for re-implementations of
two widely used extractors:

- VLMEvalKit `can_infer` (vlmeval/utils/matching_util.py): the option letter when exactly one letter
  stands as a token after punctuation is blanked (none if "A" is among more than three tokens),
  else the one option whose text the reply contains; refusal phrases give "Z" (counted as none).
- lmms-eval's Video-MME extractor `extract_characters_regex` (lmms_eval/tasks/videomme/utils.py):
  strip "The best answer is"-style prefixes, then the first capital letter among the options'
  letters anywhere in the text.

    .venv/bin/python benchmarks/answer_extraction.py [--show-failures]
"""

from __future__ import annotations

import argparse
import re
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtavg_assets.task.parsing import PARSER_VERSION, parse_answer  # noqa: E402
from mtavg_assets_tests.reply_corpus import OUTCOMES, Reply, load_corpus, score  # noqa: E402

REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)


def vlmevalkit_can_infer(reply: Reply) -> str | None:
    letters = string.ascii_uppercase[: len(reply.options)]
    text = reply.text
    if any(r in text for r in REFUSALS):
        return None  # "Z"
    blanked = text
    for char in ".()[],:;!*#{}":
        blanked = blanked.replace(char, " ")
    tokens = blanked.split()
    hits = [c for c in letters if c in tokens]
    if len(hits) == 1:
        if not ("A" in tokens and len(tokens) > 3):
            return hits[0]
    elif not hits and ("Z" in tokens):
        return None
    lowered = text.lower()
    by_text = [c for c, option in zip(letters, reply.options, strict=True) if option.lower() in lowered]
    return by_text[0] if len(by_text) == 1 else None


def lmms_eval_extract(reply: Reply) -> str | None:
    letters = string.ascii_uppercase[: len(reply.options)]
    text = reply.text.strip()
    for prefix in (
        "The best answer is",
        "The correct answer is",
        "The answer is",
        "The answer",
        "The best option isThe correct option is",
        "Best answer:Best option:",
    ):
        text = text.replace(prefix, "")
    pattern = f"[{letters}]"
    if len(text.split()) > 10 and not re.search(pattern, text):
        return None
    found = re.search(pattern, text)
    return found.group(0) if found else None


def mtavg_parser(reply: Reply):
    parsed = parse_answer(reply.text, reply.question_type, reply.options)
    return parsed.span if reply.question_type == "temporal" else parsed.letter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    replies = load_corpus()
    choice = [r for r in replies if r.question_type != "temporal"]
    temporal = [r for r in replies if r.question_type == "temporal"]
    sources = {r.source for r in replies}
    quoted = sum(r.kind == "quoted" for r in replies)
    print(
        f"reply corpus: {len(replies)} replies ({len(choice)} choice, {len(temporal)} temporal; "
        f"{quoted} quoted, {len(replies) - quoted} in documented shapes) from {len(sources)} public sources"
    )
    print(f"\n{'extractor':<34}" + "".join(f"{o:>9}" for o in OUTCOMES) + f"{'replies':>8}" + f"{'extracted':>11}")
    results = {}
    for name, subset, extract in (
        (f"mtavg parse_answer v{PARSER_VERSION} (all)", replies, mtavg_parser),
        (f"mtavg parse_answer v{PARSER_VERSION} (choice)", choice, mtavg_parser),
        (f"mtavg parse_answer v{PARSER_VERSION} (temporal)", temporal, mtavg_parser),
        ("VLMEvalKit can_infer (choice)", choice, vlmevalkit_can_infer),
        ("lmms-eval MCQ extractor (choice)", choice, lmms_eval_extract),
    ):
        counts, failures = score(subset, extract)
        answerable = sum(r.expect is not None for r in subset)
        extracted = f"{counts['correct'] - (len(subset) - answerable - counts['guessed'])}/{answerable}"
        print(f"{name:<34}" + "".join(f"{counts[o]:>9}" for o in OUTCOMES) + f"{len(subset):>8}{extracted:>11}")
        results[name] = failures
    print("\nextracted: answerable replies (those that commit to an answer) read correctly")
    if args.show_failures:
        for name, failures in results.items():
            print(f"\n== {name}")
            for reply, got, outcome in failures:
                print(f"  {outcome:<8} {reply.id}: {reply.text[:80]!r} -> {got} (expected {reply.expect})")


if __name__ == "__main__":
    main()

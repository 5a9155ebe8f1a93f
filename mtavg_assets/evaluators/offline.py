"""Offline baselines. They never see media; reports label them as baselines.

- random: uniform over options, uniform span inside the clip; seeded per (seed, instance, option
  rotation) so an answer does not depend on run order and each rotation is an independent draw.
- prior: majority gold letter per question type and mean gold span (the answer-key prior), the
  score a model gets by exploiting answer imbalance alone. Cross-fitted: an instance is answered
  with what prior learned on the other folds, and folds are whole episodes (else whole clips), so
  prior never scores by memorising the key of the very questions it answers.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter

import pandas as pd

from mtavg_assets.evaluators.base import EvalReply, EvalRequest
from mtavg_assets.registry import ModelEntry
from mtavg_assets.task.letters import letter


def _rng(seed: int, instance_id: str, rotation: int = 0) -> random.Random:
    cell = instance_id if not rotation else f"{instance_id}#rotation{rotation}"
    digest = hashlib.sha256(f"{seed}:{cell}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class RandomEvaluator:
    def __init__(self, entry: ModelEntry):
        self.entry = entry

    async def answer(self, request: EvalRequest) -> EvalReply:
        inst = request.instance
        rng = _rng(self.entry.seed, inst["instance_id"], int(inst.get("rotation") or 0))
        if inst["question_type"] == "temporal":
            duration = float(inst["clip_duration_s"])
            a, b = sorted((rng.uniform(0, duration), rng.uniform(0, duration)))
            return EvalReply(f"{a:.2f}-{b:.2f}", received={"modalities": "none"})
        chosen = letter(rng.randrange(len(inst["options"])))
        return EvalReply(chosen, received={"modalities": "none"})


PRIOR_FOLDS = 5


def prior_fold(instance: dict) -> int:
    """The fold of an instance: by its episode (meta.episode_id), else its first clip, so the
    questions of one episode or clip are in one fold."""
    meta = instance.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            meta = None
    episode = meta.get("episode_id") if isinstance(meta, dict) else None
    clips = instance.get("clip_ids")
    unit = episode or (clips[0] if clips is not None and len(clips) else instance["instance_id"])
    return int(hashlib.sha256(f"prior-fold:{unit}".encode()).hexdigest(), 16) % PRIOR_FOLDS


def _fit(instances: pd.DataFrame) -> dict:
    choice = instances[instances["answer"].notna()]
    majority = {
        str(qtype): sorted(Counter(group["answer"]).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        for qtype, group in choice.groupby("question_type")
    }
    spans = instances[instances["answer_span_start"].notna()]
    mean_span = (
        [float(spans["answer_span_start"].mean()), float(spans["answer_span_end"].mean())] if len(spans) else None
    )
    return {"majority": majority, "mean_span": mean_span}


def prior_state(instances: pd.DataFrame) -> dict:
    """What `prior` learns from the answer key, per fold from the *other* folds: the majority gold
    letter per question type and the mean gold span. It is part of prior's cache keys, so a changed
    key re-answers its cells."""
    folds = pd.Series([prior_fold(r) for r in instances.to_dict("records")], index=instances.index, dtype="int64")
    return {"folds": {str(k): _fit(instances[folds != k]) for k in range(PRIOR_FOLDS)}}


def learned_identity(entry: ModelEntry, instances: pd.DataFrame) -> dict | None:
    """What an offline baseline learned from the instances it answers (None: it learns nothing)."""
    return prior_state(instances) if entry.provider == "prior" else None


class PriorEvaluator:
    def __init__(self, entry: ModelEntry, instances: pd.DataFrame):
        self.entry = entry
        self.folds = prior_state(instances)["folds"]

    async def answer(self, request: EvalRequest) -> EvalReply:
        inst = request.instance
        learned = self.folds[str(prior_fold(inst))]
        if inst["question_type"] == "temporal":
            span = learned["mean_span"]
            if span is None:
                return EvalReply(None, received={"modalities": "none"})
            return EvalReply(f"{span[0]:.2f}-{span[1]:.2f}", received={"modalities": "none"})
        return EvalReply(learned["majority"].get(inst["question_type"]), received={"modalities": "none"})

"""The automation conditions of the assets (the plan is in `automation.py`)."""

import os

import dagster as dg

NIGHTLY_CRON = os.environ.get("MTAVG_NIGHTLY_CRON", "0 2 * * *")  # when every model is re-evaluated
TIMEZONE = "UTC"

AC = dg.AutomationCondition
_SETTLED = ~AC.any_deps_in_progress() & ~AC.in_progress()

# Missing and ready: unlike eager's newly_missing, this also holds on the first evaluation, so a
# fresh deployment prepares its benchmark without waiting for an input to change. After a failed
# run it waits for a change instead of retrying every tick.
_NOT_FAILED = ~AC.execution_failed()
MISSING = (AC.missing() & ~AC.any_deps_missing() & _SETTLED & _NOT_FAILED).with_label("missing")

PREPARE = AC.eager() | MISSING

EVALUATE = (
    # A registry change alone re-runs no partition (new entries are new partitions: newly missing),
    # nor does re-derived media (new clip content changes validated_qa's content hashes anyway).
    # A partition that failed (say its API key is not set here) is not retried until its inputs
    # change or the nightly tick. A new code version (it carries the answer parser's version) runs
    # every partition once: stored replies are read again, no cell is asked again.
    (
        AC.eager().ignore(dg.AssetSelection.assets("model_registry", "clip_media"))
        | (AC.cron_tick_passed(NIGHTLY_CRON, TIMEZONE) & ~AC.any_deps_missing() & _SETTLED)
        | (AC.code_version_changed() & ~AC.any_deps_missing() & _SETTLED)
    )
    & AC.all_deps_blocking_checks_passed()
).with_label("evaluate: new or changed cells, or nightly, once upstream checks pass")

# The metric build follows the evaluations: it runs after predictions change, or on the tick after
# the registry changed (a removed model leaves the leaderboard at once; a new model's partition is
# requested on that same tick and evaluated first, so it costs one rebuild), never on QA or clip
# changes alone (those re-run the evaluations, which then trigger it: one rebuild). It waits for
# every evaluation in flight, but not for model partitions never evaluated (a model whose key is
# not set here must not hold the leaderboard back), and needs at least one evaluated model.
_METRICS_TRIGGER = AC.any_deps_match(AC.newly_updated() | AC.will_be_requested()).allow(
    dg.AssetSelection.assets("predictions")
) | AC.any_deps_match(AC.newly_updated()).allow(dg.AssetSelection.assets("model_registry"))
_ANY_DEPS_MISSING_BUT_MODELS = AC.any_deps_match(AC.missing() & ~AC.will_be_requested()).ignore(
    dg.AssetSelection.assets("predictions")
)
_SOME_PREDICTIONS = AC.any_deps_match(~AC.missing() | AC.will_be_requested()).allow(
    dg.AssetSelection.assets("predictions")
)
METRICS = (
    AC.eager()
    .replace("any_deps_updated", _METRICS_TRIGGER.with_label("predictions or scored models changed"))
    .replace("any_deps_missing", _ANY_DEPS_MISSING_BUT_MODELS)
    | (AC.missing() & ~_ANY_DEPS_MISSING_BUT_MODELS & _SETTLED & _NOT_FAILED).with_label("missing")
) & _SOME_PREDICTIONS
REPORT = AC.eager() | MISSING

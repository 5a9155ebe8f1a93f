"""Great Expectations 1.x suite over validated QA, run inside an asset check.

Imported lazily by the check (great_expectations takes seconds to import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from mtavg_assets.qa.schema import MAX_CLIPS, MAX_OPTIONS, MAX_QUESTION_CHARS
from mtavg_assets.taxonomy import QUESTION_TYPES, SUBSETS, Taxonomy

SCALAR_COLUMNS = [
    "instance_id",
    "subset",
    "question_type",
    "dimension",
    "category",
    "question",
    "answer",
    "n_options",
    "n_clips",
    "answer_span_start",
    "answer_span_end",
    "clip_duration_s",
]


@dataclass(frozen=True)
class SuiteOutcome:
    success: bool
    evaluated: int
    failed: list[str]


def build_suite(taxonomy: Taxonomy):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage reporting from benchmark runs
    import great_expectations as gx

    e = gx.expectations
    suite = gx.ExpectationSuite(name="validated_qa")
    for expectation in (
        e.ExpectColumnValuesToNotBeNull(column="instance_id"),
        e.ExpectColumnValuesToBeUnique(column="instance_id"),
        e.ExpectColumnValuesToBeInSet(column="question_type", value_set=list(QUESTION_TYPES)),
        e.ExpectColumnValuesToBeInSet(column="subset", value_set=list(SUBSETS)),
        e.ExpectColumnValuesToBeInSet(column="dimension", value_set=list(taxonomy.dimensions)),
        e.ExpectColumnValuesToBeInSet(column="category", value_set=list(taxonomy.categories)),
        # the limits are the typed QA row's (qa/schema.py), not restated here
        e.ExpectColumnValueLengthsToBeBetween(column="question", min_value=1, max_value=MAX_QUESTION_CHARS),
        e.ExpectColumnValuesToMatchRegex(column="answer", regex=r"^[A-Z]$"),  # nulls (temporal) are skipped
        e.ExpectColumnValuesToBeBetween(column="n_options", min_value=2, max_value=MAX_OPTIONS),
        e.ExpectColumnValuesToBeBetween(column="n_clips", min_value=1, max_value=MAX_CLIPS),
        e.ExpectColumnValuesToBeBetween(column="answer_span_start", min_value=0),
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="answer_span_end", column_B="answer_span_start", ignore_row_if="either_value_is_missing"
        ),
        # Required values: a NaN reads as null, so these also refuse non-finite spans.
        *(
            e.ExpectColumnValuesToNotBeNull(column=column, row_condition=condition, condition_parser="pandas")
            for column, condition in (
                ("answer", 'question_type!="temporal" and subset!="unlabelled"'),
                ("n_options", 'question_type!="temporal"'),
                ("answer_span_start", 'question_type=="temporal"'),
                ("answer_span_end", 'question_type=="temporal"'),
            )
        ),
        *(
            e.ExpectColumnValuesToNotBeNull(column=column)
            for column in ("subset", "question_type", "dimension", "category", "question", "n_clips", "clip_duration_s")
        ),
    ):
        suite.add_expectation(expectation)
    return suite


def _column_of(kwargs: dict) -> str:
    return str(kwargs.get("column") or kwargs.get("column_A"))


def run_qa_suite(valid: pd.DataFrame, taxonomy: Taxonomy) -> SuiteOutcome:
    """Validate the scalar columns of validated QA with an ephemeral GX context."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)  # quiet logs
    asset = context.data_sources.add_pandas("mtavg").add_dataframe_asset("validated_qa")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": valid[SCALAR_COLUMNS].copy()}
    )
    result = batch.validate(build_suite(taxonomy))
    failed = [
        f"{r.expectation_config.type}({_column_of(r.expectation_config.kwargs)})"
        for r in result.results
        if not r.success
    ]
    return SuiteOutcome(success=bool(result.success), evaluated=len(result.results), failed=failed)

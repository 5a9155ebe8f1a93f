"""The status of a prediction row: the one definition, which the SQL files spell as literals (a
test holds them equal)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    OK = "ok"  # the reply commits to an answer
    UNPARSEABLE = "unparseable"  # a reply that commits to no single answer
    REFUSED = "refused"  # the provider or model declined (safety block, refusal)
    ERROR = "error"  # no answer: a provider fault, a bad request, a reply the settings emptied
    TIMEOUT = "timeout"  # no answer within the entry's timeout
    RATE_LIMITED = "rate_limited"  # still over a per-minute quota after the allowed waits


FINAL_STATUSES = (Status.OK.value, Status.UNPARSEABLE.value, Status.REFUSED.value)  # answered: never re-asked
RETRYABLE_STATUSES = (Status.ERROR.value, Status.TIMEOUT.value, Status.RATE_LIMITED.value)  # asked again on request
ALL_STATUSES = FINAL_STATUSES + RETRYABLE_STATUSES
MISSING = "missing"  # scores only: a cell of the entry with no prediction row yet

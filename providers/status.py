"""The message status vocabulary and its one rule: status only moves forward.

Backends translate provider words into these values; the engine and the
status path (webhooks, polling, recovery) use ``can_move`` so that a late or
duplicated report never overwrites a later state.
"""

from django.db import models


class Status(models.TextChoices):
    # Waiting for its schedule, delivery window or the account's throughput.
    PENDING = "pending", "Pending"
    # Claimed by a worker; the request to the provider may be in flight.
    SENDING = "sending", "Sending"
    # A crash left it unclear whether the provider got it. Needs review or
    # reconciliation with the provider; never re-sent automatically.
    UNKNOWN = "unknown", "Unknown"
    # The provider took it (and may have passed it to the operator).
    ACCEPTED = "accepted", "Accepted"
    # Accepted, and no report came in the account's time (nor an answer when
    # the provider was asked): the outcome is unknown. A report that still
    # comes moves it on.
    NO_REPORT = "no_report", "No report"
    # The handset got it.
    DELIVERED = "delivered", "Delivered"
    # The operator could not deliver it (absent subscriber, bad number...).
    UNDELIVERED = "undelivered", "Undelivered"
    # Its validity period ran out before delivery.
    EXPIRED = "expired", "Expired"
    # The provider or operator refused it (sender, content, credit, blocklist).
    REJECTED = "rejected", "Rejected"
    # Our side: a permanent error before or at submission.
    FAILED = "failed", "Failed"
    # Cancelled by a user before submission (or cancelled at the provider).
    CANCELLED = "cancelled", "Cancelled"
    # Never submitted by rule: suppressed, invalid, duplicate, outside DLT.
    SKIPPED = "skipped", "Skipped"


# Higher rank wins. Final states share the top rank, so one final state never
# replaces another: the first final report is the one that counts.
RANK = {
    Status.PENDING: 0,
    Status.SENDING: 1,
    Status.UNKNOWN: 2,
    Status.ACCEPTED: 3,
    Status.NO_REPORT: 4,
    Status.DELIVERED: 5,
    Status.UNDELIVERED: 5,
    Status.EXPIRED: 5,
    Status.REJECTED: 5,
    Status.FAILED: 5,
    Status.CANCELLED: 5,
    Status.SKIPPED: 5,
}

FINAL = frozenset(s for s, r in RANK.items() if r == max(RANK.values()))
# The same ranks by plain value: the status path compares thousands of
# statuses a second, and making each a Status first costs more than the
# comparison.
_RANK_OF = {s.value: r for s, r in RANK.items()}


def _rank(status: str) -> int:
    try:
        return _RANK_OF[status]
    except KeyError:
        raise ValueError(f"{status!r} is not a valid Status") from None


# States a provider has (or may have) the message in.
SUBMITTED = frozenset(
    {
        Status.ACCEPTED,
        Status.NO_REPORT,
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.EXPIRED,
        Status.REJECTED,
    }
)

# States a report gives a message once it went out: where it ended up.
WENT_OUT = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED})


def can_move(current: str, new: str) -> bool:
    """True when ``new`` is a step forward from ``current``."""
    return _rank(new) > _rank(current)


def statuses_before(new: str) -> list[str]:
    """The states a message may be in for ``new`` to be a step forward."""
    rank = _rank(new)
    return [s.value for s, r in RANK.items() if r < rank]

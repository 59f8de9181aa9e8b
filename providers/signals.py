"""What providers tell the layer above. Providers parse and store what they
are sent; applying it to messages is not theirs to do, so they announce it
and the campaigns app (which owns messages) listens."""

from django.dispatch import Signal

# Sent once a provider callback is stored in the webhook inbox, with
# ``account``: a worker should apply the stored callbacks soon.
callback_stored = Signal()

# Sent when a provider posts a click report (its own short links' clicks),
# with ``account`` and ``clicks`` (``providers.base.ClickReport``), in the
# transaction that keeps the report. Each receiver returns, per click in
# order, None where it recorded the click (or had it already) or why it
# could not verify it; a click no receiver recorded is kept as not verified.
clicks_reported = Signal()

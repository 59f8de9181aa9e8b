"""What providers tell the layer above. Providers parse and store what they
are sent; applying it to messages is not theirs to do, so they announce it
and the campaigns app (which owns messages) listens."""

from django.dispatch import Signal

# Sent once a provider callback is stored in the webhook inbox, with
# ``account``: a worker should apply the stored callbacks soon.
callback_stored = Signal()

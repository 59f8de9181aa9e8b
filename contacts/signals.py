"""What contacts announce to the apps above them."""

from django.dispatch import Signal

# Sent once numbers are suppressed (a keyword, the page, an import, the API),
# with ``phones``: a list of E.164 numbers. Messages to them that are already
# handed to a provider for a later time should be cancelled there.
numbers_suppressed = Signal()

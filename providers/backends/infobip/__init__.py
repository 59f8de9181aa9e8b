"""Infobip: ``POST /sms/2/text/advanced`` and the calls around it.

One request carries many ``messages[]`` (one per distinct text and sender),
each with many ``destinations[]``. We set every destination's ``messageId`` to
our own reference, so a delivery report, a log entry or a conversion can be
matched to its message even if the submit response was never recorded.

Delivery reports are pushed to the account's hook URL (``notifyUrl``) as JSON
or XML and can also be pulled once from ``/sms/3/reports``; messages are
looked up in ``/sms/3/logs`` (each falls back to its v1 only where v3 answers
404); inbound messages are pushed to the URL configured on the number (use the
account's ``.../inbound`` hook) or pulled from ``/sms/1/inbox/reports``.
Where a campaign has Infobip shorten its links (urlOptions), Infobip posts
each click to the account's ``.../clicks`` hook (``trackingUrl``).

The package, by part:

- ``backend``: the backend class, its account settings, HTTP and sending;
- ``auth``: the Authorization header and OAuth2 access tokens;
- ``reports``: delivery reports, inbound messages and message logs, read into
  our statuses and prices;
- ``clicks``: click reports, read into plain click reports;
- ``bulks``: cancelling scheduled bulks;
- ``wire``: Infobip's date, number and error formats.
"""

from .backend import InfobipBackend
from .reports import map_status

__all__ = ["InfobipBackend", "map_status"]

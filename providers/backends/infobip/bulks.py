"""Infobip's scheduled bulks: a scheduled message can only be stopped with
the whole bulk it was sent in (``PUT /sms/1/bulks/status``)."""

from __future__ import annotations

from collections.abc import Sequence

from providers.base import ProviderError

from .reports import LOGS_PATH, MAX_FILTER_LENGTH, PAGE_LIMIT
from .wire import _chunks, _results

BULK_STATUS_PATH = "/sms/1/bulks/status"


class InfobipBulks:
    """Bulk management, for ``InfobipBackend`` (which brings ``get_current``,
    ``call`` and ``json_of``)."""

    def cancel(self, provider_message_ids: Sequence[str]) -> list[str]:
        """Cancel scheduled messages.

        Infobip cancels whole bulks (``PUT /sms/1/bulks/status``), never one
        message. We find each message's bulk in the logs and cancel a bulk
        only when every message in it is among those asked for, so a cancel
        can never take a message nobody meant to stop. The documents do not
        say whether a scheduled message is in the logs before it goes out;
        one that is not found is left alone and not reported as cancelled.
        Only a bulk Infobip answers as CANCELED counts; when it refuses one,
        the error is raised once every bulk was asked, with ``cancelled``
        holding what it did cancel."""
        wanted = set(provider_message_ids)
        if not wanted:
            return []
        bulk_of = {}
        for chunk in _chunks(sorted(wanted), MAX_FILTER_LENGTH):
            data = self.get_current(LOGS_PATH, {"messageId": ",".join(chunk), "limit": PAGE_LIMIT})
            for item in _results(data):
                if item.get("bulkId") and item.get("messageId") in wanted:
                    bulk_of[str(item["messageId"])] = str(item["bulkId"])
        members: dict[str, set[str]] = {}
        for bulk_ids in _chunks(sorted(set(bulk_of.values())), MAX_FILTER_LENGTH):
            data = self.get_current(LOGS_PATH, {"bulkId": ",".join(bulk_ids), "limit": PAGE_LIMIT})
            for item in _results(data):
                members.setdefault(str(item.get("bulkId")), set()).add(str(item.get("messageId")))
        cancelled: list[str] = []
        refused: list[ProviderError] = []
        for bulk_id in sorted(set(bulk_of.values())):
            if not members.get(bulk_id, set()) <= wanted:
                continue
            try:
                data = self.json_of(
                    self.call(
                        "PUT",
                        BULK_STATUS_PATH,
                        params={"bulkId": bulk_id},
                        json={"status": "CANCELED"},
                    )
                )
            except ProviderError as error:
                if not error.permanent:
                    error.cancelled = sorted(cancelled)
                    raise
                # Refused for this bulk (already sent, say): the others
                # are still asked; it is said once all were.
                refused.append(error)
                continue
            if isinstance(data, dict) and data.get("status") == "CANCELED":
                cancelled.extend(m for m, b in bulk_of.items() if b == bulk_id)
        if refused:
            error = refused[0]
            error.cancelled = sorted(cancelled)
            raise error
        return sorted(cancelled)

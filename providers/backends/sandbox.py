"""The built-in sandbox provider: no network, for trying smsportal out.

It accepts every message, gives it an ID, and a moment later reports its
delivery through the same webhook path a real provider's report takes
(``providers.services.accept_webhook``). Failures are deterministic so they
can be shown and tested: numbers ending in 0000 are undelivered, numbers
ending in 9999 are rejected. It gives no price: cost comes from the
account's rate card like for any provider that does not price its reports.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from django.conf import settings

from providers.base import (
    Capabilities,
    OutboundSms,
    ProviderBackend,
    SendOptions,
    StatusReport,
    SubmitResult,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from providers.segments import count
from providers.status import Status


class SandboxBackend(ProviderBackend):
    kind = "sandbox"
    label = "Sandbox"
    capabilities = Capabilities(
        max_recipients_per_request=1000,
        distinct_texts_per_request=True,
        push_reports=True,
    )

    def send_batch(
        self, messages: Sequence[OutboundSms], options: SendOptions
    ) -> list[SubmitResult]:
        results, reports = [], []
        for sms in messages:
            provider_id = f"sbx-{uuid.uuid4().hex[:20]}"
            parts = count(sms.text).segments
            results.append(
                SubmitResult(
                    ref=sms.ref,
                    status=Status.ACCEPTED,
                    provider_message_id=provider_id,
                    segments=parts,
                    raw={"id": provider_id, "to": sms.to},
                )
            )
            if sms.to.endswith("0000"):
                outcome, error = "undelivered", "ABSENT_SUBSCRIBER"
            elif sms.to.endswith("9999"):
                outcome, error = "rejected", "REJECTED_DESTINATION"
            else:
                outcome, error = "delivered", ""
            reports.append(
                {"id": provider_id, "ref": sms.ref, "to": sms.to, "status": outcome, "error": error}
            )
        if reports and self.account_id is not None:
            from providers.tasks import sandbox_report

            sandbox_report.apply_async(
                (self.account_id, {"reports": reports}), countdown=settings.SANDBOX_REPORT_DELAY
            )
        return results

    def parse_webhook(self, request: WebhookRequest) -> WebhookResult:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("reports"), list):
            raise WebhookRejected('expected {"reports": [...]}')
        now = dt.datetime.now(dt.UTC)
        reports = []
        for item in body["reports"]:
            if not isinstance(item, dict) or item.get("status") not in Status.values:
                raise WebhookRejected(f"malformed report: {item!r}"[:200])
            reports.append(
                StatusReport(
                    provider_message_id=str(item.get("id", "")),
                    ref=str(item.get("ref", "")),
                    status=item["status"],
                    error_code=item.get("error", ""),
                    error_description=item.get("error", "").replace("_", " ").capitalize(),
                    done_at=now,
                    raw=item,
                )
            )
        return WebhookResult(reports=reports)

    def check_connection(self) -> str:
        return "The sandbox is built in and always reachable."

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime


class AuditLogEntry(models.Model):
    """Who did what to which object. Append-only: nothing in the UI or the
    admin edits or deletes an entry."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # e.g. "campaign.launch", "sender.approve", "suppression.remove"
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_repr}"

    # What a campaign's entries say on its page, in words; any other action
    # is shown by its name.
    LABELS = {
        "campaign.create": "Created",
        "campaign.clone": "Created as a copy",
        "campaign.edit": "Edited",
        "campaign.test_send": "Test message sent",
        "campaign.schedule": "Scheduled",
        "campaign.launch": "Launched",
        "campaign.pause": "Paused",
        "campaign.resume": "Resumed",
        "campaign.cancel": "Cancelled",
        "campaign.complete": "Completed",
        "campaign.quiet_hours_lifted": "Quiet hours lifted",
        "campaign.quiet_hours_restored": "Quiet hours restored",
        "campaign.failover": "Moved to the fallback account",
        "campaign.failover_refused": "Not moved to the fallback account",
        "campaign.provider_lists_sent": "Sent to the provider's lists",
        "campaign.cancel_at_provider": "Cancelled at the provider",
        "campaign.cancel_opted_out": "Opted-out recipients cancelled at the provider",
        "campaign.opted_out_held": "Opted-out recipients the provider cannot cancel",
        "campaign.ab_test_start": "A/B test started",
        "campaign.ab_winner": "A/B test winner chosen",
        "campaign.ab_undecided": "A/B test left undecided",
    }

    @property
    def label(self) -> str:
        return self.LABELS.get(self.action, self.action)

    def detail_lines(self) -> list[tuple[str, str]]:
        """The details as a person reads them, (label, text) by label (the
        database keeps no order): words for keys, lists joined, yes or no
        for flags, and no line for a value that was not given."""
        if not isinstance(self.details, dict):
            return [("details", _readable(self.details))]
        return sorted(
            (str(key).replace("_", " "), _readable(value))
            for key, value in self.details.items()
            if value is not None
        )


def _readable(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_readable(item) for item in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_readable(item)}" for key, item in value.items())
    if isinstance(value, str) and (moment := _moment(value)):
        # Kept as ISO text; shown as the pages show times, in the reader's zone.
        return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"
    return "—" if value is None else str(value)


def _moment(text: str):
    """An aware time written as ISO text (``isoformat()``), else None."""
    if len(text) < 19 or text[10:11] != "T":
        return None
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    return moment if moment and timezone.is_aware(moment) else None


class APIToken(models.Model):
    """A personal token for the REST export. Only a hash is stored: the token
    itself is shown once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “Finance dashboard”.")
    # The first characters of the token, so a user can tell tokens apart in
    # the list and in their tools without the secret being kept.
    prefix = models.CharField(max_length=16, db_index=True)
    # SHA-256 of the whole token. Tokens are long and random, so a fast hash
    # is enough (a slow password hash would only slow every request).
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The one write the API allows: recording conversions
    # (POST /api/v1/conversions/). Everything else stays read-only.
    can_record_conversions = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

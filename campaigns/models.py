import datetime as dt
import re
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import RawSQL

from providers.status import SUBMITTED, WENT_OUT, Status

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def validate_time_zone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).")


class Approval(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class SenderID(models.Model):
    """What the recipient sees as the sender: 3–11 letters/digits, or a number."""

    class Kind(models.TextChoices):
        ALPHANUMERIC = "alphanumeric", "Alphanumeric"
        NUMERIC = "numeric", "Numeric (phone number or short code)"

    value = models.CharField(max_length=16, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, editable=False)
    accounts = models.ManyToManyField(
        "providers.ProviderAccount",
        blank=True,
        related_name="senders",
        help_text="Provider accounts this sender is registered with.",
    )
    # ISO alpha-2 codes it may be used for; empty means every country.
    countries = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Approval.choices, default=Approval.PENDING)
    note = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["value"]
        verbose_name = "sender ID"

    def __str__(self):
        return self.value

    def save(self, *args, **kwargs):
        if not self.kind:
            self.clean()
        super().save(*args, **kwargs)

    def clean(self):
        value = (self.value or "").strip()
        digits = value[1:] if value.startswith("+") else value
        if digits.isdigit():
            if not 3 <= len(digits) <= 15:
                raise ValidationError({"value": "A numeric sender has 3 to 15 digits."})
            self.kind = self.Kind.NUMERIC
        else:
            if not re.fullmatch(r"[A-Za-z0-9 ._-]{3,11}", value):
                raise ValidationError(
                    {
                        "value": "An alphanumeric sender has 3 to 11 characters: "
                        "letters A–Z, digits, space, dot, dash or underscore."
                    }
                )
            if not any(c.isalpha() for c in value):
                raise ValidationError({"value": "An alphanumeric sender needs a letter."})
            self.kind = self.Kind.ALPHANUMERIC
        self.value = value
        self.countries = sorted({c.upper() for c in self.countries or []})

    def allows_country(self, country: str) -> bool:
        return not self.countries or country in self.countries


class DLTTemplate(models.Model):
    """A content template registered on India's DLT platform."""

    class Category(models.TextChoices):
        PROMOTIONAL = "promotional", "Promotional"
        TRANSACTIONAL = "transactional", "Transactional"
        SERVICE_IMPLICIT = "service_implicit", "Service implicit"
        SERVICE_EXPLICIT = "service_explicit", "Service explicit"

    name = models.CharField(max_length=120)
    template_id = models.CharField(max_length=64, unique=True)
    principal_entity_id = models.CharField(max_length=64)
    telemarketer_id = models.CharField(max_length=64, blank=True)
    header = models.ForeignKey(
        SenderID,
        on_delete=models.PROTECT,
        related_name="dlt_templates",
        help_text="The sender ID (header) the template is registered with.",
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    # The registered text, with {#var#} where a value goes.
    content = models.TextField()
    status = models.CharField(max_length=16, choices=Approval.choices, default=Approval.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "DLT template"

    def __str__(self):
        return f"{self.name} ({self.template_id})"

    def clean(self):
        if self.content and "{{" in self.content:
            raise ValidationError(
                {"content": "Use {#var#} for variable parts, as registered on the DLT platform."}
            )


class DeliveryWindow(models.Model):
    """Days of the week and hours of the day when messages may go out."""

    name = models.CharField(max_length=100, unique=True)
    # 0 = Monday ... 6 = Sunday
    days = models.JSONField(default=list)
    start_time = models.TimeField()
    end_time = models.TimeField(
        help_text="May be earlier than the start for a window over midnight."
    )
    recipient_local = models.BooleanField(
        default=False, help_text="Use each recipient's own time zone (from their number)."
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="The window's time zone; with recipient-local windows, used for "
        "numbers whose zone is unknown.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        days = sorted({int(d) for d in self.days or []})
        if not days or any(d not in range(7) for d in days):
            raise ValidationError({"days": "Choose at least one day of the week."})
        self.days = days
        if self.start_time == self.end_time:
            raise ValidationError(
                {"end_time": "The window must not start and end at the same time."}
            )

    def summary(self) -> str:
        days = sorted(self.days)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            day_text = f"{DAY_NAMES[days[0]]}–{DAY_NAMES[days[-1]]}"
        else:
            day_text = ", ".join(DAY_NAMES[d] for d in days)
        where = "recipient's time" if self.recipient_local else self.time_zone
        return f"{day_text} {self.start_time:%H:%M}–{self.end_time:%H:%M} {where}"

    def zone_for(self, recipient_zone: str = "") -> zoneinfo.ZoneInfo:
        name = recipient_zone if self.recipient_local and recipient_zone else self.time_zone
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(self.time_zone)

    def _open_local(self, local: dt.datetime) -> bool:
        t = local.time()
        if self.start_time < self.end_time:
            return local.weekday() in self.days and self.start_time <= t < self.end_time
        # Over midnight: the part after midnight belongs to the previous day.
        if t >= self.start_time:
            return local.weekday() in self.days
        if t < self.end_time:
            return (local.weekday() - 1) % 7 in self.days
        return False

    def is_open(self, at: dt.datetime, recipient_zone: str = "") -> bool:
        return self._open_local(at.astimezone(self.zone_for(recipient_zone)))

    def in_utc(self, at: dt.datetime, *, held_for: dt.timedelta = dt.timedelta(days=2)):
        """The window as a provider that keeps windows in UTC reads one
        (Infobip's deliveryTimeWindow), for messages handed over to go out at
        ``at`` and held up to ``held_for``: (days, start, end) in UTC, or
        None where that would change it: a window in each recipient's own
        zone, one over midnight (here or in UTC), or a zone whose offset
        changes meanwhile (summer time)."""
        if self.recipient_local or not self.start_time < self.end_time:
            return None
        zone = self.zone_for()
        local = at.astimezone(zone)
        if (at + held_for).astimezone(zone).utcoffset() != local.utcoffset():
            return None
        start = dt.datetime.combine(local.date(), self.start_time, tzinfo=zone).astimezone(dt.UTC)
        end = dt.datetime.combine(local.date(), self.end_time, tzinfo=zone).astimezone(dt.UTC)
        if start.date() != end.date():
            return None
        shift = (start.date() - local.date()).days
        days = tuple(sorted((d + shift) % 7 for d in self.days))
        return days, start.time(), end.time()

    def next_open(self, at: dt.datetime, recipient_zone: str = "") -> dt.datetime:
        """The first moment at or after ``at`` when the window is open."""
        zone = self.zone_for(recipient_zone)
        local = at.astimezone(zone)
        if self._open_local(local):
            return at
        for offset in range(8):
            day = local.date() + dt.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            start = dt.datetime.combine(day, self.start_time, tzinfo=zone)
            if start >= local:
                return start.astimezone(dt.UTC)
        raise ValueError("The delivery window has no open time.")


class ABMetric(models.TextChoices):
    """What decides an A/B test's winner."""

    CLICKS = "clicks", "Click rate (unique clicks of delivered)"
    DELIVERY = "delivery", "Delivery rate"
    CONVERSIONS = "conversions", "Conversions (per message sent)"


class Campaign(models.Model):
    ABMetric = ABMetric

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Purpose(models.TextChoices):
        MARKETING = "marketing", "Marketing"
        # The log of confirmations answering keyword replies (STOP, HELP…)
        # from one number of one account: never launched, messages as test
        # sends are, outside any audience.
        REPLIES = "replies", "Keyword replies"

    name = models.CharField(max_length=150)
    purpose = models.CharField(
        max_length=10,
        choices=Purpose.choices,
        default=Purpose.MARKETING,
        db_default=Purpose.MARKETING,
        editable=False,
    )
    text = models.TextField(
        help_text="Placeholders like {{ first_name }} are filled per recipient."
    )
    sender = models.ForeignKey(SenderID, on_delete=models.PROTECT, related_name="campaigns")
    dlt_template = models.ForeignKey(
        DLTTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="campaigns"
    )
    window = models.ForeignKey(
        DeliveryWindow, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    lists = models.ManyToManyField("contacts.ContactList", blank=True, related_name="campaigns")
    exclude_lists = models.ManyToManyField(
        "contacts.ContactList", blank=True, related_name="excluded_from"
    )
    # Contacts matching a segment's conditions when the campaign launches.
    segments = models.ManyToManyField("contacts.Segment", blank=True, related_name="campaigns")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # Submit the messages on launch with the send time, for the provider to
    # hold (only where its backend schedules natively): they go out on time
    # even if smsportal is down then, but cannot be paused, and are cancelled
    # only where the provider can cancel.
    schedule_at_provider = models.BooleanField(default=False)
    # Instead of smsportal's lists: contact lists kept at the provider (their
    # ids there, comma-separated), for accounts whose backend can send to
    # them. The recipients are the provider's: no message rows here, and the
    # figures are the provider's campaign view, refreshed by polling.
    provider_lists = models.CharField(max_length=500, blank=True)
    provider_campaign_uid = models.CharField(max_length=100, blank=True)
    provider_sent_at = models.DateTimeField(null=True, blank=True)
    provider_view = models.JSONField(default=dict, blank=True)
    provider_view_at = models.DateTimeField(null=True, blank=True)
    # Replace characters that have GSM-7 look-alikes (smart quotes, dashes,
    # accents) in every rendered message, so it goes as GSM-7 and costs less.
    keep_gsm7 = models.BooleanField(default=False)
    # Provider options; each backend uses the ones its provider supports.
    flash = models.BooleanField(default=False)
    validity_minutes = models.PositiveIntegerField(null=True, blank=True)
    transliteration = models.CharField(max_length=32, blank=True)
    language_code = models.CharField(max_length=8, blank=True)
    click_tracking = models.BooleanField(default=False)
    campaign_ref = models.CharField(max_length=64, blank=True)
    callback_data = models.CharField(max_length=200, blank=True)
    # Send only to contacts whose consent is "opted in"; the others are
    # skipped at launch ("no_consent").
    consent_required = models.BooleanField(default=False)
    # The site's quiet hours (settings.QUIET_HOURS_*) do not apply to this
    # campaign: lifted by an Admin, with the reason (audit-logged).
    quiet_hours_lifted = models.BooleanField(default=False)
    quiet_hours_reason = models.CharField(max_length=255, blank=True)
    # The [time zone, country, zone is the contact's own] groups of its
    # messages, found by the first dispatch that keeps quiet hours, so later
    # ones need no pass over the messages to know them (None: not yet).
    recipient_zones = models.JSONField(null=True, blank=True, editable=False)
    # The composer's estimate of what the audience costs, taken at launch
    # (what the launch confirmation said): shown beside the actual cost,
    # which grows as messages are sent and priced.
    launch_estimate = models.DecimalField(
        max_digits=16, decimal_places=5, null=True, blank=True, editable=False
    )
    # Replace each URL of the text with a tracked short link per recipient
    # (campaigns/links.py). Off where the provider's own click tracking is
    # chosen (``click_tracking``): then the provider shortens.
    track_links = models.BooleanField(default=True, db_default=True)
    # A/B test (campaigns/abtest.py): with variants, this share (percent) of
    # the audience is split evenly among them; after ``ab_wait_minutes`` the
    # rest gets the winner by ``ab_metric``, picked automatically or by a user.
    ab_test_share = models.PositiveSmallIntegerField(null=True, blank=True)
    ab_wait_minutes = models.PositiveIntegerField(default=240, db_default=240)
    ab_metric = models.CharField(
        max_length=12, choices=ABMetric.choices, default=ABMetric.CLICKS, db_default="clicks"
    )
    ab_auto_winner = models.BooleanField(default=True, db_default=True)
    # When the test part has had its time and a winner may be chosen.
    ab_test_ends_at = models.DateTimeField(null=True, blank=True, editable=False)
    ab_winner = models.ForeignKey(
        "Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    ab_decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    ab_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    pause_reason = models.CharField(max_length=255, blank=True)
    # Recipients materialised at launch (sent + skipped + failed, eventually).
    audience_count = models.PositiveIntegerField(default=0)
    # Consecutive failed provider calls, for pausing a failing campaign.
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    # When the audience became message rows (set in the same transaction).
    materialised_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state="scheduled") | models.Q(scheduled_at__isnull=False),
                name="scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(validity_minutes__isnull=True)
                | models.Q(validity_minutes__gte=1, validity_minutes__lte=2880),
                name="validity_in_range",
            ),
        ]
        indexes = [models.Index(fields=["state"])]

    def __str__(self):
        return self.name

    def clean(self):
        # Not tied to the reason's field: forms that leave it out (it is an
        # Admin's) still validate.
        if self.quiet_hours_lifted and not self.quiet_hours_reason.strip():
            raise ValidationError("Say why the quiet hours are lifted.")

    @property
    def is_editable(self) -> bool:
        return self.state == self.State.DRAFT

    @property
    def provider_list_ids(self) -> list[str]:
        return [part.strip() for part in self.provider_lists.split(",") if part.strip()]

    @property
    def sending_states(self) -> tuple[str, ...]:
        """The states in which the campaign's messages go out (a schedule
        handed to the provider is sent ahead, while still scheduled)."""
        if self.schedule_at_provider:
            return (self.State.RUNNING, self.State.SCHEDULED)
        return (self.State.RUNNING,)

    @property
    def held_at_provider(self) -> bool:
        """Scheduled, with its messages handed to the provider ahead."""
        return self.schedule_at_provider and self.state == self.State.SCHEDULED

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.SCHEDULED, self.State.RUNNING, self.State.PAUSED)


class MessageQuerySet(models.QuerySet):
    def of_campaign(self, campaign_id: int):
        """The campaign's messages, for pages that show them newest first.

        Filtering on the campaign alone, PostgreSQL's planner expects the
        campaign's rows spread evenly through the table and walks the
        primary key backwards from the newest message of any campaign, so an
        older campaign among ten million rows costs a second. Bounding the id
        by the campaign's own newest message (one index lookup) starts that
        walk where the campaign's rows are."""
        # The table name is the model's own; the id is a parameter.
        table = Message._meta.db_table
        newest = RawSQL(  # noqa: S611
            f"SELECT max(id) FROM {table} WHERE campaign_id = %s",  # noqa: S608
            [campaign_id],
        )
        return self.filter(campaign_id=campaign_id, id__lte=newest)


class SkipReason(models.TextChoices):
    """Why a message was never submitted (``Message.skip_reason``)."""

    SUPPRESSED = "suppressed", "Suppressed"
    NO_CONSENT = "no_consent", "No recorded consent"
    FREQUENCY_CAP = "frequency_cap", "Over the frequency cap"
    OUTSIDE_DLT = "outside_dlt", "Outside DLT (India, no template)"
    SENDER_COUNTRY = "sender_country", "Sender ID not valid for the country"
    OPTED_OUT = "opted_out", "Opted out after launch"


class Message(models.Model):
    """One recipient of one send."""

    SkipReason = SkipReason

    # The three links below are kept by Django (cascade, set null, protect)
    # without a foreign-key constraint in the database: launch writes a
    # million rows in one INSERT … SELECT that takes the campaign, account
    # and contacts from the same transaction, and a constraint would check
    # each row again, three times (half the launch time). The campaign and
    # account need no index of their own: the page indexes start with them.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # Test sends are logged like any message but are not part of the audience.
    is_test = models.BooleanField(default=False)
    # The A/B variant this recipient gets (None: the campaign's own text, or
    # not yet assigned: the rest of an A/B test's audience, held until the
    # winner is chosen). Set once, never changed.
    variant = models.ForeignKey(
        "Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    phone = models.CharField(max_length=32)
    country = models.CharField(max_length=2, blank=True)
    # The contact's own zone (its "time_zone" attribute) when it has a known
    # one, else the first zone of the number (zone_is_own false: the number
    # may be in more zones, which quiet hours read all of).
    time_zone = models.CharField(max_length=64, blank=True)
    zone_is_own = models.BooleanField(default=False, db_default=False)
    text = models.TextField(blank=True)
    encoding = models.CharField(max_length=8, default="GSM-7")
    segments = models.PositiveSmallIntegerField(default=1)
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    provider_message_id = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Why a message was skipped (the stored codes never change).
    skip_reason = models.CharField(max_length=32, blank=True, choices=SkipReason.choices)
    error_code = models.CharField(max_length=64, blank=True)
    error_description = models.CharField(max_length=500, blank=True)
    estimated_cost = models.DecimalField(max_digits=12, decimal_places=5, default=Decimal("0"))
    actual_cost = models.DecimalField(max_digits=12, decimal_places=5, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Which claim (one worker's batch) holds the message while it is
    # "sending": only the holder may submit it, so a batch that recovery took
    # back can never be sent by a worker that was merely slow.
    claim_token = models.UUIDField(null=True, blank=True)
    # Not to be submitted before this time (schedule, window, retry backoff).
    not_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Exactly one message per recipient per campaign.
            models.UniqueConstraint(
                fields=["campaign", "phone"],
                condition=models.Q(is_test=False),
                name="message_once_per_recipient",
            ),
            models.UniqueConstraint(
                fields=["account", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="message_unique_provider_id",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="message_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="skipped") | ~models.Q(skip_reason=""),
                name="skipped_has_reason",
            ),
            # A provider can only have answered for a message we submitted.
            models.CheckConstraint(
                condition=~models.Q(status__in=sorted(SUBMITTED))
                | models.Q(submitted_at__isnull=False),
                name="submitted_has_time",
            ),
        ]
        indexes = [
            # Keyset pages of the message log, newest first, per filter.
            models.Index(fields=["campaign", "-id"], name="message_campaign_page"),
            models.Index(fields=["campaign", "status", "-id"], name="message_campaign_status_page"),
            models.Index(fields=["status", "-id"], name="message_status_page"),
            models.Index(fields=["account", "-id"], name="message_account_page"),
            # created_at: a BRIN index on PostgreSQL (migration 0011).
            # Prefix search on the number ("+4915…") whatever the collation.
            models.Index(
                fields=["phone"], name="message_phone_prefix", opclasses=["varchar_pattern_ops"]
            ),
            # Test sends are few: found without walking a campaign's messages.
            models.Index(
                fields=["campaign"], condition=models.Q(is_test=True), name="message_tests"
            ),
            # The dispatch queue: pending rows in id order, which a worker
            # walks from just after its previous claim (claimed rows leave
            # dead entries behind them until vacuum).
            models.Index(
                fields=["campaign", "id"],
                condition=models.Q(status="pending"),
                name="message_pending_by_id",
            ),
            models.Index(
                fields=["submitted_at"],
                condition=models.Q(status="sending"),
                name="message_in_flight",
            ),
        ]

    def __str__(self):
        return f"{self.phone} ({self.status})"

    @property
    def ref(self) -> str:
        """Our reference for the message at the provider."""
        return str(self.pk)

    @property
    def sent_time_unknown(self) -> bool:
        """Sent, by its report, with no time of sending from any answer or
        report (one that came before the answer to the submission, say)."""
        return self.sent_at is None and self.status in WENT_OUT


class MessageEvent(models.Model):
    """A step in a message's history, with what the provider said."""

    class Kind(models.TextChoices):
        SUBMIT = "submit", "Submitted"
        REPORT = "report", "Delivery report"
        POLL = "poll", "Status poll"
        RECOVERY = "recovery", "Recovery"
        NOTE = "note", "Note"

    # Indexed by (message, created_at) below. History rows are appended in
    # thousands a second: no constraint trigger in the database checks
    # (and locks) the message and account of each; Django's on_delete
    # still removes them with their message or account.
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    # Not indexed: nothing reads history rows by account but the deletion
    # of an account (rare, and a scan then), while every row written would
    # add an entry to it.
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, db_constraint=False, db_index=False
    )
    # Kept even when no message matches, so unknown IDs can be looked at
    # (the admin's search). Not indexed: a history row is written for every
    # report, and nothing looks rows up by this value but that search, which
    # matches regardless of case and so could not use an index anyway.
    provider_message_id = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, blank=True)
    # False when the report arrived late or twice and changed nothing.
    applied = models.BooleanField(default=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["message", "created_at"])]

    def __str__(self):
        return f"{self.kind} {self.status} {self.provider_message_id}"


class CampaignCounter(models.Model):
    """Deltas of a campaign's per-status counts and costs.

    Writers add a row per change instead of updating one hot row; a periodic
    task squashes them. Readers sum the few rows left, so a campaign page never
    counts the message table."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="counters")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    # Destination country of the messages counted.
    country = models.CharField(max_length=2, blank=True)
    # The day (UTC) the change happened, for roll-ups by day.
    day = models.DateField()
    # The minute (UTC) it happened, for a campaign's charts by the minute or
    # hour; squashing keeps minutes for the first two hours after launch,
    # hours for the first two days, then the day's start (None: written
    # before minutes were kept, read as the day).
    minute = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    count = models.IntegerField(default=0)
    estimated_cost = models.DecimalField(max_digits=16, decimal_places=5, default=Decimal("0"))
    actual_cost = models.DecimalField(max_digits=16, decimal_places=5, default=Decimal("0"))
    segments = models.BigIntegerField(default=0)
    is_squashed = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["campaign", "status"]),
            models.Index(fields=["day", "account"]),
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.status} {self.count:+d}"


class Variant(models.Model):
    """One text of an A/B test (2 to 4 per campaign, labelled A–D)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1)
    text = models.TextField()

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="variant_label_once")
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.label}"


class ShortLink(models.Model):
    """A tracked short link: one URL of one message's text, by an unguessable
    code. Written when the message is rendered; read by the redirect."""

    code = models.CharField(max_length=16, unique=True)
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="links", db_constraint=False
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Which URL of the text (0 = the first).
    position = models.PositiveSmallIntegerField(default=0)
    url = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.code


class Click(models.Model):
    """A request for a short link (or a click the provider reported). Link
    previews (chat apps' crawlers, HEAD requests) are kept apart
    (``is_bot``) and never counted as clicks."""

    class Source(models.TextChoices):
        LINK = "link", "Our short link"
        PROVIDER = "provider", "Provider's click report"

    link = models.ForeignKey(
        ShortLink,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="clicks",
        db_index=False,
        db_constraint=False,
    )
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="clicks",
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    variant = models.ForeignKey(
        Variant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LINK)
    # A coarse class of the user agent: mobile, desktop, preview, head, other.
    agent = models.CharField(max_length=16, blank=True)
    is_bot = models.BooleanField(default=False)
    # What the provider sent, for its click reports (kept as it came).
    payload = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["campaign", "at"], name="click_campaign_time")]

    def __str__(self):
        return f"{self.campaign_id} {self.message_id} {self.at:%Y-%m-%d %H:%M}"


class Conversion(models.Model):
    """An outcome attributed to a message by its short link's code."""

    class Source(models.TextChoices):
        API = "api", "API"
        PIXEL = "pixel", "Pixel"

    link = models.ForeignKey(
        ShortLink,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversions",
        db_constraint=False,
    )
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversions",
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    variant = models.ForeignKey(
        Variant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    value = models.DecimalField(max_digits=17, decimal_places=5, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # The caller's own reference (e.g. an order number): the same one twice
    # for a link is recorded once.
    external_id = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    # What reporting it to the provider (Infobip's conversion log) answered.
    provider_answer = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["link", "external_id"],
                condition=~models.Q(external_id=""),
                name="conversion_once_per_reference",
            )
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.value} {self.currency}"

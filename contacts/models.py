from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce, Lower, Now


class Consent(models.TextChoices):
    """What a contact said about receiving marketing messages."""

    OPTED_IN = "opted_in", "Opted in"
    UNKNOWN = "unknown", "Unknown"
    OPTED_OUT = "opted_out", "Opted out"


class Contact(models.Model):
    # E.164 with the leading "+", normalised with phonenumbers on the way in.
    # On PostgreSQL the column is in the "C" collation and has no second,
    # pattern-matching index (migration 0004): repeat that after any
    # AlterField of this field.
    phone = models.CharField(max_length=16, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # Any other imported column, usable as a {{ placeholder }} in messages.
    attributes = models.JSONField(default=dict, blank=True)
    # Derived from the number: ISO 3166 alpha-2 and an IANA zone (the first
    # one phonenumbers gives; for countries with several zones it is a guess
    # the user can correct).
    country = models.CharField(max_length=2, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    # Segments filter on it. On PostgreSQL a BRIN index serves that
    # (migration 0005): contacts are added in time order, so block ranges
    # summarise it well, and an import does not pay for a btree entry per row.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The latest consent recorded (its history: ConsentEvent). A database
    # default too: imports insert contacts in raw SQL.
    consent = models.CharField(
        max_length=10, choices=Consent.choices, default=Consent.UNKNOWN, db_default=Consent.UNKNOWN
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phone__startswith="+"), name="contact_phone_e164"
            ),
        ]
        # Equality only: no second pattern-matching index as db_index would
        # add (each index is paid for on every imported row).
        indexes = [models.Index(fields=["country"], name="contact_country")]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone

    @property
    def name(self):
        return f"{self.first_name} {self.last_name}".strip()


class ContactList(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    contacts = models.ManyToManyField(Contact, through="ListMembership", related_name="lists")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Kept by recount_members() whenever the list's members change, so pages
    # and the REST export read it instead of counting memberships.
    member_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="contactlist_name_unique")]

    def __str__(self):
        return self.name

    @classmethod
    def recount_members(cls, list_ids) -> None:
        """Set the lists' member_count from their memberships, in one UPDATE
        (the composite index that starts with the list answers each count)."""
        members = (
            ListMembership.objects.filter(contact_list=models.OuterRef("pk"))
            .order_by()
            .values("contact_list")
            .annotate(n=models.Count("*"))
            .values("n")
        )
        cls.objects.filter(pk__in=list(list_ids)).update(
            member_count=Coalesce(models.Subquery(members), 0)
        )


class ListMembership(models.Model):
    # Indexed by the two composite indexes below, each starting with one.
    # Django cascades deletes of either side; the database keeps no
    # foreign-key constraint: imports add hundreds of thousands of rows in one
    # INSERT … SELECT that joins the contacts just merged, and two deferred
    # checks per row took a third of the merge.
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["contact", "contact_list"])]

    def __str__(self):
        return f"{self.contact_id} in {self.contact_list_id}"


class Suppression(models.Model):
    """A number nobody sends to, whatever list it comes from."""

    class Reason(models.TextChoices):
        STOP = "stop", "STOP reply"
        MANUAL = "manual", "Added by hand"
        IMPORTED = "imported", "Imported"
        BLOCKED = "blocked", "Blocked by the provider"

    phone = models.CharField(max_length=16, unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.MANUAL)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phone__startswith="+"), name="suppression_phone_e164"
            ),
        ]

    def __str__(self):
        return f"{self.phone} ({self.get_reason_display()})"


class ConsentEvent(models.Model):
    """One change of a contact's consent: what it became, where it came from
    and who or what recorded it. Never edited; the latest is the contact's."""

    class Source(models.TextChoices):
        IMPORT = "import", "Import"
        MANUAL = "manual", "Entered by hand"
        KEYWORD = "keyword", "Keyword reply"
        PAGE = "page", "Contact page"
        ADMIN = "admin", "Admin"
        API = "api", "API"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events")
    state = models.CharField(max_length=10, choices=Consent.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    # Where exactly: "people.csv, row 12", "Replied STOP (inbound message 42)".
    detail = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "-created_at"], name="consent_contact_time")]

    def __str__(self):
        return f"{self.contact_id}: {self.get_state_display()} ({self.get_source_display()})"


class ContactImport(models.Model):
    """One uploaded file on its way into a list (or into the suppressions).

    The rows are staged and merged in one transaction at the end, so an
    import that fails leaves nothing half-done: either every valid row is in,
    or none is and the state says so. Running it again re-reads the file and
    merges idempotently (contacts by number, memberships by pair)."""

    class State(models.TextChoices):
        # Uploaded; waiting for the user to map columns.
        MAPPING = "mapping", "Waiting for column mapping"
        # Handed to a worker, not started yet.
        QUEUED = "queued", "Queued"
        # A worker is reading, normalising and staging rows.
        RUNNING = "running", "Importing"
        # Every valid row is merged; the counts are final.
        COMPLETED = "completed", "Completed"
        # Nothing was merged: the file was unreadable or the worker failed.
        FAILED = "failed", "Failed"

    class Target(models.TextChoices):
        LIST = "list", "Contacts into a list"
        SUPPRESSIONS = "suppressions", "Numbers to suppress"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel workbook"

    target = models.CharField(max_length=16, choices=Target.choices, default=Target.LIST)
    contact_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    original_name = models.CharField(max_length=255)
    # Relative to CONTACT_IMPORT_DIR, which web and workers share.
    stored_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8, choices=Format.choices)
    size_bytes = models.BigIntegerField(default=0)
    # What the first look at the file found: encoding, delimiter, header cells
    # and a few rows for the mapping page.
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    has_header = models.BooleanField(default=True)
    columns = models.JSONField(default=list, blank=True)
    sample_rows = models.JSONField(default=list, blank=True)
    # Column index (as a string) -> "phone", "first_name", "last_name" or
    # "attr:<name>"; unmapped columns are ignored.
    mapping = models.JSONField(default=dict, blank=True)
    default_country = models.CharField(max_length=2, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.MAPPING)
    error = models.TextField(blank=True)
    rows_read = models.BigIntegerField(default=0)
    rows_valid = models.BigIntegerField(default=0)
    rows_invalid = models.BigIntegerField(default=0)
    # Filled in by the merge: new contacts, changed contacts, new members of
    # the list, and rows that added nothing (same number again in the file,
    # or already in the list).
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    added = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    error_report_name = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched by the worker as it goes: a running import whose heartbeat
    # stops has lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["mapping", "queued", "running", "completed", "failed"]
                ),
                name="contactimport_state_valid",
            ),
        ]

    def __str__(self):
        return self.original_name

    @property
    def took(self) -> str:
        """How long the import ran, as a person says it ("31 seconds")."""
        if not (self.started_at and self.finished_at):
            return ""
        seconds = max(0, round((self.finished_at - self.started_at).total_seconds()))
        if seconds < 120:
            return f"{seconds} second{'' if seconds == 1 else 's'}"
        minutes = round(seconds / 60)
        return f"{minutes} minutes"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)


class Segment(models.Model):
    """Contacts picked by conditions rather than by hand; evaluated when used,
    so it follows the contacts as they change."""

    class Match(models.TextChoices):
        ALL = "all", "all conditions"
        ANY = "any", "any condition"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    # [{"field": ..., "op": ..., "key": ..., "value": ...}]; see contacts.segments.
    conditions = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="segment_name_unique")]

    def __str__(self):
        return self.name

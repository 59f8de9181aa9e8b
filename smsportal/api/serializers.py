"""What each resource looks like in JSON, and the same fields, in the same
order, as CSV columns."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import Campaign, Message
from contacts.models import Contact, ContactList, Suppression
from providers.status import Status

from .csv_export import Column, serializer_columns

MESSAGE_COLUMNS = [
    Column("id", "id", "message id (ascending with creation)"),
    Column("campaign", "campaign_id", "campaign id"),
    Column("is_test", "is_test", "true for a test send, outside the campaign's audience"),
    Column("phone", "phone", "recipient, E.164"),
    Column("country", "country", "destination country, ISO 3166 alpha-2"),
    Column("status", "status", f"one of: {', '.join(Status.values)}"),
    Column("skip_reason", "skip_reason", "why a skipped message was not sent"),
    Column("error_code", "error_code", "the provider's (or our) error code"),
    Column("error_description", "error_description", "the error in words"),
    Column("text", "text", "the rendered message"),
    Column("encoding", "encoding", "GSM-7 or UCS-2"),
    Column("segments", "segments", "SMS parts billed"),
    Column("account", "account_id", "provider account id"),
    Column("provider_message_id", "provider_message_id", "the provider's id for it"),
    Column("estimated_cost", "estimated_cost", "from the rate card, in `currency`"),
    Column("actual_cost", "actual_cost", "as reported or priced when final; empty before"),
    Column("currency", "currency", "ISO 4217"),
    Column("attempts", "attempts", "submission attempts"),
    Column("created_at", "created_at", "when the recipient was added to the send"),
    Column("submitted_at", "submitted_at", "when it went to the provider"),
    Column("sent_at", "sent_at", "when the provider accepted it"),
    Column("done_at", "done_at", "when it reached a final status"),
]

CONTACT_COLUMNS = [
    Column("id", "id", "contact id"),
    Column("phone", "phone", "E.164"),
    Column("first_name", "first_name", "first name"),
    Column("last_name", "last_name", "last name"),
    Column("country", "country", "ISO 3166 alpha-2, from the number"),
    Column("time_zone", "time_zone", "IANA time zone, from the number"),
    Column("attributes", "attributes", "other imported columns, as a JSON object"),
    Column("suppressed", "suppressed", "true when the number is on the suppression list"),
    Column("created_at", "created_at", "when it was first imported"),
    Column("updated_at", "updated_at", "when it last changed"),
]

LIST_COLUMNS = [
    Column("id", "id", "list id"),
    Column("name", "name", "list name"),
    Column("description", "description", "description"),
    Column("member_count", "member_count", "contacts in the list (a stored count)"),
    Column("created_at", "created_at", "when it was created"),
]

SUPPRESSION_COLUMNS = [
    Column("id", "id", "suppression id"),
    Column("phone", "phone", "E.164"),
    Column("reason", "reason", f"one of: {', '.join(Suppression.Reason.values)}"),
    Column("note", "note", "note"),
    Column("created_at", "created_at", "when it was suppressed"),
]


# Costs are strings with five decimals, as DRF writes decimals, so no
# reporting tool rounds them through a float.
MONEY = serializers.DecimalField(max_digits=16, decimal_places=5)


def _fields(columns: list[Column]) -> list[str]:
    return [c.header for c in columns]


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = _fields(MESSAGE_COLUMNS)


def with_suppressed(contacts):
    """Contacts annotated with whether their number is suppressed (one index
    lookup per row, in the same query)."""
    return contacts.annotate(suppressed=Exists(Suppression.objects.filter(phone=OuterRef("phone"))))


class ContactSerializer(serializers.ModelSerializer):
    suppressed = serializers.BooleanField(
        read_only=True, help_text="True when the number is on the suppression list."
    )
    attributes = serializers.DictField(
        read_only=True, help_text="Other imported columns, usable as placeholders."
    )

    class Meta:
        model = Contact
        fields = _fields(CONTACT_COLUMNS)


class ContactListSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactList
        fields = _fields(LIST_COLUMNS)


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = _fields(SUPPRESSION_COLUMNS)


class StatusCountsSerializer(serializers.Serializer):
    """Messages per status; every status is present, zero or not."""

    def get_fields(self):
        return {status.value: serializers.IntegerField(help_text=status.label) for status in Status}


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign with its counters. ``counts`` (from the view's context) maps
    campaign id to ``campaigns.selectors.Counts``."""

    sender = serializers.CharField(source="sender.value", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    currency = serializers.CharField(
        source="account.currency", read_only=True, help_text="Currency of every cost, ISO 4217."
    )
    dlt_template = serializers.CharField(
        source="dlt_template.template_id", read_only=True, allow_null=True, default=None
    )
    lists = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    exclude_lists = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    counts = serializers.SerializerMethodField(help_text="Recipients per message status.")
    recipients = serializers.SerializerMethodField(help_text="Messages of the campaign so far.")
    submitted = serializers.SerializerMethodField(help_text="Recipients given to the provider.")
    delivery_rate = serializers.SerializerMethodField(
        help_text="Delivered ÷ (delivered, undelivered, expired, rejected); null before any."
    )
    segments = serializers.SerializerMethodField(help_text="SMS parts, all recipients.")
    estimated_cost = serializers.SerializerMethodField(help_text="From the rate card.")
    actual_cost = serializers.SerializerMethodField(help_text="As reported, so far.")

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "state",
            "pause_reason",
            "text",
            "sender",
            "account",
            "account_name",
            "dlt_template",
            "window",
            "lists",
            "exclude_lists",
            "audience_count",
            "counts",
            "recipients",
            "submitted",
            "delivery_rate",
            "segments",
            "estimated_cost",
            "actual_cost",
            "currency",
            "created_at",
            "scheduled_at",
            "launched_at",
            "completed_at",
            "updated_at",
        ]

    def _counts(self, campaign):
        return self.context["counts"][campaign.pk]

    @staticmethod
    def _money(value) -> str:
        return f"{value:.5f}"

    @extend_schema_field(StatusCountsSerializer)
    def get_counts(self, campaign):
        counts = self._counts(campaign)
        return {status.value: counts.get(status) for status in Status}

    def get_recipients(self, campaign) -> int:
        return self._counts(campaign).total

    def get_submitted(self, campaign) -> int:
        return self._counts(campaign).submitted

    def get_delivery_rate(self, campaign) -> float | None:
        rate = self._counts(campaign).delivery_rate
        return None if rate is None else round(rate, 4)

    def get_segments(self, campaign) -> int:
        return self._counts(campaign).segments

    @extend_schema_field(MONEY)
    def get_estimated_cost(self, campaign):
        return self._money(self._counts(campaign).estimated_cost)

    @extend_schema_field(MONEY)
    def get_actual_cost(self, campaign):
        return self._money(self._counts(campaign).actual_cost)


# The fields of a campaign in the same order, ``counts`` one column per status.
CAMPAIGN_COLUMNS = serializer_columns(
    CampaignSerializer(),
    spread={"counts": StatusCountsSerializer()},
    descriptions={
        "id": "campaign id",
        "name": "campaign name",
        "state": f"one of: {', '.join(Campaign.State.values)}",
        "pause_reason": "why a paused campaign was paused",
        "text": "the message text, with its placeholders",
        "sender": "sender ID or number",
        "account": "provider account id",
        "account_name": "provider account name",
        "dlt_template": "DLT template id, when there is one",
        "window": "delivery window id, when there is one",
        "lists": "ids of the lists sent to",
        "exclude_lists": "ids of the lists left out",
        "audience_count": "recipients when it was launched",
        "created_at": "when it was created",
        "scheduled_at": "when it is scheduled to start",
        "launched_at": "when it was launched",
        "completed_at": "when it finished",
        "updated_at": "when it last changed",
    },
)

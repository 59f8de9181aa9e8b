"""What each resource looks like in JSON, and the same fields, in the same
order, as CSV columns."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns import conversions
from campaigns.models import Campaign, Click, Conversion, Message
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
    Column("clicks", "click_count", "clicks by people on its short links (previews left out)"),
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
    clicks = serializers.IntegerField(
        source="click_count",
        read_only=True,
        help_text="Clicks by people on the message's short links (link previews left out).",
    )

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


class VariantFiguresSerializer(serializers.Serializer):
    """One variant of a campaign's A/B test, with its figures (those of
    campaigns.engagement, as the campaign page shows them)."""

    label = serializers.CharField(help_text="A to D; A is the campaign's own text.")
    text = serializers.CharField(help_text="The variant's text, with its placeholders.")
    winner = serializers.BooleanField(
        help_text="True for the variant the rest of the audience got."
    )
    sent = serializers.IntegerField(help_text="Its messages given to the provider.")
    delivered = serializers.IntegerField(help_text="Its messages delivered.")
    delivery_rate = serializers.FloatField(
        allow_null=True, help_text="Delivered ÷ those with a final report; null before any."
    )
    clicks = serializers.IntegerField(help_text="Clicks by people (link previews left out).")
    unique_clicks = serializers.IntegerField(help_text="Its messages clicked by a person.")
    click_rate = serializers.FloatField(
        allow_null=True, help_text="Unique clicks ÷ delivered; null before any delivery."
    )
    conversions = serializers.IntegerField(help_text="Conversions attributed to its messages.")
    revenue = MONEY
    cost = MONEY


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
    clicks = serializers.SerializerMethodField(
        help_text="Clicks by people on the campaign's short links (link previews left out)."
    )
    unique_clicks = serializers.SerializerMethodField(
        help_text="Messages whose links a person clicked at least once."
    )

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
            "clicks",
            "unique_clicks",
            "created_at",
            "scheduled_at",
            "launched_at",
            "completed_at",
            "updated_at",
            "variants",
        ]

    def _counts(self, campaign):
        return self.context["counts"][campaign.pk]

    variants = serializers.SerializerMethodField(
        help_text="The A/B test's variants with their figures; empty when it is not one."
    )

    def _variants_of(self, campaign) -> list:
        """The variants of the campaigns being serialized (the page), read
        in one query the first time; figures per A/B campaign."""
        from campaigns.models import Variant

        found = self.context.get("_ab_variants")
        if found is None or campaign.pk not in found:
            page = getattr(self.parent, "instance", None)
            ids = [c.pk for c in page] if isinstance(page, list | tuple) else [campaign.pk]
            if campaign.pk not in ids:
                ids.append(campaign.pk)
            found = {pk: [] for pk in ids}
            for variant in Variant.objects.filter(
                campaign_id__in=ids, campaign__ab_test_share__isnull=False
            ).order_by("campaign_id", "label"):
                found[variant.campaign_id].append(variant)
            self.context["_ab_variants"] = {**self.context.get("_ab_variants", {}), **found}
        return self.context["_ab_variants"][campaign.pk]

    @extend_schema_field(VariantFiguresSerializer(many=True))
    def get_variants(self, campaign) -> list:
        from campaigns import engagement

        variants = self._variants_of(campaign)
        if not variants:
            return []
        figures = engagement.variant_figures(campaign)
        rows = []
        for v in variants:
            f = figures.get(v.pk) or engagement.Figures()
            rows.append(
                {
                    "label": v.label,
                    "text": v.text,
                    "winner": v.pk == campaign.ab_winner_id,
                    "sent": f.sent,
                    "delivered": f.delivered,
                    "delivery_rate": None if f.delivery_rate is None else round(f.delivery_rate, 4),
                    "clicks": f.clicks,
                    "unique_clicks": f.unique_clicks,
                    "click_rate": None if f.click_rate is None else round(f.click_rate, 4),
                    "conversions": f.conversions,
                    "revenue": self._money(f.revenue),
                    "cost": self._money(f.cost),
                }
            )
        return rows

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

    def get_clicks(self, campaign) -> int:
        return self.context["clicks"].get(campaign.pk, (0, 0))[0]

    def get_unique_clicks(self, campaign) -> int:
        return self.context["clicks"].get(campaign.pk, (0, 0))[1]


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
        "variants": "the A/B test's variants with their figures (label, text, winner, sent, "
        "delivered, delivery_rate, clicks, unique_clicks, click_rate, conversions, revenue, "
        "cost), as a JSON list; [] when it is not one",
    },
)


CLICK_COLUMNS = [
    Column("id", "id", "click id (ascending with time)"),
    Column("campaign", "campaign_id", "campaign id"),
    Column("message", "message_id", "message id"),
    Column("variant", "variant__label", "the message's A/B variant (A–D), when it has one"),
    Column("link", "link__code", "the short link's code; empty for a click the provider reported"),
    Column("url", "link__url", "where the short link leads; empty for a provider's click"),
    Column("source", "source", f"one of: {', '.join(Click.Source.values)}"),
    Column("agent", "agent", "what made the request: mobile, desktop, preview, head or other"),
    Column("is_bot", "is_bot", "true for a link preview or other bot: never counted as a click"),
    Column("at", "at", "when it happened"),
]


class ClickSerializer(serializers.ModelSerializer):
    variant = serializers.CharField(
        source="variant.label", read_only=True, allow_null=True, default=None
    )
    link = serializers.CharField(source="link.code", read_only=True, allow_null=True, default=None)
    url = serializers.CharField(source="link.url", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Click
        fields = _fields(CLICK_COLUMNS)


class ConversionSerializer(serializers.ModelSerializer):
    """A conversion as recorded."""

    code = serializers.CharField(
        source="link.code", read_only=True, allow_null=True, default=None,
        help_text="The short link's code it was attributed by.",
    )  # fmt: skip
    variant = serializers.CharField(
        source="variant.label", read_only=True, allow_null=True, default=None,
        help_text="The message's A/B variant (A–D), when it has one.",
    )  # fmt: skip
    value = serializers.DecimalField(
        max_digits=16, decimal_places=5, read_only=True, allow_null=True,
        help_text="As given, in `currency`; null when none was given.",
    )  # fmt: skip
    provider = serializers.SerializerMethodField(
        help_text="Reporting it to the provider that sent the message, where that provider "
        "logs conversions: `queued`, `logged`, `retrying` or `failed` (with the provider's "
        "answer); null where it is not reported there."
    )

    class Meta:
        model = Conversion
        fields = [
            "id",
            "code",
            "campaign",
            "message",
            "variant",
            "value",
            "currency",
            "external_id",
            "source",
            "provider",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "currency": {"help_text": "ISO 4217."},
            "external_id": {"help_text": "The caller's reference (e.g. an order number)."},
        }

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "state": {"type": "string", "enum": ["queued", "logged", "retrying", "failed"]},
                "at": {"type": "string", "format": "date-time"},
                "error": {"type": "string"},
            },
            "required": ["state"],
        }
    )
    def get_provider(self, conversion):
        answer = conversion.provider_answer or {}
        if not answer.get("state"):
            return None
        shown = {"state": answer["state"]}
        if answer.get("at"):
            shown["at"] = answer["at"]
        if answer.get("error"):
            shown["error"] = answer["error"]
        return shown


@extend_schema_field(
    {
        "type": "number",
        "minimum": 0,
        # Below the largest value kept, as a JSON number (a float) can say it.
        "maximum": float(conversions.MAX_VALUE.quantize(Decimal("0.01"), rounding=ROUND_DOWN)),
        "nullable": True,
        "description": "What the conversion was worth (e.g. the order total): up to "
        f"{conversions.VALUE_DIGITS} digits before the decimal point, rounded to 5 after it. "
        "Leave it out (or null) for a conversion without a value.",
    }
)
class ConversionValueField(serializers.Field):
    """A number (or a string of one) checked as ``campaigns.conversions``
    stores it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return conversions.clean_value(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict["value"]) from None

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "enum": sorted(conversions.ISO_4217)})
class CurrencyField(serializers.Field):
    """An ISO 4217 code, upper or lower case ("" for the account's)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        code = data.strip().upper() if isinstance(data, str) else None
        if code is None or (code and code not in conversions.ISO_4217):
            raise serializers.ValidationError(
                "Give the currency as an ISO 4217 code of three letters, e.g. EUR."
            )
        return code

    def to_representation(self, value):
        return value


class RecordConversionSerializer(serializers.Serializer):
    """What ``POST /api/v1/conversions/`` takes."""

    code = serializers.RegexField(
        r"^[0-9A-Za-z]{1,16}$",
        help_text="The code of the short link the visitor came by: the letters and digits "
        "after the short-link address in the message (…/l/aB3dE7fG → aB3dE7fG).",
        error_messages={"invalid": "Give the short link's code: its letters and digits."},
    )
    value = ConversionValueField()
    currency = CurrencyField(
        help_text="ISO 4217 code of the value's currency, e.g. EUR; the currency of the "
        "campaign's provider account when left out."
    )
    external_id = serializers.RegexField(
        r"^[^\x00-\x1f\x7f]{0,100}$",
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Your own reference for it, e.g. an order number: the same reference twice "
        "for a link is recorded once (the second answer is the first conversion, with 200).",
        error_messages={"invalid": "Give a reference of up to 100 characters, on one line."},
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [f"Not a field here; give: {', '.join(self.fields)}."]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)

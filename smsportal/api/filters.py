"""Query-string filters, one serializer per resource: they check every value
(a bad one is a 400 naming the parameter), apply the filter to a queryset,
and document themselves in the OpenAPI schema as query parameters."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from django.utils.dateparse import parse_date
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend

from campaigns.models import Campaign
from contacts.models import Suppression
from providers.status import Status

# Parameters the views read themselves, not filters: the page of a list,
# and how the answer is written (any endpoint that lists rows).
PAGE_PARAMETERS = {"cursor", "page_size"}
OUTPUT_PARAMETERS = {"format", "escape"}
NOT_FILTERS = PAGE_PARAMETERS | OUTPUT_PARAMETERS
# Ids are 64-bit: anything larger is a bad parameter, not a database error.
MAX_ID = 2**63 - 1
PHONE = r"^\+?[1-9][0-9]{5,14}$"
PHONE_PREFIX = r"^\+?[0-9]{1,15}$"
# A time whose "+01:00" offset arrived as " 01:00": the + was not encoded.
UNENCODED_OFFSET = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? [0-9]{2}(:?[0-9]{2})?$")


class Moment(serializers.DateTimeField):
    """A time, or a date meaning the start of that day in the site's time
    zone (so ``created_after=2026-11-01&created_before=2026-12-01`` is
    November)."""

    default_error_messages = {
        "invalid": "Give a date (2026-11-01) or a time in ISO 8601 (2026-11-01T08:00:00Z).",
        "unencoded_plus": "Encode the + of a time zone offset as %2B "
        "(2026-11-01T08:00:00%2B01:00): an unencoded + in a query string reads as a space. "
        "Or give the time in UTC (2026-11-01T07:00:00Z).",
        "make_aware": "That local time does not exist in the site's time zone; give it in UTC.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = parse_date(value)
            except ValueError:
                day = None
            if day is not None:
                midnight = dt.datetime.combine(day, dt.time())
                return timezone.make_aware(midnight, timezone.get_default_timezone())
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError:
            if isinstance(value, str) and UNENCODED_OFFSET.search(value):
                self.fail("unencoded_plus")
            raise


def _range(what: str) -> tuple[Moment, Moment]:
    return (
        Moment(required=False, help_text=f"Only rows {what} at or after this time (or date)."),
        Moment(required=False, help_text=f"Only rows {what} before this time (or date)."),
    )


class FilterSet(serializers.Serializer):
    """``lookups`` maps a parameter to the queryset lookup it filters on;
    ``filter_<name>`` methods handle the rest."""

    lookups: dict[str, str] = {}
    ranges: dict[str, str] = {}

    def validate(self, attrs):
        for prefix in self.ranges:
            after, before = attrs.get(f"{prefix}_after"), attrs.get(f"{prefix}_before")
            if after and before and after >= before:
                raise serializers.ValidationError(
                    {f"{prefix}_before": [f"Must be later than {prefix}_after."]}
                )
        return attrs

    def apply(self, queryset):
        for name, value in self.validated_data.items():
            if value in (None, "", []):
                continue
            method = getattr(self, f"filter_{name}", None)
            if method is not None:
                queryset = method(queryset, value)
            elif name in self.lookups:
                queryset = queryset.filter(**{self.lookups[name]: value})
            else:
                prefix, _, side = name.rpartition("_")
                field = self.ranges[prefix]
                lookup = "gte" if side == "after" else "lt"
                queryset = queryset.filter(**{f"{field}__{lookup}": value})
        return queryset


def _digits(value: str) -> str:
    return "+" + value.lstrip("+")


class PhoneFilters(serializers.Serializer):
    phone = serializers.RegexField(
        PHONE,
        required=False,
        help_text="One number in E.164, e.g. +4915112345678 (the + may be left out).",
        error_messages={"invalid": "Give the number in E.164, e.g. +4915112345678."},
    )
    phone_prefix = serializers.RegexField(
        PHONE_PREFIX,
        required=False,
        help_text="Numbers starting with these digits, country code first, e.g. 4915.",
        error_messages={"invalid": "Give the first digits of the number, e.g. 4915."},
    )

    def filter_phone(self, queryset, value):
        return queryset.filter(phone=_digits(value))

    def filter_phone_prefix(self, queryset, value):
        return queryset.filter(phone__startswith=_digits(value))


class CountryFilter(serializers.Serializer):
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        help_text="Destination country, ISO 3166 alpha-2, e.g. DE.",
        error_messages={"invalid": "Give a two-letter country code, e.g. DE."},
    )

    def filter_country(self, queryset, value):
        return queryset.filter(country=value.upper())


class MessageFilters(PhoneFilters, CountryFilter, FilterSet):
    campaign = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Campaign id."
    )
    status = serializers.MultipleChoiceField(
        choices=Status.choices,
        required=False,
        help_text="Message status; repeat the parameter for several.",
    )
    account = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Provider account id."
    )
    is_test = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only test sends, or none."
    )
    created_after, created_before = _range("created")
    submitted_after, submitted_before = _range("submitted to the provider")
    done_after, done_before = _range("that reached a final status")

    lookups = {"campaign": "campaign_id", "account": "account_id", "is_test": "is_test"}
    ranges = {"created": "created_at", "submitted": "submitted_at", "done": "done_at"}

    def filter_status(self, queryset, value):
        return queryset.filter(status__in=sorted(value))

    def filter_campaign(self, queryset, value):
        return queryset.of_campaign(value)


class ContactFilters(PhoneFilters, CountryFilter, FilterSet):
    list = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Only members of this contact list (id).",
    )
    created_after, created_before = _range("created")
    updated_after, updated_before = _range("last changed")

    lookups = {"list": "listmembership__contact_list_id"}
    ranges = {"created": "created_at", "updated": "updated_at"}


class ListMemberFilters(PhoneFilters, CountryFilter, FilterSet):
    created_after, created_before = _range("created")
    updated_after, updated_before = _range("last changed")

    ranges = {"created": "created_at", "updated": "updated_at"}


class ListFilters(FilterSet):
    name = serializers.CharField(
        required=False, max_length=120, help_text="Lists whose name contains this text."
    )
    created_after, created_before = _range("created")

    lookups = {"name": "name__icontains"}
    ranges = {"created": "created_at"}


class SuppressionFilters(PhoneFilters, FilterSet):
    reason = serializers.MultipleChoiceField(
        choices=Suppression.Reason.choices,
        required=False,
        help_text="Why the number is suppressed; repeat the parameter for several.",
    )
    created_after, created_before = _range("created")

    ranges = {"created": "created_at"}

    def filter_reason(self, queryset, value):
        return queryset.filter(reason__in=sorted(value))


class CampaignFilters(FilterSet):
    state = serializers.MultipleChoiceField(
        choices=Campaign.State.choices,
        required=False,
        help_text="Campaign state; repeat the parameter for several.",
    )
    account = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Provider account id."
    )
    created_after, created_before = _range("created")
    launched_after, launched_before = _range("launched")

    lookups = {"account": "account_id"}
    ranges = {"created": "created_at", "launched": "launched_at"}

    def filter_state(self, queryset, value):
        return queryset.filter(state__in=sorted(value))


class ClickFilters(FilterSet):
    campaign = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Campaign id."
    )
    message = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Message id."
    )
    since = Moment(required=False, help_text="Only clicks at or after this time (or date).")
    until = Moment(required=False, help_text="Only clicks before this time (or date).")
    is_bot = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only link previews and other bots; false: only clicks by people.",
    )

    lookups = {
        "campaign": "campaign_id",
        "message": "message_id",
        "since": "at__gte",
        "until": "at__lt",
        "is_bot": "is_bot",
    }

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError({"until": ["Must be later than since."]})
        return super().validate(attrs)


class QueryFilterBackend(BaseFilterBackend):
    """Applies the view's ``filterset_class`` to list requests; unknown
    parameters are refused, so a typo never silently returns everything."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is None or getattr(view, "action", "list") != "list":
            return queryset
        filters = parse(filterset_class, request.query_params)
        return filters.apply(queryset)


def parse(filterset_class, params, *, also=NOT_FILTERS) -> FilterSet:
    """``filterset_class`` checked against the query string; ``also`` are
    the other parameters the endpoint reads (any other one is refused)."""
    filters = filterset_class(data=params, partial=True)
    known = set(filters.fields) | set(also)
    unknown = sorted(set(params) - known)
    errors = {
        name: [f"Not a parameter here; this endpoint takes: {', '.join(sorted(known))}."]
        for name in unknown
    }
    if not filters.is_valid():
        errors.update(filters.errors)
    if errors:
        raise serializers.ValidationError(errors)
    return filters

"""The endpoints: read-only, token or session authenticated, paginated JSON
and streamed CSV; the reads themselves live in selectors and reports. The
one write, recording a conversion, takes a token with that permission and
calls campaigns.conversions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from campaigns import conversions, engagement, selectors
from campaigns.models import Campaign, Click, Conversion, Message
from contacts.models import Contact, ContactList, Suppression

from . import csv_export, filters, reports, serializers
from .authentication import APITokenAuthentication
from .permissions import CanRecordConversions, HasRole


class APIMixin:
    """Token or session authentication without the login redirect, the
    per-token rate limit, and JSON errors whatever format was asked for."""

    @classmethod
    def as_view(cls, *args, **kwargs):
        # A token request carries no session: the site's login-required
        # middleware must let it through to the API's own authentication.
        return login_not_required(super().as_view(*args, **kwargs))

    def handle_exception(self, exc):
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def throttled(self, request, wait):
        raise exceptions.Throttled(
            wait,
            detail=f"Too many requests: the limit is {self.get_throttles()[0].rate} per token. "
            f"Try again in {int(wait or 0) + 1} seconds, or export with format=csv "
            "instead of paging.",
        )


FORMAT = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv"],
    description="`csv` writes every matching row as CSV instead of JSON (a list streams "
    "the whole filtered set instead of one page); `Accept: text/csv` does the same.",
)
CSV = OpenApiResponse(OpenApiTypes.STR, description="CSV, streamed; columns as described.")


def _wants_csv(request) -> bool:
    return request.accepted_renderer.format == csv_export.CSVRenderer.format


def _list_schema(serializer, filterset, columns, what: str, intro: str = ""):
    return extend_schema(
        summary=f"List {what}",
        description=intro + csv_export.describe(columns),
        parameters=[filterset, csv_export.CSVOptions, FORMAT],
        responses={
            (200, "application/json"): serializer(many=True),
            (200, "text/csv"): CSV,
        },
    )


class ExportViewSet(APIMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only resource: cursor pages of JSON, or with ``format=csv`` the
    whole filtered set streamed."""

    filter_backends = [filters.QueryFilterBackend]
    csv_columns: dict[str, list[csv_export.Column]] = {}

    def get_renderers(self):
        renderers = [JSONRenderer()]
        if getattr(self, "action", None) in self.csv_columns:
            renderers.append(csv_export.CSVRenderer())
        return renderers

    def wants_csv(self) -> bool:
        return _wants_csv(self.request)

    def csv_rows(self, queryset, formulas: bool):
        return csv_export.rows(queryset, self.csv_columns[self.action], formulas)

    def page(self, queryset, name: str):
        formulas = csv_export.escape_formulas(self.request.query_params)
        if self.wants_csv():
            # Not paged, but a bad page parameter is a 400 all the same.
            self.paginator.get_page_size(self.request)
            self.paginator.decode_cursor(self.request)
            stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
            rows = self.csv_rows(queryset.order_by("-id"), formulas)
            return csv_export.response(rows, f"{name}-{stamp}.csv")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def list(self, request, *args, **kwargs):
        return self.page(self.filter_queryset(self.get_queryset()), self.basename)


@extend_schema(tags=["messages"])
class MessageViewSet(ExportViewSet):
    """Messages: one per recipient per send, with status, error, segments and cost."""

    queryset = engagement.with_clicks(Message.objects.all())
    serializer_class = serializers.MessageSerializer
    filterset_class = filters.MessageFilters
    csv_columns = {"list": serializers.MESSAGE_COLUMNS}

    @_list_schema(
        serializers.MessageSerializer,
        filters.MessageFilters,
        serializers.MESSAGE_COLUMNS,
        "messages, newest first",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One message")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["contacts"])
class ContactViewSet(ExportViewSet):
    """Contacts, with whether their number is suppressed."""

    serializer_class = serializers.ContactSerializer
    filterset_class = filters.ContactFilters
    csv_columns = {"list": serializers.CONTACT_COLUMNS}

    def get_queryset(self):
        return serializers.with_suppressed(Contact.objects.all())

    @_list_schema(
        serializers.ContactSerializer,
        filters.ContactFilters,
        serializers.CONTACT_COLUMNS,
        "contacts, newest first",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One contact")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["lists"])
class ContactListViewSet(ExportViewSet):
    """Contact lists, and the contacts in each."""

    queryset = ContactList.objects.all()
    serializer_class = serializers.ContactListSerializer
    filterset_class = filters.ListFilters
    csv_columns = {"list": serializers.LIST_COLUMNS, "contacts": serializers.CONTACT_COLUMNS}

    @_list_schema(
        serializers.ContactListSerializer,
        filters.ListFilters,
        serializers.LIST_COLUMNS,
        "contact lists, newest first",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One contact list")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @_list_schema(
        serializers.ContactSerializer,
        filters.ListMemberFilters,
        serializers.CONTACT_COLUMNS,
        "the contacts of a list, newest first",
    )
    @action(detail=True, serializer_class=serializers.ContactSerializer)
    def contacts(self, request, pk=None):
        contact_list = self.get_object()
        members = serializers.with_suppressed(
            Contact.objects.filter(listmembership__contact_list=contact_list)
        )
        members = filters.parse(filters.ListMemberFilters, request.query_params).apply(members)
        return self.page(members, f"list-{contact_list.pk}-contacts")


@extend_schema(tags=["suppressions"])
class SuppressionViewSet(ExportViewSet):
    """Numbers nothing is sent to, whatever list they are in."""

    queryset = Suppression.objects.all()
    serializer_class = serializers.SuppressionSerializer
    filterset_class = filters.SuppressionFilters
    csv_columns = {"list": serializers.SUPPRESSION_COLUMNS}

    @_list_schema(
        serializers.SuppressionSerializer,
        filters.SuppressionFilters,
        serializers.SUPPRESSION_COLUMNS,
        "suppressed numbers, newest first",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One suppression")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["campaigns"])
class CampaignViewSet(ExportViewSet):
    """Campaigns with their counters per status, segments, cost and timing."""

    queryset = Campaign.objects.select_related(
        "account", "sender", "dlt_template"
    ).prefetch_related("lists", "exclude_lists")
    serializer_class = serializers.CampaignSerializer
    filterset_class = filters.CampaignFilters
    csv_columns = {"list": serializers.CAMPAIGN_COLUMNS}

    def csv_rows(self, queryset, formulas: bool):
        # Serialized a chunk at a time, so the counters are read per chunk
        # and are the same figures as in JSON.
        return csv_export.serialized_rows(
            queryset,
            self.csv_columns[self.action],
            lambda chunk: self.get_serializer(chunk, many=True).data,
            formulas,
        )

    def get_serializer(self, *args, **kwargs):
        campaigns = args[0] if args else kwargs.get("instance")
        if campaigns is not None and not kwargs.get("many"):
            campaigns = [campaigns]
        ids = [c.pk for c in campaigns or []]
        # Counters for the whole page in one query, not one per campaign.
        counts = selectors.campaign_counts(ids) if ids else {}
        # Clicks too: one query over the page's campaigns.
        clicks = engagement.click_counts(ids) if ids else {}
        kwargs["context"] = {**self.get_serializer_context(), "counts": counts, "clicks": clicks}
        return serializers.CampaignSerializer(*args, **kwargs)

    @_list_schema(
        serializers.CampaignSerializer,
        filters.CampaignFilters,
        serializers.CAMPAIGN_COLUMNS,
        "campaigns, newest first",
        intro="Each campaign with its counters per message status, segments and "
        "estimated and actual cost (in `currency`), from the campaign's counters.\n\n",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One campaign, with its counters and cost")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


@extend_schema(tags=["clicks"])
class ClickViewSet(ExportViewSet):
    """Clicks on tracked short links (and clicks providers reported), link
    previews and other bots included but marked (``is_bot``)."""

    queryset = Click.objects.select_related("link", "variant")
    serializer_class = serializers.ClickSerializer
    filterset_class = filters.ClickFilters
    csv_columns = {"list": serializers.CLICK_COLUMNS}

    @_list_schema(
        serializers.ClickSerializer,
        filters.ClickFilters,
        serializers.CLICK_COLUMNS,
        "clicks, newest first",
        intro="Every request for a message's short link, with the kind of agent that made "
        "it. Link previews (chat apps fetching a link to show it) and other bots are kept "
        "with `is_bot` true and are never counted as clicks; `is_bot=false` gives the "
        "clicks by people, which the campaigns' `clicks` count.\n\n",
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="One click")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


@extend_schema(
    tags=["conversions"],
    summary="Record a conversion",
    description="The one write the API allows. Attributes an outcome (an order, a sign-up) to "
    "the message whose short link the visitor came by, by the link's `code`. Needs an API "
    "token with the “record conversions” permission (an Admin gives it when creating the "
    "token); a signed-in session cannot record conversions. With an `external_id` already "
    "recorded for that link, nothing new is recorded and the answer is the first conversion, "
    "with 200. An unknown code is a 404. Where the provider that sent the message logs "
    "conversions, it is reported there too (`provider`).",
    request=serializers.RecordConversionSerializer,
    responses={
        201: OpenApiResponse(serializers.ConversionSerializer, description="Recorded."),
        200: OpenApiResponse(
            serializers.ConversionSerializer,
            description="Already recorded with this `external_id` for this link: that one.",
        ),
    },
)
class ConversionView(APIMixin, generics.GenericAPIView):
    """``POST /api/v1/conversions/``: token only, with the permission."""

    authentication_classes = [APITokenAuthentication]
    permission_classes = [HasRole, CanRecordConversions]
    serializer_class = serializers.RecordConversionSerializer
    filter_backends = []
    pagination_class = None
    renderer_classes = [JSONRenderer]

    def permission_denied(self, request, message=None, code=None):
        if request.auth is None:
            raise exceptions.NotAuthenticated(
                "Recording conversions takes an API token with the “record conversions” "
                "permission, sent as “Authorization: Bearer <token>”; a signed-in session "
                "cannot record them."
            )
        super().permission_denied(request, message=message, code=code)

    def post(self, request):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            conversion, created = conversions.record_conversion(
                code=data["code"],
                value=data.get("value"),
                currency=data.get("currency", ""),
                external_id=data.get("external_id", ""),
                source=Conversion.Source.API,
            )
        except conversions.UnknownCode:
            raise exceptions.NotFound(
                f"No short link has the code “{data['code']}”: give the code of a link in a "
                "message smsportal sent."
            ) from None
        except DjangoValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        conversion = Conversion.objects.select_related("link", "variant").get(pk=conversion.pk)
        return Response(
            serializers.ConversionSerializer(conversion).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ReportView(APIMixin, generics.GenericAPIView):
    """A report as JSON, or with ``format=csv`` its rows as CSV."""

    filter_backends = []
    pagination_class = None
    renderer_classes = [JSONRenderer, csv_export.CSVRenderer]
    report_name = ""
    csv_columns: list[csv_export.Column] = []

    def get(self, request):
        params = filters.parse(
            reports.ReportParams, request.query_params, also=filters.OUTPUT_PARAMETERS
        ).validated_data
        formulas = csv_export.escape_formulas(request.query_params)
        data = {
            "date_from": params["date_from"],
            "date_to": params["date_to"],
            "group_by": params["group_by"],
            "results": self.report(params),
        }
        data = self.get_serializer(data).data
        if not _wants_csv(request):
            return Response(data)
        rows = csv_export.records(data["results"], self.csv_columns)
        return csv_export.response(
            csv_export.write(self.csv_columns, rows, formulas),
            f"{self.report_name}-report-{data['date_from']}-{data['date_to']}.csv",
        )


_REPORT_INTRO = (
    "Roll-ups by day (UTC), provider account, campaign and destination country, always "
    "per currency, from the campaign counters (not from the message table). "
)


def _report_schema(serializer, columns, what: str, description: str):
    return extend_schema(
        tags=["reports"],
        summary=what,
        description=_REPORT_INTRO
        + description
        + "\n\n"
        + csv_export.describe(columns, whole_set=False),
        parameters=[reports.ReportParams, csv_export.CSVOptions, FORMAT],
        responses={(200, "application/json"): serializer, (200, "text/csv"): CSV},
    )


@_report_schema(
    reports.CostReportSerializer,
    reports.COST_COLUMNS,
    "Cost report",
    "A message counts (with its segments and estimated cost) on the day it was created; "
    "actual cost on the day it became known.",
)
class CostReportView(ReportView):
    serializer_class = reports.CostReportSerializer
    report = staticmethod(reports.cost_report)
    report_name = "cost"
    csv_columns = reports.COST_COLUMNS


@_report_schema(
    reports.DeliveryReportSerializer,
    reports.DELIVERY_COLUMNS,
    "Delivery report",
    "A message counts under a status on the day it reached that status.",
)
class DeliveryReportView(ReportView):
    serializer_class = reports.DeliveryReportSerializer
    report = staticmethod(reports.delivery_report)
    report_name = "delivery"
    csv_columns = reports.DELIVERY_COLUMNS


class SchemaView(APIMixin, SpectacularAPIView):
    pass


@login_not_required
def not_found(request, path=""):
    return JsonResponse(
        {"message": f"There is no API endpoint at /{request.path.lstrip('/')}; see /api/docs/."},
        status=404,
    )

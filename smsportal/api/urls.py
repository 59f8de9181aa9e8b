from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from . import pages, views

router = SimpleRouter()
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("messages", views.MessageViewSet, basename="message")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("lists", views.ContactListViewSet, basename="list")
router.register("suppressions", views.SuppressionViewSet, basename="suppression")
router.register("clicks", views.ClickViewSet, basename="click")

app_name = "api"
urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/reports/cost/", views.CostReportView.as_view(), name="report-cost"),
    path("v1/reports/delivery/", views.DeliveryReportView.as_view(), name="report-delivery"),
    path("v1/conversions/", views.ConversionView.as_view(), name="conversions"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", pages.docs, name="docs"),
    # Anything else under /api/ answers in JSON too, not with the site's HTML.
    re_path(r"^(?P<path>.*)$", views.not_found),
]

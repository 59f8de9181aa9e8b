from django.contrib import admin
from django.urls import include, path

from campaigns import views as campaign_views
from smsportal import views as smsportal_views

urlpatterns = [
    path("", campaign_views.home, name="home"),
    path("healthz", campaign_views.healthz, name="healthz"),
    path("audit/", smsportal_views.audit_log, name="audit"),
    path("inbound/", smsportal_views.inbound_messages, name="inbound"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("smsportal.api.urls")),
    path("api-tokens/", include("smsportal.api.token_urls")),
    path("lists/", include("contacts.urls")),
    path("", include("campaigns.urls")),
    path("", include("providers.urls")),
]

from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.urls import include, path

from campaigns import views as campaign_views
from smsportal import views as smsportal_views


def _accounts():
    """Django's sign-in, sign-out and password pages, the password-reset
    ones answering only where the site can send email."""
    patterns = []
    for pattern in auth_urls.urlpatterns:
        if pattern.name.startswith("password_reset"):
            view = smsportal_views.needs_email(pattern.callback)
            pattern = path(str(pattern.pattern), view, name=pattern.name)
        patterns.append(pattern)
    return patterns


urlpatterns = [
    path("", campaign_views.home, name="home"),
    path("healthz", campaign_views.healthz, name="healthz"),
    path("audit/", smsportal_views.audit_log, name="audit"),
    path("inbound/", smsportal_views.inbound_messages, name="inbound"),
    path("users/", smsportal_views.user_index, name="users"),
    path("users/<int:pk>/role/", smsportal_views.user_role, name="user_role"),
    path("users/<int:pk>/link/", smsportal_views.user_link, name="user_link"),
    path(
        "accounts/welcome/<uidb64>/<token>/",
        smsportal_views.WelcomeView.as_view(),
        name="welcome",
    ),
    path("accounts/", include(_accounts())),
    path("admin/", admin.site.urls),
    path("api/", include("smsportal.api.urls")),
    path("api-tokens/", include("smsportal.api.token_urls")),
    path("lists/", include("contacts.urls")),
    path("", include("campaigns.urls")),
    path("", include("providers.urls")),
]

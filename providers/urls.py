from django.urls import path

from . import views, webhooks

app_name = "providers"
urlpatterns = [
    path("providers/", views.account_index, name="accounts"),
    path("providers/new/", views.account_edit, name="create"),
    path("providers/<int:pk>/", views.account_edit, name="edit"),
    path("providers/<int:pk>/check/", views.account_check, name="check"),
    path("providers/<int:pk>/preview/", views.account_preview, name="preview"),
    path("hooks/<str:secret>/", webhooks.webhook, name="webhook"),
    path("hooks/<str:secret>/<slug:event>/", webhooks.webhook, name="webhook_event"),
]

from django.urls import path

from . import pages

app_name = "api_tokens"
urlpatterns = [
    path("", pages.token_index, name="index"),
    path("<int:pk>/revoke/", pages.token_revoke, name="revoke"),
]

from django.urls import path

from . import views

app_name = "contacts"
urlpatterns = [
    path("", views.list_index, name="lists"),
    path("<int:pk>/", views.list_detail, name="list"),
]

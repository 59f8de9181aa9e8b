from django.urls import path

from . import views

app_name = "contacts"
urlpatterns = [
    path("", views.list_index, name="lists"),
    path("<int:pk>/", views.list_detail, name="list"),
    path("<int:pk>/edit/", views.list_edit, name="list_edit"),
    path("<int:pk>/delete/", views.list_delete, name="list_delete"),
    path("<int:pk>/remove/", views.list_remove, name="list_remove"),
    path("<int:pk>/export.csv", views.list_export, name="list_export"),
    path("imports/new/", views.import_new, name="import_new"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("imports/<int:pk>/restart/", views.import_restart, name="import_restart"),
    path("imports/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
    path("contacts/", views.contact_index, name="contacts"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/consent/", views.contact_consent, name="contact_consent"),
    path("segments/", views.segment_index, name="segments"),
    path("segments/new/", views.segment_edit, name="segment_create"),
    path("segments/preview/", views.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", views.segment_detail, name="segment"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/to-list/", views.segment_to_list, name="segment_to_list"),
    path("segments/<int:pk>/export.csv", views.segment_export, name="segment_export"),
    path("suppressions/", views.suppression_index, name="suppressions"),
    path("suppressions/<int:pk>/remove/", views.suppression_remove, name="suppression_remove"),
    path("suppressions/export.csv", views.suppression_export, name="suppression_export"),
]

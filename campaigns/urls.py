from django.urls import path

from . import pixel, views

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", views.campaign_index, name="index"),
    path("campaigns/new/", views.campaign_edit, name="create"),
    path("campaigns/new/preview/", views.campaign_preview, name="preview"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("campaigns/<int:pk>/preview/", views.campaign_preview, name="edit_preview"),
    path("campaigns/<int:pk>/launch/", views.campaign_launch, name="launch"),
    path("campaigns/<int:pk>/pause/", views.campaign_pause, name="pause"),
    path("campaigns/<int:pk>/resume/", views.campaign_resume, name="resume"),
    path("campaigns/<int:pk>/cancel/", views.campaign_cancel, name="cancel"),
    path("campaigns/<int:pk>/ab/pick/", views.campaign_ab_pick, name="ab_pick"),
    path("campaigns/<int:pk>/test/", views.campaign_test_send, name="test_send"),
    path("campaigns/<int:pk>/clone/", views.campaign_clone, name="clone"),
    path("campaigns/<int:pk>/report.csv", views.campaign_report_export, name="report_export"),
    path("messages/", views.message_log, name="messages"),
    path("messages/<int:pk>/", views.message_detail, name="message"),
    path("messages/export.csv", views.message_export, name="messages_export"),
    path("senders/", views.sender_index, name="senders"),
    path("senders/<int:pk>/decide/", views.sender_decide, name="sender_decide"),
    path("dlt/", views.dlt_index, name="dlt"),
    path("dlt/<int:pk>/decide/", views.dlt_decide, name="dlt_decide"),
    path("dlt/test/", views.dlt_test, name="dlt_test"),
    path("windows/", views.window_index, name="windows"),
    path("windows/summary/", views.window_summary, name="window_summary"),
    path("windows/<int:pk>/edit/", views.window_edit, name="window_edit"),
    path("windows/<int:pk>/delete/", views.window_delete, name="window_delete"),
    path("c/<str:code>.gif", pixel.pixel, name="pixel"),
]

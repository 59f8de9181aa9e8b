from django.apps import AppConfig


class SmsportalConfig(AppConfig):
    name = "smsportal"
    verbose_name = "smsportal core"

    def ready(self):
        from . import signals  # noqa: F401  (connects the audit receivers)

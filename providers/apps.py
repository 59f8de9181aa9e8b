from django.apps import AppConfig
from django.conf import settings


class ProvidersConfig(AppConfig):
    name = "providers"

    def ready(self):
        if getattr(settings, "WEBHOOK_TIMING_DIR", ""):
            from . import timing

            timing.enable(settings.WEBHOOK_TIMING_DIR)

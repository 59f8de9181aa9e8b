from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        # Campaigns fill what the apps below them leave open: what to do with
        # stored provider callbacks, segment conditions about campaigns, and
        # a contact's messages on the contact page.
        from contacts import selectors as contact_selectors

        from . import receivers, segments, selectors  # noqa: F401

        contact_selectors.register_message_history(selectors.contact_messages)

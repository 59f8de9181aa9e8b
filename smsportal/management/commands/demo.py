"""A demo workspace for trying smsportal: an admin, a sandbox account, a
sender, a list and one finished campaign. Safe to run again: what exists is
kept."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns import dispatch, services
from campaigns.models import Approval, Campaign, DeliveryWindow, SenderID
from contacts import services as contact_services
from contacts.models import ContactList
from providers.models import ProviderAccount, RateCardEntry
from smsportal import roles
from smsportal.celery import app as celery_app

RATES = {
    "DE": "0.0750",
    "FR": "0.0680",
    "GB": "0.0400",
    "US": "0.0100",
    "IN": "0.0020",
    "NL": "0.0820",
    "ES": "0.0650",
}
CONTACTS = [
    ("+4915112345601", "Anna", "Schmidt"),
    ("+4915112345602", "Jonas", "Weber"),
    ("+4917612345603", "Lea", "Fischer"),
    ("+4915112340000", "Paul", "Becker"),  # the sandbox reports it undelivered
    ("+33612345604", "Camille", "Martin"),
    ("+33612345605", "Lucas", "Bernard"),
    ("+447400123406", "Olivia", "Smith"),
    ("+447400123407", "Harry", "Jones"),
    ("+12025550108", "Emma", "Johnson"),
    ("+12025559999", "Liam", "Brown"),  # the sandbox reports it rejected
    ("+31612345609", "Daan", "de Vries"),
    ("+34612345610", "Lucía", "García"),
]


class Command(BaseCommand):
    help = "Create (or keep) the demo workspace and print the login."

    def handle(self, *args, **options):
        login_file = settings.VAR_DIR / "demo-login.txt"
        user = User.objects.filter(username="admin").first()
        if user is None:
            password = secrets.token_urlsafe(9)
            user = User.objects.create_superuser("admin", "admin@example.com", password)
            login_file.write_text(f"admin {password}\n")
            login_file.chmod(0o600)
        user.groups.add(Group.objects.get(name=roles.ADMIN))

        with transaction.atomic():
            account, _ = ProviderAccount.objects.get_or_create(
                name="Sandbox",
                defaults={
                    "kind": "sandbox",
                    "throughput": 50,
                    "currency": "EUR",
                    "default_price": Decimal("0.05"),
                },
            )
            for country, price in RATES.items():
                RateCardEntry.objects.get_or_create(
                    account=account, country=country, defaults={"price": Decimal(price)}
                )
            sender = SenderID.objects.filter(value="smsportal").first()
            if sender is None:
                sender = SenderID(
                    value="smsportal", status=Approval.APPROVED, requested_by=user, decided_by=user
                )
                sender.clean()
                sender.save()
                sender.accounts.add(account)
            if account.default_sender_id is None:
                account.default_sender = sender
                account.save(update_fields=["default_sender"])
            DeliveryWindow.objects.get_or_create(
                name="Business hours",
                defaults={
                    "days": [0, 1, 2, 3, 4],
                    "start_time": "09:00",
                    "end_time": "18:00",
                    "recipient_local": True,
                    "time_zone": "Europe/Berlin",
                },
            )
            contact_list = ContactList.objects.filter(name="Demo customers").first()
            if contact_list is None:
                contact_list = contact_services.list_create(name="Demo customers", user=user)
                contact_services.list_add_contacts(
                    contact_list=contact_list,
                    rows=[{"phone": p, "first_name": f, "last_name": ln} for p, f, ln in CONTACTS],
                )

        if not Campaign.objects.filter(name="Welcome (demo)").exists():
            campaign = Campaign.objects.create(
                name="Welcome (demo)",
                text='Hi {{ first_name|default:"there" }}, welcome to our store! 10% off '
                "this week with code HELLO.",
                sender=sender,
                account=account,
                created_by=user,
            )
            campaign.lists.add(contact_list)
            # Run the demo send here, synchronously, so it is finished before
            # the workers start.
            eager = celery_app.conf.task_always_eager
            celery_app.conf.task_always_eager = True
            try:
                services.campaign_launch(campaign=campaign, user=user)
                services.materialise(campaign.pk)
                dispatch.dispatch(campaign.pk)
            finally:
                celery_app.conf.task_always_eager = eager

        login = login_file.read_text().split() if login_file.exists() else ["admin", "(unchanged)"]
        self.stdout.write(self.style.SUCCESS(f"Login: {login[0]} / {login[1]}"))

import dataclasses
import secrets
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from . import crypto, fence, registry


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


# Capabilities an account may lose when its provider turns out not to offer
# the call behind them (see ProviderAccount.switched_off).
SWITCHABLE = ("polling", "cancel")


class ProviderAccount(models.Model):
    """One configured account of a provider backend."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=registry.CHOICES)
    base_url = models.URLField(blank=True, help_text="Leave empty for the provider's default.")
    # Encrypted JSON of the backend's credential_fields (see providers.crypto).
    credentials_encrypted = models.TextField(blank=True, editable=False)
    # The backend's non-secret option_fields.
    options = models.JSONField(default=dict, blank=True)
    default_sender = models.ForeignKey(
        "campaigns.SenderID",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    throughput = models.PositiveIntegerField(
        default=10, help_text="Messages per second this account may submit, across all workers."
    )
    currency = models.CharField(max_length=3, default="EUR")
    default_price = models.DecimalField(
        max_digits=10,
        decimal_places=5,
        default=Decimal("0"),
        help_text="Price per segment for countries not in the rate card.",
    )
    # Unguessable: it is the only thing that authenticates most providers'
    # callbacks, since they carry no signature.
    webhook_secret = models.CharField(max_length=64, unique=True, default=new_webhook_secret)
    fallback = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Where pending messages move when this account keeps failing.",
    )
    enabled = models.BooleanField(default=True)
    # Calls the provider turned out not to offer this account (an endpoint
    # its documents do not publish answered 404): {"polling": notice, ...}.
    # What depends on them is off, and the account's page says why, until
    # the account is saved again.
    switched_off = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Recent submissions, for the throughput limit when Redis is not used.
    throttle_log = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(throughput__gte=1), name="throughput_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(fallback=models.F("id")), name="fallback_not_self"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.base_url:
            # The same rule every call to the provider is held to.
            problem = fence.problem_with(self.base_url)
            if problem:
                raise ValidationError({"base_url": problem})

    @property
    def backend_class(self):
        return registry.backend_class(self.kind)

    @property
    def credentials(self) -> dict:
        return crypto.decrypt(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, values: dict) -> None:
        self.credentials_encrypted = crypto.encrypt(values)

    def masked_credentials(self) -> dict:
        return {k: crypto.mask(str(v)) for k, v in self.credentials.items()}

    def webhook_url(self, event: str = "") -> str:
        if event:
            path = reverse("providers:webhook_event", args=[self.webhook_secret, event])
        else:
            path = reverse("providers:webhook", args=[self.webhook_secret])
        return settings.PUBLIC_BASE_URL + path

    @cached_property
    def callback_backend(self):
        """One backend for the callbacks of a burst (the webhook keeps an
        account for a moment): credentials are decrypted once."""
        return self.backend()

    def backend(self):
        backend = self.backend_class(
            base_url=self.base_url,
            credentials=self.credentials,
            options=self.options,
            webhook_url=self.webhook_url,
            account_id=self.pk,
            timeout=(settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT),
        )
        if self.switched_off:
            backend.capabilities = self.without_switched_off(backend.capabilities)
        return backend

    @property
    def capabilities(self):
        """What this account's backend does, less what is switched off."""
        return self.without_switched_off(self.backend_class.capabilities)

    def without_switched_off(self, capabilities):
        off = {name: False for name in SWITCHABLE if name in (self.switched_off or {})}
        return dataclasses.replace(capabilities, **off) if off else capabilities

    def price_for(self, country: str) -> Decimal:
        """Price per segment to a destination country, from the rate card."""
        for entry in self.rates.all():
            if entry.country == country:
                return entry.price
        return self.default_price


class RateCardEntry(models.Model):
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="rates")
    country = models.CharField(max_length=2, help_text="ISO 3166 alpha-2, e.g. DE")
    price = models.DecimalField(max_digits=10, decimal_places=5, help_text="Per segment")

    class Meta:
        ordering = ["country"]
        verbose_name = "rate card entry"
        verbose_name_plural = "rate card entries"
        constraints = [
            models.UniqueConstraint(fields=["account", "country"], name="rate_unique"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="rate_not_negative"),
        ]

    def __str__(self):
        return f"{self.country} {self.price} {self.account.currency}"


class InboundMessage(models.Model):
    """A reply or keyword received from a provider."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT)
    provider_message_id = models.CharField(max_length=200, blank=True)
    sender = models.CharField(max_length=32, db_index=True)
    recipient = models.CharField(max_length=32, blank=True)
    text = models.TextField(blank=True)
    keyword = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(db_index=True)
    # True when the text was an opt-out keyword and a suppression was added.
    opted_out = models.BooleanField(default=False)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="inbound_unique_provider_id",
            )
        ]

    def __str__(self):
        return f"{self.sender}: {self.text[:40]}"


class CallbackRequest(models.Model):
    """A provider callback as it came in: enough to parse it again."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=8)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField()
    query = models.JSONField(default=dict, blank=True)
    form = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    event = models.CharField(max_length=64, blank=True)
    reports = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    def as_request(self):
        """The callback as the webhook read it, to be parsed again."""
        from .base import WebhookRequest

        return WebhookRequest(
            method=self.method,
            content_type=self.content_type,
            body=bytes(self.body),
            query=self.query,
            form=self.form,
            headers=self.headers,
            event=self.event,
        )


class WebhookInbox(CallbackRequest):
    """A provider callback accepted but not applied yet.

    The webhook answers as soon as the callback is parsed and stored here,
    so a burst of reports costs the provider one insert per request; a
    worker applies stored callbacks in large batches and deletes them in the
    same transaction. What is stored is what came in, with the reports the
    webhook read from it."""

    # Every callback of a burst names the same account: a constraint
    # trigger checking (and share-locking) that one row at each commit made
    # the inserts wait on each other, and an index on it was written for
    # every row of a table only ever read oldest first. Django's on_delete
    # still removes an account's stored callbacks with it; one stored while
    # the account was being deleted is dropped by the worker.
    account = models.ForeignKey(
        ProviderAccount,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The reports as the webhook parsed and screened them (JSON, see
    # ``providers.services.stored_result``), so the worker does not parse
    # the body again; empty where the callback held anything else.
    parsed = models.TextField(null=True, blank=True, editable=False)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "stored callback"
        verbose_name_plural = "stored callbacks"

    def __str__(self):
        return f"{self.account_id}: {self.reports} report(s) at {self.received_at:%H:%M:%S}"


class FailedCallback(CallbackRequest):
    """A stored callback the worker could not apply, moved aside so that the
    callbacks after it are applied: kept as it came in, with the error, for
    an Admin to look at (and to apply again once the cause is fixed)."""

    received_at = models.DateTimeField()
    failed_at = models.DateTimeField(auto_now_add=True)
    error = models.TextField()

    class Meta:
        ordering = ["-failed_at"]
        verbose_name = "failed callback"
        verbose_name_plural = "failed callbacks"

    def __str__(self):
        return f"{self.account_id}: {self.error[:60]}"

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Contact(models.Model):
    # E.164 with the leading "+", normalised with phonenumbers on the way in.
    phone = models.CharField(max_length=16, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # Any other imported column, usable as a {{ placeholder }} in messages.
    attributes = models.JSONField(default=dict, blank=True)
    # Derived from the number: ISO 3166 alpha-2 and an IANA zone (the first
    # one phonenumbers gives; for countries with several zones it is a guess
    # the user can correct).
    country = models.CharField(max_length=2, blank=True, db_index=True)
    time_zone = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phone__startswith="+"), name="contact_phone_e164"
            ),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone

    @property
    def name(self):
        return f"{self.first_name} {self.last_name}".strip()


class ContactList(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    contacts = models.ManyToManyField(Contact, through="ListMembership", related_name="lists")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="contactlist_name_unique")]

    def __str__(self):
        return self.name


class ListMembership(models.Model):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["contact", "contact_list"])]

    def __str__(self):
        return f"{self.contact_id} in {self.contact_list_id}"


class Suppression(models.Model):
    """A number nobody sends to, whatever list it comes from."""

    class Reason(models.TextChoices):
        STOP = "stop", "STOP reply"
        MANUAL = "manual", "Added by hand"
        IMPORTED = "imported", "Imported"
        BLOCKED = "blocked", "Blocked by the provider"

    phone = models.CharField(max_length=16, unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.MANUAL)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phone__startswith="+"), name="suppression_phone_e164"
            ),
        ]

    def __str__(self):
        return f"{self.phone} ({self.get_reason_display()})"

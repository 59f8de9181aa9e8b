import csv
import io
from decimal import Decimal, InvalidOperation

from django import forms

from smsportal.phones import country_choices

from . import crypto
from .models import ProviderAccount


def _is_price(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


REPLY_FIELDS = (
    ("stop", "Confirmation of an opt-out (STOP)"),
    ("start", "Confirmation of an opt-in (START)"),
    ("help", "Answer to HELP"),
)


def option_field(f, options: dict) -> forms.Field:
    """The form field of one of a backend's options, holding its stored value
    (a choice where the option has fixed values); the account's page and the
    Django admin both edit options with it."""
    value = options.get(f.name, "")
    if value is None:
        value = ""
    if f.choices:
        values = [v for v, _ in f.choices]
        if isinstance(value, bool):
            value = str(value).lower()
        return forms.ChoiceField(
            label=f.label,
            required=False,
            choices=f.choices,
            help_text=f.help_text,
            initial=value if value in values else values[0],
        )
    return forms.CharField(label=f.label, required=f.required, help_text=f.help_text, initial=value)


class ProviderAccountForm(forms.ModelForm):
    """Common fields, plus the chosen backend's own credential and option
    fields (added by kind). Stored secrets are never shown back: an empty
    secret field keeps what is stored."""

    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Leave empty for the provider's default.",
    )
    rate_card = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "DE 0.075\nFR 0.068"}),
        help_text="Price per segment by destination: one country code and price per line.",
    )

    rate_card_file = forms.FileField(
        required=False,
        label="Or upload a rate card (CSV)",
        help_text="Two columns, country code and price per segment; a header row is fine. "
        "It replaces the rate card above.",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "name",
            "kind",
            "base_url",
            "throughput",
            "currency",
            "default_price",
            "fallback",
            "enabled",
        ]

    def __init__(self, *args, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind or self.instance.kind or self.data.get("kind") or "sandbox"
        if self.instance.pk:
            self.fields["kind"].disabled = True
            self.fields["fallback"].queryset = ProviderAccount.objects.exclude(pk=self.instance.pk)
            self.fields["rate_card"].initial = "\n".join(
                f"{r.country} {r.price.normalize()}" for r in self.instance.rates.all()
            )
        self.fields["kind"].initial = self.kind
        backend = self._backend_class()
        stored = self.instance.credentials if self.instance.pk else {}
        options = self.instance.options if self.instance.pk else {}
        # Options other fields depend on (the authentication type) come
        # first, so the fields they show follow them.
        leading = {f.only_when[0] for f in backend.credential_fields if f.only_when}
        for f in backend.option_fields:
            if f.name in leading:
                self.fields[f"opt_{f.name}"] = self._option_field(f, options)
        for f in backend.credential_fields:
            self.fields[f"cred_{f.name}"] = forms.CharField(
                label=f.label,
                # Required when its choice is made, which ``clean`` checks.
                required=f.required and not f.only_when and not stored.get(f.name),
                help_text=(f.help_text + " " if f.help_text else "")
                + (
                    f"Stored ({crypto.mask(str(stored[f.name]))}); leave empty to keep it."
                    if stored.get(f.name) and f.secret
                    else ""
                ),
                # A secret typed in is kept when the form comes back with an
                # error; a stored one is never shown.
                widget=forms.PasswordInput(render_value=self.is_bound)
                if f.secret
                else forms.TextInput,
                initial="" if f.secret else stored.get(f.name, ""),
            )
            if f.only_when:
                self._show_only_when(f"cred_{f.name}", f.only_when)
        for f in backend.option_fields:
            if f.name not in leading:
                self.fields[f"opt_{f.name}"] = self._option_field(f, options)
        # Confirmations of keyword replies, sent through this account.
        self.fields["keyword_replies_off"] = forms.BooleanField(
            label="Send no confirmations of STOP, START and HELP replies",
            required=False,
            initial=options.get("keyword_replies") == "off",
        )
        for intent, label in REPLY_FIELDS:
            self.fields[f"reply_{intent}"] = forms.CharField(
                label=label,
                required=False,
                max_length=320,
                initial=options.get(f"reply_{intent}", ""),
                help_text=f"Empty: the site's text (KEYWORD_REPLY_{intent.upper()}).",
            )

    def _option_field(self, f, options: dict) -> forms.Field:
        return option_field(f, options)

    def _show_only_when(self, name: str, only_when: tuple[str, tuple[str, ...]]) -> None:
        """Mark a field for static/js/provider-account.js, which shows it only
        while the option it belongs to has one of its values."""
        option, values = only_when
        self.fields[name].widget.attrs.update(
            {"data-only-when": f"opt_{option}", "data-only-when-values": " ".join(values)}
        )

    def _backend_class(self):
        from .registry import backend_class

        return backend_class(self.kind)

    def clean_rate_card(self):
        return self._parse_rates(self.cleaned_data.get("rate_card", ""), where="Line")

    def _parse_rates(self, text: str, *, where: str) -> dict:
        known = {code for code, _ in country_choices()}
        rates = {}
        for number, line in enumerate(text.splitlines(), 1):
            parts = line.replace(",", " ").replace(";", " ").split()
            if not parts:
                continue
            if len(parts) != 2:
                raise forms.ValidationError(f"{where} {number}: write a country code and a price.")
            code, price = parts[0].upper(), parts[1]
            if code not in known:
                raise forms.ValidationError(f"{where} {number}: {code} is not a country code.")
            try:
                value = Decimal(price)
            except InvalidOperation:
                raise forms.ValidationError(f"{where} {number}: {price} is not a price.") from None
            if value < 0 or value > 1000:
                raise forms.ValidationError(
                    f"{where} {number}: the price must be between 0 and 1000."
                )
            rates[code] = value
        return rates

    def clean_rate_card_file(self):
        upload = self.cleaned_data.get("rate_card_file")
        if not upload:
            return None
        if upload.size > 1_000_000:
            raise forms.ValidationError("The file is larger than 1 MB; a rate card is far smaller.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text; save it as CSV.") from None
        try:
            dialect = csv.Sniffer().sniff(text[:2000], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        lines = []
        for number, row in enumerate(csv.reader(io.StringIO(text), dialect), 1):
            cells = [c.strip() for c in row if c.strip()]
            if number == 1 and len(cells) >= 2 and not _is_price(cells[1]):
                cells = []  # a header row
            # Blank lines keep their place, so errors name the file's row.
            lines.append(" ".join(cells))
        if not any(lines):
            raise forms.ValidationError("The file has no rates in it.")
        return self._parse_rates("\n".join(lines), where="Row")

    def clean(self):
        data = super().clean()
        if data.get("rate_card_file") is not None:
            data["rate_card"] = data["rate_card_file"]
        # The credentials the chosen option needs (e.g. a username and a
        # password for Basic authentication), given now or stored before.
        stored = self.instance.credentials if self.instance.pk else {}
        for f in self._backend_class().credential_fields:
            if not (f.only_when and f.required):
                continue
            option, values = f.only_when
            chosen, label = self._chosen(option)
            if chosen in values and not (data.get(f"cred_{f.name}") or stored.get(f.name)):
                self.add_error(f"cred_{f.name}", f"Required for “{label}”.")
        return data

    def _chosen(self, option: str) -> tuple[str, str]:
        """The value chosen for a choice option (its first when none) and its label."""
        field = next(f for f in self._backend_class().option_fields if f.name == option)
        value = self.cleaned_data.get(f"opt_{option}") or field.choices[0][0]
        return value, dict(field.choices).get(value, value)

    def credentials(self) -> dict:
        stored = self.instance.credentials if self.instance.pk else {}
        values = dict(stored)
        for f in self._backend_class().credential_fields:
            given = self.cleaned_data.get(f"cred_{f.name}", "")
            if given:
                values[f.name] = given
        return values

    def options(self) -> dict:
        options = dict(self.instance.options or {})
        for f in self._backend_class().option_fields:
            options[f.name] = self.cleaned_data.get(f"opt_{f.name}", "")
        options["keyword_replies"] = "off" if self.cleaned_data.get("keyword_replies_off") else ""
        for intent, _ in REPLY_FIELDS:
            options[f"reply_{intent}"] = self.cleaned_data.get(f"reply_{intent}", "").strip()
        return options

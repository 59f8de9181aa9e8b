from decimal import Decimal, InvalidOperation

from django import forms

from contacts.phones import country_choices

from .models import ProviderAccount


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
        for f in backend.credential_fields:
            self.fields[f"cred_{f.name}"] = forms.CharField(
                label=f.label,
                required=f.required and not stored.get(f.name),
                help_text=(f.help_text + " " if f.help_text else "")
                + ("Stored; leave empty to keep it." if stored.get(f.name) else ""),
                widget=forms.PasswordInput(render_value=False) if f.secret else forms.TextInput,
                initial="" if f.secret else stored.get(f.name, ""),
            )
        for f in backend.option_fields:
            self.fields[f"opt_{f.name}"] = forms.CharField(
                label=f.label,
                required=f.required,
                help_text=f.help_text,
                initial=self.instance.options.get(f.name, "") if self.instance.pk else "",
            )

    def _backend_class(self):
        from .registry import backend_class

        return backend_class(self.kind)

    def clean_rate_card(self):
        known = {code for code, _ in country_choices()}
        rates = {}
        for number, line in enumerate(self.cleaned_data.get("rate_card", "").splitlines(), 1):
            parts = line.replace(",", " ").replace(";", " ").split()
            if not parts:
                continue
            if len(parts) != 2:
                raise forms.ValidationError(f"Line {number}: write a country code and a price.")
            code, price = parts[0].upper(), parts[1]
            if code not in known:
                raise forms.ValidationError(f"Line {number}: {code} is not a country code.")
            try:
                value = Decimal(price)
            except InvalidOperation:
                raise forms.ValidationError(f"Line {number}: {price} is not a price.") from None
            if value < 0 or value > 1000:
                raise forms.ValidationError(f"Line {number}: the price must be between 0 and 1000.")
            rates[code] = value
        return rates

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
        return options

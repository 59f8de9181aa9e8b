from django import forms

from contacts.phones import country_choices

from .models import ContactList


class ContactListForm(forms.ModelForm):
    class Meta:
        model = ContactList
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A list needs a name.")
        clash = ContactList.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"There is already a list called “{name}”.")
        return name


class AddContactsForm(forms.Form):
    numbers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "+4915112345678, Anna, Schmidt"}),
        help_text="One contact per line: number, then optionally first and last name.",
        max_length=200_000,
    )
    country = forms.ChoiceField(
        choices=[], required=False, label="Country for numbers without +country code"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [
            ("", "— all numbers have +country code —"),
            *country_choices(),
        ]

    def clean_numbers(self):
        text = self.cleaned_data["numbers"]
        if "\x00" in text:
            raise forms.ValidationError("The text contains a null character.")
        if len(text.splitlines()) > 5000:
            raise forms.ValidationError("Paste at most 5,000 lines; import a file for more.")
        return text

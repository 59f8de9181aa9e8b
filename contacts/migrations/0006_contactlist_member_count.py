from django.db import migrations, models
from django.db.models.functions import Coalesce


def count_members(apps, schema_editor):
    ContactList = apps.get_model("contacts", "ContactList")
    ListMembership = apps.get_model("contacts", "ListMembership")
    members = (
        ListMembership.objects.filter(contact_list=models.OuterRef("pk"))
        .order_by()
        .values("contact_list")
        .annotate(n=models.Count("*"))
        .values("n")
    )
    ContactList.objects.update(
        member_count=Coalesce(models.Subquery(members), 0)
    )


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0005_contact_created_at_brin"),
    ]

    operations = [
        migrations.AddField(
            model_name="contactlist",
            name="member_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count_members, migrations.RunPython.noop),
    ]

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # Locks of periodic jobs live in the cache; with the database cache (the
    # default) its table must exist on every database, tests' included.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("smsportal", "0002_roles")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]

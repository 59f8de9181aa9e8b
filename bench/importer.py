"""The contact import service, called by the name it has in ``contacts``.

The import (CSV into a list, E.164 normalisation, dedupe, row errors) lives
in the contacts app; the benchmark only calls it, with the bench file's
columns mapped as a user would map them.
"""

from __future__ import annotations

import dataclasses
import importlib
import resource

SERVICE = "contacts.imports.run_import"
CANDIDATES = (SERVICE,)
MAPPING = {
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "attr:city",
}


def _find():
    module_name, _, function = SERVICE.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, function, None)


def service_name() -> str | None:
    return SERVICE if _find() else None


def run_import(path: str, list_id: int, region: str) -> dict:
    from contacts.models import ContactList

    service = _find()
    summary = service(
        path,
        contact_list=ContactList.objects.get(pk=list_id),
        mapping=MAPPING,
        default_country=region,
        error_report=path + ".errors.csv",
    )
    # The normalising processes are children of this one and have exited.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return dataclasses.asdict(summary) | {"children_peak_rss_mb": children}

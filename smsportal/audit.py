"""Writing the audit log: one call per sensitive action, from services."""

from .models import AuditLogEntry


def record(action: str, *, actor=None, obj=None, **details) -> AuditLogEntry:
    entry = AuditLogEntry(action=action, details=details)
    if actor is not None and getattr(actor, "is_authenticated", False):
        entry.actor = actor
    if obj is not None:
        entry.object_type = obj._meta.label_lower
        entry.object_id = str(obj.pk)
        entry.object_repr = str(obj)[:200]
    entry.save()
    return entry

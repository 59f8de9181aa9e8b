from . import roles


def roles_context(request):
    user = getattr(request, "user", None)
    return {
        "role": roles.role_of(user),
        "can_send": roles.can_send(user),
        "can_administer": roles.can_administer(user),
        "can_export": roles.can_export(user),
        "can_export_csv": roles.can_export_csv(user),
    }

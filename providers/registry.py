"""Which backend class serves which account kind.

Dotted paths, imported when first used, so that a broken or slow import of one
backend never stops the others (or the admin) from loading.
"""

from functools import cache
from importlib import import_module

BACKENDS = {
    "sandbox": "providers.backends.sandbox.SandboxBackend",
    "infopromo_v3": "providers.backends.infopromo.InfopromoV3Backend",
    "infopromo_http": "providers.backends.infopromo.InfopromoHttpBackend",
    "infobip": "providers.backends.infobip.InfobipBackend",
    "sendsms": "providers.backends.sendsms.SendsmsBackend",
    "voipcomms": "providers.backends.voipcomms.VoipCommsBackend",
}

LABELS = {
    "sandbox": "Sandbox (built in, no network)",
    "infopromo_v3": "Infopromo API v3 (Bearer token)",
    "infopromo_http": "Infopromo HTTP API (api_token)",
    "infobip": "Infobip",
    "sendsms": "x-api-key sendsms provider",
    "voipcomms": "voip-communications.net",
}

CHOICES = [(kind, LABELS[kind]) for kind in BACKENDS]


@cache
def backend_class(kind: str):
    try:
        path = BACKENDS[kind]
    except KeyError:
        raise LookupError(f"No provider backend of kind {kind!r}") from None
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)

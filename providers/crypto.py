"""Provider credentials at rest: Fernet with keys from CREDENTIALS_KEYS.

The first key encrypts; every key decrypts, so keys can be rotated by putting
a new one first. Without a configured key one is derived from SECRET_KEY, so
a development checkout works; production sets its own (see .env.example).
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys = list(settings.CREDENTIALS_KEYS)
    if not keys:
        digest = hashlib.sha256(("credentials:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(values: dict) -> str:
    return _fernet().encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError(
            "Stored provider credentials cannot be decrypted with the configured "
            "CREDENTIALS_KEYS; re-enter them or restore the key."
        ) from exc


def mask(value: str) -> str:
    """What the UI shows of a secret: never more than its last 4 characters."""
    if not value:
        return ""
    return "•" * 8 + (value[-4:] if len(value) >= 12 else "")

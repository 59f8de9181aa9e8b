"""Infobip authentication: the ``Authorization`` header for each
authentication type an account may choose, and OAuth2 access tokens (client
credentials grant), fetched and renewed here."""

from __future__ import annotations

import base64
import threading
import time

from providers.base import ProviderError

from .wire import _error_text

# The account's choices of authentication (the form and the README show
# these values; the header each gives is built in ``headers``).
AUTH_CHOICES = (
    ("app_key", "API key (Authorization: App)"),
    ("basic", "Basic (username and password)"),
    ("bearer", "Bearer (an OAuth2 access token)"),
    ("ibsso", "IBSSO (a session token)"),
    ("oauth2", "OAuth2 client credentials (tokens fetched and renewed here)"),
)
AUTH_TYPES = tuple(value for value, _ in AUTH_CHOICES)
# OAuth 2.0 client credentials grant (Infobip as the authorisation server).
TOKEN_PATH = "auth/1/oauth2/token"
# A token is fetched again this long before Infobip says it expires.
TOKEN_MARGIN = 60
# Access tokens per (base URL, client id), shared by the backends of a process.
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


class InfobipAuth:
    """Credentials and tokens, for ``InfobipBackend`` (which brings
    ``credentials``, ``options``, ``base_url`` and ``request``)."""

    def headers(self) -> dict[str, str]:
        auth_type = str(self.options.get("auth_type") or "app_key").lower()
        if auth_type == "app_key":
            authorization = f"App {self._credential('api_key', 'API key')}"
        elif auth_type == "basic":
            user = self._credential("username", "username")
            password = self._credential("password", "password")
            pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            authorization = f"Basic {pair}"
        elif auth_type in ("bearer", "ibsso"):
            prefix = "Bearer" if auth_type == "bearer" else "IBSSO"
            authorization = f"{prefix} {self._credential('token', 'token')}"
        elif auth_type == "oauth2":
            authorization = f"Bearer {self.access_token()}"
        else:
            raise ProviderError(
                f"Unknown Infobip authentication {auth_type!r}; use one of "
                f"{', '.join(AUTH_TYPES)}.",
                permanent=True,
                code="config",
            )
        return {"Authorization": authorization, "Accept": "application/json"}

    @property
    def uses_oauth2(self) -> bool:
        return str(self.options.get("auth_type") or "").lower() == "oauth2"

    def _token_key(self) -> tuple[str, str]:
        return (self.base_url, self._credential("client_id", "OAuth2 client ID"))

    def access_token(self) -> str:
        """A valid OAuth2 access token: the one this process holds for the
        account's client, or a new one from the token endpoint."""
        key = self._token_key()
        with _tokens_lock:
            held = _tokens.get(key)
            if held and held[1] - TOKEN_MARGIN > time.monotonic():
                return held[0]
            token, lifetime = self._fetch_token(key[1])
            _tokens[key] = (token, time.monotonic() + lifetime)
            return token

    def forget_token(self) -> None:
        with _tokens_lock:
            _tokens.pop(self._token_key(), None)

    def _fetch_token(self, client_id: str) -> tuple[str, float]:
        secret = self._credential("client_secret", "OAuth2 client secret")
        try:
            response = self.request(
                "POST",
                TOKEN_PATH,
                data={
                    "client_id": client_id,
                    "client_secret": secret,
                    "grant_type": "client_credentials",
                },
                headers={"Accept": "application/json"},
            )
        except ProviderError as exc:
            if exc.permanent:
                exc.message = f"Infobip refused the OAuth2 client credentials. {exc.message}"
                exc.args = (exc.message,)
            raise
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("error") or "")
                detail = detail or _error_text(body)
            raise ProviderError(
                "Infobip refused the OAuth2 client credentials"
                + (f": {detail}" if detail else f" (HTTP {response.status_code})."),
                permanent=True,
                code="oauth2",
                raw=body if body is not None else response.text[:2000],
            )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderError(
                "Infobip's token endpoint answered without an access token.",
                code="oauth2",
                raw=body,
            )
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, max(lifetime, 0.0)

    def _credential(self, name: str, label: str) -> str:
        value = str(self.credentials.get(name) or "").strip()
        if not value:
            raise ProviderError(
                f"The Infobip account has no {label} for its authentication type.",
                permanent=True,
                code="config",
            )
        return value

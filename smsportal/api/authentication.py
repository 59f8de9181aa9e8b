from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from smsportal import tokens


class APITokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer smsp_…`` with a personal API token. The request
    then acts as the token's owner, with the owner's current role."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as “Authorization: Bearer <token>”, with nothing else."
            )
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                "The token has characters no token has."
            ) from None
        token = tokens.token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(
                "This API token is unknown or has been revoked; create a new one on "
                "the API tokens page."
            )
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (with this challenge) rather than 403 when no
        # credentials were sent.
        return 'Bearer realm="smsportal"'


class APITokenScheme(OpenApiAuthenticationExtension):
    target_class = APITokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token from the API tokens page: "
            "`Authorization: Bearer smsp_…`.",
        }

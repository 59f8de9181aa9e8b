"""Every error the API answers is JSON with a message a person can act on."""

from rest_framework import exceptions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import exception_handler


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, in a sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For bad parameters: the messages for each parameter by name.",
    )


def handle(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(data)
        each = " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
        response.data = {"message": f"Bad parameters — {each}", "errors": errors}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {"message": str(data["detail"])}
    else:
        response.data = {"message": str(data)}
    return response


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(name): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for name, msgs in detail.items()
        }
    return {"non_field_errors": [str(m) for m in detail]}


class ContentNegotiation(DefaultContentNegotiation):
    """As DRF's, but an unknown ``?format=`` is a 406 saying what is offered,
    not a bare 404."""

    def filter_renderers(self, renderers, format):
        matching = [r for r in renderers if r.format == format]
        if not matching:
            offered = ", ".join(sorted({r.format for r in renderers}))
            raise exceptions.NotAcceptable(
                f"“{format}” is not a format this endpoint offers; use one of: {offered}."
            )
        return matching

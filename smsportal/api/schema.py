"""Schema additions drf-spectacular cannot infer: the error answers every
endpoint may give, and request bodies that take no field but their own."""

ERROR = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What went wrong, in a sentence."},
        "errors": {
            "type": "object",
            "description": "For bad parameters: the messages for each parameter by name.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["message"],
}

ANSWERS = {
    "400": "A parameter is missing, unknown or has a bad value (a cursor this API did not "
    "give out, too); `errors` names it.",
    "401": "No token or session, or the token is unknown or revoked.",
    "403": "The token's owner (or the signed-in user) has no role, or the token lacks the "
    "permission this call needs.",
    "404": "No such object.",
    "406": "A format (or Accept header) this endpoint does not offer.",
    "429": "Too many requests for this token; Retry-After says when to try again.",
}
# Only where a body is sent.
BODY_ANSWERS = {"415": "The body is not JSON (send Content-Type: application/json)."}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            answers = dict(ANSWERS)
            if "requestBody" in operation:
                answers.update(BODY_ANSWERS)
                _close_body(operation["requestBody"], schemas)
            for code, description in answers.items():
                answer = {
                    "description": description,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                if code == "429":
                    answer["headers"] = {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before the next request.",
                        }
                    }
                responses.setdefault(code, answer)
    return result


def _close_body(body: dict, schemas: dict) -> None:
    """A request body refuses fields it does not name (the view answers 400
    naming them), so the schema says so."""
    for media in body.get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        schema = schemas.get(ref.rsplit("/", 1)[-1]) if ref else media.get("schema")
        if schema is not None and schema.get("type") == "object":
            schema["additionalProperties"] = False

"""Schema additions drf-spectacular cannot infer: the error answers every
endpoint may give."""

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
    "403": "The token's owner (or the signed-in user) has no role.",
    "404": "No such object.",
    "406": "A format (or Accept header) this endpoint does not offer.",
    "429": "Too many requests for this token; Retry-After says when to try again.",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for code, description in ANSWERS.items():
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

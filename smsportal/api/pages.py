"""The two pages people see: their API tokens, and the API's documentation
rendered from the OpenAPI schema (served from here, nothing from a CDN)."""

from __future__ import annotations

from functools import cache

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from drf_spectacular.generators import SchemaGenerator

from smsportal import roles, tokens
from smsportal.api.throttling import rate_in_words


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What will use it, e.g. “Finance dashboard”. You can revoke it any time.",
    )
    can_record_conversions = forms.BooleanField(
        required=False,
        label="May record conversions",
        help_text="The API's one write: your shop or site reports orders and sign-ups "
        "(POST /api/v1/conversions/). Everything else stays read-only.",
    )

    def __init__(self, *args, can_grant: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_grant:
            # Only Admins give a token the permission.
            del self.fields["can_record_conversions"]


def token_index(request):
    can_create = roles.can_export(request.user)
    can_grant = roles.can_administer(request.user)
    form = TokenForm(request.POST if request.method == "POST" else None, can_grant=can_grant)
    new_token = None
    status = 200
    if request.method == "POST":
        if not can_create:
            raise PermissionDenied("Only Admins and Analysts may create API tokens.")
        if form.is_valid():
            try:
                token, new_token = tokens.token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    can_record_conversions=form.cleaned_data.get("can_record_conversions", False),
                )
            except ValidationError as error:
                form.add_error(None, error)
                status = 400
            else:
                form = TokenForm(can_grant=can_grant)
        else:
            status = 400
    context = {
        "form": form,
        "can_create": can_create,
        "new_token": new_token,
        "tokens": tokens.tokens_for_user(request.user)[:200],
        "show_owner": roles.can_administer(request.user),
        "new_token_records": bool(new_token and token.can_record_conversions),
        "example_url": request.build_absolute_uri(reverse("api:report-cost")),
        "conversions_url": request.build_absolute_uri(reverse("api:conversions")),
        "rate_limit": rate_in_words(),
    }
    # The token is in this response only: never a redirect that would lose
    # it, and never cached on the way.
    response = render(request, "api/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(tokens.tokens_for_user(request.user), pk=pk)
    tokens.token_revoke(token=token, user=request.user)
    flash.success(request, f"Revoked “{token.name}”: requests with it are now refused.")
    return redirect("api_tokens:index")


@cache
def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def docs(request):
    # Under /api/ the role middleware leaves checks to the API; this page is
    # HTML for people, so it checks here.
    roles.require(roles.can_view, request.user)
    schema = _schema()
    return render(
        request,
        "api/docs.html",
        {
            "info": schema["info"],
            "groups": _operations(schema),
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            "rate_limit": rate_in_words(),
            "can_create": roles.can_export(request.user),
        },
    )


def _operations(schema: dict) -> list[dict]:
    """Operations grouped by tag, each with its parameters and the fields of
    what it answers, $refs resolved for the template."""
    components = schema.get("components", {}).get("schemas", {})
    groups: dict[str, list] = {}
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            answers = op.get("responses", {})
            # A write answers 201 with what it made.
            ok = (answers.get("201") or answers.get("200") or {}).get("content", {})
            body = _resolve(ok.get("application/json", {}).get("schema", {}), components)
            sent = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "id": op.get("operationId", ""),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [_parameter(p) for p in op.get("parameters", [])],
                    "body": _body(_resolve(sent.get("schema", {}), components), components),
                    "fields": _fields(body, components),
                    "formats": sorted(ok),
                }
            )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items()]


def _resolve(node: dict, components: dict) -> dict:
    while "$ref" in node:
        node = components.get(node["$ref"].rsplit("/", 1)[-1], {})
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0], components)
    return node


# Longer lists of values are summed up (e.g. every ISO 4217 currency).
MAX_VALUES_SHOWN = 12


def _type(node: dict, components: dict) -> str:
    node = _resolve(node, components)
    if node.get("oneOf") and "type" not in node:
        # A text that may also be blank: the first form says what it is.
        return _type(node["oneOf"][0], components)
    if node.get("type") == "array":
        return f"list of {_type(node.get('items', {}), components)}"
    kind = node.get("type", "object")
    if node.get("format"):
        kind = f"{kind} ({node['format']})"
    values = [str(v) for v in node.get("enum") or [] if v not in ("", None)]
    if len(values) > MAX_VALUES_SHOWN:
        kind += f": one of {len(values)} values ({values[0]} … {values[-1]})"
    elif values:
        kind += ": " + ", ".join(values)
    if node.get("nullable"):
        kind += ", or null"
    return kind


def _parameter(param: dict) -> dict:
    schema = param.get("schema", {})
    return {
        "name": param["name"],
        "where": param.get("in", "query"),
        "required": param.get("required", False),
        "type": _type(schema, {}),
        "description": param.get("description", ""),
    }


def _body(body: dict, components: dict) -> list[dict]:
    """The fields a request body takes, the required ones marked."""
    required = set(body.get("required", []))
    return [
        {
            "name": name,
            "required": name in required,
            "type": _type(prop, components),
            "description": _resolve(prop, components).get("description", "")
            or prop.get("description", ""),
        }
        for name, prop in body.get("properties", {}).items()
    ]


def _fields(body: dict, components: dict) -> list[dict]:
    """The fields of one result: for a page, of the items in ``results``."""
    props = body.get("properties", {})
    if "results" in props and "next" in props:
        body = _resolve(_resolve(props["results"], components).get("items", {}), components)
        props = body.get("properties", {})
    return [
        {
            "name": name,
            "type": _type(prop, components),
            "description": _resolve(prop, components).get("description", "")
            or prop.get("description", ""),
        }
        for name, prop in props.items()
    ]

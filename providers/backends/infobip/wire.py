"""Infobip's wire formats: dates, numbers, addresses, ID filters, result
lists and error envelopes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from providers.base import ProviderError


def format_datetime(value: dt.datetime) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, keeping the value's own offset."""
    value = _aware(value)
    return (
        value.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}"
        + (value.strftime("%z"))
    )


def parse_datetime(value: Any) -> dt.datetime | None:
    """Infobip writes ``2019-11-09T16:00:00.000+0000``; the seed's examples
    also show ``+01:00``. Both (and ``Z``) are read."""
    if not value or not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _aware(value: dt.datetime) -> dt.datetime:
    # A naive time in our code is UTC (Django stores UTC).
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _address(number: str) -> str:
    """International format without "+" (``41793026727``), as documented."""
    number = number.strip()
    return number[1:] if number.startswith("+") else number


def _is_numeric(sender: str) -> bool:
    return _address(sender).isdigit()


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _chunks(values: Iterable[str], limit: int) -> Iterable[list[str]]:
    """Comma-joined groups of values that stay under ``limit`` characters."""
    chunk: list[str] = []
    length = 0
    for value in values:
        if chunk and length + 1 + len(value) > limit:
            yield chunk
            chunk, length = [], 0
        length += len(value) + (1 if chunk else 0)
        chunk.append(value)
    if chunk:
        yield chunk


def _results(data: Any) -> list[dict[str, Any]]:
    results = data.get("results") if isinstance(data, dict) else None
    if results is None:
        return []
    if not isinstance(results, list):
        raise ProviderError("Infobip answered with an odd results list.", code="bad_json", raw=data)
    return [item for item in results if isinstance(item, dict)]


def _error_parts(body: Any) -> tuple[str, str]:
    """(error id, readable text) from either of Infobip's error envelopes:
    ``requestError.serviceException`` or the newer ``errorCode``/``description``."""
    if not isinstance(body, dict):
        return "", ""
    request_error = body.get("requestError")
    exception = request_error.get("serviceException") if isinstance(request_error, dict) else None
    if isinstance(exception, dict):
        error_id = str(exception.get("messageId") or "")
        text = str(exception.get("text") or "")
        details = []
        validation = exception.get("validationErrors")
        if isinstance(validation, dict):
            for fieldname, problems in validation.items():
                problems = problems if isinstance(problems, list) else [problems]
                details.append(f"{fieldname}: {'; '.join(str(p) for p in problems)}")
        if details:
            text = f"{text} ({', '.join(details)})" if text else ", ".join(details)
        return error_id, text
    if "errorCode" in body:
        text = str(body.get("description") or "")
        violations = body.get("violations")
        if isinstance(violations, list) and violations:
            parts = [
                f"{v.get('property', '')}: {v.get('violation', '')}".strip(": ")
                for v in violations
                if isinstance(v, dict)
            ]
            text = f"{text} ({', '.join(parts)})" if text else ", ".join(parts)
        return str(body["errorCode"]), text
    return "", ""


def _error_text(raw: Any) -> str:
    if not isinstance(raw, str):
        return ""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    return _error_parts(body)[1]

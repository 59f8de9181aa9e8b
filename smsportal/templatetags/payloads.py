"""{% load payloads %}: what a provider sent or answered, readable.

{{ event.payload|pretty_json }}   indented JSON, keys as the provider
                                  sent them; text that is not JSON (an
                                  XML report) as it came
"""

import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)

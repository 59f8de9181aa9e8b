"""{% load percent %}: rates as smsportal.percent writes them.

{% percent delivered finished %}            66.7%, >99.9%, <0.1% or —
{% percent done total as share %}           the same, into a variable
"""

from django import template

from smsportal.percent import percent as format_percent

register = template.Library()


@register.simple_tag(name="percent")
def percent_tag(part, whole) -> str:
    return format_percent(part or 0, whole or 0)

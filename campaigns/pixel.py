"""The conversion pixel, for sites that cannot call the API: a landing or
thank-you page loads

    <img src="https://<site>/c/<code>.gif?value=49.90&currency=EUR&ref=ORDER-1001"
         width="1" height="1" alt="">

with the short link's code it was reached by, and the conversion is
recorded (source "pixel"; ``ref`` makes it once per order however often
the page is loaded). Every request gets the same transparent 1×1 GIF,
never cached: an unknown code, or a value or currency that is refused,
records nothing and answers the same, so the pixel tells nobody which codes
exist. A HEAD request records nothing either. No sign-in, session or CSRF
token is involved.
"""

from __future__ import annotations

import base64
import logging

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.views.decorators.http import require_safe

from . import conversions
from .models import Conversion

log = logging.getLogger(__name__)

# The smallest transparent GIF (1×1, one transparent colour): 43 bytes.
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _gif() -> HttpResponse:
    response = HttpResponse(GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, max-age=0"
    response["Content-Length"] = str(len(GIF))
    return response


@login_not_required
@require_safe
def pixel(request, code: str):
    if request.method == "GET":
        try:
            conversions.record_conversion(
                code=code,
                value=request.GET.get("value"),
                currency=request.GET.get("currency", ""),
                external_id=request.GET.get("ref", ""),
                source=Conversion.Source.PIXEL,
            )
        except conversions.UnknownCode:
            pass
        except ValidationError as error:
            # Nobody sees the pixel's answer: the reason goes to the log.
            log.info("conversion pixel for %s refused: %s", code, "; ".join(error.messages))
    return _gif()

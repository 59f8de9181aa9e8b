"""The short link redirect: a recipient's tap on a tracked link.

Answered by ``campaigns.middleware.ShortLinkMiddleware`` before any of the
pages' middleware (no session, user, CSRF token, messages or cookies) and
without a template: one statement finds the code by its unique index and
records the click, and the answer is a 302 to the stored address. Link
previews (chat apps fetching the link to show a card, HEAD requests) are
recorded apart, as bots, and sent on all the same.
"""

from __future__ import annotations

from django.http import HttpResponse

from . import links

# Plenty to tell a browser from a crawler; a longer header is cut, not read.
_AGENT_CHARS = 512

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Link not found</title>
<style>
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
background:#f4f6f8;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:26rem;margin:1.5rem;padding:2rem 1.75rem;background:#fff;border-radius:12px;
box-shadow:0 1px 3px rgba(15,23,42,.08),0 8px 24px rgba(15,23,42,.06);text-align:center}
h1{font-size:1.25rem;margin:0 0 .5rem}
p{margin:0;color:#52606d}
</style>
</head>
<body>
<main>
<h1>This link does not work</h1>
<p>The address may be incomplete: check that the whole link was copied or tapped,
or ask whoever sent it for a new one.</p>
</main>
</body>
</html>
"""
# The page's own rules: its inline style, nothing else.
_NOT_FOUND_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _answer(status: int, content: str = "", content_type: str = "text/plain; charset=utf-8"):
    response = HttpResponse(content, status=status, content_type=content_type)
    response["Content-Length"] = str(len(response.content))
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def not_found(request) -> HttpResponse:
    """A small plain page, the same for a code nobody has and for one that
    is not a code at all."""
    response = _answer(
        404,
        "" if request.method == "HEAD" else NOT_FOUND_PAGE,
        "text/html; charset=utf-8",
    )
    response["Content-Security-Policy"] = _NOT_FOUND_POLICY
    response["X-Robots-Tag"] = "noindex"
    return response


def follow(request, code: str, *, unknown=not_found) -> HttpResponse:
    """302 to the link's address, its click recorded; for an unknown code
    what ``unknown(request)`` answers (the 404 page); 405 for anything but
    GET and HEAD."""
    method = request.method
    if method not in ("GET", "HEAD"):
        response = _answer(405, "" if method == "HEAD" else "Only GET and HEAD.\n")
        response["Allow"] = "GET, HEAD"
        return response
    if not links.is_code(code):
        return unknown(request)
    agent, is_bot = links.classify(request.META.get("HTTP_USER_AGENT", "")[:_AGENT_CHARS], method)
    url = links.follow(code, agent=agent, is_bot=is_bot)
    # Written only as an http(s) address (links.target); checked again, so
    # a row changed by hand never makes this an open redirect.
    if url is None:
        return unknown(request)
    if not url.startswith(("https://", "http://")) or "\n" in url or "\r" in url:
        return not_found(request)
    response = _answer(302)
    response["Location"] = url
    return response

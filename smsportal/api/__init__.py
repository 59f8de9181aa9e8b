"""The REST export for reporting tools (Django REST framework): read-only,
but for recording conversions."""

"""The read-only REST export for reporting tools (Django REST framework)."""

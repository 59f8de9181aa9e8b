from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Keyset pages on the primary key, newest first: the cost of a page does
    not grow with the table or with how deep the page is (no OFFSET, no
    COUNT)."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = "The cursor is not one this API gave out; start again without it."

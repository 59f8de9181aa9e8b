from base64 import b64decode

from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination

from .filters import MAX_ID


class IdCursorPagination(CursorPagination):
    """Keyset pages on the primary key, newest first: the cost of a page does
    not grow with the table or with how deep the page is (no OFFSET, no
    COUNT). A bad ``page_size`` or ``cursor`` is a 400 naming it, never a
    silent default."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = "The cursor is not one this API gave out; start again without it."

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        wanted = f"Give a whole number of rows per page, from 1 to {self.max_page_size}."
        field = serializers.IntegerField(
            min_value=1,
            max_value=self.max_page_size,
            error_messages=dict.fromkeys(
                ("invalid", "min_value", "max_value", "max_string_length"), wanted
            ),
        )
        try:
            return field.run_validation(raw)
        except exceptions.ValidationError as error:
            raise exceptions.ValidationError({self.page_size_query_param: error.detail}) from None

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        try:
            # DRF decodes leniently, skipping what is not base64 (so "%%%" would
            # be the first page); a cursor given out here is never empty.
            if encoded is not None and not b64decode(encoded, validate=True):
                raise exceptions.NotFound
            cursor = super().decode_cursor(request)
            # The position is the id the previous page ended at: anything else
            # was not given out here (and would reach the database as a bad id).
            if cursor is not None and not _is_id(cursor.position):
                raise exceptions.NotFound
        except (ValueError, exceptions.NotFound):
            raise exceptions.ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            ) from None
        return cursor

    def get_paginated_response_schema(self, schema):
        # Every page has all three keys, so a generated client need not
        # treat the links as optional.
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["next", "previous", "results"]
        page["properties"]["next"]["description"] = "The next page; null on the last."
        page["properties"]["previous"]["description"] = "The page before; null on the first."
        return page

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "Where the page starts: the cursor in a page's `next` (or `previous`) "
                    "link, as given; anything else is a 400."
                )
            elif parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (default {self.page_size}). "
                    "Anything else is a 400."
                )
                parameter["schema"].update(
                    minimum=1, maximum=self.max_page_size, default=self.page_size
                )
        return parameters


def _is_id(position) -> bool:
    return position is None or (
        position.isascii() and position.isdigit() and 0 < int(position) <= MAX_ID
    )

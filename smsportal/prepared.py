"""A few hot statements run as prepared statements of the connection.

Planning costs some statements about as much as running them: the
short-link redirect's look-up and click, the INSERT that stores a provider's
callback. Those are planned once per connection instead of once per
request. Django leaves psycopg's prepared statements off (for connection
poolers); they are switched on for these statements only, through Django's
cursor wrapper, so errors are Django's and queries are logged as any other.

Behind a pooler that hands each transaction another server connection, a
statement prepared on one is unknown to the next ("prepared statement …
does not exist"): from then on this process asks plainly. Nothing was done
by the statement that failed, so in autocommit it is asked again at once;
inside a transaction, which the failure aborted, the error is raised.
PostgreSQL only.
"""

from __future__ import annotations

from django.db import ProgrammingError, connection

# Off once the server refused a prepared statement.
STATE = {"on": True}
# "prepared statement … does not exist"
_UNKNOWN_STATEMENT = "26000"


def execute(sql: str, params: list, *, fetchone: bool = False):
    """Run ``sql`` with ``params``, prepared; returns its first row with
    ``fetchone``, else None."""
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    threshold = raw.prepare_threshold
    if STATE["on"]:
        raw.prepare_threshold = 0
    try:
        try:
            return _run(psycopg.Cursor(raw), sql, params, fetchone)
        except ProgrammingError as error:
            if getattr(error.__cause__, "sqlstate", None) != _UNKNOWN_STATEMENT or not STATE["on"]:
                raise
            STATE["on"] = False
            raw.prepare_threshold = threshold
            if connection.in_atomic_block:
                raise
            return _run(psycopg.Cursor(raw), sql, params, fetchone)
    finally:
        raw.prepare_threshold = threshold


def _run(raw_cursor, sql: str, params: list, fetchone: bool):
    logged = connection.queries_logged
    wrap = connection.make_debug_cursor if logged else connection.make_cursor
    with wrap(raw_cursor) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone() if fetchone else None
    if logged and connection.queries_log and connection.queries_log[-1]["sql"] is None:
        # psycopg keeps no text of a prepared statement's execution: the
        # log shows the statement itself (its values were sent apart).
        connection.queries_log[-1]["sql"] = sql
    return row

"""Telling a database that is away (restarting, stopped, unreachable) from
one that refused a statement, by the errors' types and SQLSTATEs.

The API answers the first with 503 and the daemon waits for it to pass;
the second is a bug or a bad request, and stays one.
"""

import sqlalchemy as sa

from haas.errors import first_line

#: PostgreSQL's SQLSTATEs of a server that cannot serve now: class 08
#: (connection exception) and these.  An error without a SQLSTATE comes
#: from libpq itself: the connection could not be made or was lost.
_AWAY_STATES = frozenset({
    '57P01',  # admin_shutdown: terminating connection (a restart, a stop)
    '57P02',  # crash_shutdown
    '57P03',  # cannot_connect_now: starting up, shutting down, recovering
    '57P05',  # idle_session_timeout
    '53300',  # too_many_connections
})


def driver_errors(dialect):
    """The exception types a database call may raise: SQLAlchemy's, and
    the driver's own, which a raw connection (`engine.raw_connection()`,
    the daemon's listener) raises unwrapped."""
    return (sa.exc.DBAPIError, dialect.loaded_dbapi.Error)


def unavailable(error, dialect):
    """Whether `error` says that the database cannot be used now, rather
    than that it refused what it was asked."""
    if isinstance(error, sa.exc.DBAPIError):
        if error.connection_invalidated:
            # SQLAlchemy's dialect saw a lost connection, and the pool
            # dropped it (and every connection older than it).
            return True
        error = error.orig
    if dialect.name != 'postgresql':
        return False
    if not isinstance(error, dialect.loaded_dbapi.OperationalError):
        return False
    state = getattr(error, 'pgcode', None)
    return state is None or state.startswith('08') or state in _AWAY_STATES


def described(error):
    """The first line of what the driver said, without SQLAlchemy's
    wrapping: one line for a log."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    return first_line(cause)

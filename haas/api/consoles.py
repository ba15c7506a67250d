"""The REST calls on nodes' console logs (refused, 409, while a node's
OBM is disabled)."""

from flask import Response

from haas.api.lookups import obm_of
from haas.errors import BlockedError, NotFoundError, OBMError
from haas.rest import rest_call


@rest_call('GET', '/node/<node>/console', returns=str,
           media_type='text/plain',
           errors=[NotFoundError, BlockedError, OBMError])
def show_console(node):
    """A node's console log, as plain text (what is not ASCII dropped)."""
    log = obm_of(node).get_console()
    if log is None:
        raise NotFoundError(f'The console log for {node} does not '
                            f'exist.')
    return Response(log.encode('ascii', 'ignore'), 200,
                    mimetype='text/plain')


@rest_call('PUT', '/node/<node>/console',
           errors=[NotFoundError, BlockedError, OBMError])
def start_console(node):
    """Start logging a node's console."""
    obm_of(node).start_console()


@rest_call('DELETE', '/node/<node>/console',
           errors=[NotFoundError, BlockedError, OBMError])
def stop_console(node):
    """Stop logging a node's console, and delete the log."""
    obm = obm_of(node)
    obm.stop_console()
    obm.delete_console()

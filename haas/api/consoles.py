"""The REST calls on nodes' console logs."""


from flask import Response

from haas.api.lookups import node_of
from haas.errors import NotFoundError, OBMError
from haas.rest import rest_call


@rest_call('GET', '/node/<node>/console', returns=str,
           media_type='text/plain', errors=[NotFoundError, OBMError])
def show_console(node):
    """A node's console log, as plain text (what is not ASCII dropped)."""
    node = node_of(node)
    log = node.obm.get_console()
    if log is None:
        raise NotFoundError(f'The console log for {node.label} does not '
                            f'exist.')
    return Response(log.encode('ascii', 'ignore'), 200,
                    mimetype='text/plain')


@rest_call('PUT', '/node/<node>/console', errors=[NotFoundError, OBMError])
def start_console(node):
    """Start logging a node's console."""
    node = node_of(node)
    node.obm.start_console()


@rest_call('DELETE', '/node/<node>/console',
           errors=[NotFoundError, OBMError])
def stop_console(node):
    """Stop logging a node's console, and delete the log."""
    node = node_of(node)
    node.obm.stop_console()
    node.obm.delete_console()

"""The endpoint and credentials of the environment: HAAS_ENDPOINT,
HAAS_USERNAME and HAAS_PASSWORD, else HIL's HIL_* variables, else
`[client] endpoint` of haas.cfg; what `haas` the command line uses."""

import os

from haas.client.base import ClientBase, ClientError, NoEndpointError
from haas.client.client import TIMEOUT, Client, RequestsHTTPClient


def variable(name: str) -> str | None:
    """HAAS_<name>, else HIL_<name> (HIL's client's variables), else
    None."""
    return os.environ.get(f'HAAS_{name}') or os.environ.get(f'HIL_{name}') \
        or None


def endpoint() -> str:
    """The server's URL, without a trailing slash; NoEndpointError when
    none is set."""
    url = variable('ENDPOINT')
    if not url:
        # Late: haas.cfg is read only when no variable names the server.
        import configparser

        from haas import config
        from haas.errors import ConfigError
        try:
            url = config.load().get('client', 'endpoint')
        except (ConfigError, configparser.Error, OSError, ValueError) as e:
            # A bad haas.cfg: said in one line.
            raise ClientError(str(e)) from None
    if not url:
        raise NoEndpointError('no endpoint: set HAAS_ENDPOINT or [client] '
                              'endpoint in haas.cfg')
    return url.rstrip('/')


def credentials() -> tuple[str, str] | None:
    """(user, password) when both are set, else None (no auth)."""
    username, password = variable('USERNAME'), variable('PASSWORD')
    return (username, password) if username and password else None


def http_client(timeout: float | None = TIMEOUT) -> RequestsHTTPClient:
    """A RequestsHTTPClient with the environment's credentials."""
    return RequestsHTTPClient(auth=credentials(), timeout=timeout)


def from_environment(prefix: str = '/v0',
                     timeout: float | None = TIMEOUT) -> Client:
    """A Client of the environment's endpoint, with its credentials."""
    return Client(endpoint(), http_client(timeout), prefix)


def base(prefix: str = '', timeout: float | None = TIMEOUT) -> ClientBase:
    """The environment's server for calls by path (ClientBase.send), at
    the bare paths by default, as `haas` calls them."""
    return ClientBase(endpoint(), http_client(timeout), prefix)

"""The client: `Client(endpoint, httpClient)` with one attribute per kind
of object (`client.node.list('free')`), and the HTTP clients it sends
requests with.  HIL's module of the same name and classes."""

import abc
import typing

# requests: already HaaS's HTTP library (the switch drivers' REST calls);
# a Session keeps the connection alive across a script's calls.
import requests

from haas.client.base import HTTPResponse
from haas.client.extensions import Extensions
from haas.client.network import Network
from haas.client.node import Node
from haas.client.project import Project
from haas.client.switch import Port, Switch
from haas.client.user import User

__all__ = ['Client', 'HTTPClient', 'HTTPResponse', 'RequestsHTTPClient']

#: Seconds a request may wait for the server's answer, by default.
TIMEOUT = 30


class HTTPClient(abc.ABC):
    """What sends the client's requests, adding credentials; HIL's
    interface, so that a script's own HTTP client works unchanged."""

    @abc.abstractmethod
    def request(self, method: str, url: str, data: str | None = None,
                params: dict[str, str] | None = None) -> HTTPResponse:
        """The answer to `method url`, with `data` (a JSON text) as the
        body and `params` as the query if given."""


class RequestsHTTPClient(requests.Session, HTTPClient):
    """An HTTPClient on a requests Session: set its `auth` to (user,
    password) for HTTP basic auth, as HIL's scripts do; `timeout` is the
    seconds a request waits for an answer."""

    def __init__(self, auth: tuple[str, str] | None = None,
                 timeout: float | None = TIMEOUT):
        super().__init__()
        self.auth = auth
        self.timeout = timeout
        self.headers['Content-Type'] = 'application/json'

    def request(self, method: str, url: str,  # type: ignore[override]
                data: typing.Any = None, params: typing.Any = None,
                **kwargs: typing.Any) -> HTTPResponse:
        kwargs.setdefault('timeout', self.timeout)
        response = super().request(method, url, data=data, params=params,
                                   **kwargs)
        return HTTPResponse(response.status_code, response.headers,
                            response.content)


class Client:
    """HaaS's API through `httpClient`, at `endpoint`: `node`, `project`,
    `network`, `switch`, `port`, `user` and `extensions` hold the calls.
    Paths are under `prefix`: `/v0` (HIL's), where the server answers as
    HIL 1.0 does; `''` for HaaS 0.3's bare paths."""

    def __init__(self, endpoint: str, httpClient: HTTPClient,
                 prefix: str = '/v0'):
        self.endpoint = endpoint
        self.httpClient = httpClient
        self.prefix = prefix
        args = (endpoint, httpClient, prefix)
        self.node = Node(*args)
        self.project = Project(*args)
        self.switch = Switch(*args)
        self.port = Port(*args)
        self.network = Network(*args)
        self.user = User(*args)
        self.extensions = Extensions(*args)

"""What every resource of the client library shares: the HTTP answer, the
errors a call raises, and turning names into URLs and answers into values.
"""

import json
import typing
import urllib.parse

import requests

#: What a listing answers: names, sorted.  (An alias, as `list` is also
#: the name of a method of the resources.)
Names = list[str]


class ClientError(Exception):
    """Any failure of the client library, in one line (its str)."""


class FailedAPICallException(ClientError):
    """The server refused a call.  HIL's name and attributes, so that
    HIL's scripts catch it unchanged.

    error_type: the server's error type (`DuplicateError`, `NotFoundError`,
        ...: haas.errors names them), or `HTTP <status>` when the answer
        was not HaaS's (a proxy's error page).
    message: the server's message; also the exception's str, as HIL's.
    status_code: the HTTP status.
    retry_after: seconds to wait before trying again, when the server said
        (a 503 while its database is away, a 429), else None.
    """

    def __init__(self, error_type: str, message: str,
                 status_code: int | None = None,
                 retry_after: int | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def summary(self) -> str:
        """`TYPE: message`, with when to try again if the server said."""
        line = f'{self.error_type}: {self.message}'
        if self.retry_after is not None:
            line += f' (try again in {self.retry_after} s)'
        return line


class UnreachableError(ClientError, ConnectionError):
    """No answer from the endpoint: nothing listens there, it cannot be
    reached, or it did not answer in time.  Also a ConnectionError, which
    a script may already catch."""


class NoEndpointError(ClientError):
    """No endpoint was given, in the environment or in haas.cfg."""


class HTTPResponse(typing.NamedTuple):
    """An HTTP answer, whatever HTTP client sent the request (HIL's
    shape): its status, headers and body (bytes)."""

    status_code: int
    headers: typing.Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode('utf-8', errors='replace')

    def json(self) -> typing.Any:
        return json.loads(self.content)


def failure(response: typing.Any) -> FailedAPICallException:
    """The exception of a refused call's answer (anything with
    status_code, headers and content)."""
    retry_after = (response.headers or {}).get('Retry-After', '')
    retry = int(retry_after) if retry_after.isdigit() else None
    try:
        error = json.loads(response.content)
        return FailedAPICallException(str(error['type']), str(error['msg']),
                                      response.status_code, retry)
    except (ValueError, KeyError, TypeError):
        # Not HaaS's answer: its text, on one line.
        content = response.content
        if isinstance(content, bytes):
            content = content.decode('utf-8', errors='replace')
        text = ' '.join(str(content).split())
        return FailedAPICallException(f'HTTP {response.status_code}',
                                      text[:200], response.status_code,
                                      retry)


class Slashed(str):
    """A path argument whose slashes are part of the path (a switch port
    such as `gi1/0/5`), not escaped as other names' are."""


class ClientBase:
    """The calls of one kind of object (HIL's base class): `endpoint` is
    the server (`http://haas.example.com:5000`), `httpClient` sends the
    requests (an HTTPClient: haas.client.client.RequestsHTTPClient), and
    every path is under `prefix`: `/v0`, where HIL's clients call and
    HaaS answers as HIL does; `''` for the bare paths of HaaS 0.2/0.3,
    where `haas` the command line calls."""

    def __init__(self, endpoint: str, httpClient: typing.Any,
                 prefix: str = '/v0'):
        self.endpoint = endpoint.rstrip('/')
        self.httpClient = httpClient
        self.prefix = prefix.rstrip('/')

    def object_url(self, *args: str) -> str:
        """The URL of the path made of `args`, each escaped (a Slashed
        one keeps its slashes)."""
        return self.endpoint + self.prefix + ''.join(
            '/' + urllib.parse.quote(
                str(arg), safe='/' if isinstance(arg, Slashed) else '')
            for arg in args)

    def send(self, method: str, url: str, body: typing.Any = None,
             params: dict[str, str] | None = None) -> HTTPResponse:
        """The answer to `method url` with `body` as JSON; raises
        UnreachableError when there is none."""
        data = None if body is None else json.dumps(body)
        try:
            return self.httpClient.request(method, url, data=data,
                                           params=params)
        except requests.exceptions.Timeout:
            timeout = getattr(self.httpClient, 'timeout', None)
            within = f' within {timeout} s' if timeout else ''
            raise UnreachableError(f'the HaaS API at {self.endpoint} did '
                                   f'not answer{within}') from None
        except requests.exceptions.ConnectionError as e:
            reason = 'connection refused' if 'refused' in str(e).lower() \
                else 'cannot connect'
            raise UnreachableError(f'cannot reach the HaaS API at '
                                   f'{self.endpoint}: {reason}') from None

    def check_response(self, response: typing.Any) -> typing.Any:
        """The answer's body as JSON (None when it has none); raises
        FailedAPICallException on any status but 2xx."""
        if not 200 <= response.status_code < 300:
            raise failure(response)
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            return None

    def call(self, method: str, *path: str, body: typing.Any = None,
             params: dict[str, str] | None = None) -> typing.Any:
        """check_response of `method` on the path made of `path`."""
        return self.check_response(self.send(
            method, self.object_url(*path), body, params))

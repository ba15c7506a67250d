"""The HTTP side of the simulated switches: a threaded server that checks
HTTP Basic auth as the devices do and hands each request to a model.

It is the standard library's ThreadingHTTPServer, not werkzeug's: the
devices' answers are fixed XML documents with their own status codes and
headers (`WWW-Authenticate`, `Content-Type`), which `BaseHTTPRequestHandler`
writes exactly as given, and a server object that `shutdown()` stops from
a signal handler or a test's thread is all the lifecycle needed.  HTTPS is
optional (`tls`, a (certificate, key) pair of PEM files); plain HTTP is
what `haas-admin simulate` serves.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import signal
import ssl
import sys
import threading
import time
import typing
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

from haas.simulators.state import SwitchState

#: What a model answers: (status, XML text or '' for no body).
Answer = tuple[int, str]


class DeviceError(Exception):
    """A request the device refuses: its status and error message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Model:
    """A simulated device's REST API over its `state` (a SwitchState).

    Subclasses set `ports` (the device's port names) and `realm`, and
    implement `answer`; `error_body` writes a refusal as the device does.
    """

    ports: typing.ClassVar[list[str]] = []
    realm = 'device'

    def __init__(self, state_dir: str):
        self.state = SwitchState(state_dir, self.ports)

    def answer(self, method: str, path: str, query: dict[str, list[str]],
               body: bytes) -> Answer:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> str:
        raise NotImplementedError


def parse_xml(body: bytes) -> ElementTree.Element:
    """The request's XML document, or a 400 the device would give."""
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as e:
        raise DeviceError(400, f'malformed XML: {e}') from None


def local(tag: str) -> str:
    """An element's name without its namespace: clients may send none."""
    return tag.rpartition('}')[2]


class _Handler(BaseHTTPRequestHandler):
    server: DeviceServer
    protocol_version = 'HTTP/1.1'
    # The headers and the body go out in two writes.  With Nagle's
    # algorithm on, the body waits for the client to acknowledge the
    # headers, which a client keeping the connection open (requests)
    # delays by 40 ms: every answer would take that long, where a
    # switch answers at once.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: typing.Any) -> None:
        pass  # a device logs nothing to the terminal of who started it

    def _authorized(self) -> bool:
        header = self.headers.get('Authorization', '')
        scheme, _, token = header.partition(' ')
        if scheme.lower() != 'basic':
            return False
        try:
            user, sep, password = base64.b64decode(
                token, validate=True).decode().partition(':')
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f'{self.server.username}:{self.server.password}'
        return bool(sep) and hmac.compare_digest(
            f'{user}:{password}'.encode(), expected.encode())

    def _send(self, status: int, text: str,
              headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header('Content-Type', 'application/xml')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def _body(self) -> bytes:
        # curl -T sends a chunked body; the devices take either.
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            chunks = []
            while size := int(self.rfile.readline().split(b';')[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                pass  # trailers
            return b''.join(chunks)
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _handle(self) -> None:
        body = self._body()
        if self.server.latency:
            time.sleep(self.server.latency)
        model = self.server.model
        if not self._authorized():
            self._send(401, model.error_body(401, 'authentication failed'),
                       {'WWW-Authenticate':
                        f'Basic realm="{model.realm}"'})
            return
        url = urllib.parse.urlsplit(self.path)
        try:
            status, text = model.answer(
                self.command, urllib.parse.unquote(url.path),
                urllib.parse.parse_qs(url.query, keep_blank_values=True),
                body)
        except DeviceError as e:
            status, text = e.status, model.error_body(e.status, e.message)
        self._send(status, text)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _handle


#: How often serve_forever looks whether it was asked to stop: `shutdown`
#: waits for that look (socketserver's default, 0.5 s, made each test of
#: a simulated switch half a second longer).
POLL_INTERVAL = 0.05


class DeviceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: Model,
                 username: str, password: str, latency: float = 0.0,
                 tls: tuple[str, str] | None = None):
        super().__init__(address, _Handler)
        self.model, self.username, self.password = model, username, password
        self.latency = latency
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: typing.Any,
                     client_address: typing.Any) -> None:
        # A client that hung up before its answer (it timed out on a slow
        # device) is nothing to report, as a switch reports nothing.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f'{host}:{port}'


@contextlib.contextmanager
def running(model: Model, username: str, password: str,
            latency: float = 0.0, host: str = '127.0.0.1', port: int = 0,
            tls: tuple[str, str] | None = None) -> Iterator[DeviceServer]:
    """A device served from a thread of this process, stopped on leaving:
    for tests where the simulator's process is not the point."""
    server = DeviceServer((host, port), model, username, password, latency,
                          tls)
    thread = threading.Thread(target=server.serve_forever,
                              args=(POLL_INTERVAL,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve(model: Model, host: str, port: int, username: str, password: str,
          latency: float) -> None:
    """Serve `model` until SIGTERM or SIGINT (haas.simulators' contract).

    The signal handler only asks the server to stop, from a thread of its
    own (`shutdown` waits for `serve_forever`, which runs here); requests
    under way finish first.
    """
    server = DeviceServer((host, port), model, username, password, latency)

    def stop(signum: int, frame: typing.Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f'listening on {server.address}', flush=True)
    try:
        server.serve_forever(POLL_INTERVAL)
    finally:
        server.server_close()
    sys.stdout.flush()

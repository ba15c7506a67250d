"""What the drivers of switches with an XML REST API share (Brocade NOS,
Dell OS9): registration fields, their options, and an HTTP client whose
failures are the driver interface's (haas.drivers).

A device refuses with a 4xx status and an `<errors>` document of NETCONF's
fields; its `error-message` is what SwitchError carries.  No answer (a
refused connection, a timeout) and a 5xx are SwitchUnavailableError: the
action is tried again.  A 401 (a wrong password) is a refusal: trying
again cannot help until the switch is registered again.
"""

from __future__ import annotations

import dataclasses
import typing
import urllib.parse
from xml.etree import ElementTree

from haas.errors import ConfigError, SwitchError, SwitchUnavailableError
from haas.fields import Kind, string

#: Seconds to wait for a connection, and for each answer, unless
#: configured: bounded, so that a dead switch holds up only its actions.
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 30.0


def base_url(hostname: str) -> str:
    """The URL the device's paths are under: `hostname` itself when it is
    an http:// or https:// URL, else `http://hostname` (`host` or
    `host:port`).  ValueError for anything else."""
    if '://' in hostname:
        url = urllib.parse.urlsplit(hostname)
        if url.scheme not in ('http', 'https') or not url.netloc \
                or url.query or url.fragment:
            raise ValueError('must be HOST, HOST:PORT or an http:// or '
                             'https:// URL')
        return hostname.rstrip('/')
    if not hostname or any(c in hostname for c in '/?#@ '):
        raise ValueError('must be HOST, HOST:PORT or an http:// or '
                         'https:// URL')
    return f'http://{hostname}'


def _hostname(value: str) -> str:
    base_url(value)
    return value


class Hostname(Kind):
    """Where the switch's REST API is: `host`, `host:port` (plain HTTP),
    or a URL base, `https://host:port`."""

    @classmethod
    def pydantic(cls) -> typing.Any:
        return string(1, 255, _hostname)


def interface_type(types: typing.Iterable[str]) -> type[Kind]:
    """A Kind for a driver's `interface_type`: one of `types`, as the
    switch's CLI writes them, given in any case, kept as the CLI writes
    it."""
    canonical = {t.lower(): t for t in types}

    def check(value: str) -> str:
        try:
            return canonical[value.lower()]
        except KeyError:
            raise ValueError(f'must be one of {", ".join(canonical.values())}'
                             ) from None

    class InterfaceType(Kind):
        @classmethod
        def pydantic(cls) -> typing.Any:
            return string(1, 64, check)
    return InterfaceType


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'false'):
        return value.lower() == 'true'
    raise ValueError('must be true or false')


class Flag(Kind):
    """A boolean, given as JSON's or as the text `true` or `false` (as
    `haas switch register ... save=true` sends it)."""

    @classmethod
    def pydantic(cls) -> typing.Any:
        import pydantic
        return typing.Annotated[
            typing.Union[bool, str],
            pydantic.WithJsonSchema({'anyOf': [
                {'type': 'boolean'},
                {'type': 'string', 'enum': ['true', 'false']}]}),
            pydantic.PlainValidator(_flag)]


@dataclasses.dataclass(frozen=True)
class Options:
    """An extension's section of haas.cfg (see haas.cfg.example)."""

    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    #: The native VLAN of a port that carries no native network; None:
    #: the port is shut down instead while it carries nothing.
    parking_vlan: int | None = None
    #: requests' `verify`: True (the system's CAs) or a CA bundle's path.
    verify: bool | str = True

    @classmethod
    def read(cls, config: typing.Any, section: str) -> Options:
        def number(option: str, default: float) -> float:
            text = config.get(section, option)
            try:
                value = default if text in (None, '') else float(text)
            except ValueError:
                value = -1
            if not 0 < value < float('inf'):
                raise ConfigError(f'[{section}] {option} must be a number '
                                  f'of seconds above 0, not {text!r}')
            return value
        parking = config.get(section, 'parking_vlan') or None
        if parking is not None and not (
                parking.isascii() and parking.isdigit()
                and 2 <= int(parking) <= 4094):
            raise ConfigError(f'[{section}] parking_vlan must be a VLAN '
                              f'number from 2 to 4094, not {parking!r}')
        return cls(number('connect_timeout', CONNECT_TIMEOUT),
                   number('read_timeout', READ_TIMEOUT),
                   None if parking is None else int(parking),
                   config.get(section, 'ca_bundle') or True)


def options(section: str) -> Options:
    from flask import current_app
    return Options.read(current_app.extensions['haas'].config, section)


def error_message(text: str) -> str | None:
    """The `error-message`s of an `<errors>` document, or None."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    messages = [(e.text or '').strip() for e in root.iter()
                if e.tag.rpartition('}')[2] == 'error-message']
    return '; '.join(m for m in messages if m) or None


class Client:
    """HTTP requests to one switch, as `username` with Basic auth."""

    def __init__(self, label: str, hostname: str, username: str,
                 password: str, opts: Options):
        import requests
        self.label, self.base = label, base_url(hostname)
        self.session = requests.Session()
        self.session.auth = (username, password)
        self.session.verify = opts.verify
        self.session.headers['Content-Type'] = 'application/xml'
        self.timeout = (opts.connect_timeout, opts.read_timeout)

    def request(self, method: str, path: str, body: str | None = None,
                accept: typing.Container[int] = ()) -> tuple[int, str]:
        """(status, text) of the answer; `accept` lists the error statuses
        that are answers here (a 409 for what exists already)."""
        import requests
        try:
            response = self.session.request(
                method, self.base + path,
                data=None if body is None else body.encode(),
                timeout=self.timeout)
        except requests.RequestException as e:
            raise SwitchUnavailableError(
                f'switch {self.label} did not answer {method} {path}: '
                f'{type(e).__name__}: {e}') from e
        status, text = response.status_code, response.text
        if status < 400 or status in accept:
            return status, text
        said = error_message(text) or text.strip()[:200] or response.reason
        message = (f'switch {self.label} answered {status} to {method} '
                   f'{path}: {said}')
        if status >= 500:
            raise SwitchUnavailableError(message)
        raise SwitchError(message)

    def close(self) -> None:
        self.session.close()


def xml(text: str) -> ElementTree.Element:
    """A device's answer, parsed; a SwitchError if it is not XML."""
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as e:
        raise SwitchError(f'the switch answered what is not XML: {e}'
                          ) from None


def find(root: ElementTree.Element, path: str) -> str | None:
    """The text at `path` (slash-separated local names, any namespace)."""
    found = root.find('/'.join('{*}' + step for step in path.split('/')))
    return None if found is None else (found.text or '').strip()


def vlans(text: str) -> list[int]:
    """A device's list of VLANs (`101,105-107`) as numbers."""
    found: list[int] = []
    for part in text.replace(' ', '').split(','):
        if not part:
            continue
        low, _, high = part.partition('-')
        if not low.isdigit() or (high and not high.isdigit()):
            raise SwitchError(f'the switch listed VLANs as {text!r}')
        found += range(int(low), int(high or low) + 1)
    return found


def vlan_of(channel: str) -> str | None:
    """The VLAN of a tagged channel `vlan/<id>`; None for `vlan/native`."""
    return None if channel == 'vlan/native' else channel.partition('/')[2]

"""OBM driver for IPMI BMCs: IPMI v2.0 over LAN (RMCP+), through pyghmi.

Each call opens a session with the BMC, does its commands and logs out,
in a bounded pool of threads (pyghmi's calls block, and a BMC that does
not answer must not hold an API worker past `[haas.ext.obm.ipmi]
timeout`).  pyghmi runs one I/O thread per process, started by the first
session, never at import: an API server's processes each start their own
after they fork.  The console calls only turn a capture on and off in
the database (haas.consoles); the console worker, a process of its own,
holds the SOL sessions (SolSession).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import typing
from collections.abc import Callable

from haas import consoles, migrations
from haas.crypto import Encrypted
from haas.drivers import no_dry_run
from haas.errors import OBMError
from haas.fields import LABEL, MAX_NAME, Kind, label_check, string
from haas.model import Obm, db
from haas.rest import Body, Name, Secret

log = logging.getLogger(__name__)

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'ipmi')

SECTION = __name__
#: Defaults of [haas.ext.obm.ipmi]: the seconds one call may take in all,
#: and how many times a call is tried again when the BMC did not answer.
TIMEOUT, RETRIES = 20.0, 1
#: The bounds of [haas.ext.obm.ipmi] keepalive, the upper one its default:
#: pyghmi's own limit (MAX_IDLE), below which it staggers its keepalives
#: by up to 4.9 s.
MIN_KEEPALIVE, KEEPALIVE = 5.0, 29.0
#: The bounds of [haas.ext.obm.ipmi] packet_timeout, and its default:
#: pyghmi's own for a logged-in session.
MIN_PACKET_TIMEOUT, MAX_PACKET_TIMEOUT, PACKET_TIMEOUT = 1.0, 10.0, 4.0
#: The port of IPMI over LAN.
IPMI_PORT = 623
#: How many BMC conversations a process holds at once; more wait.
WORKERS = 8
#: The API's boot devices, by pyghmi's names.
BOOT_DEVICES = {'pxe': 'network', 'disk': 'hd', 'none': 'default'}
#: IPMI's Chassis Control directives (IPMI 2.0, 28.3).
POWER_OFF, POWER_ON, POWER_CYCLE, HARD_RESET = 0, 1, 2, 3

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_bmc_locks: dict[tuple[str, int], threading.Lock] = {}
_guard = threading.Lock()


class Unanswered(Exception):
    """The BMC did not answer (pyghmi's session broke or timed out)."""


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    """The process's pool, made again in a child of a fork (a pool's
    threads do not follow the fork)."""
    global _pool, _pool_pid
    with _guard:
        if _pool is None or _pool_pid != os.getpid():
            _pool = concurrent.futures.ThreadPoolExecutor(
                WORKERS, thread_name_prefix='ipmi')
            _pool_pid = os.getpid()
            _bmc_locks.clear()
        return _pool


def _bmc_lock(address: tuple[str, int]) -> threading.Lock:
    # pyghmi gives a second caller of the same BMC and user the session
    # the first has open: one conversation per BMC at a time, so that one
    # call's logout does not end another's session.
    with _guard:
        return _bmc_locks.setdefault(address, threading.Lock())


def _config() -> typing.Any:
    from flask import current_app
    return current_app.extensions['haas'].config


def options() -> tuple[float, int, bool]:
    """(timeout, retries, persistent) of [haas.ext.obm.ipmi]; a bad value
    is the call's OBMError (a driver has no start-up hook)."""
    config = _config()
    text = config.get(SECTION, 'timeout')
    timeout = TIMEOUT
    if text:
        try:
            timeout = float(text)
        except ValueError:
            timeout = 0.0
        if not 0 < timeout <= 600:
            raise OBMError(f'[{SECTION}] timeout must be a number of '
                           f'seconds, more than 0 and at most 600, not '
                           f'{text!r}')
    text = config.get(SECTION, 'retries')
    retries = RETRIES
    if text:
        if not (text.isascii() and text.isdigit() and int(text) <= 10):
            raise OBMError(f'[{SECTION}] retries must be a whole number '
                           f'0-10, not {text!r}')
        retries = int(text)
    text = (config.get(SECTION, 'persistent_bootdev') or 'false').lower()
    if text not in ('true', 'false', 'yes', 'no', 'on', 'off', '1', '0'):
        raise OBMError(f'[{SECTION}] persistent_bootdev must be true or '
                       f'false, not {text!r}')
    return timeout, retries, text in ('true', 'yes', 'on', '1')


def _seconds(name: str, low: float, high: float, default: float) -> float:
    """[haas.ext.obm.ipmi] `name`, seconds from `low` to `high`;
    OBMError if it is bad."""
    text = _config().get(SECTION, name)
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not low <= seconds <= high:
        raise OBMError(f'[{SECTION}] {name} must be a number of seconds, '
                       f'{low:g}-{high:g}, not {text!r}')
    return seconds


def keepalive() -> float:
    """[haas.ext.obm.ipmi] keepalive: at most how many seconds an idle SOL
    session goes without a word to its BMC; OBMError if it is bad."""
    return _seconds('keepalive', MIN_KEEPALIVE, KEEPALIVE, KEEPALIVE)


def packet_timeout() -> float:
    """[haas.ext.obm.ipmi] packet_timeout: pyghmi's `maxtimeout` of a
    logged-in session, the longest it waits for the answer to a packet
    before it gives the BMC up; OBMError if it is bad."""
    return _seconds('packet_timeout', MIN_PACKET_TIMEOUT, MAX_PACKET_TIMEOUT,
                    PACKET_TIMEOUT)


def _split(host: str) -> tuple[str, int]:
    name, sep, port = host.rpartition(':')
    if not sep or (':' in name and not name.startswith('[')):
        return host.strip('[]'), IPMI_PORT
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f'has a bad port: {port!r} (HOST, HOST:PORT or '
                         f'[IPV6]:PORT, a port 1-65535)')
    return name.strip('[]'), int(port)


def address(host: str) -> tuple[str, int]:
    """(host, port) of a BMC's `host`, which may carry a port
    (``HOST:PORT``, ``[V6]:PORT``); a bare IPv6 address has none."""
    try:
        return _split(host)
    except ValueError as e:
        raise OBMError(f'The BMC address {host!r} {e}.') from None


def _checked(host: str) -> str:
    _split(host)
    return host


class BmcAddress(Kind):
    """A BMC's address: HOST, HOST:PORT or [IPV6]:PORT (UDP; 623 when
    not given)."""

    @classmethod
    def pydantic(cls) -> typing.Any:
        return string(1, MAX_NAME, label_check, _checked, pattern=LABEL)


def _answered(response: dict[str, typing.Any], what: str,
              host: str) -> dict[str, typing.Any]:
    """`response` of raw_command, once the BMC said yes."""
    if 'error' not in response:
        return response
    if response.get('code'):
        raise OBMError(f'BMC {host} refused {what}: {response["error"]} '
                       f'(completion code {response["code"]:#04x})')
    # No completion code: pyghmi gave up waiting.
    raise Unanswered(response['error'])


def converse(host: str, user: str, password: str,
             work: Callable[[typing.Any], typing.Any]) -> typing.Any:
    """`work(command)` with a pyghmi Command logged in to the BMC at
    `host`, tried again while the BMC does not answer, within the
    configured timeout; OBMError if it refuses or does not answer."""
    timeout, retries, _ = options()
    waits = packet_timeout()
    bmc_host, port = address(host)
    deadline = time.monotonic() + timeout
    lock = _bmc_lock((bmc_host, port))

    def attempt() -> typing.Any:
        from pyghmi import exceptions
        from pyghmi.ipmi import command
        with lock:
            try:
                # As bytes: pyghmi files a session being set up under
                # the credentials it is given and removes it under their
                # bytes, so that with text a later session of the same
                # BMC would be handed this one, logged out.
                session = command.Command(bmc_host, user.encode(),
                                          password.encode(), port=port)
            except exceptions.IpmiException as e:
                # pyghmi has no message for a BMC that never answered.
                if not str(e) or str(e) == 'None':
                    raise Unanswered() from None
                raise OBMError(f'BMC {host} refused the login: {e}') \
                    from None
            session.ipmi_session.maxtimeout = waits
            try:
                return work(session)
            except exceptions.IpmiException as e:
                if getattr(e, 'ipmicode', 0):
                    raise OBMError(f'BMC {host} refused: {e}') from None
                raise Unanswered(str(e)) from None
            finally:
                session.ipmi_session.logout()

    pool = _executor()
    for tries in range(1, retries + 2):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        future = pool.submit(attempt)
        try:
            return future.result(timeout=remaining)
        except concurrent.futures.TimeoutError:
            # Dropped if it has not started (the pool was busy); else it
            # ends by itself (pyghmi's own timeouts) and logs out, and
            # the caller does not wait for it.
            future.cancel()
            break
        except Unanswered as e:
            log.info('BMC %s did not answer: %s', host, e or 'no answer')
    else:
        raise OBMError(f'BMC {host} did not answer ({tries} '
                       f'{"try" if tries == 1 else "tries"}).')
    raise OBMError(f'BMC {host} did not answer within {timeout:g} s.')


class Ipmi(Obm):
    api_name = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
    __tablename__ = 'ipmi'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        host: BmcAddress
        user: Name
        password: Secret

    id = db.Column(db.ForeignKey('obm.id'), primary_key=True)
    #: The BMC's address, with its UDP port when not 623 (``HOST:PORT``).
    host = db.Column(db.String, nullable=False)
    user = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)

    def _converse(self, work: Callable[[typing.Any], typing.Any]) \
            -> typing.Any:
        return converse(self.host, self.user, self.password, work)

    def _chassis(self, command: typing.Any, directive: int,
                 what: str) -> None:
        _answered(command.raw_command(netfn=0, command=2, data=[directive]),
                  what, self.host)

    @staticmethod
    def _on(command: typing.Any, host: str) -> bool:
        status = _answered(command.raw_command(netfn=0, command=1),
                           'the power status', host)
        return bool(status['data'][0] & 1)

    @no_dry_run
    def power_on(self):
        self._converse(lambda c: self._chassis(c, POWER_ON, 'power on'))

    @no_dry_run
    def power_off(self):
        self._converse(lambda c: self._chassis(c, POWER_OFF, 'power off'))

    @no_dry_run
    def power_cycle(self, force=False):
        def cycle(c):
            # It boots from the device boot_device asked for, or else from
            # the network, as power_cycle always did.
            if not self._override(c):
                self._bootdev(c, 'pxe', False)
            if not self._on(c, self.host):
                # A node that is off cannot be cycled: switch it on.
                self._chassis(c, POWER_ON, 'power on')
            elif force:
                self._chassis(c, HARD_RESET, 'a hard reset')
            else:
                self._chassis(c, POWER_CYCLE, 'a power cycle')
        self._converse(cycle)

    @no_dry_run
    def power_status(self):
        on = self._converse(lambda c: self._on(c, self.host))
        return 'On' if on else 'Off'

    def _override(self, command: typing.Any) -> bool:
        """Whether the BMC holds a boot device to use (boot flags
        valid, parameter 5 of Get System Boot Options)."""
        flags = _answered(command.raw_command(netfn=0, command=9,
                                              data=(5, 0, 0)),
                          'the boot device', self.host)
        return bool(flags['data'][2] & 0x80)

    def _bootdev(self, command: typing.Any, bootdev: str,
                 persistent: bool) -> None:
        # Set System Boot Options, parameter 5 (boot flags), as pyghmi's
        # set_bootdev does, without its dict of errors.
        selector = {'network': 0x04, 'hd': 0x08, 'default': 0}[
            BOOT_DEVICES[bootdev]]
        _answered(command.raw_command(netfn=0, command=8, data=(3, 8)),
                  'the boot device', self.host)
        flags = 0 if selector == 0 else 0x80 | (0x40 if persistent else 0)
        _answered(command.raw_command(netfn=0, command=8,
                                      data=(5, flags, selector, 0, 0, 0)),
                  'the boot device', self.host)

    @no_dry_run
    def set_bootdev(self, bootdev):
        _, _, persistent = options()
        self._converse(lambda c: self._bootdev(c, bootdev, persistent))

    # The console: the log is kept in the database (haas.consoles), which
    # the console worker fills through open_console.
    @no_dry_run
    def start_console(self):
        consoles.start(self.node.id)

    @no_dry_run
    def stop_console(self):
        consoles.stop(self.node.id)

    @no_dry_run
    def delete_console(self):
        consoles.delete(self.node.id)

    @no_dry_run
    def get_console(self):
        return consoles.read(self.node.id)

    def open_console(self, output: Callable[[typing.Any], None],
                     force: bool = False) -> SolSession:
        """A serial-over-LAN session with the BMC, giving what the node
        writes to `output` (bytes; a dict with 'error' when it ends);
        with `force`, one another client holds is ended first."""
        return SolSession(self.host, self.user, self.password, output,
                          force)


def _console_class(waits: float) -> type:
    # pyghmi is imported when a console is opened, not with the driver.
    from pyghmi.ipmi import console

    class Console(console.Console):
        """pyghmi's SOL client, whose session never logs in again.

        pyghmi logs a session that stops answering in again, keeping
        the console object: but the SOL payload was the old session's,
        and a BMC that restarted knows nothing of it.  Worse, a close
        meanwhile waits for that login and its command (about 30 s), and
        a session abandoned half logged in finishes its login later on
        the socket pyghmi hands the node's next session.  With no login
        left, a keepalive that goes unanswered ends the session at once:
        its error reaches `output`, pyghmi logs it out without waiting
        (and off its socket), and the worker opens a new one.  How long
        "unanswered" is: `waits` ([haas.ext.obm.ipmi] packet_timeout).
        """

        def _got_session(self, response: dict[str, typing.Any]) -> None:
            super()._got_session(response)
            if self.activated and self.ipmi_session is not None:
                self.ipmi_session.logontries = 0
                self.ipmi_session.maxtimeout = waits

    return Console


class SolSession:
    """One SOL session, through pyghmi's console client.  pyghmi gives a
    second client of the same BMC in the same process the first one's
    session, so a power call's logout would end it: only the console
    worker, a process of its own, opens these."""

    def __init__(self, host: str, user: str, password: str,
                 output: Callable[[typing.Any], None], force: bool):
        from pyghmi import exceptions
        from pyghmi.ipmi.private import session
        bmc_host, port = address(host)
        # pyghmi's sessions send a keepalive when idle for MAX_IDLE
        # seconds, less up to 4.9 at random: the only way a session learns
        # that its BMC restarted or dropped it.  pyghmi has no setting for
        # it; the console worker alone holds SOL sessions in its process.
        session.MAX_IDLE = keepalive()
        kind = _console_class(packet_timeout())
        # Credentials as bytes: see converse.
        try:
            self.console = kind(
                bmc_host, user.encode(), password.encode(), output,
                port=port, force=force)
        except exceptions.IpmiException as e:
            raise OBMError(f'BMC {host}: {e or "no answer"}') from None

    @property
    def broken(self) -> bool:
        return bool(self.console.broken)

    @property
    def active(self) -> bool:
        return bool(self.console.activated)

    def close(self) -> None:
        from pyghmi import exceptions
        try:
            self.console.close()
            if self.console.ipmi_session is not None:
                self.console.ipmi_session.logout()
        except exceptions.IpmiException as e:
            log.debug('closing a SOL session: %s', e)

    @staticmethod
    def pump(timeout: float) -> None:
        """Wait up to `timeout` seconds for the BMCs' packets, handing
        them to the sessions they are for."""
        from pyghmi.ipmi import console
        console.Console.wait_for_rsp(timeout)

"""A simulated BMC: IPMI v2.0 over UDP (RMCP+, cipher suite 3), for the
IPMI OBM driver's tests and for trying HaaS without hardware.

The protocol is pyghmi's server side (`pyghmi.ipmi.bmc.Bmc`): the same
library the driver uses as a client, maintained by Lenovo's xCAT/Confluent
people, which does the RMCP+ session (RAKP, HMAC-SHA1, AES-CBC-128) so that
this module only says what the chassis does.  `ipmitool -I lanplus` talks to
it as to a real BMC.  What the node is doing (its power, the boot device
asked for, what it last booted from, the chassis commands it obeyed) lives
in a JSON file of the state folder, written whole under a lock, so that a
restarted simulator (a new process) and a test reading from outside see
the same chassis.

Serial over LAN carries the node's serial console (haas.simulators.serial):
its boot messages at a steady trickle, then a login prompt that echoes
what is typed; `ipmitool sol activate` shows it.  One SOL session at a
time; a new one takes over from the last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import typing
import uuid
from collections.abc import Iterator

from haas.simulators import serial

#: A chassis as it comes from the factory: off, no boot device asked for.
FACTORY: dict[str, typing.Any] = {
    'power': 'off', 'bootdev': 'default', 'persistent': False,
    'booted_from': None, 'history': []}
STATE, LOCK = 'bmc.json', 'lock'
#: How many of the last chassis commands the state keeps (`history`).
HISTORY = 50
#: IPMI's boot device selector (boot parameter 5, data 2 bits 5:2), by the
#: names pyghmi's client gives them.
DEVICES = {0: 'default', 1: 'network', 2: 'hd', 3: 'safe', 5: 'optical',
           6: 'setup', 15: 'floppy'}
#: Cipher suite 3's algorithms (authentication RAKP-HMAC-SHA1, integrity
#: HMAC-SHA1-96, confidentiality AES-CBC-128): the only one pyghmi serves.
SUITE_3 = (1, 1, 1)
#: RMCP+ status code: no cipher suite matches the proposed algorithms.
NO_CIPHER_SUITE_MATCH = 0x12
#: Serial over LAN's configuration (IPMI 2.0, 26.3), by parameter: set
#: complete; enabled; user privilege, not forced; 60 ms and 96 bytes to
#: send; 7 retries, 200 ms apart; 115200 bit/s, saved and now; channel 1;
#: the port (filled in: the BMC's).
SOL_REVISION = 0x11
SOL_PARAMETERS = {0: [0], 1: [1], 2: [2], 3: [12, 96], 4: [7, 20],
                  5: [10], 6: [10], 7: [1], 8: [0, 0]}
#: Completion code: parameter not supported (IPMI 2.0, table 28-14).
PARAMETER_NOT_SUPPORTED = 0x80
#: Completion code: invalid data field in request.
INVALID_DATA = 0xcc


class BmcState:
    """The simulated chassis, kept in `folder` (created if missing)."""

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._path(LOCK), 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _load(self) -> dict[str, typing.Any]:
        try:
            with open(self._path(STATE)) as f:
                found: dict[str, typing.Any] = json.load(f)
        except FileNotFoundError:
            found = {}
        state = json.loads(json.dumps(FACTORY))
        state.update(found)
        if 'uuid' not in state:
            state['uuid'] = str(uuid.uuid4())
        return state

    def read(self) -> dict[str, typing.Any]:
        """A copy of the chassis' state."""
        with self._locked():
            return self._load()

    @contextlib.contextmanager
    def changing(self) -> Iterator[dict[str, typing.Any]]:
        """The state, to change in place: written back (whole, replacing
        the file) when the block ends without an exception."""
        with self._locked():
            state = self._load()
            yield state
            path = self._path(STATE)
            with open(path + '.new', 'w') as f:
                json.dump(state, f, indent=1, sort_keys=True)
            os.replace(path + '.new', path)


def _command(state: dict[str, typing.Any], name: str) -> None:
    state['history'] = (state['history'] + [name])[-HISTORY:]


def _boot(state: dict[str, typing.Any]) -> None:
    """The node starts: it boots from the device asked for, which a BIOS
    forgets after one boot unless it was asked for persistently."""
    state['power'] = 'on'
    state['booted_from'] = state['bootdev']
    if not state['persistent']:
        state['bootdev'] = 'default'


def _send_unauthenticated(sock: typing.Any, payload_type: int,
                          payload: bytes, sockaddr: typing.Any) -> None:
    """Send an RMCP+ payload outside any session (session id and
    sequence number 0), as the answers of session set-up go."""
    from pyghmi.ipmi.private import session
    header = bytes([6, 0, 0xff, 7, 6, payload_type]) + bytes(8)
    session._io_sendto(sock, header + struct.pack('<H', len(payload))
                       + payload, sockaddr)


def _bmc_class() -> type:
    # pyghmi is imported when a BMC is served, not when the command line
    # is parsed (`haas-admin --help` stays fast).
    from pyghmi.ipmi import bmc

    class SimulatedBmc(bmc.Bmc):
        """pyghmi's BMC, with a chassis kept in a BmcState."""

        def __init__(self, state: BmcState, username: str, password: str,
                     host: str, port: int):
            self.state = state
            super().__init__({username: password}, port=port,
                             bmcuuid=uuid.UUID(state.read()['uuid']),
                             address=host)
            # pyghmi routes a client's packets to its session by the port
            # the BMC listens on: the one bound, when asked for port 0.
            self.port = self.serversocket.getsockname()[1]
            self.console = serial.SerialConsole(state.folder)
            # A node found on (a restarted simulator) is up already: at
            # its prompt, echoing.
            self.console.on = self.is_active()
            self.iohandler = self._typed
            # The server session that activated the SOL payload, if any.
            self.sol_session: typing.Any = None

        def sessionless_data(self, data: bytes,
                             sockaddr: typing.Any) -> None:
            # pyghmi's server answers every RMCP+ Open Session Request as
            # if it had proposed cipher suite 3, so that a client that
            # proposes another (pyghmi's own client starts with suite 17)
            # goes on with keys the BMC does not use.  A real BMC refuses
            # the proposal, and the client falls back to suite 3.
            packet = bytearray(data)
            if len(packet) >= 48 and packet[4] == 6 \
                    and packet[5] & 0x3f == 0x10:
                request = packet[16:]
                if (request[12], request[20], request[28]) != SUITE_3:
                    refusal = bytearray([request[0], NO_CIPHER_SUITE_MATCH,
                                         0, 0]) + request[4:8]
                    _send_unauthenticated(self.serversocket, 0x11,
                                          bytes(refusal), sockaddr)
                    return
            super().sessionless_data(data, sockaddr)

        def get_power_state(self) -> str:
            return str(self.state.read()['power'])

        def is_active(self) -> bool:
            return self.get_power_state() == 'on'

        def power_on(self) -> None:
            with self.state.changing() as state:
                _command(state, 'on')
                booting = state['power'] == 'off'
                if booting:
                    _boot(state)
            if booting:
                self.console.boot(state['booted_from'])

        def power_off(self) -> None:
            with self.state.changing() as state:
                _command(state, 'off')
                state['power'] = 'off'
            self.console.power_off()

        def power_shutdown(self) -> None:
            # A soft (ACPI) shutdown: the simulated OS obeys at once.
            with self.state.changing() as state:
                _command(state, 'shutdown')
                state['power'] = 'off'
            self.console.power_off()

        def _restart(self, name: str) -> int:
            with self.state.changing() as state:
                _command(state, name)
                if state['power'] == 'off':
                    # IPMI: a cycle or reset of a chassis that is off
                    # does nothing, and says so.
                    return 0xd5
                _boot(state)
            self.console.boot(state['booted_from'])
            return 0

        def power_cycle(self) -> int:
            return self._restart('cycle')

        def power_reset(self) -> int:
            return self._restart('reset')

        def get_system_boot_options(self, request: dict[str, typing.Any],
                                    session: typing.Any) -> None:
            # pyghmi's own answers a valid, one-boot override always; a
            # BMC with no override says the flags are not valid.
            if request['data'][0] != 5:
                session.send_ipmi_response(code=PARAMETER_NOT_SUPPORTED)
                return
            state = self.state.read()
            selector = {name: number for number, name in DEVICES.items()}[
                state['bootdev']]
            flags = 0 if selector == 0 else (
                0x80 | (0x40 if state['persistent'] else 0))
            session.send_ipmi_response(
                data=[1, 5, flags, selector << 2, 0, 0, 0])

        def set_system_boot_options(self, request: dict[str, typing.Any],
                                    session: typing.Any) -> None:
            data = request['data']
            if data[0] in (0, 3, 4):
                # Set in progress, boot info acknowledge, valid bit
                # clearing: ipmitool sends them around a change.
                session.send_ipmi_response()
                return
            if data[0] != 5 or len(data) < 3:
                session.send_ipmi_response(code=PARAMETER_NOT_SUPPORTED)
                return
            selector = (data[2] >> 2) & 0b1111
            if selector not in DEVICES:
                session.send_ipmi_response(code=INVALID_DATA)
                return
            valid = bool(data[1] & 0x80)
            with self.state.changing() as state:
                _command(state, 'bootdev')
                state['bootdev'] = DEVICES[selector] if valid else 'default'
                state['persistent'] = valid and bool(data[1] & 0x40)
            session.send_ipmi_response()

        def handle_raw_request(self, request: dict[str, typing.Any],
                               session: typing.Any) -> None:
            if request['netfn'] == 0x0c and request['command'] == 0x22:
                self._sol_parameter(request, session)
            elif request['netfn'] == 6 and request['command'] == 0x4b:
                self._payload_instance(request, session)
            else:
                super().handle_raw_request(request, session)

        def _payload_instance(self, request: dict[str, typing.Any],
                              session: typing.Any) -> None:
            # Get Payload Instance Info (IPMI v2.0, 24.5): the session
            # that holds SOL instance 1, 0 when none does.  pyghmi's
            # console asks it as its keepalive ([haas.ext.obm.ipmi]
            # keepalive), and ends a session that is told another (or an
            # error).
            data = request['data']
            if len(data) < 2:
                session.send_ipmi_response(code=INVALID_DATA)
                return
            owner = bytes(4)
            if data[0] == 1 and data[1] == 1 and self.sol_session:
                owner = bytes(self.sol_session.managedsessionid)
            session.send_ipmi_response(data=[*owner, *bytes(8)])

        def _sol_parameter(self, request: dict[str, typing.Any],
                           session: typing.Any) -> None:
            # Get SOL Configuration Parameters, which `ipmitool sol
            # activate` reads first (pyghmi's BMC has none).
            data = request['data']
            if len(data) < 2:
                session.send_ipmi_response(code=INVALID_DATA)
            elif data[0] & 0x80:  # the parameter's revision only
                session.send_ipmi_response(data=[SOL_REVISION])
            elif data[1] not in SOL_PARAMETERS:
                session.send_ipmi_response(code=PARAMETER_NOT_SUPPORTED)
            else:
                value = SOL_PARAMETERS[data[1]]
                if data[1] == 8:
                    value = list(struct.pack('<H', self.port))
                session.send_ipmi_response(data=[SOL_REVISION, *value])

        def activate_payload(self, request: dict[str, typing.Any],
                             session: typing.Any) -> None:
            # One SOL session at a time, as on a BMC; a new one takes
            # the port from the last (whose client may have gone without
            # deactivating it: a real BMC would time it out).  The sizes
            # and port least significant byte first, as IPMI says
            # (pyghmi's own sends the port the other way round).
            from pyghmi.ipmi import console
            self._drop_sol()
            self.activated = True
            # Before the answer: the client's keepalive may come in while
            # ServerConsole is being made, and must find its session.
            self.sol_session = session
            session.send_ipmi_response(
                data=[0, 0, 0, 0, *struct.pack('<HHH', 255, 255, self.port),
                      0xff, 0xff])
            self.sol = console.ServerConsole(session, self._typed)
            self.console.listener = self.sol.send_data

        def deactivate_payload(self, request: dict[str, typing.Any],
                               session: typing.Any) -> None:
            if not self.activated:
                session.send_ipmi_response(code=0x80)
                return
            session.send_ipmi_response()
            self._drop_sol()

        def _drop_sol(self) -> None:
            self.console.listener = None
            if self.sol is not None:
                self.sol.close()
            self.sol = self.sol_session = None
            self.activated = False

        def _typed(self, data: typing.Any) -> None:
            if isinstance(data, dict):  # the SOL session was lost
                self._drop_sol()
            else:
                self.console.typed(bytes(data))

        def tick(self) -> None:
            """What the BMC does between packets: the next line of a
            booting node's console."""
            self.console.tick()

    return SimulatedBmc


def serve(host: str, port: int, state_dir: str, username: str,
          password: str) -> None:
    """Serve one simulated BMC until SIGTERM or SIGINT; print ``listening
    on HOST:PORT`` once it takes packets."""
    from pyghmi.ipmi.private import session

    stopping = []

    def stop(number: int, frame: typing.Any) -> None:
        stopping.append(number)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, stop)
    device = _bmc_class()(BmcState(state_dir), username, password, host,
                          port)
    found_host, found_port = device.serversocket.getsockname()[:2]
    if found_host.startswith('::ffff:'):
        found_host = found_host[len('::ffff:'):]
    print(f'listening on {found_host}:{found_port}', flush=True)
    while not stopping:
        # pyghmi's wait is not cut short by a signal: the loop wakes
        # every serial.INTERVAL (a booting node's next line, or a stop
        # asked for), so that a stopped BMC is gone at once, as a
        # process that simply ends would be.
        session.Session.wait_for_rsp(serial.INTERVAL)
        device.tick()
    sys.stdout.flush()


@contextlib.contextmanager
def running(state_dir: str, username: str, password: str,
            host: str = '127.0.0.1',
            port: int = 0) -> Iterator[tuple[str, int]]:
    """A simulated BMC in a process of its own (`haas-admin simulate
    bmc`: pyghmi keeps its sessions in globals of the process), for as
    long as the block runs; (host, port) is where it listens."""
    command = [sys.executable, '-c',
               'from haas.commands import run; run()', 'simulate', 'bmc',
               '--listen', f'{host}:{port}', '--state', state_dir,
               '--username', username, '--password', password]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith('listening on '):
            raise RuntimeError(f'the simulated BMC did not start: {line!r}')
        found_host, _, found_port = line.split()[-1].rpartition(':')
        yield found_host, int(found_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

"""The SSH server of the simulated switches: a model's Shell behind
password authentication, an interactive terminal and a stable host key.

A model module writes its Shell (haas.simulators.cli) and a serve
function of MODELS' contract in one line::

    def serve(host, port, state_dir, username, password, latency):
        ssh.serve(MySwitch, host, port, state_dir, username, password,
                  latency)

Tests that do not need the process start the same server in a thread of
their own with `in_thread`.  A model with its own login prompts
(PowerConnect's) may also be served over telnet (haas.simulators.telnet):
the same Device, shell and state on a second port.

The terminal behaves as a switch's does: what is typed is echoed (a
password is not), a line ends with CR, LF or CR LF (paramiko's
``send('...\\n')``, the ``ssh`` command's or a telnet client's Enter),
backspace erases, lines go out ended by CR LF, long output is paged
until the model's paging command turns that off, and each command takes
`latency` seconds before its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import signal
import sys
import threading
import typing
import warnings
from collections.abc import Iterator, Sequence

from haas.simulators.cli import Ask, CLIError, Disconnect, Output, Shell
from haas.simulators.state import SwitchState

with warnings.catch_warnings():
    # asyncssh still imports cryptography's DSA, which warns on import
    # (CryptographyDeprecationWarning, a UserWarning).
    warnings.simplefilter('ignore')
    import asyncssh

#: The host key's file in the state folder: made once, so that a client
#: that recorded it (known_hosts) still trusts the device after a restart.
HOST_KEY = 'ssh_host_ed25519_key'
#: Tries of the login inside the session before the device hangs up.
LOGIN_TRIES = 3


def host_key(folder: str) -> asyncssh.SSHKey:
    """The device's host key, made the first time in `folder`."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, HOST_KEY)
    if not os.path.exists(path):
        key = asyncssh.generate_private_key('ssh-ed25519')
        new = f'{path}.{os.getpid()}.new'
        key.write_private_key(new)
        os.chmod(new, 0o600)
        # Two processes starting at once keep the first key.
        with contextlib.suppress(FileExistsError):
            os.link(new, path)
        os.remove(new)
    return asyncssh.read_private_key(path)


class Reader(typing.Protocol):
    """What a session reads the client's keys from: asyncssh's stdin,
    or telnetlib3's reader."""

    async def read(self, n: int = -1) -> str: ...


class _Keyboard:
    """What the client types, a key or a line at a time, with a CR LF
    counted as one end of line."""

    def __init__(self, stdin: Reader):
        self.stdin = stdin
        self.pending = ''
        self.after_cr = False

    async def key(self) -> str | None:
        """The next key; None at the end of input."""
        while True:
            if not self.pending:
                self.pending = await self.stdin.read(4096)
                if not self.pending:
                    return None
            key, self.pending = self.pending[0], self.pending[1:]
            after_cr, self.after_cr = self.after_cr, key == '\r'
            if key == '\n' and after_cr:
                continue
            return key

    async def line(self, echo: typing.Callable[[str], None]) -> str | None:
        """The next line, each key echoed through `echo`."""
        typed: list[str] = []
        while True:
            key = await self.key()
            if key is None:
                return None
            if key in '\r\n':
                echo('\r\n')
                return ''.join(typed)
            if key in '\x08\x7f':
                if typed:
                    typed.pop()
                    echo('\b \b')
            elif key == '\x03':  # Ctrl-C drops the line
                typed.clear()
                echo('^C\r\n')
                return ''
            elif key == '\x1b':  # an arrow key's escape sequence
                for _ in range(2):
                    await self.key()
            elif key.isprintable():
                typed.append(key)
                echo(key)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Device:
    """One simulated switch: the model's Shell for each SSH (or telnet)
    session, on the configuration kept in `state_dir`."""

    def __init__(self, model: type[Shell], state_dir: str, username: str,
                 password: str, latency: float = 0.0):
        self.model, self.state_dir = model, state_dir
        self.username, self.password = username, password
        self.latency = latency
        #: The commands answered so far, each of which took `latency`:
        #: how long a client's work on the device must take at least.
        self.commands = 0
        self.state = SwitchState(state_dir, model.ports)
        #: The open connections (asyncssh's, telnetlib3's writers):
        #: what `hang_up` closes.
        self.connections: set[typing.Any] = set()
        #: The event loop that serves it, once started.
        self.loop: asyncio.AbstractEventLoop | None = None
        #: The servers listening, SSH's first.
        self.listeners: list[typing.Any] = []
        self.address: tuple[str, int] = ('', 0)
        self.telnet_address: tuple[str, int] | None = None

    def accepts(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username.encode(),
                                   self.username.encode()) & \
            hmac.compare_digest(password.encode(), self.password.encode())

    async def start(self, host: str, port: int) -> tuple[str, int]:
        device = self
        self.loop = asyncio.get_running_loop()

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection
                                ) -> None:
                self.conn = conn
                device.connections.add(conn)

            def connection_lost(self, exc: Exception | None) -> None:
                device.connections.discard(self.conn)

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str,
                                  password: str) -> bool:
                return device.accepts(username, password)

        server = await asyncssh.create_server(
            Server, host, port, server_host_keys=[host_key(self.state_dir)],
            process_factory=self.session, line_editor=False,
            allow_scp=False, agent_forwarding=False,
            x11_forwarding=False)
        self.listeners.append(server)
        found = server.sockets[0].getsockname()
        self.address = (found[0], found[1])
        return self.address

    async def start_telnet(self, host: str, port: int) -> tuple[str, int]:
        """Serve the same device over telnet too."""
        from haas.simulators import telnet
        self.telnet_address = await telnet.start(self, host, port)
        return self.telnet_address

    async def stop(self) -> None:
        """Stop listening and hang up on every session."""
        for server in self.listeners:
            server.close()
            await server.wait_closed()
        self.listeners.clear()
        self.hang_up()

    def hang_up(self) -> None:
        """Close every open session, from the device's event loop or from
        another thread (a test's): a transport closed outside its loop
        would wait for the loop's next wake-up, a client's next packet."""
        loop = self.loop
        if loop is not None and loop.is_running() and \
                _running_loop() is not loop:
            asyncio.run_coroutine_threadsafe(self._hang_up(),
                                             loop).result(30)
            return
        for conn in list(self.connections):
            conn.close()

    async def _hang_up(self) -> None:
        self.hang_up()

    async def session(self, process: asyncssh.SSHServerProcess[str]
                      ) -> None:
        try:
            await self.converse(process.stdin, process.stdout.write)
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
            pass
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            return
        finally:
            process.exit(0)

    async def converse(self, stdin: Reader,
                       write: typing.Callable[[str], None]) -> None:
        """One session of the shell, whatever carries it: the login
        (when the model has one), then commands until the client leaves
        or the shell hangs up."""
        keyboard = _Keyboard(stdin)
        shell = self.model(self.state)

        def lines(found: Sequence[str]) -> None:
            write(''.join(line + '\r\n' for line in found))

        if shell.login and not await self._login(shell, keyboard, write):
            return
        while True:
            write(shell.prompt())
            line = await keyboard.line(write)
            if line is None:
                return
            if not line.strip():
                continue
            self.commands += 1
            if self.latency:
                await asyncio.sleep(self.latency)
            try:
                answer = shell.execute(line)
                if isinstance(answer, Ask):
                    write(answer.question)
                    key = await keyboard.key()
                    if key is None:
                        return
                    write((key if key.isprintable() else '') + '\r\n')
                    answer = answer.then(key in 'yY')
            except CLIError as e:
                answer = e.lines
            except Disconnect as e:
                lines(e.lines)
                if e.everyone:
                    self.hang_up()
                return
            if not await self._page(shell, answer, keyboard, write):
                return

    async def _login(self, shell: Shell, keyboard: _Keyboard,
                     write: typing.Callable[[str], None]) -> bool:
        assert shell.login is not None
        user_prompt, password_prompt = shell.login
        for _ in range(LOGIN_TRIES):
            write(user_prompt)
            username = await keyboard.line(write)
            if username is None:
                return False
            write(password_prompt)
            password = await keyboard.line(
                lambda text: write(text if text == '\r\n' else ''))
            if password is None:
                return False
            if self.accepts(username, password):
                write('\r\n')
                return True
            write('Authentication failed!\r\n\r\n')
        return False

    async def _page(self, shell: Shell, answer: Output, keyboard: _Keyboard,
                    write: typing.Callable[[str], None]) -> bool:
        """Print `answer` a page at a time while the shell pages; False if
        the client went away meanwhile."""
        found = list(answer or [])
        page = shell.page_lines if shell.paging else len(found) or 1
        shown = min(page, len(found))
        write(''.join(line + '\r\n' for line in found[:shown]))
        while shown < len(found):
            write(shell.more)
            key = await keyboard.key()
            write('\r' + ' ' * len(shell.more) + '\r')
            if key is None:
                return False
            if key in 'qQ\x1a':
                break
            step = 1 if key in '\r\n' else page
            write(''.join(line + '\r\n'
                          for line in found[shown:shown + step]))
            shown += step
        return True


def serve(model: type[Shell], host: str, port: int, state_dir: str,
          username: str, password: str, latency: float,
          telnet: tuple[str, int] | None = None) -> None:
    """Serve `model` until SIGTERM or SIGINT (haas.simulators' serve
    contract): prints ``listening on HOST:PORT`` once it accepts, and
    ``answered N commands`` as it stops (what a benchmark's ideal time
    is counted from).  With `telnet` (host, port), the device is also
    served over telnet there, and prints ``telnet on HOST:PORT`` once
    that accepts too."""
    async def run() -> None:
        device = Device(model, state_dir, username, password, latency)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stopping.set)
        found_host, found_port = await device.start(host, port)
        if telnet is not None:
            telnet_host, telnet_port = await device.start_telnet(*telnet)
        print(f'listening on {found_host}:{found_port}', flush=True)
        if telnet is not None:
            print(f'telnet on {telnet_host}:{telnet_port}', flush=True)
        await stopping.wait()
        await device.stop()
        print(f'answered {device.commands} commands', flush=True)
    asyncio.run(run())
    sys.stdout.flush()


@contextlib.contextmanager
def in_thread(model: type[Shell], state_dir: str, username: str,
              password: str, latency: float = 0.0, host: str = '127.0.0.1',
              port: int = 0, telnet_port: int | None = None
              ) -> Iterator[Device]:
    """A Device served by an event loop in a thread of its own, for as
    long as the block runs; its `address` is where it listens, and with
    `telnet_port` (0: any free port) its `telnet_address` where it
    listens for telnet."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True,
                              name=f'simulated {model.__name__}')
    thread.start()
    device = Device(model, state_dir, username, password, latency)
    try:
        asyncio.run_coroutine_threadsafe(device.start(host, port),
                                         loop).result(30)
        if telnet_port is not None:
            asyncio.run_coroutine_threadsafe(
                device.start_telnet(host, telnet_port), loop).result(30)
        yield device
    finally:
        asyncio.run_coroutine_threadsafe(device.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()

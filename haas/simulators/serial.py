"""The serial console of a simulated node, which its BMC carries over LAN
(serial over LAN, haas.simulators.bmc).

A node that boots writes its firmware's and kernel's messages one line at
a time, at a steady trickle, then a login prompt; what is typed at the
prompt is echoed, and a line ends with the prompt again.  Everything the
node writes is appended to `console.log` in the BMC's state folder (its
last LOG_KEEP bytes), whether or not anyone is connected, as a serial
line's far end would see it; `listener`, when set, gets it as it is
written (the SOL session).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: Seconds between two lines of a booting node.
INTERVAL = 0.05
#: How much of its output the log keeps, and when it is cut back to it.
LOG_KEEP, LOG_LIMIT = 64 * 1024, 128 * 1024
LOG = 'console.log'
#: What the node boots from, as the BMC names devices, and as it says it.
DEVICES = {'network': 'PXE (network)', 'hd': 'hard disk',
           'default': 'the firmware\'s boot order'}


def boot_lines(device: str, hostname: str) -> list[str]:
    """What the node writes from power on to its login prompt."""
    return [
        'HaaS simulated node, BIOS 1.0 (serial console 115200 8N1)',
        'Memory test: 65536M OK',
        f'Booting from {DEVICES.get(device, device)}...',
        '[    0.000000] Linux version 6.1.0-haas (simulated)',
        '[    0.000000] Command line: console=ttyS0,115200n8',
        '[    0.104512] Serial: 8250/16550 driver, 4 ports',
        '[    1.208331] EXT4-fs (sda1): mounted filesystem',
        '[    2.516002] systemd[1]: Reached target multi-user.target',
        '',
        f'Debian GNU/Linux 12 {hostname} ttyS0',
        '',
    ]


class SerialConsole:
    """A node's serial port, its output kept in `folder`."""

    def __init__(self, folder: str, hostname: str = 'node'):
        self.path = os.path.join(folder, LOG)
        self.hostname = hostname
        self.pending: list[str] = []
        self.next_at = 0.0
        self.on = False
        self.typed_line = ''
        #: Who reads the port as it is written (a SOL session), if any.
        self.listener: Callable[[str], None] | None = None

    @property
    def prompt(self) -> str:
        return f'{self.hostname} login: '

    def boot(self, device: str) -> None:
        """The node (re)starts, from `device`."""
        self.on = True
        self.typed_line = ''
        self.pending = boot_lines(device, self.hostname)
        self.next_at = time.monotonic()

    def power_off(self) -> None:
        self.on = False
        self.pending = []

    def tick(self) -> None:
        """Write the next line of a boot, when its time has come."""
        if not self.pending or time.monotonic() < self.next_at:
            return
        line = self.pending.pop(0)
        self.write(line + '\r\n' + ('' if self.pending else self.prompt))
        self.next_at = time.monotonic() + INTERVAL

    def typed(self, data: bytes) -> None:
        """What arrives on the port: echoed at the prompt (a node that
        is off or still booting ignores it)."""
        if not self.on or self.pending:
            return
        for char in data.decode('ascii', 'replace'):
            if char in '\r\n':
                self.typed_line = ''
                self.write('\r\n' + self.prompt)
            elif char in '\x7f\b':
                if self.typed_line:
                    self.typed_line = self.typed_line[:-1]
                    self.write('\b \b')
            elif char.isprintable():
                self.typed_line += char
                self.write(char)

    def write(self, text: str) -> None:
        with open(self.path, 'ab') as f:
            f.write(text.encode())
            size = f.tell()
        if size > LOG_LIMIT:
            with open(self.path, 'rb') as f:
                f.seek(-LOG_KEEP, os.SEEK_END)
                kept = f.read()
            with open(self.path + '.new', 'wb') as f:
                f.write(kept)
            os.replace(self.path + '.new', self.path)
        if self.listener is not None:
            self.listener(text)

    def log(self) -> str:
        """What the node wrote, its last LOG_KEEP bytes at least."""
        try:
            with open(self.path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

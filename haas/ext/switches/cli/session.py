"""A switch session that configures ports' VLANs through a command line.

HaaS speaks of channels (``vlan/native``, ``vlan/<id>``); a switch of
a port's native (untagged) VLAN and its tagged ones.  `VlanSession`
reads a port (`read_port`, the driver's parse of the device's `show`),
works out the commands that take it where the action wants, and sends
them in the order operators want:

- a native VLAN is attached first and removed last: set before the port
  comes up or gains tagged VLANs, taken away after them;
- a port that is left carrying nothing is shut down, or, with a parking
  VLAN, left up as an untagged member of that VLAN only;
- a port without a native VLAN is never left on VLAN 1 (the VLAN such
  switches put a new trunk, or one whose native VLAN is removed, in):
  it is parked, or taken out of VLAN 1.

A driver subclasses it with its device's login (`open`), its reading of
a port and its VLANs, and its command templates (the class attributes
below, PowerConnect's by default).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterable

from haas.errors import SwitchError
from haas.ext.switches.cli.expect import Terminal

if typing.TYPE_CHECKING:
    from haas.model import NetworkingAction

#: The VLAN switches put every port in, which HaaS never hands out.
DEFAULT_VLAN = 1
NATIVE = 'vlan/native'


@dataclasses.dataclass
class PortState:
    """A port as the switch reports it: trunk or not, its untagged VLAN
    (None: none) and its tagged VLANs."""
    trunk: bool
    native: int | None
    tagged: frozenset[int]


def vlans(numbers: Iterable[int]) -> str:
    return ','.join(str(n) for n in sorted(numbers))


class VlanSession:
    """A SwitchSession (haas.drivers) over a console (SSH's or telnet's
    Terminal); see above."""

    #: The device's prompt at the end of what it prints, and its error
    #: lines.
    prompt = re.compile(r'[\r\n][^\r\n]*?[>#] ?$')
    error = re.compile(r'^\s*%')
    #: Command templates of the device, in its config-if mode.
    configure_port = ('configure', 'interface {port}')
    leave = ('end',)
    mode_trunk = ('switchport mode trunk',)
    set_native = ('switchport trunk native vlan {vlan}',)
    no_native = ('no switchport trunk native vlan',
                 'switchport trunk allowed vlan remove 1')
    add_tagged = ('switchport trunk allowed vlan add {vlans}',)
    remove_tagged = ('switchport trunk allowed vlan remove {vlans}',)
    shutdown = ('shutdown',)
    no_shutdown = ('no shutdown',)

    def __init__(self, console: Terminal, parking_vlan: int | None = None,
                 save: bool = False):
        self.console = console
        self.parking_vlan = parking_vlan
        self.save = save
        self.known_vlans: set[int] | None = None

    # What a driver writes for its device.

    def open(self) -> None:
        """Log in, reach the privileged mode, stop paging."""
        raise NotImplementedError

    def read_port(self, label: str) -> PortState:
        raise NotImplementedError

    def read_vlans(self) -> set[int]:
        """The VLANs the switch has."""
        raise NotImplementedError

    def create_vlans(self, numbers: set[int]) -> None:
        raise NotImplementedError

    def save_config(self) -> None:
        """Make the running configuration the one the switch starts
        with."""
        raise NotImplementedError

    # The SwitchSession.

    def run(self, line: str) -> str:
        return self.console.command(line, self.prompt, self.error)

    def apply_networking(self, action: NetworkingAction) -> None:
        label = action.nic.port.label
        now = self.read_port(label)
        native, tagged = self._haas_native(now), set(now.tagged)
        vlan = None if action.new_network is None else \
            self._vlan(action.new_network.network_id)
        if action.channel == NATIVE:
            native = vlan
        else:
            channel = self._vlan(action.channel.partition('/')[2])
            if vlan is None:
                tagged.discard(channel)
            else:
                tagged.add(vlan)
        self._configure(label, now, native, tagged)

    def revert_port(self, label: str) -> None:
        self._configure(label, self.read_port(label), None, set())

    def port_networks(self, label: str) -> dict[str, str]:
        now = self.read_port(label)
        carried = {f'vlan/{v}': str(v) for v in now.tagged
                   if v not in (DEFAULT_VLAN, self.parking_vlan)}
        native = self._haas_native(now)
        if native is not None:
            carried[NATIVE] = str(native)
        return carried

    def disconnect(self) -> None:
        self.console.close()

    # The plan.

    def _vlan(self, text: str) -> int:
        if not (text.isascii() and text.isdigit()
                and 1 < int(text) < 4095):
            raise SwitchError(f'{text!r} is not a VLAN that '
                              f'{self.console.where()} can carry')
        return int(text)

    def _haas_native(self, port: PortState) -> int | None:
        """The native VLAN HaaS put on the port: not VLAN 1, nor the
        parking VLAN, nor any of an access port."""
        if not port.trunk or port.native in (DEFAULT_VLAN,
                                             self.parking_vlan):
            return None
        return port.native

    def _configure(self, label: str, now: PortState, native: int | None,
                   tagged: set[int]) -> None:
        """Take port `label` from `now` to `native` and `tagged`."""
        idle_native = self.parking_vlan  # what "no native VLAN" is
        wanted_native = native if native is not None else idle_native
        needed = set(tagged - now.tagged)
        if wanted_native is not None:
            needed.add(wanted_native)
        self._ensure_vlans(needed)
        carries = native is not None or bool(tagged)
        up = carries or self.parking_vlan is not None
        lines: list[str] = []
        device_native = now.native if now.trunk else DEFAULT_VLAN
        if not now.trunk:
            # A new trunk comes up on VLAN 1: down until it is set.
            lines += [*self.shutdown, *self.mode_trunk]
            now = PortState(True, DEFAULT_VLAN, frozenset())
            down = True
        else:
            down = None  # unknown: said below when it matters
        # Native first...
        if wanted_native is not None and wanted_native != device_native:
            lines += [t.format(vlan=wanted_native) for t in self.set_native]
            device_native = wanted_native
        added, removed = tagged - now.tagged, now.tagged - tagged
        if added:
            lines += [t.format(vlans=vlans(added)) for t in self.add_tagged]
        if removed:
            lines += [t.format(vlans=vlans(removed))
                      for t in self.remove_tagged]
        # ...and removed last, never falling back to VLAN 1 while up.
        if wanted_native is None and device_native is not None:
            if down is not True:
                lines += list(self.shutdown)
                down = True
            lines += list(self.no_native)
        if not up and down is not True:
            lines += list(self.shutdown)
        elif up and (down is True or lines):
            lines += list(self.no_shutdown)
        if not lines:
            return
        for line in self.configure_port:
            self.run(line.format(port=label))
        for line in lines:
            self.run(line)
        for line in self.leave:
            self.run(line)
        if self.save:
            self.save_config()

    def _ensure_vlans(self, numbers: set[int]) -> None:
        if not numbers:
            return
        if self.known_vlans is None:
            self.known_vlans = self.read_vlans()
        missing = numbers - self.known_vlans
        if missing:
            self.create_vlans(missing)
            self.known_vlans |= missing

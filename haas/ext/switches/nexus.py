"""Driver for Cisco Nexus 5500 switches (NX-OS), over SSH.

`hostname` is the switch's address, with its SSH port if not 22
(``10.0.0.5:2222``).  The driver makes each port a trunk that allows
only the VLANs HaaS gives it, creates those VLANs, and follows the
operators' order: the native VLAN on first, off last.  NX-OS has no
trunk without a native VLAN: when no network is native, the port's
native VLAN is the switch's `dummy_vlan` (never VLAN 1), kept out of
its allowed VLANs so that it carries nothing.  With `save`, each change
is copied to the startup configuration.
"""

from __future__ import annotations

import os
import re
import typing

from haas import migrations
from haas.crypto import Encrypted
from haas.errors import SwitchError
from haas.ext.switches.cli import options
from haas.ext.switches.cli.console import Console
from haas.ext.switches.cli.session import PortState, VlanSession
from haas.model import Switch, db
from haas.rest import Body, Kind, Name, Secret

if typing.TYPE_CHECKING:
    from haas.model import NetworkingAction


def _vlan_number(value):
    # Anything int() takes, in 0..4096, as HaaS 0.2 accepted it; kept as text.
    if isinstance(value, bool):
        raise ValueError('must be a VLAN number')
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError('must be a VLAN number') from None
    if not 0 <= number <= 4096:
        raise ValueError('must be between 0 and 4096')
    return str(number)


class DummyVlan(Kind):
    """A VLAN number, given as a JSON number or as text."""

    @classmethod
    def pydantic(cls):
        import pydantic
        return typing.Annotated[
            typing.Union[int, str],
            pydantic.WithJsonSchema({'anyOf': [
                {'type': 'integer', 'minimum': 0, 'maximum': 4096},
                {'type': 'string'}]}),
            pydantic.PlainValidator(_vlan_number)]


migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'nexus')

#: A port as the switch writes it: `Ethernet<slot>/<port>` on the switch
#: and its expansion modules, `Ethernet<fex>/1/<port>` on a Nexus 2000
#: fabric extender (100-199) attached to it.
PORT_NAME = re.compile(r'Ethernet([1-4])/([1-9][0-9]?)'
                       r'|Ethernet(1[0-9][0-9])/1/([1-9][0-9]?)')
#: Every VLAN: what a trunk allows until told otherwise.
ALL = frozenset(range(1, 4095))


class Nexus(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/nexus'
    __tablename__ = 'nexus'
    __mapper_args__ = {'polymorphic_identity': api_name}

    class Fields(Body):
        hostname: Name
        username: Name
        password: Secret
        dummy_vlan: DummyVlan
        #: Copy the running configuration to the startup one after each
        #: change, so that it survives a reboot.
        save: bool = False

    id = db.Column(db.ForeignKey('switch.id'), primary_key=True)
    hostname = db.Column(db.String, nullable=False)
    username = db.Column(db.String, nullable=False)
    # A Fernet token in the database (haas.crypto); text here.
    password = db.Column(Encrypted, nullable=False)
    # A VLAN number kept as text, as HaaS 0.2 stored it.
    dummy_vlan = db.Column(db.String, nullable=False)
    save = db.Column(db.Boolean, nullable=False, default=False,
                     server_default=db.false())

    def session(self) -> NexusSession:
        console = options.console(self, __name__)
        session = NexusSession(console, int(self.dummy_vlan),
                               bool(self.save))
        session.open()
        return session

    @classmethod
    def validate_port_name(cls, label: str) -> None:
        match = PORT_NAME.fullmatch(label)
        if match is None or int(match[2] or match[4]) > 48:
            raise ValueError(
                'a Nexus 5500 names its ports Ethernet<slot>/<port> (slots '
                '1-4, ports 1-48, as Ethernet1/5), or Ethernet<fex>/1/<port> '
                'on a fabric extender (100-199)')

    def get_capabilities(self) -> list[str]:
        # A trunk without a native network: its native VLAN is then the
        # dummy VLAN, which it does not allow.
        return ['nativeless-trunk-mode']


#: Fields of `show interface ... switchport`.
MODE = re.compile(r'^\s*Operational Mode:\s*(\S+)', re.MULTILINE)
NATIVE = re.compile(r'^\s*Trunking Native Mode VLAN:\s*(\d+)', re.MULTILINE)
#: A long list goes on, indented, on the lines below.
ALLOWED = re.compile(r'^\s*Trunking VLANs Allowed:(.*(?:\n\s+[\d,-]+\s*$)*)',
                     re.MULTILINE)
#: A row of `show vlan brief`: the VLAN number first.
VLAN_ROW = re.compile(r'^(\d+)\s', re.MULTILINE)


def vlan_set(text: str) -> frozenset[int] | None:
    """`105,106,200-202` (or `none`) as the VLANs it names; None if it is
    not such a list."""
    text = re.sub(r'\s+', '', text)
    if text.lower() == 'none':
        return frozenset()
    found: set[int] = set()
    for part in text.split(','):
        match = re.fullmatch(r'(\d{1,4})(?:-(\d{1,4}))?', part)
        if match is None:
            return None
        found.update(range(int(match[1]), int(match[2] or match[1]) + 1))
    return frozenset(found)


def switchport(shown: str) -> NexusPort | None:
    """A port as `show interface ... switchport` describes it; None if
    the text says less."""
    mode, native = MODE.search(shown), NATIVE.search(shown)
    listed = ALLOWED.search(shown)
    allowed = None if listed is None else vlan_set(listed[1])
    if mode is None or native is None or allowed is None:
        return None
    return NexusPort(mode[1].lower() == 'trunk', int(native[1]), allowed)


def vlan_list(numbers: typing.Iterable[int]) -> str:
    return ','.join(str(n) for n in sorted(numbers))


class NexusPort(PortState):
    """A port as NX-OS reports it.  `native` is what HaaS reads as the
    port's untagged VLAN: the trunk's native VLAN while it is allowed,
    else None; `device_native` is the setting, allowed or not; `allowed`
    the trunk's allowed VLANs (ALL as the device comes)."""

    def __init__(self, trunk: bool, device_native: int,
                 allowed: frozenset[int]):
        native = device_native if trunk and device_native in allowed \
            else None
        tagged = allowed - {device_native} if trunk else frozenset()
        super().__init__(trunk, native, frozenset(tagged))
        self.device_native, self.allowed = device_native, allowed


class NexusSession(VlanSession):
    """An NX-OS command line: `switch#`, `switch(config-if)#`; refusals
    on lines starting with `%` or `ERROR:`.

    The shared VlanSession's plan (haas.ext.switches.cli.session) shuts
    idle ports down and takes VLAN 1 off a trunk; NX-OS ports instead
    carry an allowed list that holds the native VLAN too, and fall back
    to the dummy VLAN, so `_configure` is NX-OS's own.  The dummy VLAN
    is the base's parking VLAN: never reported as a network of the port.
    """

    error = re.compile(r'^\s*(%|ERROR:)')

    def __init__(self, console: Console, dummy_vlan: int,
                 save: bool = False):
        super().__init__(console, parking_vlan=dummy_vlan, save=save)
        self.dummy_vlan = dummy_vlan

    def open(self) -> None:
        console = self.console
        console.connect()
        try:
            # NX-OS asks nothing after SSH's login: its banner, a prompt.
            console.expect(self.prompt)
            self.run('terminal length 0')
        except BaseException:
            console.close()
            raise

    def read_port(self, label: str) -> NexusPort:
        shown = self.run(f'show interface {label} switchport')
        found = switchport(shown)
        if found is None:
            raise SwitchError(f'{self.console.where()} did not say how port '
                              f'{label} is set: {shown[:200]!r}')
        return found

    def read_vlans(self) -> set[int]:
        return {int(n) for n in VLAN_ROW.findall(self.run('show vlan brief'))}

    def create_vlans(self, numbers: set[int]) -> None:
        for line in ('configure terminal', f'vlan {vlan_list(numbers)}',
                     'end'):
            self.run(line)

    def save_config(self) -> None:
        output = self.run('copy running-config startup-config')
        if 'Copy complete' not in output:
            raise SwitchError(f'{self.console.where()} did not save its '
                              f'configuration: {output.strip()[-200:]!r}')

    def apply_networking(self, action: NetworkingAction) -> None:
        label = action.nic.port.label
        now = self.read_port(label)
        native, tagged = self._haas_native(now), set(now.tagged)
        if now.allowed == ALL:
            # A trunk as it comes, or not HaaS's: it starts from nothing.
            native, tagged = None, set()
        tagged.discard(self.dummy_vlan)
        vlan = None if action.new_network is None else \
            self._vlan(action.new_network.network_id)
        if action.channel == 'vlan/native':
            native = vlan
        else:
            channel = self._vlan(action.channel.partition('/')[2])
            if vlan is None:
                tagged.discard(channel)
            else:
                tagged.add(vlan)
        self._configure(label, now, native, tagged)

    def _configure(self, label: str, now: PortState, native: int | None,
                   tagged: set[int]) -> None:
        """Take port `label` from `now` to carry `native` untagged (or
        nothing, its native VLAN the dummy one) and `tagged`."""
        assert isinstance(now, NexusPort)
        lines = plan(now, native, tagged, self.dummy_vlan)
        if not lines:
            return
        allowed = set() if now.allowed == ALL else set(now.allowed)
        self._ensure_vlans(set(tagged) - allowed |
                           ({native} - allowed if native else set()))
        for line in ('configure terminal', f'interface {label}', *lines,
                     'end'):
            self.run(line)
        if self.save:
            self.save_config()


def plan(now: NexusPort, native: int | None, tagged: set[int],
         dummy: int) -> list[str]:
    """The config-if lines that take port `now` to `native` and `tagged`,
    in the operators' order: a new native VLAN before the tagged ones,
    an old one removed after them; a port still in access mode is made a
    trunk last, once it allows only what it should."""
    allowed = set(now.allowed)
    lines: list[str] = []
    if now.allowed == ALL:
        lines.append('switchport trunk allowed vlan none')
        allowed = set()
    wanted = set(tagged) | ({native} if native is not None else set())
    if native is not None:
        if now.device_native != native:
            lines.append(f'switchport trunk native vlan {native}')
        if native not in allowed:
            lines.append(f'switchport trunk allowed vlan add {native}')
    added = wanted - allowed - {native}
    if added:
        lines.append(f'switchport trunk allowed vlan add {vlan_list(added)}')
    removed = allowed - wanted
    last = {now.device_native} & removed if native is None else set()
    if removed - last:
        lines.append(f'switchport trunk allowed vlan remove '
                     f'{vlan_list(removed - last)}')
    if native is None:
        if last:
            lines.append(f'switchport trunk allowed vlan remove '
                         f'{vlan_list(last)}')
        if now.device_native != dummy:
            lines.append(f'switchport trunk native vlan {dummy}')
    if not now.trunk:
        lines.append('switchport mode trunk')
    return lines

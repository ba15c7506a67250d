"""Driver for Dell N3000-series switches (N3024, N3048: Dell Networking
OS6), over SSH.

Registered as upstream HIL's ``delln3000``: `hostname` (with its SSH
port if not 22, ``10.0.0.5:2222``), `username`, `password`, and
`dummy_vlan`, a VLAN that carries nothing.  An N3000 trunk always has a
native VLAN, so a port that should have none gets `dummy_vlan` as its
native VLAN, taken off the trunk's allowed VLANs: untagged frames go
nowhere, and the port is never left on VLAN 1.  With `save`, each
change is copied to the startup configuration.

Ports are configured as trunks, in the operators' order of
haas.ext.switches.cli.session: native VLAN first on and last off, a port
carrying nothing shut down, or parked on `[haas.ext.switches.n3000]
parking_vlan`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing

from haas import migrations
from haas.crypto import Encrypted
from haas.errors import SwitchError
from haas.ext.switches.cli import options
from haas.ext.switches.cli.console import Console
from haas.ext.switches.cli.session import (
    DEFAULT_VLAN,
    PortState,
    VlanSession,
)
from haas.fields import Kind
from haas.model import Switch, db
from haas.rest import Body, Name, Secret

migrations.paths[__name__] = os.path.join(
    os.path.dirname(__file__), 'migrations', 'n3000')

#: The VLANs an N3000 has (a trunk allows them all until told otherwise).
LAST_VLAN = 4093
EVERY_VLAN = f'1-{LAST_VLAN}'
#: Interface types by the short name the device writes, and the long
#: name its CLI also takes (any abbreviation of it, two letters or more).
TYPES = {'gi': 'gigabitethernet', 'te': 'tengigabitethernet'}
#: The ports of each unit of a stack (1-12): gi<unit>/0/<1-48>, and
#: te<unit>/0/<1-4> on its module and SFP+ ports.
PORTS = {'gi': 48, 'te': 4}
PORT_NAME = re.compile(r'([a-z]+)(1[0-2]|[1-9])/0/([1-9][0-9]?)',
                       re.IGNORECASE)


def _vlan_number(value: typing.Any) -> int:
    # HIL took the dummy VLAN as a number or as its digits.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 2 <= value <= LAST_VLAN:
        raise ValueError(f'must be a VLAN number, 2-{LAST_VLAN}')
    return value


class DummyVlan(Kind):
    """A VLAN number, 2-4093, as a JSON number or a string of digits."""

    @classmethod
    def pydantic(cls) -> typing.Any:
        import pydantic
        return typing.Annotated[
            typing.Union[int, str], pydantic.BeforeValidator(_vlan_number),
            pydantic.Field(json_schema_extra={
                'description': f'a VLAN number, 2-{LAST_VLAN}, that '
                               f'carries nothing'})]


class DellN3000(Switch):
    api_name = 'http://schema.massopencloud.org/haas/v0/switches/delln3000'
    __tablename__ = 'dell_n3000'
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
    dummy_vlan = db.Column(db.Integer, nullable=False)
    save = db.Column(db.Boolean, nullable=False, default=False,
                     server_default=db.false())

    def session(self) -> N3000Session:
        console = options.console(self, __name__)
        session = N3000Session(console, int(self.dummy_vlan),
                               options.parking_vlan(__name__, LAST_VLAN),
                               bool(self.save))
        session.open()
        return session

    @classmethod
    def validate_port_name(cls, label: str) -> None:
        match = PORT_NAME.fullmatch(label)
        kinds = [] if match is None else [
            short for short, long in TYPES.items()
            if len(match[1]) >= 2 and long.startswith(match[1].lower())]
        if not kinds or not 1 <= int(match[3]) <= PORTS[kinds[0]]:
            raise ValueError(
                f'{label!r} is not a port of a Dell N3000: its ports are '
                f'gi<unit>/0/<1-48> and te<unit>/0/<1-4>, units 1-12')

    def get_capabilities(self) -> list[str]:
        # A trunk carries tagged VLANs without a native one: its native
        # VLAN is then the dummy VLAN, which it does not allow.
        return ['nativeless-trunk-mode']


@dataclasses.dataclass
class N3000PortState(PortState):
    """A port as an N3000 reports it; `foreign`: its trunk allows VLANs
    it does not carry, or VLAN 1 (HaaS never set it up so)."""
    foreign: bool = False


#: `show interfaces switchport`'s fields, and the lines that continue the
#: one before (long VLAN lists wrap).
FIELD = re.compile(r'^(\S[^:]*?)\s*:(.*)$')
CONTINUED = re.compile(r'^\s+\S')
#: A row of `show vlan`: the VLAN number first.
VLAN_ROW = re.compile(r'^(\d+)\s', re.MULTILINE)


def vlan_set(text: str) -> set[int]:
    """`(105),106-108,300` as its VLANs (brackets and annotations such
    as `(default)` or `(Inactive)` left out); `All` is every VLAN."""
    text = re.sub(r'\((?:default|inactive)\)', '', text, flags=re.I)
    if text.strip().lower() == 'all':
        text = EVERY_VLAN
    found: set[int] = set()
    for part in re.findall(r'\d+(?:\s*-\s*\d+)?', text):
        first, _, last = part.partition('-')
        found.update(range(int(first), int(last or first) + 1))
    return found


class N3000Session(VlanSession):
    """An N3000's CLI: prompts `console>`, `console#`,
    `console(config-if-Gi1/0/5)#`; its refusals are the caret's ``%``
    lines, and a few plain sentences."""

    error = re.compile(r'^\s*%|^Command not found|^VLAN ID |^VLAN range|'
                       r'^An invalid interface|is not an allowed VLAN|'
                       r'^The default VLAN cannot')
    #: The first prompt, straight after SSH's login.
    first_prompt = re.compile(r'[>#] ?$')
    confirm = re.compile(r'\(y/n\) ?$')
    # A new trunk allows every VLAN: it starts from none.
    mode_trunk = ('switchport mode trunk',
                  f'switchport trunk allowed vlan remove {EVERY_VLAN}')
    # The native VLAN must be allowed when it is set.
    set_native = ('switchport trunk allowed vlan add {vlan}',
                  'switchport trunk native vlan {vlan}')

    def __init__(self, console: Console, dummy_vlan: int,
                 parking_vlan: int | None = None, save: bool = False):
        super().__init__(console, parking_vlan, save)
        self.dummy_vlan = dummy_vlan
        # No native VLAN: the dummy one, allowed only while it is set.
        self.no_native = (
            f'switchport trunk allowed vlan add {dummy_vlan}',
            f'switchport trunk native vlan {dummy_vlan}',
            f'switchport trunk allowed vlan remove {dummy_vlan}')

    def open(self) -> None:
        console = self.console
        console.connect()
        try:
            _, found = console.expect(self.first_prompt)
            if found.group().rstrip().endswith('>'):
                self.run('enable')
            self.run('terminal length 0')
        except BaseException:
            console.close()
            raise

    def _fields(self, label: str) -> dict[str, str]:
        shown = self.run(f'show interfaces switchport {label}')
        fields: dict[str, str] = {}
        last = None
        for line in shown.splitlines():
            match = FIELD.match(line)
            if match:
                last = match[1]
                fields[last] = match[2].strip()
            elif last and CONTINUED.match(line):
                fields[last] += line.strip()
        if 'VLAN Membership Mode' not in fields:
            raise SwitchError(f'{self.console.where()} did not say the mode '
                              f'of port {label}: {shown[:200]!r}')
        return fields

    def read_port(self, label: str) -> N3000PortState:
        fields = self._fields(label)
        trunk = fields['VLAN Membership Mode'].lower().startswith('trunk')
        members = fields.get('Member of VLANs', '')
        untagged = vlan_set(''.join(re.findall(r'\(\d+\)', members)))
        carried = vlan_set(members)
        if not trunk:
            return N3000PortState(False, min(untagged, default=None),
                                  frozenset(carried - untagged))
        allowed = vlan_set(fields.get('Trunking Mode VLANs Enabled', ''))
        native = min(untagged, default=None)
        tagged = carried - untagged - {self.dummy_vlan}
        return N3000PortState(True, native, frozenset(tagged),
                              foreign=1 in allowed or bool(allowed - carried))

    def read_vlans(self) -> set[int]:
        return {int(n) for n in VLAN_ROW.findall(self.run('show vlan'))}

    def create_vlans(self, numbers: set[int]) -> None:
        self.run('configure')
        for number in sorted(numbers):
            self.run(f'vlan {number}')
            self.run('exit')
        self.run('end')

    def save_config(self) -> None:
        self.console.sent.append('copy running-config startup-config')
        self.console.send('copy running-config startup-config\n')
        self.console.expect(self.confirm)
        self.console.send('y')
        output, _ = self.console.expect(self.prompt)
        if 'Configuration Saved' not in output:
            raise SwitchError(f'{self.console.where()} did not save its '
                              f'configuration: {output.strip()[:200]!r}')

    def _haas_native(self, port: PortState) -> int | None:
        # The dummy VLAN is no network's, even while it is allowed (a
        # session cut short between the commands that set it).
        native = super()._haas_native(port)
        return None if native == self.dummy_vlan else native

    def _configure(self, label: str, now: PortState, native: int | None,
                   tagged: set[int]) -> None:
        self._ensure_vlans({self.dummy_vlan})
        if now.trunk and getattr(now, 'foreign', False):
            # Someone else's trunk: allow nothing before HaaS's VLANs, and
            # let the native VLAN (now carrying nothing) go to the dummy.
            for line in ('configure', f'interface {label}',
                         f'switchport trunk allowed vlan remove '
                         f'{EVERY_VLAN}', 'end'):
                self.run(line)
            now = PortState(True, DEFAULT_VLAN, frozenset())
        elif now.trunk and now.native not in (
                None, native if native is not None else self.parking_vlan):
            # An N3000 keeps the old native VLAN allowed (tagged, then)
            # when another is set or it is taken off: remove it too.
            now = PortState(True, now.native, now.tagged | {now.native})
        super()._configure(label, now, native, tagged)


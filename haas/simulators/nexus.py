"""A simulated Cisco Nexus 5500 (NX-OS): SSH straight to its `switch#`
prompt, its configuration modes, VLAN and switchport commands and their
`show` output, after Cisco's NX-OS Layer 2 configuration guide and
command reference for the series.

What the device does that drivers must cope with, and this one does too:
a port keeps its trunk settings (native VLAN, allowed VLANs) whatever its
mode, so they may be set before it becomes a trunk; a trunk allows every
VLAN, 1-4094, until told otherwise; the native VLAN carries untagged
traffic only while it is in the allowed list, and there is no "no native
VLAN": ``no switchport trunk native vlan`` puts VLAN 1 back; the allowed
list may name VLANs that do not exist, which carry nothing until made
with ``vlan N``; VLANs 3968-4047 and 4094 are the switch's own; the
configuration is lost at ``reload`` unless copied to the startup one.

Each port's facts in the SwitchState folder: `mode` ('access' or
'trunk'), `access` (the access VLAN), `native` (the trunk's native VLAN),
`allowed` (the trunk's allowed VLANs, null for all of them) and
`shutdown`.
"""

from __future__ import annotations

import contextlib
import re
import typing
from collections.abc import Iterable, Iterator, Sequence

from haas.simulators import ssh
from haas.simulators.cli import (
    Ask,
    CLIError,
    Disconnect,
    Output,
    Shell,
    command,
)

EXEC, CONFIG, CONFIG_IF, CONFIG_VLAN = (
    'exec', 'config', 'config-if', 'config-vlan')
ANY = (EXEC, CONFIG, CONFIG_IF, CONFIG_VLAN)
CONFIGURING = (CONFIG, CONFIG_IF, CONFIG_VLAN)
PORTS = [f'Ethernet1/{n}' for n in range(1, 49)]
#: VLANs the switch keeps for itself: none can be made or used.
RESERVED = frozenset(range(3968, 4048)) | {4094}
ALL = list(range(1, 4095))
#: An interface as NX-OS takes it: `ethernet 1/5`, `Ethernet1/5`,
#: `eth1/5`, `e1/5` (any abbreviation of "ethernet").
INTERFACE = re.compile(r'(e[a-z]*)\s*(\d+)/(\d+)', re.IGNORECASE)

BANNER = [
    'Cisco Nexus Operating System (NX-OS) Software',
    'TAC support: http://www.cisco.com/tac',
    'Copyright (c) 2002-2016, Cisco Systems, Inc. All rights reserved.',
    'The copyrights to certain works contained in this software are',
    'owned by other third parties and used and distributed under',
    'license. Certain components of this software are licensed under',
    'the GNU General Public License (GPL) version 2.0 or the GNU',
    'Lesser General Public License (LGPL) Version 2.1. A copy of each',
    'such license is available at',
    'http://www.opensource.org/licenses/gpl-2.0.php and',
    'http://www.opensource.org/licenses/lgpl-2.1.php',
]


def ranges(numbers: Iterable[int]) -> str:
    """VLANs as NX-OS lists them: runs of three or more as a range
    (`1-4094`, `105,106,200-202`); `none` for no VLAN."""
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and runs[-1][-1] == number - 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    out = []
    for run in runs:
        if len(run) >= 3:
            out.append(f'{run[0]}-{run[-1]}')
        else:
            out.extend(str(n) for n in run)
    return ','.join(out) or 'none'


def short(port: str) -> str:
    """`Ethernet1/5` as `show vlan` writes it: `Eth1/5`."""
    return 'Eth' + port[len('Ethernet'):]


class Nexus5500(Shell):
    ports = PORTS
    hostname = 'switch'
    first_mode = EXEC
    prompts = {EXEC: '{host}# ', CONFIG: '{host}(config)# ',
               CONFIG_IF: '{host}(config-if)# ',
               CONFIG_VLAN: '{host}(config-vlan)# '}
    unrecognized = ('{caret}', "% Invalid command at '^' marker.")
    ambiguous = ('{caret}', "% Ambiguous command at '^' marker.")
    incomplete = ('{caret}', "% Incomplete command at '^' marker.")
    more = '--More--'

    def __init__(self, *args: typing.Any, **kwargs: typing.Any):
        super().__init__(*args, **kwargs)
        self.greeted = False
        self.typed: list[str] = []

    def prompt(self) -> str:
        # The session prints the prompt first: the banner goes before
        # the first one, as the device greets each login.
        prompt = super().prompt()
        if not self.greeted:
            self.greeted = True
            return ''.join(line + '\r\n' for line in BANNER) + prompt
        return prompt

    # Reading what was typed.

    def execute(self, line: str) -> Output | Ask:
        # The words as typed (abbreviated), for a caret under one of them.
        self.typed = line.split()
        return super().execute(line)

    def port(self, words: Sequence[str], after: int = 0) -> str:
        """The port `words` name (`ethernet 1/5`, `e1/5`...), the last
        words of the line but `after`, as the device writes it; CLIError,
        its caret under the name, if this switch has no such port."""
        before = self.typed[:len(self.typed) - len(words) - after]
        if not words:
            raise CLIError(*self._error(self.incomplete, before,
                                        len(before)))
        match = INTERFACE.fullmatch(' '.join(words))
        caret = ' ' * (len(Shell.prompt(self)) + len(' '.join(before)) +
                       1) + '^'
        if not match or not 'ethernet'.startswith(match[1].lower()):
            raise CLIError(caret, "% Invalid interface format at '^' "
                                  "marker.")
        name = f'Ethernet{int(match[2])}/{int(match[3])}'
        if name not in self.ports:
            raise CLIError(caret, "% Invalid range at '^' marker.")
        return name

    def vlans(self, text: str, usable: bool = False) -> list[int]:
        """`105,200-202` as the VLANs it names; CLIError unless each is
        1-4094 (and, if `usable`, not one of the switch's own)."""
        found: list[int] = []
        for part in text.split(','):
            match = re.fullmatch(r'(\d{1,4})(?:-(\d{1,4}))?', part)
            first = int(match[1]) if match else 0
            last = int(match[2] or first) if match else 0
            if not match or not 1 <= first <= last <= 4094:
                raise CLIError("% Invalid number, range is (1:4094) at "
                               "'^' marker.")
            found.extend(range(first, last + 1))
        reserved = sorted(RESERVED.intersection(found))
        if usable and reserved:
            raise CLIError(f'ERROR: VLAN {ranges(reserved)}: VLANs '
                           f'3968-4047 and 4094 are reserved for internal '
                           f'use')
        return found

    @staticmethod
    def _facts(config: dict[str, typing.Any], name: str
               ) -> dict[str, typing.Any]:
        port: dict[str, typing.Any] = config['ports'][name]
        port.pop('tagged', None)  # the shared factory's; NX-OS: `allowed`
        port.setdefault('access', 1)
        port.setdefault('allowed', None)
        return port

    # Moving between modes.

    @command('configure terminal', modes=(EXEC,))
    def configure(self) -> Output:
        self.mode = CONFIG
        return ['Enter configuration commands, one per line. '
                ' End with CNTL/Z.']

    @command('exit', modes=ANY)
    def exit(self) -> Output:
        if self.mode == EXEC:
            raise Disconnect()
        self.mode = CONFIG if self.mode != CONFIG else EXEC
        return None

    @command('end', modes=CONFIGURING)
    def end(self) -> Output:
        self.mode = EXEC
        return None

    @command('terminal length {lines}', modes=ANY)
    def terminal_length(self, lines: str) -> Output:
        if not (lines.isdigit() and 0 <= int(lines) <= 511):
            raise CLIError("% Invalid number, range is (0:511) at '^' "
                           "marker.")
        self.paging = int(lines) != 0
        if self.paging:
            self.page_lines = int(lines)
        return None

    # VLANs.

    @command('vlan {vlans}', modes=CONFIGURING)
    def vlan(self, vlans: str) -> Output:
        made = self.vlans(vlans, usable=True)
        with self.state.changing() as config:
            config['vlans'] = sorted(set(config['vlans']) | set(made))
        self.mode = CONFIG_VLAN
        return None

    @command('no vlan {vlans}', modes=CONFIGURING)
    def no_vlan(self, vlans: str) -> Output:
        gone = set(self.vlans(vlans, usable=True))
        if 1 in gone:
            raise CLIError('ERROR: Default VLAN 1 cannot be deleted')
        with self.state.changing() as config:
            # Ports keep naming it; it carries nothing until made again.
            config['vlans'] = sorted(set(config['vlans']) - gone)
        return None

    # A port's configuration.

    @command('interface {words*}', modes=CONFIGURING)
    def interface(self, words: list[str]) -> Output:
        self.context['port'] = self.port(words)
        self.mode = CONFIG_IF
        return None

    @contextlib.contextmanager
    def _changing_port(self) -> Iterator[dict[str, typing.Any]]:
        """The configured port's facts, to change in place."""
        with self.state.changing() as config:
            yield self._facts(config, self.context['port'])

    @command('switchport', modes=(CONFIG_IF,))
    def switchport(self) -> Output:
        return None  # every port of the 5500 is a layer 2 port already

    @command('switchport mode access', modes=(CONFIG_IF,))
    def mode_access(self) -> Output:
        with self._changing_port() as port:
            port['mode'] = 'access'
        return None

    @command('switchport mode trunk', modes=(CONFIG_IF,))
    def mode_trunk(self) -> Output:
        with self._changing_port() as port:
            port['mode'] = 'trunk'
        return None

    @command('switchport access vlan {vlan}', modes=(CONFIG_IF,))
    def access_vlan(self, vlan: str) -> Output:
        (number,) = self._one(vlan)
        with self._changing_port() as port:
            port['access'] = number
        return None

    @command('no switchport access vlan', modes=(CONFIG_IF,))
    def no_access_vlan(self) -> Output:
        with self._changing_port() as port:
            port['access'] = 1
        return None

    @command('switchport trunk native vlan {vlan}', modes=(CONFIG_IF,))
    def trunk_native(self, vlan: str) -> Output:
        (number,) = self._one(vlan)
        with self._changing_port() as port:
            port['native'] = number
        return None

    @command('no switchport trunk native vlan', modes=(CONFIG_IF,))
    def no_trunk_native(self) -> Output:
        with self._changing_port() as port:
            port['native'] = 1
        return None

    def _one(self, vlan: str) -> list[int]:
        found = self.vlans(vlan, usable=True)
        if len(found) != 1 or not vlan.isdigit():
            raise CLIError("% Invalid number, range is (1:4094) at '^' "
                           "marker.")
        return found

    @command('switchport trunk allowed vlan {vlans}', modes=(CONFIG_IF,))
    def allowed(self, vlans: str) -> Output:
        wanted = self.vlans(vlans, usable=True)
        with self._changing_port() as port:
            port['allowed'] = sorted(set(wanted))
        return None

    @command('switchport trunk allowed vlan add {vlans}', modes=(CONFIG_IF,))
    def allowed_add(self, vlans: str) -> Output:
        wanted = self.vlans(vlans, usable=True)
        with self._changing_port() as port:
            now = ALL if port['allowed'] is None else port['allowed']
            port['allowed'] = _all_or(set(now) | set(wanted))
        return None

    @command('switchport trunk allowed vlan remove {vlans}',
             modes=(CONFIG_IF,))
    def allowed_remove(self, vlans: str) -> Output:
        gone = self.vlans(vlans)
        with self._changing_port() as port:
            now = ALL if port['allowed'] is None else port['allowed']
            port['allowed'] = _all_or(set(now) - set(gone))
        return None

    @command('switchport trunk allowed vlan except {vlans}',
             modes=(CONFIG_IF,))
    def allowed_except(self, vlans: str) -> Output:
        gone = self.vlans(vlans)
        with self._changing_port() as port:
            port['allowed'] = _all_or(set(ALL) - set(gone))
        return None

    @command('switchport trunk allowed vlan none', modes=(CONFIG_IF,))
    def allowed_none(self) -> Output:
        with self._changing_port() as port:
            port['allowed'] = []
        return None

    @command('switchport trunk allowed vlan all', modes=(CONFIG_IF,))
    def allowed_all(self) -> Output:
        with self._changing_port() as port:
            port['allowed'] = None
        return None

    @command('no switchport trunk allowed vlan', modes=(CONFIG_IF,))
    def no_allowed(self) -> Output:
        return self.allowed_all()

    @command('shutdown', modes=(CONFIG_IF,))
    def shutdown(self) -> Output:
        with self._changing_port() as port:
            port['shutdown'] = True
        return None

    @command('no shutdown', modes=(CONFIG_IF,))
    def no_shutdown(self) -> Output:
        with self._changing_port() as port:
            port['shutdown'] = False
        return None

    # Showing (NX-OS takes `show` in every mode).

    @command('show interface {words*}', modes=ANY)
    def show_interface(self, words: list[str]) -> Output:
        if words and len(words[-1]) >= 2 and \
                'switchport'.startswith(words[-1].lower()):
            names = [self.port(words[:-1], after=1)] if words[:-1] \
                else list(self.ports)
            config = self.state.running()
            lines: list[str] = []
            for name in names:
                lines += self._switchport(config, name)
            return lines
        if not words:
            raise CLIError(*self._error(self.incomplete, self.typed,
                                        len(self.typed)))
        name = self.port(words)
        port = self._facts(self.state.running(), name)
        state = 'down (Administratively down)' if port['shutdown'] \
            else 'up'
        return [f'{name} is {state}',
                ' Hardware: 1000/10000 Ethernet',
                ' MTU 1500 bytes, BW 10000000 Kbit, DLY 10 usec',
                f' Port mode is {port["mode"]}']

    def _vlan_name(self, config: dict[str, typing.Any], vlan: int) -> str:
        if vlan == 1:
            return 'default'
        return f'VLAN{vlan:04}' if vlan in config['vlans'] else 'Inactive'

    def _switchport(self, config: dict[str, typing.Any], name: str
                    ) -> list[str]:
        port = self._facts(config, name)
        allowed = ALL if port['allowed'] is None else port['allowed']
        return [
            f'Name: {name}',
            '  Switchport: Enabled',
            '  Switchport Monitor: Not enabled',
            f'  Operational Mode: {port["mode"]}',
            f'  Access Mode VLAN: {port["access"]} '
            f'({self._vlan_name(config, port["access"])})',
            f'  Trunking Native Mode VLAN: {port["native"]} '
            f'({self._vlan_name(config, port["native"])})',
            f'  Trunking VLANs Allowed: {ranges(allowed)}',
            '  Voice VLAN: none',
            '  Extended Trust State : not trusted [COS = 0]',
            '  Administrative private-vlan primary host-association: none',
            '  Administrative private-vlan secondary host-association: '
            'none',
            '  Administrative private-vlan primary mapping: none',
            '  Administrative private-vlan secondary mapping: none',
            '  Administrative private-vlan trunk native VLAN: none',
            '  Administrative private-vlan trunk encapsulation: dot1q',
            '  Administrative private-vlan trunk normal VLANs: none',
            '  Administrative private-vlan trunk private VLANs: none',
            '  Operational private-vlan: none',
            '  Unknown unicast blocked: disabled',
            '  Unknown multicast blocked: disabled',
            '']

    def members(self, config: dict[str, typing.Any], vlan: int
                ) -> list[str]:
        """The ports that carry `vlan`, as `show vlan` lists them: access
        ports on it, and trunks that allow it."""
        found = []
        for name in self.ports:
            port = self._facts(config, name)
            allowed = ALL if port['allowed'] is None else port['allowed']
            if port['mode'] == 'access' and port['access'] == vlan or \
                    port['mode'] == 'trunk' and vlan in allowed:
                found.append(short(name))
        return found

    @command('show vlan', modes=ANY)
    @command('show vlan brief', modes=ANY)
    def show_vlan(self) -> Output:
        config = self.state.running()
        lines = ['',
                 'VLAN Name                             Status    Ports',
                 '---- -------------------------------- --------- '
                 '-------------------------------']
        for vlan in config['vlans']:
            ports = self.members(config, vlan)
            rows = [', '.join(ports[i:i + 4])
                    for i in range(0, len(ports), 4)] or ['']
            lines.append(f'{vlan:<4} {self._vlan_name(config, vlan):<32} '
                         f'active    {rows[0]}'.rstrip())
            lines += [' ' * 48 + row for row in rows[1:]]
        return lines + ['']

    @command('show running-config', modes=ANY)
    def show_running(self) -> Output:
        return self._config_lines('running', self.state.running(),
                                  self.ports)

    @command('show running-config interface {words*}', modes=ANY)
    def show_running_interface(self, words: list[str]) -> Output:
        name = self.port(words)
        lines = self._config_lines('running', self.state.running(), [name],
                                   vlans=False)
        return lines if any(line.startswith('interface') for line in lines) \
            else lines + ['', f'interface {name}', '']

    @command('show startup-config', modes=ANY)
    def show_startup(self) -> Output:
        return self._config_lines('startup', self.state.saved(), self.ports)

    def _config_lines(self, which: str, config: dict[str, typing.Any],
                      names: Sequence[str], vlans: bool = True
                      ) -> list[str]:
        lines = ['', f'!Command: show {which}-config', '!Time: (simulated)',
                 '', 'version 7.0(8)N1(1)']
        if vlans:
            lines += ['', f'hostname {self.hostname}', '',
                      f'vlan {ranges(config["vlans"])}']
        for name in names:
            port = self._facts(config, name)
            body = []
            if port['mode'] == 'trunk':
                body.append('  switchport mode trunk')
            if port['access'] != 1:
                body.append(f'  switchport access vlan {port["access"]}')
            if port['native'] != 1:
                body.append(f'  switchport trunk native vlan '
                            f'{port["native"]}')
            if port['allowed'] is not None:
                body.append(f'  switchport trunk allowed vlan '
                            f'{ranges(port["allowed"])}')
            if port['shutdown']:
                body.append('  shutdown')
            if body or vlans:
                lines += ['', f'interface {name}', *body]
        return lines + ['']

    # The configuration as a whole.

    @command('copy running-config startup-config', modes=(EXEC,))
    def copy(self) -> Output:
        self.state.save()
        return ['[########################################] 100%',
                'Copy complete, now saving to disk (please wait)...',
                'Copy complete.']

    @command('reload', modes=(EXEC,))
    def reload(self) -> Ask:
        def then(yes: bool) -> Output:
            if not yes:
                return None
            self.state.power_cycle()
            raise Disconnect(everyone=True)
        return Ask('This command will reboot the system. (y/n)?  [n] ', then)


def _all_or(vlans: set[int]) -> list[int] | None:
    """An allowed list, None when it is every VLAN again."""
    return None if len(vlans) == len(ALL) else sorted(vlans)


def serve(host: str, port: int, state_dir: str, username: str,
          password: str, latency: float) -> None:
    """haas.simulators' serve contract, for `nexus`."""
    ssh.serve(Nexus5500, host, port, state_dir, username, password,
              latency)

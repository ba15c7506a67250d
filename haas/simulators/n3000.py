"""A simulated Dell EMC Networking N3000 (N3024, N3048; Dell Networking
OS6): its SSH login, modes, VLAN and switchport commands and their
`show` output, after Dell's CLI reference for the N-series.

What the device does that drivers must cope with, and this one does too:
SSH's own login leads straight to ``console>``; a port keeps its access
VLAN, its trunk native VLAN and its trunk's allowed VLANs whatever its
mode, and the mode picks which apply; a trunk allows every VLAN (1-4093)
until told otherwise, and carries those of them that exist; there is no
trunk without a native VLAN, and the native VLAN must exist and be among
the allowed ones when it is set (a native VLAN taken off the allowed
list afterwards carries nothing, which is how a trunk goes without one);
long VLAN lists in `show` output wrap onto indented lines; the
configuration is lost at ``reload`` unless copied to the startup
configuration.  The refusals the CLI reference does not spell out are
written in the device's style.
"""

from __future__ import annotations

import re
import textwrap
import typing

from haas.simulators import ssh
from haas.simulators.cli import (
    Ask,
    CLIError,
    Disconnect,
    Output,
    Shell,
    command,
)
from haas.simulators.powerconnect import ranges

EXEC, PRIVILEGED, CONFIG, CONFIG_IF, CONFIG_VLAN = (
    'exec', 'privileged', 'config', 'config-if', 'config-vlan')
ANY = (EXEC, PRIVILEGED, CONFIG, CONFIG_IF, CONFIG_VLAN)
#: Interface types: the prefix the device writes, and the long name its
#: CLI also takes (any abbreviation of it, two letters or more).
TYPES = {'Gi': 'gigabitethernet', 'Te': 'tengigabitethernet'}
PORTS = [f'Gi1/0/{n}' for n in range(1, 49)] + \
    [f'Te1/0/{n}' for n in range(1, 5)]
#: The VLANs an N3000 has room for; a new trunk allows them all.
LAST_VLAN = 4093
ALL = f'1-{LAST_VLAN}'
#: A port's settings beside the facts every model keeps (state.py).
SETTINGS = {'access_vlan': 1, 'trunk_native': 1, 'trunk_allowed': ALL}
INVALID = "% Invalid input detected at '^' marker."


def vlan_list(text: str) -> list[int]:
    """`2,105,300-302` as the VLANs it names; CLIError if it is not a
    list of VLANs 1-4093."""
    found: list[int] = []
    for part in text.split(','):
        match = re.fullmatch(r'(\d{1,4})(?:-(\d{1,4}))?', part)
        if not match:
            raise CLIError("VLAN range - separate non-consecutive IDs with "
                           "',' and no spaces.  Use '-' for range.")
        first, last = int(match[1]), int(match[2] or match[1])
        if not 1 <= first <= last <= LAST_VLAN:
            raise CLIError(f'VLAN ID {part} is out of range. The range is '
                           f'1 to {LAST_VLAN}.')
        found.extend(range(first, last + 1))
    return found


def settings(port: dict[str, typing.Any]) -> dict[str, typing.Any]:
    """`port` with the N3000's settings, their defaults where unset."""
    for key, default in SETTINGS.items():
        port.setdefault(key, default)
    return port


def derive(config: dict[str, typing.Any]) -> None:
    """Work out what each port carries (`native`, `tagged`: the facts
    every model keeps) from its mode and settings and the VLANs that
    exist."""
    exists = set(config['vlans'])
    for port in config['ports'].values():
        settings(port)
        if port['mode'] == 'trunk':
            allowed = set(vlan_list(port['trunk_allowed'])) \
                if port['trunk_allowed'] else set()
            carried = allowed & exists
            native = port['trunk_native'] \
                if port['trunk_native'] in carried else None
            port['native'] = native
            port['tagged'] = sorted(carried - {native})
        elif port['mode'] == 'access':
            port['native'] = port['access_vlan'] \
                if port['access_vlan'] in exists else None
            port['tagged'] = []
        else:  # general: untagged in VLAN 1, its PVID
            port['native'] = 1 if 1 in exists else None
            port['tagged'] = []


def wrapped(label: str, text: str, width: int = 79) -> list[str]:
    """`label: text`, a long `text` wrapped after commas onto lines
    indented under its start, as the device prints VLAN lists."""
    indent = ' ' * (len(label) + 2)
    lines = textwrap.wrap(text.replace(',', ', '), width=width,
                          initial_indent=f'{label}: ',
                          subsequent_indent=indent,
                          break_long_words=False) or [f'{label}:']
    return [line.replace(', ', ',').rstrip() for line in lines]


class N3000(Shell):
    ports = PORTS
    prompts = {EXEC: '{host}>', PRIVILEGED: '{host}#',
               CONFIG: '{host}(config)#',
               CONFIG_IF: '{host}(config-if-{port})#',
               CONFIG_VLAN: '{host}(config-vlan{vlan})#'}
    unrecognized = ('{caret}', INVALID)
    ambiguous = ('{caret}', '% Ambiguous command.')
    incomplete = ('',
                  'Command not found / Incomplete command. Use ? to list '
                  'commands.')
    page_lines = 24
    more = '--More-- or (q)uit'

    def prompt(self) -> str:
        return self.prompts[self.mode].format(
            host=self.hostname, port=self.context.get('port', ''),
            vlan=self.context.get('vlan', ''))

    def port(self, words: list[str]) -> str:
        """The port `words` name (`gi1/0/5`, `Gi1/0/5`,
        `gigabitethernet 1/0/5`...), as the device writes it; CLIError
        if the switch has no such port."""
        match = re.fullmatch(r'([a-z]+) ?(\d+/\d+/\d+)',
                             ' '.join(words).lower())
        if match and len(match[1]) >= 2:
            for short, long in TYPES.items():
                if long.startswith(match[1]):
                    name = f'{short}{match[2]}'
                    if name in self.ports:
                        return name
                    raise CLIError('An invalid interface has been used for '
                                   'this function.')
        raise CLIError(INVALID)

    # Moving between modes.

    @command('enable', modes=(EXEC,))
    def enable(self) -> Output:
        self.mode = PRIVILEGED
        return None

    @command('disable', modes=(PRIVILEGED,))
    def disable(self) -> Output:
        self.mode = EXEC
        return None

    @command('configure', modes=(PRIVILEGED,))
    @command('configure terminal', modes=(PRIVILEGED,))
    def configure(self) -> Output:
        self.mode = CONFIG
        return None

    @command('exit', modes=ANY)
    def exit(self) -> Output:
        up = {CONFIG: PRIVILEGED, CONFIG_IF: CONFIG, CONFIG_VLAN: CONFIG}
        if self.mode not in up:
            raise Disconnect()
        self.mode = up[self.mode]
        return None

    @command('end', modes=(CONFIG, CONFIG_IF, CONFIG_VLAN))
    def end(self) -> Output:
        self.mode = PRIVILEGED
        return None

    @command('terminal length {lines}', modes=(EXEC, PRIVILEGED))
    def terminal_length(self, lines: str) -> Output:
        if not lines.isdigit() or int(lines) > 512:
            raise CLIError(INVALID)
        self.paging = int(lines) != 0
        if self.paging:
            self.page_lines = max(int(lines) - 1, 1)
        return None

    # VLANs.

    @command('vlan {vlans}', modes=(CONFIG, CONFIG_VLAN))
    def vlan(self, vlans: str) -> Output:
        wanted = vlan_list(vlans)
        with self.state.changing() as config:
            config['vlans'] = sorted(set(config['vlans']) | set(wanted))
            derive(config)
        self.context['vlan'] = vlans if len(wanted) == 1 else ''
        self.mode = CONFIG_VLAN
        return None

    @command('no vlan {vlans}', modes=(CONFIG,))
    def no_vlan(self, vlans: str) -> Output:
        gone = set(vlan_list(vlans))
        if 1 in gone:
            raise CLIError('The default VLAN cannot be deleted.')
        with self.state.changing() as config:
            config['vlans'] = sorted(set(config['vlans']) - gone)
            derive(config)
        return None

    # A port's configuration.

    @command('interface {name*}', modes=(CONFIG, CONFIG_IF))
    def interface(self, name: list[str]) -> Output:
        self.context['port'] = self.port(name)
        self.mode = CONFIG_IF
        return None

    @command('switchport mode access', modes=(CONFIG_IF,))
    def mode_access(self) -> Output:
        return self._set(mode='access')

    @command('switchport mode trunk', modes=(CONFIG_IF,))
    def mode_trunk(self) -> Output:
        return self._set(mode='trunk')

    @command('switchport mode general', modes=(CONFIG_IF,))
    def mode_general(self) -> Output:
        return self._set(mode='general')

    def _set(self, **values: typing.Any) -> Output:
        with self.state.changing() as config:
            settings(config['ports'][self.context['port']]).update(values)
            derive(config)
        return None

    def _settings(self) -> dict[str, typing.Any]:
        return settings(self.state.running()['ports'][self.context['port']])

    def _existing(self, vlan: int) -> None:
        if vlan not in self.state.running()['vlans']:
            raise CLIError('VLAN ID not found.')

    @command('switchport trunk allowed vlan {vlans}', modes=(CONFIG_IF,))
    def trunk_allowed(self, vlans: str) -> Output:
        if vlans == 'all':
            return self._set(trunk_allowed=ALL)
        if vlans == 'none':
            return self._set(trunk_allowed='')
        return self._set(trunk_allowed=ranges(vlan_list(vlans)))

    @command('switchport trunk allowed vlan add {vlans}', modes=(CONFIG_IF,))
    def trunk_add(self, vlans: str) -> Output:
        allowed = self._allowed()
        return self._set(trunk_allowed=ranges(allowed | set(vlan_list(vlans))))

    @command('switchport trunk allowed vlan remove {vlans}',
             modes=(CONFIG_IF,))
    def trunk_remove(self, vlans: str) -> Output:
        allowed = self._allowed()
        return self._set(trunk_allowed=ranges(allowed - set(vlan_list(vlans))))

    def _allowed(self) -> set[int]:
        text = self._settings()['trunk_allowed']
        return set(vlan_list(text)) if text else set()

    @command('switchport trunk native vlan {vlan}', modes=(CONFIG_IF,))
    def trunk_native(self, vlan: str) -> Output:
        (number,) = vlan_list(vlan) if vlan.isdigit() else vlan_list('x')
        self._existing(number)
        if number not in self._allowed():
            raise CLIError(f'VLAN {number} is not an allowed VLAN of this '
                           f'trunk: add it with switchport trunk allowed '
                           f'vlan add {number} first.')
        return self._set(trunk_native=number)

    @command('no switchport trunk native vlan', modes=(CONFIG_IF,))
    def no_trunk_native(self) -> Output:
        # Back to the default, VLAN 1: there is no trunk without one.
        return self._set(trunk_native=1)

    @command('switchport access vlan {vlan}', modes=(CONFIG_IF,))
    def access_vlan(self, vlan: str) -> Output:
        (number,) = vlan_list(vlan) if vlan.isdigit() else vlan_list('x')
        self._existing(number)
        return self._set(access_vlan=number)

    @command('no switchport access vlan', modes=(CONFIG_IF,))
    def no_access_vlan(self) -> Output:
        return self._set(access_vlan=1)

    @command('shutdown', modes=(CONFIG_IF,))
    def shutdown(self) -> Output:
        return self._set(shutdown=True)

    @command('no shutdown', modes=(CONFIG_IF,))
    def no_shutdown(self) -> Output:
        return self._set(shutdown=False)

    # Showing: the N-series takes `show` in every mode.

    @command('show interfaces switchport {name*}', modes=ANY)
    def show_switchport(self, name: list[str]) -> Output:
        found = self.port(name)
        port = settings(self.state.running()['ports'][found])
        members = ([f'({port["native"]})'] if port['native'] else []) + \
            ([ranges(port['tagged'])] if port['tagged'] else [])
        allowed = port['trunk_allowed']
        enabled = 'All' if allowed == ALL else (allowed or 'none')
        general_pvid = 1
        return ['',
                f'Port: {found}',
                f'VLAN Membership Mode: {port["mode"].capitalize()} Mode',
                *wrapped('Member of VLANs ', ','.join(members)),
                f'Access Mode VLAN: {port["access_vlan"]}'
                f'{" (default)" if port["access_vlan"] == 1 else ""}',
                f'General Mode PVID: {general_pvid} (default)',
                'General Mode Ingress Filtering: Enabled',
                'General Mode Acceptable Frame Type: Admit All',
                'General Mode Dynamically Added VLANs:',
                'General Mode Untagged VLANs: 1',
                'General Mode Tagged VLANs:',
                'General Mode Forbidden VLANs:',
                f'Trunking Mode Native VLAN: {port["trunk_native"]}'
                f'{" (default)" if port["trunk_native"] == 1 else ""}',
                'Trunking Mode Native VLAN Tagging: Disabled',
                *wrapped('Trunking Mode VLANs Enabled', enabled),
                'Private VLAN Host Association: none',
                'Private VLAN Mapping:',
                'Private VLAN Operational Bindings:',
                'Default Priority: 0',
                'Protected: Disabled',
                '']

    @command('show vlan', modes=ANY)
    def show_vlan(self) -> Output:
        config = self.state.running()
        lines = ['',
                 'VLAN   Name                             Ports          '
                 'Type',
                 '-----  ---------------                  -------------  '
                 '--------------']
        for vlan in config['vlans']:
            ports = [name for name in self.ports
                     if vlan == config['ports'][name]['native']
                     or vlan in config['ports'][name]['tagged']]
            chunks = _port_ranges(ports) or ['']
            name = 'default' if vlan == 1 else f'VLAN{vlan:04}'
            kind = 'Default' if vlan == 1 else 'Static'
            lines.append(f'{vlan:<5}  {name:<32} {chunks[0]:<13}  {kind}')
            lines += [' ' * 40 + chunk for chunk in chunks[1:]]
        return lines + ['']

    @command('show running-config', modes=ANY)
    def show_running(self) -> Output:
        return self._config_lines(self.state.running())

    @command('show running-config interface {name*}', modes=ANY)
    def show_running_interface(self, name: list[str]) -> Output:
        port = self.state.running()['ports'][self.port(name)]
        return [line.strip() for line in self._port_lines(port)] + ['']

    @command('show startup-config', modes=(PRIVILEGED,))
    def show_startup(self) -> Output:
        return self._config_lines(self.state.saved())

    def _port_lines(self, port: dict[str, typing.Any]) -> list[str]:
        settings(port)
        body = []
        if port['mode'] != 'access':
            body.append(f'switchport mode {port["mode"]}')
        if port['access_vlan'] != 1:
            body.append(f'switchport access vlan {port["access_vlan"]}')
        if port['trunk_native'] != 1:
            body.append(f'switchport trunk native vlan '
                        f'{port["trunk_native"]}')
        if port['trunk_allowed'] != ALL:
            body.append(f'switchport trunk allowed vlan '
                        f'{port["trunk_allowed"] or "none"}')
        if port['shutdown']:
            body.append('shutdown')
        return body

    def _config_lines(self, config: dict[str, typing.Any]) -> list[str]:
        lines = ['!Current Configuration:',
                 '!System Description "Dell EMC Networking N3048, 6.5.2.4"',
                 '!System Software Version 6.5.2.4', '!', 'configure']
        extra = [v for v in config['vlans'] if v != 1]
        if extra:
            lines += [f'vlan {ranges(extra)}', 'exit']
        for name in self.ports:
            body = self._port_lines(config['ports'][name])
            if body:
                lines += [f'interface {name}', *body, 'exit']
        return lines + ['exit']

    # The configuration as a whole.

    @command('copy running-config startup-config', modes=(PRIVILEGED,))
    @command('write memory', modes=(PRIVILEGED,))
    def copy(self) -> Ask:
        def then(yes: bool) -> Output:
            if not yes:
                return ['', 'Configuration Not Saved!']
            self.state.save()
            return ['', 'Configuration Saved!']
        return Ask('\r\nThis operation may take a few minutes.\r\n'
                   'Management interfaces will not be available during '
                   'this time.\r\n\r\nAre you sure you want to save? (y/n) ',
                   then)

    @command('reload', modes=(PRIVILEGED,))
    def reload(self) -> Ask:
        def then(yes: bool) -> Output:
            if not yes:
                return ['Reload not confirmed.']
            self.state.power_cycle()
            raise Disconnect('', 'Reloading all switches.', everyone=True)
        return Ask('\r\nAre you sure you want to reload the stack? (y/n) ',
                   then)


def _port_ranges(names: list[str]) -> list[str]:
    """Ports as `show vlan` lists them, a few to a line:
    `Gi1/0/1-4,`, `Gi1/0/6-48,`, `Te1/0/1-4`."""
    out: list[str] = []
    previous = None
    for name in names:
        stem, _, number = name.rpartition('/')
        if previous and previous[0] == stem and previous[1] == \
                int(number) - 1:
            out[-1] = out[-1].split('-')[0] + f'-{number}'
        else:
            out.append(name)
        previous = (stem, int(number))
    return [chunk + (',' if i < len(out) - 1 else '')
            for i, chunk in enumerate(out)]


def serve(host: str, port: int, state_dir: str, username: str,
          password: str, latency: float) -> None:
    """haas.simulators' serve contract, for `n3000`."""
    ssh.serve(N3000, host, port, state_dir, username, password, latency)

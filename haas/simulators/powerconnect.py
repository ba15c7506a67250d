"""A simulated Dell PowerConnect 55xx (5524/5548): its login (over SSH,
or telnet), modes, VLAN and switchport commands and their `show` output,
after Dell's CLI reference for the series.

What the device does that drivers must cope with, and this one does too:
a VLAN exists only once made in ``vlan database`` mode; a port becomes a
trunk with VLAN 1 as its untagged (native) VLAN, and ``no switchport
trunk native vlan`` puts it back on VLAN 1, which only ``switchport trunk
allowed vlan remove 1`` takes away; a changed mode drops the port's
VLANs; the configuration is lost at ``reload`` unless copied to the
startup configuration.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable

from haas.simulators import ssh
from haas.simulators.cli import (
    Ask,
    CLIError,
    Disconnect,
    Output,
    Shell,
    command,
)

EXEC, PRIVILEGED, CONFIG, CONFIG_IF, CONFIG_VLAN = (
    'exec', 'privileged', 'config', 'config-if', 'config-vlan')
ANY = (EXEC, PRIVILEGED, CONFIG, CONFIG_IF, CONFIG_VLAN)
#: Interface types, by the prefix of the names the device writes.
TYPES = {'gi': 'gigabitethernet', 'te': 'tengigabitethernet'}
PORTS = [f'gi1/0/{n}' for n in range(1, 49)] + \
    [f'te1/0/{n}' for n in range(1, 5)]
LONG_NAMES = {'gi': 'gigabitethernet', 'te': 'tengigabitethernet'}


def vlan_list(text: str) -> list[int]:
    """`2,105,300-302` as the VLANs it names; CLIError if it is not a
    list of VLANs 1-4094."""
    found: list[int] = []
    for part in text.split(','):
        match = re.fullmatch(r'(\d{1,4})(?:-(\d{1,4}))?', part)
        if not match:
            raise CLIError('% Bad parameter value')
        first = int(match[1])
        last = int(match[2] or first)
        if not 1 <= first <= last <= 4094:
            raise CLIError(f'% VLAN {part} is out of range: VLANs are '
                           f'1-4094')
        found.extend(range(first, last + 1))
    return found


def ranges(numbers: Iterable[int]) -> str:
    """VLANs as the device lists them: `1,5,100-102`."""
    out: list[str] = []
    for number in sorted(set(numbers)):
        if out and out[-1].split('-')[-1] == str(number - 1):
            out[-1] = out[-1].split('-')[0] + f'-{number}'
        else:
            out.append(str(number))
    return ','.join(out)


class PowerConnect55xx(Shell):
    ports = PORTS
    prompts = {EXEC: '{host}>', PRIVILEGED: '{host}#',
               CONFIG: '{host}(config)#', CONFIG_IF: '{host}(config-if)#',
               CONFIG_VLAN: '{host}(config-vlan)#'}
    login = ('User Name:', 'Password:')
    unrecognized = ('% Unrecognized command',)
    ambiguous = ('% Ambiguous command',)
    incomplete = ('% Incomplete command',)

    def port(self, name: str) -> str:
        """The port `name` stands for (`gi1/0/5`, `GigabitEthernet1/0/5`,
        `gig1/0/5`...), as the device writes it; CLIError if the switch
        has no such port."""
        match = re.fullmatch(r'([a-z]+)(\d+/\d+/\d+)', name.lower())
        if match:
            for short, long in TYPES.items():
                if len(match[1]) >= 2 and long.startswith(match[1]):
                    if f'{short}{match[2]}' in self.ports:
                        return f'{short}{match[2]}'
                    raise CLIError(f'% Interface {name} is not present on '
                                   f'this switch')
        raise CLIError('% Bad parameter value')

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

    @command('terminal datadump', modes=(EXEC, PRIVILEGED))
    def datadump(self) -> Output:
        self.paging = False
        return None

    @command('terminal no datadump', modes=(EXEC, PRIVILEGED))
    def no_datadump(self) -> Output:
        self.paging = True
        return None

    # VLANs.

    @command('vlan database', modes=(CONFIG,))
    def vlan_database(self) -> Output:
        self.mode = CONFIG_VLAN
        return None

    @command('vlan {vlans}', modes=(CONFIG_VLAN,))
    def vlan(self, vlans: str) -> Output:
        with self.state.changing() as config:
            config['vlans'] = sorted(set(config['vlans']) |
                                     set(vlan_list(vlans)))
        return None

    @command('no vlan {vlans}', modes=(CONFIG_VLAN,))
    def no_vlan(self, vlans: str) -> Output:
        gone = set(vlan_list(vlans))
        if 1 in gone:
            raise CLIError('% VLAN 1 is the default VLAN and cannot be '
                           'deleted')
        with self.state.changing() as config:
            config['vlans'] = sorted(set(config['vlans']) - gone)
            for port in config['ports'].values():
                port['tagged'] = [v for v in port['tagged'] if v not in gone]
                if port['native'] in gone:
                    port['native'] = 1
        return None

    # A port's configuration.

    @command('interface {name}', modes=(CONFIG, CONFIG_IF))
    def interface(self, name: str) -> Output:
        self.context['port'] = self.port(name)
        self.mode = CONFIG_IF
        return None

    @command('switchport mode access', modes=(CONFIG_IF,))
    def mode_access(self) -> Output:
        return self._set_mode('access')

    @command('switchport mode trunk', modes=(CONFIG_IF,))
    def mode_trunk(self) -> Output:
        return self._set_mode('trunk')

    @command('switchport mode general', modes=(CONFIG_IF,))
    def mode_general(self) -> Output:
        return self._set_mode('general')

    def _set_mode(self, mode: str) -> Output:
        with self.state.changing() as config:
            port = config['ports'][self.context['port']]
            if port['mode'] != mode:
                # A new mode starts from its defaults: untagged in VLAN 1.
                port.update(mode=mode, native=1, tagged=[])
        return None

    def _existing(self, config: dict[str, typing.Any],
                  vlans: list[int]) -> None:
        for vlan in vlans:
            if vlan not in config['vlans']:
                raise CLIError(f'% VLAN {vlan} does not exist: create it '
                               f'in vlan database mode first')

    def _trunk(self, config: dict[str, typing.Any]) -> dict[str, typing.Any]:
        port = config['ports'][self.context['port']]
        if port['mode'] != 'trunk':
            raise CLIError(f'% Port {self.context["port"]} is not a trunk '
                           f'port: set switchport mode trunk first')
        return typing.cast(dict[str, typing.Any], port)

    @command('switchport trunk allowed vlan add {vlans}', modes=(CONFIG_IF,))
    def trunk_add(self, vlans: str) -> Output:
        wanted = vlan_list(vlans)
        with self.state.changing() as config:
            port = self._trunk(config)
            self._existing(config, wanted)
            port['tagged'] = sorted(set(port['tagged']) |
                                    set(wanted) - {port['native']})
        return None

    @command('switchport trunk allowed vlan remove {vlans}',
             modes=(CONFIG_IF,))
    def trunk_remove(self, vlans: str) -> Output:
        gone = set(vlan_list(vlans))
        with self.state.changing() as config:
            port = self._trunk(config)
            port['tagged'] = [v for v in port['tagged'] if v not in gone]
            if port['native'] in gone:
                port['native'] = None
        return None

    @command('switchport trunk native vlan {vlan}', modes=(CONFIG_IF,))
    def trunk_native(self, vlan: str) -> Output:
        (number,) = vlan_list(vlan) if vlan.isdigit() else vlan_list('x')
        with self.state.changing() as config:
            port = self._trunk(config)
            self._existing(config, [number])
            port['native'] = number
            port['tagged'] = [v for v in port['tagged'] if v != number]
        return None

    @command('no switchport trunk native vlan', modes=(CONFIG_IF,))
    def no_trunk_native(self) -> Output:
        with self.state.changing() as config:
            # Back to the default: untagged in VLAN 1.
            self._trunk(config)['native'] = 1
        return None

    @command('switchport access vlan {vlan}', modes=(CONFIG_IF,))
    def access_vlan(self, vlan: str) -> Output:
        (number,) = vlan_list(vlan) if vlan.isdigit() else vlan_list('x')
        with self.state.changing() as config:
            port = config['ports'][self.context['port']]
            if port['mode'] != 'access':
                raise CLIError(f'% Port {self.context["port"]} is not an '
                               f'access port')
            self._existing(config, [number])
            port['native'] = number
        return None

    @command('no switchport access vlan', modes=(CONFIG_IF,))
    def no_access_vlan(self) -> Output:
        with self.state.changing() as config:
            port = config['ports'][self.context['port']]
            if port['mode'] == 'access':
                port['native'] = 1
        return None

    @command('shutdown', modes=(CONFIG_IF,))
    def shutdown(self) -> Output:
        return self._shutdown(True)

    @command('no shutdown', modes=(CONFIG_IF,))
    def no_shutdown(self) -> Output:
        return self._shutdown(False)

    def _shutdown(self, down: bool) -> Output:
        with self.state.changing() as config:
            config['ports'][self.context['port']]['shutdown'] = down
        return None

    # Showing.

    @command('show interfaces switchport {name}', modes=(EXEC, PRIVILEGED))
    def show_switchport(self, name: str) -> Output:
        found = self.port(name)
        config = self.state.running()
        port = config['ports'][found]
        rows = []
        if port['native'] is not None:
            rows.append((port['native'], 'Untagged',
                         'System' if port['native'] == 1 else 'Static'))
        if port['mode'] != 'access':
            rows += [(v, 'Tagged', 'Static') for v in port['tagged']]
        return [f'Port : {found}',
                f'Port Mode: {port["mode"].capitalize()}',
                'Gvrp Status: disabled',
                'Ingress Filtering: true',
                'Acceptable Frame Type: admitAll',
                f'Ingress UnTagged VLAN ( NATIVE ): {port["native"] or 1}',
                '',
                'Port is member in:',
                '',
                'Vlan  Name                Egress rule  Port Membership Type',
                '----  ------------------  -----------  --------------------',
                *(f'{v:<4}  {v:<18}  {rule:<11}  {kind}'
                  for v, rule, kind in sorted(rows)),
                '',
                'Forbidden VLANS:',
                'Vlan  Name',
                '----  ------------------',
                '',
                'Classification rules:',
                '']

    @command('show interfaces configuration {name}',
             modes=(EXEC, PRIVILEGED))
    def show_configuration(self, name: str) -> Output:
        found = self.port(name)
        port = self.state.running()['ports'][found]
        kind = '10G-Fiber' if found.startswith('te') else '1G-Copper'
        speed = '10000' if found.startswith('te') else '1000'
        admin = 'Down' if port['shutdown'] else 'Up'
        return ['                                          Flow    Admin',
                'Port     Type         Duplex  Speed  Neg  '
                'Ctrl    State',
                '-------- ------------ ------  -----  ---  '
                '------  -----',
                f'{found:<8} {kind:<12} Full    {speed:<5}  Auto '
                f'Off     {admin}']

    @command('show vlan', modes=(EXEC, PRIVILEGED))
    def show_vlan(self) -> Output:
        config = self.state.running()
        lines = ['Created by: D-Default, S-Static', '',
                 'Vlan  Name    Tagged Ports          UnTagged Ports'
                 '        Created by',
                 '----  ------  --------------------  --------------------'
                 '  ----------']
        for vlan in config['vlans']:
            ports = [(name, config['ports'][name]) for name in self.ports]
            tagged = [name for name, port in ports
                      if port['mode'] != 'access' and vlan in port['tagged']]
            untagged = [name for name, port in ports
                        if port['native'] == vlan]
            lines.append(f'{vlan:<4}  {vlan:<6}  {_port_ranges(tagged):<20}'
                         f'  {_port_ranges(untagged):<20}  '
                         f'{"D" if vlan == 1 else "S"}')
        return lines

    @command('show running-config', modes=(PRIVILEGED,))
    def show_running(self) -> Output:
        return self._config_lines(self.state.running())

    @command('show startup-config', modes=(PRIVILEGED,))
    def show_startup(self) -> Output:
        return self._config_lines(self.state.saved())

    def _config_lines(self, config: dict[str, typing.Any]) -> list[str]:
        lines = ['config-file-header', self.hostname, 'CLI v1.0', '@', '!']
        extra = [v for v in config['vlans'] if v != 1]
        if extra:
            lines += ['vlan database', f'vlan {ranges(extra)}', 'exit']
        for name in self.ports:
            port = config['ports'][name]
            body = []
            if port['mode'] != 'access':
                body.append(f' switchport mode {port["mode"]}')
                if port['native'] is None:
                    body.append(' switchport trunk allowed vlan remove 1')
                elif port['native'] != 1:
                    body.append(f' switchport trunk native vlan '
                                f'{port["native"]}')
                if port['tagged']:
                    body.append(f' switchport trunk allowed vlan add '
                                f'{ranges(port["tagged"])}')
            elif port['native'] != 1:
                body.append(f' switchport access vlan {port["native"]}')
            if port['shutdown']:
                body.append(' shutdown')
            if body:
                lines += [f'interface {LONG_NAMES[name[:2]]}{name[2:]}',
                          *body, 'exit']
        return lines + ['!']

    # The configuration as a whole.

    @command('copy running-config startup-config', modes=(PRIVILEGED,))
    def copy(self) -> Ask:
        def then(yes: bool) -> Output:
            if not yes:
                return ['Copy operation aborted.']
            self.state.save()
            return ['Copy succeeded']
        return Ask('Overwrite file [startup-config].... (Y/N)[N] ?', then)

    @command('reload', modes=(PRIVILEGED,))
    def reload(self) -> Ask:
        def then(yes: bool) -> Output:
            if not yes:
                return None
            self.state.power_cycle()
            raise Disconnect('Shutting down ...', everyone=True)
        return Ask('This command will reset the whole system and disconnect '
                   'your current session. Do you want to continue ? '
                   '(Y/N)[N] ', then)


def _port_ranges(names: list[str]) -> str:
    """Ports as the device lists them: `gi1/0/1-3,te1/0/1`."""
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
    return ','.join(out)


def serve(host: str, port: int, state_dir: str, username: str,
          password: str, latency: float,
          telnet: tuple[str, int] | None = None) -> None:
    """haas.simulators' serve contract, for `powerconnect55xx`; with
    `telnet` (host, port), over telnet there too."""
    ssh.serve(PowerConnect55xx, host, port, state_dir, username, password,
              latency, telnet=telnet)

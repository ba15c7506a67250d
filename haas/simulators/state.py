"""What a simulated switch remembers, in a folder that outlives it.

Every simulated model, whatever its protocol, keeps the same facts: the
VLANs it knows, and per port its mode, native (untagged) VLAN, tagged
VLANs and whether it is shut down.  The running configuration is what the
device does now; the saved one (a switch's startup configuration) is what
it comes back with after a power cycle.  Both are JSON files in the
device's folder, written whole and atomically under a lock, so that the
simulator, a second connection and a test reading from outside each see
one consistent configuration, and a restart of the simulator (a new
process) loses nothing.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import typing
from collections.abc import Iterable, Iterator

#: A port as a switch comes from the factory: an access port on VLAN 1.
FACTORY_PORT: dict[str, typing.Any] = {
    'mode': 'access', 'native': 1, 'tagged': [], 'shutdown': False}
RUNNING, SAVED, LOCK = 'running.json', 'saved.json', 'lock'


def factory(ports: Iterable[str]) -> dict[str, typing.Any]:
    """The configuration of a new switch with `ports`: VLAN 1 only, and
    every port an access port on it."""
    return {'vlans': [1],
            'ports': {name: copy.deepcopy(FACTORY_PORT) for name in ports}}


class SwitchState:
    """A simulated switch's configuration, kept in `folder`.

    `ports` are the device's port names, as it writes them; a new folder
    starts from the factory configuration of those ports.
    """

    def __init__(self, folder: str, ports: Iterable[str]):
        self.folder = folder
        self.ports = list(ports)
        os.makedirs(folder, exist_ok=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._path(LOCK), 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _load(self, name: str) -> dict[str, typing.Any]:
        try:
            with open(self._path(name)) as f:
                config: dict[str, typing.Any] = json.load(f)
        except FileNotFoundError:
            return factory(self.ports)
        # A model that gained ports since the folder was written.
        for port in self.ports:
            config['ports'].setdefault(port, copy.deepcopy(FACTORY_PORT))
        return config

    def _store(self, name: str, config: dict[str, typing.Any]) -> None:
        path = self._path(name)
        # Replaced whole, so that a simulator killed mid-write leaves the
        # old file or the new one; not synced to the disk, which only a
        # power cut of the host would need, and which blocked the
        # device's answers (each of its configuration commands) behind
        # the disk for milliseconds.
        with open(path + '.new', 'w') as f:
            json.dump(config, f, indent=1, sort_keys=True)
        os.replace(path + '.new', path)

    def running(self) -> dict[str, typing.Any]:
        """A copy of the running configuration."""
        with self._locked():
            return self._load(RUNNING)

    def saved(self) -> dict[str, typing.Any]:
        """A copy of the saved (startup) configuration."""
        with self._locked():
            return self._load(SAVED)

    @contextlib.contextmanager
    def changing(self) -> Iterator[dict[str, typing.Any]]:
        """The running configuration, to change in place: written back
        when the block ends without an exception, dropped otherwise (a
        command the device refuses changes nothing)."""
        with self._locked():
            config = self._load(RUNNING)
            yield config
            self._store(RUNNING, config)

    def save(self) -> None:
        """Copy the running configuration to the saved one (`copy
        running-config startup-config`, `write memory`)."""
        with self._locked():
            self._store(SAVED, self._load(RUNNING))

    def power_cycle(self) -> None:
        """Lose what was not saved, as a switch that loses power does."""
        with self._locked():
            self._store(RUNNING, self._load(SAVED))

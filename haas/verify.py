"""`haas-admin switch verify`: what a switch's ports really carry, read
through its driver, against the database's attachments; and the actions
that make the switch match the database again.

`verify(label)` reads and compares (one computation); `fix(report)`
queues the networking actions for the daemon.  The command line only
prints what they return.
"""

from __future__ import annotations

import dataclasses
import typing

from haas.errors import HaasError, SwitchError, SwitchUnavailableError
from haas.model import MODIFY_PORT, Nic, Port, Switch, begin_writing, db

#: A port's verdicts.
OK, DRIFT, PENDING, UNREADABLE = 'ok', 'drift', 'pending', 'unreadable'
#: The channel of the native VLAN: connected first, detached last.
NATIVE = 'vlan/native'


@dataclasses.dataclass(frozen=True)
class Difference:
    """One channel of a port where the switch and the database differ:
    the network_id each has there (None: nothing), and the database's
    network's label."""

    channel: str
    switch: str | None
    database: str | None
    network: str | None = None

    def as_dict(self) -> dict[str, typing.Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PortState:
    """One port: what the switch carries, what the database says it
    should ({channel: network_id}), and the verdict.

    `pending`: its nic has an action queued, which the daemon has yet to
    apply, so the two may differ for now.  `unreadable`: the switch
    refused to say (`reason`)."""

    port: str
    node: str | None
    nic: str | None
    verdict: str
    switch: dict[str, str]
    database: dict[str, str]
    differences: tuple[Difference, ...] = ()
    reason: str | None = None

    @property
    def fixable(self) -> bool:
        """Whether `fix` can queue what makes the switch match: a nic's
        actions, or for a port without a nic a port revert (it should
        carry nothing)."""
        return self.verdict == DRIFT

    def as_dict(self) -> dict[str, typing.Any]:
        return {'port': self.port, 'node': self.node, 'nic': self.nic,
                'verdict': self.verdict, 'switch': self.switch,
                'database': self.database,
                'differences': [d.as_dict() for d in self.differences],
                'fixable': self.fixable if self.verdict == DRIFT else None,
                'reason': self.reason}


@dataclasses.dataclass(frozen=True)
class Report:
    """What `verify` found on switch `switch`, port by port (by label)."""

    switch: str
    ports: tuple[PortState, ...]

    @property
    def drift(self) -> bool:
        """Whether the switch differs from the database anywhere (a port
        that could not be read counts: it is not known to match)."""
        return any(p.verdict in (DRIFT, UNREADABLE) for p in self.ports)

    def counts(self) -> dict[str, int]:
        return {v: sum(p.verdict == v for p in self.ports)
                for v in (OK, DRIFT, PENDING, UNREADABLE)}

    def as_dict(self) -> dict[str, typing.Any]:
        return {'switch': self.switch, 'drift': self.drift,
                'counts': self.counts(),
                'ports': [p.as_dict() for p in self.ports]}


@dataclasses.dataclass(frozen=True)
class Queued:
    """An action `fix` queued: 'connect' or 'detach' of a port's nic on
    `channel`, or 'revert' of a port without a nic (node, nic and
    channel None); its status_id, for show_networking_action."""

    port: str
    node: str | None
    nic: str | None
    action: str
    channel: str | None
    network: str | None
    status_id: str

    def as_dict(self) -> dict[str, typing.Any]:
        return dataclasses.asdict(self)


def _differences(switch: dict[str, str], database: dict[str, str],
                 labels: dict[str, str]) -> tuple[Difference, ...]:
    return tuple(
        Difference(channel, switch.get(channel), database.get(channel),
                   labels.get(channel))
        for channel in sorted(set(switch) | set(database))
        if switch.get(channel) != database.get(channel))


def verify(label: str) -> Report:
    """Read what every registered port of switch LABEL carries, through
    its driver, and compare it with the networks the database has its
    nic on.

    A port that has an action queued (its own revert, or its nic's) is
    `pending`, not drift: the daemon has yet to apply it.  A port that
    no nic is cabled to should carry nothing.  Unknown switch, or one
    that cannot be reached: a HaasError (one line).
    """
    switch = db.session.execute(
        db.select(Switch).filter_by(label=label)).scalar()
    if switch is None:
        raise HaasError(f'switch {label} does not exist (haas switch list '
                        f'names the switches)')
    ports = db.session.execute(
        db.select(Port).filter_by(owner_id=switch.id)
        .order_by(Port.label)).scalars().all()
    try:
        session = switch.session()
    except SwitchError as e:
        raise HaasError(f'cannot read switch {label}: {e}') from None
    except SwitchUnavailableError as e:
        raise HaasError(f'switch {label} cannot be reached: {e}') from None
    try:
        states = tuple(_port_state(session, port) for port in ports)
    except SwitchUnavailableError as e:
        raise HaasError(f'switch {label} cannot be reached: {e}') from None
    finally:
        session.disconnect()
    # Nothing was written; the reading transaction is not held while the
    # operator reads the answer.
    db.session.rollback()
    return Report(label, states)


def _port_state(session: typing.Any, port: Port) -> PortState:
    nic = port.nic
    database: dict[str, str] = {}
    labels: dict[str, str] = {}
    if nic is not None:
        for a in nic.attachments:
            database[a.channel] = a.network.network_id
            labels[a.channel] = a.network.label
    node = nic.owner.label if nic is not None else None
    nic_label = nic.label if nic is not None else None
    try:
        carried = dict(session.port_networks(port.label))
    except SwitchError as e:
        return PortState(port.label, node, nic_label, UNREADABLE, {},
                         database, reason=str(e))
    if any(a.pending for a in port.actions) or (
            nic is not None and any(a.pending for a in nic.actions)):
        verdict = PENDING
        differences: tuple[Difference, ...] = ()
    else:
        differences = _differences(carried, database, labels)
        verdict = DRIFT if differences else OK
    return PortState(port.label, node, nic_label, verdict, carried,
                     database, differences)


def fix(report: Report) -> tuple[list[Queued], list[PortState]]:
    """Queue the networking actions that make the switch of `report`
    match the database, port by drifted port, for the daemon to apply:
    a detach for a channel the switch carries and the database does not,
    a connect for one the database has and the switch carries not (or
    carries another network on).  Per nic, detaches come first and
    connects after, and the native VLAN is connected first and detached
    last, as switches that cannot trunk without it need.  A drifted port
    that no nic is cabled to gets a port revert: it should carry nothing.

    Returns what was queued, and the drifted ports left as they are: one
    whose nic (or lack of one) changed since it was read, or that has an
    action queued since (verify again).
    """
    from haas.api.lookups import queue_action, queue_port_revert
    db.session.rollback()
    begin_writing()
    queued: list[Queued] = []
    left: list[PortState] = []
    for state in report.ports:
        if state.verdict != DRIFT:
            continue
        if state.nic is None:
            port = _unchanged_bare_port(report.switch, state)
            if port is None:
                left.append(state)
            else:
                answer = queue_port_revert(port)
                queued.append(Queued(state.port, None, None, 'revert',
                                     None, None, answer['status_id']))
            continue
        nic = _unchanged_nic(report.switch, state)
        if nic is None:
            left.append(state)
            continue
        networks = {a.channel: a.network for a in nic.attachments}
        detached = sorted((d.channel for d in state.differences
                           if d.database is None),
                          key=lambda c: (c == NATIVE, c))
        connected = sorted((d.channel for d in state.differences
                            if d.database is not None),
                           key=lambda c: (c != NATIVE, c))
        for channel, network in [(c, None) for c in detached] + \
                [(c, networks[c]) for c in connected]:
            answer = queue_action(nic, new_network=network, channel=channel,
                                  type=MODIFY_PORT)
            queued.append(Queued(
                state.port, state.node, state.nic,
                'detach' if network is None else 'connect', channel,
                network.label if network is not None else None,
                answer['status_id']))
    db.session.commit()
    return queued, left


def _unchanged_nic(switch: str, state: PortState) -> Nic | None:
    """The nic of `state`'s port, locked, when it still has the networks
    that `state` was compared with and no pending action; else None."""
    if not state.fixable:
        return None
    nic = db.session.execute(
        db.select(Nic).join(Nic.port).join(Port.owner)
        .where(Switch.label == switch, Port.label == state.port)
        .with_for_update(of=Nic)).scalar()
    if nic is None or (nic.owner.label, nic.label) != (state.node,
                                                       state.nic) \
            or any(a.pending for a in nic.actions) \
            or {a.channel: a.network.network_id
                for a in nic.attachments} != state.database:
        return None
    return nic


def _unchanged_bare_port(switch: str, state: PortState) -> Port | None:
    """The port of `state`, locked, when no nic is cabled to it still and
    it has no action pending; else None."""
    port = db.session.execute(
        db.select(Port).join(Port.owner)
        .where(Switch.label == switch, Port.label == state.port)
        .with_for_update(of=Port)).scalar()
    if port is None or port.nic is not None \
            or any(a.pending for a in port.actions):
        return None
    return port

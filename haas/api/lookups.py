"""The lookups and checks core's REST calls share, written once.

This is the module of the REST API that extensions may use (the rest is
core's own): must_find, must_find_n, assert_absent, assert_absent_n,
node_of, require_node_access and _haas() (the application's HaaS state)
keep their names and meanings.  Nothing here declares a call.
"""

import sqlalchemy as sa
from flask import current_app

from haas import audit, auth, deferred, metrics
from haas.errors import BlockedError, DuplicateError, NotFoundError
from haas.model import REVERT_PORT, NetworkingAction, Node, db

Labels = list[str]


def _haas():
    return current_app.extensions['haas']


def kind(cls):
    """What the API calls objects of `cls`: its base model's name (a
    MockSwitch is a Switch)."""
    return cls.__mapper__.base_mapper.class_.__name__


def _locked(query, lock):
    # FOR UPDATE (lock=True) or FOR SHARE (lock='share') until the
    # transaction ends, on PostgreSQL: two servers that check a row, then
    # change it or what hangs on it, take turns.  SQLite has one writer.
    if lock == 'share':
        return query.with_for_update(read=True)
    return query.with_for_update() if lock else query


def must_find(cls, label, *options, lock=False):
    """The `cls` labelled `label`; NotFoundError if there is none.  With
    `lock`, the row is locked (see _locked)."""
    query = db.select(cls).filter_by(label=label).options(*options)
    found = db.session.execute(
        _locked(query.order_by(cls.id).limit(1), lock)).scalar()
    if found is None:
        raise NotFoundError(f'{kind(cls)} {label} does not exist.')
    return found


def must_find_n(owner, cls, label, lock=False):
    """The `cls` labelled `label` that `owner` owns; NotFoundError else.

    With `lock`, the row is locked until the transaction ends (PostgreSQL),
    so that two servers checking, then changing it, take turns.
    """
    query = db.select(cls).filter_by(owner_id=owner.id, label=label)
    found = db.session.execute(
        _locked(query.order_by(cls.id).limit(1), lock)).scalar()
    if found is None:
        raise NotFoundError(f'{kind(cls)} {label} on {kind(type(owner))} '
                            f'{owner.label} does not exist.')
    return found


def _claim(cls, label):
    """On PostgreSQL, hold a lock on `label` among `cls`'s labels until the
    transaction ends: two servers creating the same name take turns, and
    the second sees the first's row.  (Labels have no unique constraint
    in HaaS 0.2's schema.)"""
    if db.session.get_bind().dialect.name == 'postgresql':
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(
            sa.func.hashtext(f'{cls.__tablename__}:{label}'))))


def assert_absent(cls, label):
    """DuplicateError if a `cls` labelled `label` exists."""
    _claim(cls, label)
    if db.session.execute(db.select(cls.id).filter_by(label=label)
                          .limit(1)).first() is not None:
        raise DuplicateError(f'{kind(cls)} {label} already exists.')


def assert_absent_n(owner, cls, label):
    """DuplicateError if `owner` already has a `cls` labelled `label`."""
    _claim(cls, f'{owner.id}:{label}')
    if db.session.execute(db.select(cls.id).filter_by(
            owner_id=owner.id, label=label).limit(1)).first() is not None:
        raise DuplicateError(f'{kind(cls)} {label} on {kind(type(owner))} '
                             f'{owner.label} already exists.')


def node_of(label):
    """The node labelled `label`, once the caller may use it: a free node
    is the administrator's, an allocated one its project's."""
    node = must_find(Node, label)
    require_node_access(node)
    return node


def obm_of(label):
    """The OBM of node `label`, once the caller may use the node and its
    OBM is not disabled."""
    node = node_of(label)
    if node.obm_enabled is False:
        raise BlockedError(f'The OBM of node {node.label} is disabled; '
                           f'enable it first (PUT /node/{node.label}/obm).')
    return node.obm


def require_node_access(node):
    """The caller may use `node`: an administrator a free node, its
    project's members an allocated one."""
    if node.project is None:
        auth.require_admin()
    else:
        auth.require_project_access(node.project)


def assert_no_pending_action(nic):
    if any(action.pending for action in nic.actions):
        raise BlockedError('A networking operation is already active on the '
                           'nic.')


def queue_action(nic, **fields):
    """Queue a networking action on `nic`, whose finished actions (if it
    has any) it replaces; its uuid, the status_id clients ask about."""
    finished = [action for action in nic.actions if not action.pending]
    for action in finished:
        nic.actions.remove(action)  # deleted: an orphan
    if finished:
        db.session.flush()
    return _queued(NetworkingAction(nic=nic, port=nic.port, **fields))


def queue_port_revert(port):
    """Queue taking `port` off every network, whether or not a nic is
    cabled to it; its uuid.  Ordered with its nic's actions: the daemon
    keeps a port's actions in the order they were queued."""
    return _queued(NetworkingAction(port=port, new_network=None, channel='',
                                    type=REVERT_PORT))


def _queued(action):
    action.request_id = audit.request_id()
    db.session.add(action)
    db.session.flush()
    deferred.notify()
    metrics.action_queued(action.type)
    return {'status_id': action.uuid}


def may_use(network, project):
    """Whether `project` may put its nodes on `network`."""
    return network.public or project in network.access


def _labels(query):
    return sorted(db.session.execute(query).scalars())

"""The core data model: the tables HaaS core owns (data-model.md, section 2).

Extensions define their own models in their own modules, subclassing
``db.Model``; their tables exist in a database only while they are enabled.
"""

import datetime
import uuid

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

# PostgreSQL's own default names, so that a database built by `db create`, by
# `db upgrade heads` from nothing and by adopting a HaaS 0.2 database all
# name every constraint alike, on SQLite too (where batch mode needs names).
NAMING_CONVENTION = {
    'pk': '%(table_name)s_pkey',
    'fk': '%(table_name)s_%(column_0_name)s_fkey',
    'uq': '%(table_name)s_%(column_0_name)s_key',
    'ix': '%(table_name)s_%(column_0_name)s_idx',
    'ck': '%(table_name)s_%(constraint_name)s_check',
}

db = SQLAlchemy(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))

#: The type of every primary and foreign key (HaaS 0.3): 64-bit.  SQLite's
#: INTEGER is 64-bit already, and only an INTEGER PRIMARY KEY counts rows
#: by itself there, so SQLite keeps it.  A foreign key column takes the
#: type of the key it refers to.
Key = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

#: What a networking action is at, and what it does.
PENDING, DONE, ERROR = 'PENDING', 'DONE', 'ERROR'


def utcnow():
    """Now in UTC, without a time zone (as both databases keep it)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
MODIFY_PORT, REVERT_PORT = 'modify_port', 'revert_port'


class Project(db.Model):
    """A group of nodes, networks and headnodes that belong together."""

    __tablename__ = 'project'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False, unique=True)


class Obm(db.Model):
    """Out-of-band management of a node; drivers subclass it (haas.ext.obm)."""

    __tablename__ = 'obm'
    id = db.Column(Key, primary_key=True)
    type = db.Column(db.String, nullable=False)
    __mapper_args__ = {'polymorphic_on': type}

    # What a driver does to its node (see haas.drivers for dry_run); a
    # BMC that refuses or does not answer is an OBMError.
    def power_on(self):
        raise NotImplementedError

    def power_cycle(self, force=False):
        """Restart the node: a hard reset with `force`, else a power
        cycle; a node that is off is switched on."""
        raise NotImplementedError

    def power_off(self):
        raise NotImplementedError

    def power_status(self):
        """'On' or 'Off' (None under dry_run)."""
        raise NotImplementedError

    def set_bootdev(self, bootdev):
        """Boot from `bootdev` ('pxe', 'disk', or 'none': no
        override) from the next boot on."""
        raise NotImplementedError

    def start_console(self):
        raise NotImplementedError

    def stop_console(self):
        raise NotImplementedError

    def delete_console(self):
        raise NotImplementedError

    def get_console(self):
        """The console log as text, or None when there is none."""
        raise NotImplementedError

    def open_console(self, output, force=False):
        """A live session with the node's serial console, for the console
        worker (haas.console_worker): an object with `broken`, `active`,
        `close()` and a static `pump(timeout)`, which gives what the node
        writes to `output` (bytes; a dict with 'error' when it ends).
        With `force`, a session another client holds is ended first."""
        raise NotImplementedError


class Node(db.Model):
    """A physical machine; free while project_id is NULL."""

    __tablename__ = 'node'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False, unique=True)
    project_id = db.Column(db.ForeignKey('project.id'))
    obm_id = db.Column(db.ForeignKey('obm.id'), nullable=False)
    #: node_set_obm's: False refuses power and console calls, True keeps
    #: the node in its project until an administrator forces a detach;
    #: None (never set) is neither, as nodes were before.
    obm_enabled = db.Column(db.Boolean, nullable=True)

    project = db.relationship('Project', backref='nodes')
    # A node owns its OBM: deleting the node deletes the OBM row.
    obm = db.relationship('Obm', backref=db.backref('node', uselist=False),
                          cascade='all, delete-orphan', single_parent=True)


class Switch(db.Model):
    """A network switch; drivers subclass it (haas.ext.switches)."""

    __tablename__ = 'switch'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False, unique=True)
    type = db.Column(db.String, nullable=False)
    __mapper_args__ = {'polymorphic_on': type,
                       'polymorphic_identity': 'switch'}

    #: The longest port label, in characters, the driver can configure;
    #: None when it takes any the API does (haas.rest.MAX_NAME).
    #: switch_register_port refuses a longer one (400), rather than queue
    #: actions that could never be applied.
    max_port_label = None
    #: The same for the switch's own label, for a driver that uses it.
    max_label = None

    def session(self):
        """A connection to the switch, for the networking daemon: an
        object with `apply_networking(action)`, `revert_port(label)` and
        `disconnect()` (see haas.drivers for what each may raise).  A
        driver whose switch cannot be driven yet raises SwitchError."""
        from haas.errors import SwitchError
        raise SwitchError(f'the {type(self).__name__} driver cannot '
                          f'configure switches yet')

    @classmethod
    def validate_port_name(cls, label):
        """Refuse (ValueError, with why) a port label this switch could
        not have, such as ``gi1/0/5`` on a Nexus: switch_register_port
        answers 400 with the reason, rather than queue actions that could
        never be applied.  Any label is valid by default."""

    def ensure_legal_operation(self, nic, operation, channel):
        """Refuse (with an APIError) a change this switch cannot make:
        `operation` is 'connect' or 'detach'.  Every change is legal by
        default."""

    def shown(self):
        """The driver's settings that show_switch tells besides the
        switch's ports and capabilities, {name: value}: those an operator
        checks (how the switch is reached), never a password.  None by
        default."""
        return {}

    def get_capabilities(self):
        """What the switch can do beyond the basics.  Without
        'nativeless-trunk-mode' (a port may trunk tagged VLANs with no
        native one), the API has a nic's native network attached first
        and detached last (haas.api.nodes.check_native_networks)."""
        return []


class Port(db.Model):
    __tablename__ = 'port'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False)
    owner_id = db.Column(db.ForeignKey('switch.id'), nullable=False)

    owner = db.relationship('Switch', backref='ports')


class Nic(db.Model):
    __tablename__ = 'nic'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False)
    owner_id = db.Column(db.ForeignKey('node.id'), nullable=False)
    mac_addr = db.Column(db.String)
    # One nic per port; the API enforces it.
    port_id = db.Column(db.ForeignKey('port.id'))

    owner = db.relationship('Node', backref='nics')
    port = db.relationship('Port', backref=db.backref('nic', uselist=False))

    @property
    def current_action(self):
        """The nic's newest networking action, or None."""
        return self.actions[-1] if self.actions else None


#: Which projects may use a network; none means every project may.
network_projects = db.Table(
    'network_projects',
    db.Column('project_id', db.ForeignKey('project.id'), nullable=False),
    db.Column('network_id', db.ForeignKey('network.id'), nullable=False),
    # The key leads with the network; the index finds a project's networks.
    db.PrimaryKeyConstraint('network_id', 'project_id'),
    db.Index('network_projects_project_id_idx', 'project_id'),
    info={'module': __name__},
)


class Network(db.Model):
    """A layer-2 network: its owner is a project, or the administrator
    (NULL); the projects in its access list may use it, every project
    when the list is empty (a public network)."""

    __tablename__ = 'network'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False, unique=True)
    owner_id = db.Column(db.ForeignKey('project.id'))
    allocated = db.Column(db.Boolean)
    network_id = db.Column(db.String, nullable=False)

    owner = db.relationship('Project', foreign_keys=[owner_id],
                            backref='networks_owned')
    access = db.relationship('Project', secondary=network_projects,
                             backref='networks_access',
                             order_by='Project.label')

    @property
    def public(self):
        return not self.access


class Headnode(db.Model):
    __tablename__ = 'headnode'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False)
    project_id = db.Column(db.ForeignKey('project.id'), nullable=False)
    dirty = db.Column(db.Boolean, nullable=False, default=True)
    base_img = db.Column(db.String, nullable=False)
    uuid = db.Column(db.String, nullable=False, unique=True,
                     default=lambda: str(uuid.uuid1()))

    project = db.relationship('Project', backref='headnodes')


class Hnic(db.Model):
    __tablename__ = 'hnic'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False)
    owner_id = db.Column(db.ForeignKey('headnode.id'), nullable=False)
    network_id = db.Column(db.ForeignKey('network.id'))

    owner = db.relationship('Headnode', backref='hnics')
    network = db.relationship('Network', backref='hnics')


class NetworkingAction(db.Model):
    """A change of a nic's network, or of a port's, queued by the API
    and applied by `serve-networks`, which records how it ended (DONE, or
    ERROR, with the reason, when the switch refused it).  A nic has one
    action at most, as the API queues them (a finished one is deleted when
    the next is queued); `haas-admin switch verify --fix` may queue
    several, which the daemon applies in the order queued (by id).  An
    action names the port it changes (the nic's, when it was queued; none
    for a nic of HaaS 0.2 cabled to no port), and its nic when it has one:
    a port is reverted when it is registered, before any nic is cabled to
    it."""

    __tablename__ = 'networking_action'
    id = db.Column(Key, primary_key=True)
    nic_id = db.Column(db.ForeignKey('nic.id'))
    # NULL means "detach" (and, for revert_port, "from every network").
    new_network_id = db.Column(db.ForeignKey('network.id'))
    channel = db.Column(db.String, nullable=False)
    # What a client asks about: the status_id of the 202 response.
    uuid = db.Column(db.String, nullable=False, unique=True,
                     default=lambda: str(uuid.uuid4()))
    status = db.Column(db.String, nullable=False, default=PENDING)
    type = db.Column(db.String, nullable=False, default=MODIFY_PORT)
    # Why the action is ERROR, or why its last attempt failed while it
    # stays PENDING; NULL once DONE, and before any attempt.
    error = db.Column(db.Text)
    # The port the action changes (last: added by a later revision).
    port_id = db.Column(db.ForeignKey('port.id'))
    # When (UTC) and by which API request (haas.audit's id) the action
    # was queued; NULL for actions queued before HaaS kept them.
    queued_at = db.Column(db.DateTime, default=utcnow)
    request_id = db.Column(db.String)

    # Spelt with OR, not IN: PostgreSQL shows IN on a varchar otherwise
    # after a dump is restored, and the schemas would differ.
    __table_args__ = (
        db.CheckConstraint(f"status = '{PENDING}' OR status = '{DONE}' OR "
                           f"status = '{ERROR}'", name='status'),
        db.CheckConstraint(f"type = '{MODIFY_PORT}' OR "
                           f"type = '{REVERT_PORT}'", name='type'),
        db.CheckConstraint('nic_id IS NOT NULL OR port_id IS NOT NULL',
                           name='nic_or_port'),
    )

    # A nic's actions go with the nic (the API lets only finished ones).
    nic = db.relationship('Nic', backref=db.backref(
        'actions', order_by='NetworkingAction.id',
        cascade='all, delete-orphan'))
    new_network = db.relationship('Network', backref='scheduled_nics')
    port = db.relationship('Port', backref='actions')

    @property
    def pending(self):
        return self.status == PENDING


class NetworkAttachment(db.Model):
    """A nic on a network, as applied to the switch."""

    __tablename__ = 'network_attachment'
    id = db.Column(Key, primary_key=True)
    nic_id = db.Column(db.ForeignKey('nic.id'), nullable=False)
    network_id = db.Column(db.ForeignKey('network.id'), nullable=False)
    channel = db.Column(db.String, nullable=False)

    nic = db.relationship('Nic', backref='attachments')
    network = db.relationship('Network', backref='attachments')


class Heartbeat(db.Model):
    """A running daemon (haas.heartbeat): one row per process, renewed
    every few seconds, deleted when it stops."""

    __tablename__ = 'daemon_heartbeat'
    # host:pid
    name = db.Column(db.String, primary_key=True)
    # What it is: 'networks', the networking daemon.
    kind = db.Column(db.String, nullable=False)
    started_at = db.Column(db.DateTime, nullable=False)
    seen_at = db.Column(db.DateTime, nullable=False)


class ConsoleLog(db.Model):
    """A node's console capture (haas.consoles): whether the console
    worker captures it, and the last of what it wrote."""

    __tablename__ = 'console_log'
    node_id = db.Column(db.ForeignKey('node.id', ondelete='CASCADE'),
                        primary_key=True)
    capture = db.Column(db.Boolean, nullable=False)
    # Drawn at random by each start: the worker writes only to the
    # capture it read, never a cleared one's output into its successor.
    epoch = db.Column(db.BigInteger, nullable=False)
    # The last [consoles] keep_kib KiB, as text.
    text = db.Column(db.Text, nullable=False)
    updated_at = db.Column(db.DateTime, nullable=False)


class Metadata(db.Model):
    """A label and a JSON value an administrator keeps on a node."""

    __tablename__ = 'metadata'
    id = db.Column(Key, primary_key=True)
    label = db.Column(db.String, nullable=False)
    # The value as JSON text.
    value = db.Column(db.String, nullable=False)
    owner_id = db.Column(db.ForeignKey('node.id'), nullable=False)

    __table_args__ = (db.UniqueConstraint('owner_id', 'label'),)

    # Node.metadata is SQLAlchemy's; a node's metadata is node.meta.
    owner = db.relationship('Node', backref=db.backref(
        'meta', order_by='Metadata.label', cascade='all, delete-orphan'))


def table_owners():
    """Map each table of the metadata to the module that defines it.

    A model's table belongs to its class's module; a plain ``db.Table``
    declares its module in ``info['module']``.
    """
    owners = {}
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table
        if mapper.inherits is not None \
                and table is mapper.inherits.local_table:
            continue  # single-table inheritance: the parent owns it
        owners[table.name] = mapper.class_.__module__
    for table in db.metadata.tables.values():
        if 'module' in table.info:
            owners[table.name] = table.info['module']
    return owners


def sqlite_like_postgresql(engine):
    """Transactional DDL and enforced foreign keys on SQLite.

    pysqlite starts transactions itself, only before DML; HaaS lets
    SQLAlchemy emit BEGIN instead, so that `db create` and each migration
    are atomic as on PostgreSQL, and savepoints work.  A connection with
    the execution option ``haas_begin='IMMEDIATE'`` takes SQLite's write
    lock as its transaction begins: a schema writer then waits (up to the
    busy timeout) for other writers instead of failing with "database is
    locked" when it first writes.
    """
    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute('PRAGMA foreign_keys=ON')

    @event.listens_for(engine, 'begin')
    def _on_begin(connection):
        mode = connection.get_execution_options().get('haas_begin')
        connection.exec_driver_sql(f'BEGIN {mode}' if mode else 'BEGIN')


def begin_writing():
    """Begin the session's transaction as a writer's, on SQLite: it takes
    the write lock as it begins, waiting (busy timeout) for another
    writer.  A transaction that reads first and writes later is refused
    at once ("database is locked") while another connection holds that
    lock: SQLite does not wait where waiting could deadlock.  Returns the
    session's connection.  A no-op elsewhere, and in a transaction already
    begun."""
    bind = db.session.get_bind()
    if isinstance(bind, sa.engine.Engine) and bind.dialect.name == 'sqlite' \
            and not db.session().in_transaction():
        return db.session.connection(
            execution_options={'haas_begin': 'IMMEDIATE'})
    return db.session.connection()

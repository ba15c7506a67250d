"""The work of the `db` verbs, on one HaaS application's database.

`Schema` holds what every verb needs: the enabled branches, the engine,
the models, the allocator and the settings.  Schema-writing verbs run on
one connection under the schema lock; the rows of branches that are not
enabled are hidden from Alembic, which cannot place them, after the rows
they stood for have been written out (`_prepare`).  The verbs themselves
are mixins, one module per concern: creating.py, upgrading.py (upgrade
and downgrade), stamping.py (stamp and forget) and reviewing.py (lint,
log and verify).
"""

import contextlib
import os
import sys
import time

import sqlalchemy as sa

from haas import crypto
from haas.errors import DatabaseError, MigrationError
from haas.migrations import (
    alembic_private,
    bookkeeping,
    checkpoints,
    ledger,
    lock,
    phases,
    servers,
    state,
)
from haas.migrations.adopt import Probe
from haas.migrations.creating import Creating
from haas.migrations.lock import begin
from haas.migrations.phasing import Phasing
from haas.migrations.reviewing import Reviewing
from haas.migrations.runner import Runner, Settings
from haas.migrations.scripts import Branches, revision_errors
from haas.migrations.stamping import Stamping
from haas.migrations.tables import tables_of
from haas.migrations.upgrading import Upgrading
from haas.model import db


def report(line):
    """Progress and warnings go to stderr, one line each."""
    print(line, file=sys.stderr, flush=True)


class Schema(Creating, Upgrading, Phasing, Stamping, Reviewing):
    """The schema of one application's database."""

    def __init__(self, app, report=report):
        haas = app.extensions['haas']
        self.config = haas.config
        self.allocator = haas.allocator
        self.keyring = haas.keyring
        self.report = report
        self.branches = Branches(self.config.extensions)
        self.branches.config.attributes['haas_branches'] = self.branches
        self.settings = Settings.from_config(self.config)
        # Builds the revisions' schemas only if a branch needs adopting.
        self.probe = Probe(self.branches)
        self._tables = {}
        # The connection on which haas_schema_branch is known to exist.
        self._labelled = None
        self.ledger = ledger.Writer(self.branches)
        #: whether an upgrade builds a branch without tables from its
        #: checkpoint, where it has one (haas.migrations.checkpoints)
        self.checkpoints = True

    @classmethod
    def current(cls):
        from flask import current_app
        return cls(current_app._get_current_object())

    @property
    def engine(self):
        return db.engine

    def runner(self):
        return Runner(self.branches, self.settings, self.report,
                      target_metadata=db.metadata, after_step=[self._record],
                      after_failure=[self._unlabelled], ledger=self.ledger)

    def tables_of(self, branch):
        """The names of `branch`'s tables in the models, which do not
        change while the application runs: read once per branch, not at
        every revision's bookkeeping."""
        if branch not in self._tables:
            self._tables[branch] = tables_of(branch)
        return self._tables[branch]

    def _record(self, connection, step=None, heads=None):
        bookkeeping.record(connection, self.branches, self.tables_of, heads,
                           ensured=self._labelled is connection)
        # It exists now, and stays once this transaction commits; a
        # rollback (a revision that failed) forgets it.
        self._labelled = connection

    def _unlabelled(self):
        self._labelled = None

    # --- connections --------------------------------------------------------

    @contextlib.contextmanager
    def reading(self):
        url = self.engine.url
        if url.get_backend_name() == 'sqlite' and url.database not in (
                None, '', ':memory:') and not os.path.exists(url.database):
            # An absent file is an empty database: reading it must not
            # leave one behind.
            empty = sa.create_engine('sqlite://')
            try:
                with empty.connect() as connection:
                    yield connection
            finally:
                empty.dispose()
            return
        with self.engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def writing(self, lock_wait=None):
        """A connection holding the schema lock."""
        wait = self.settings.lock_wait if lock_wait is None else lock_wait
        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == 'sqlite'
            if sqlite:
                # Writers take SQLite's write lock when they begin; batch
                # mode recreates tables, which SQLite refuses while it
                # enforces foreign keys (the pragma only works outside BEGIN).
                connection.execution_options(haas_begin='IMMEDIATE')
                connection.connection.driver_connection.execute(
                    'PRAGMA foreign_keys=OFF')
            try:
                with lock.schema_lock(connection, wait, self.report):
                    yield connection
            finally:
                connection.rollback()
                if sqlite:
                    connection.connection.driver_connection.execute(
                        'PRAGMA foreign_keys=ON')

    # --- reading --------------------------------------------------------

    def inspect(self, connection):
        """The Status of the database; reading it waits for a table that
        another session holds locked at most [migrations] lock_timeout."""
        if connection.dialect.name == 'postgresql' and \
                self.settings.lock_timeout:
            # For this transaction only: a pooled connection keeps no limit.
            connection.exec_driver_sql(
                f"SET LOCAL lock_timeout = "
                f"'{int(self.settings.lock_timeout * 1000)}ms'")
        try:
            status = state.inspect(connection, self.branches, self.tables_of,
                                   self.probe)
            if phases.is_expanded(connection):
                status.expansion = phases.expansion(
                    self.branches, state.inspect(
                        connection, self.branches, self.tables_of,
                        self.probe, table=bookkeeping.EXPAND_TABLE))
            return status
        except sa.exc.OperationalError as e:
            # 55P03: lock_not_available
            if getattr(e.orig, 'pgcode', None) != '55P03':
                raise
            raise DatabaseError(
                f'a table is locked by another session, and reading the '
                f'schema waited for it {self.settings.lock_timeout:g} s '
                f'([migrations] lock_timeout): let that session finish, or '
                f'stop it, then run this again') from None

    def status(self, wait=None, clients=False):
        """The Status; with `clients`, the database's other clients
        too."""
        with self.reading() as connection:
            status = self.inspect(connection)
        deadline = time.monotonic() + (wait or 0)
        while not status.current and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            with self.reading() as connection:
                status = self.inspect(connection)
        if clients or status.expansion is not None:
            with self.reading() as connection:
                status.clients = servers.clients(connection)
        return status

    def require_current(self, contracted=False):
        """DatabaseError unless the servers may run on this database; with
        `contracted`, unless it is contracted too."""
        status = self.status()
        advice = status.serving_advice()
        if advice is not None:
            raise DatabaseError(advice.message)
        if contracted and status.expansion is not None:
            raise DatabaseError(
                'the database is expanded for an online upgrade, not '
                'contracted: this process starts after `haas-admin db '
                'upgrade --phase contract`; the previous release\'s runs '
                'until then')
        self._warn(status)
        with self.reading() as connection:
            crypto.check_key(self.keyring, connection, db.metadata)

    def provide_key_file(self):
        """Make the key file of [secrets] where there is none yet and the
        database holds no password (haas.crypto.provide_key_file)."""
        # Silently, as create makes the tables: the commands print one
        # line per revision and nothing else (README, haas-admin db).
        with self.reading() as connection:
            crypto.provide_key_file(self.keyring, connection, db.metadata)

    def _warn(self, status):
        for line in status.warnings():
            self.report(f'Warning: {line}')

    # --- plans ------------------------------------------------------------

    def visible_rows(self, connection):
        """The version rows Alembic is shown, and those hidden from it:
        the rows of enabled branches (with those that hidden rows stood
        for), and the rows of branches that are not enabled."""
        view = state.read_view(connection, self.branches)
        return self._minimal(view.known + view.implied), view.unknown

    def _prepare(self, connection):
        """Write out the rows that hidden rows stood for; drop redundant
        ones.  Returns the rows to hide."""
        view = state.read_view(connection, self.branches)
        redundant = self.branches.redundant(view.known + view.implied)
        if view.implied or redundant:
            with begin(connection):
                bookkeeping.insert_rows(connection, view.implied)
                bookkeeping.delete_rows(connection, redundant)
        return view.unknown

    def _resolve(self, name):
        """The revision ids `name` stands for (an id, '<branch>@head'...)."""
        with revision_errors(self.branches, name):
            return tuple(s.revision for s in
                         self.branches.script.get_revisions(name))

    def _minimal(self, rows):
        redundant = self.branches.redundant(list(rows))
        return tuple(r for r in rows if r not in redundant)

    # Alembic computes the steps; see haas.migrations.alembic_private.

    def _upgrade_steps(self, target, start, empty=()):
        """Alembic's steps from `start` to `target`; the revisions of a
        branch of `empty` (without tables) that a checkpoint replaces run
        as that checkpoint."""
        steps = alembic_private.upgrade_steps(self.branches.script, target,
                                              start)
        if not self.checkpoints or not empty:
            return steps
        return checkpoints.substitute(self.branches, steps, empty)

    def _downgrade_steps(self, target, start):
        return alembic_private.downgrade_steps(self.branches.script, target,
                                               start)

    def _stamp_steps(self, revision, start):
        return alembic_private.stamp_steps(self.branches.script, revision,
                                           start)

    def _branch_of_step(self, step):
        checkpoint = alembic_private.checkpoint_of(step)
        if checkpoint is not None:
            return checkpoint.branch
        return self.branches.branch_of(
            alembic_private.step_script(step).revision)

    def _refuse(self, status, behind=False, expanded=False):
        """MigrationError if nothing may run; with `behind`, if a branch is
        behind too; unless `expanded`, if the database is expanded."""
        if status.expansion is not None and not expanded:
            raise MigrationError(
                'the database is expanded for an online upgrade: finish it '
                'with `haas-admin db upgrade --phase contract` (or go on '
                'with --phase expand) first')
        blocked = status.blocked
        if blocked is not None:
            raise MigrationError(blocked.message)
        if behind and status.enabled(state.BEHIND):
            raise MigrationError(status.advice().message)

    def _on_branch(self, revision, branch):
        """`revision` (an id, relative, or `<branch>@...`) on `branch`."""
        named = revision.split('@', 1)[0] if '@' in revision else None
        if named not in (None, branch):
            raise MigrationError(f'{revision} is a revision of branch '
                                 f'{named}, not of --extension {branch}')
        return revision if named else f'{branch}@{revision}'

    def _branch(self, extension):
        return self.branches.require(extension)

"""The work of the `db` verbs, on one HaaS application's database.

`Schema` holds what every verb needs: the enabled branches, the engine,
the models, the allocator and the settings.  Schema-writing verbs run on
one connection under the schema lock; the rows of branches that are not
enabled are hidden from Alembic, which cannot place them, after the rows
they stood for have been written out (`_prepare`).
"""

import contextlib
import json
import os
import re
import sys
import time

import sqlalchemy as sa

from haas.errors import DatabaseError, MigrationError
from haas.migrations import (
    alembic_private,
    bookkeeping,
    datachecks,
    ledger,
    lock,
    releases,
    state,
)
from haas.migrations.adopt import Probe
from haas.migrations.registry import BUILT_IN, LEDGER
from haas.migrations.runner import Runner, Settings, describe, message_of
from haas.migrations.scripts import Branches, revision_errors
from haas.migrations.tables import branch_tables, tables_of
from haas.model import db


def report(line):
    """Progress and warnings go to stderr, one line each."""
    print(line, file=sys.stderr, flush=True)


def begin(connection):
    """A new transaction on `connection`, after ending the one that its
    reads began."""
    if connection.in_transaction():
        connection.rollback()
    return connection.begin()


NO_REVISION = ("no revision given: name one, 'heads' for every branch or "
               "'<branch>@head'")

_RELATIVE = re.compile(r'^(?:(?P<branch>.+)@)?(?P<n>[-+]\d+)$')


class Step:
    """One step of a plan, as data."""

    def __init__(self, action, branch, script, transactional=True):
        self.action = action
        self.branch = branch
        self.script = script
        self.transactional = transactional

    def as_dict(self):
        return {'action': self.action, 'branch': self.branch,
                'revision': self.script.revision,
                'message': message_of(self.script),
                'transactional': self.transactional}

    def cells(self):
        return (self.action, self.branch, describe(self.script) + (
            '' if self.transactional else ' [not transactional]'))


class Plan:
    """What a command would do, in order: the ledger's steps (so that it
    records the rest), stamps to adopt, then the other steps."""

    def __init__(self, stamps, steps, branches, start=(), first=()):
        self.stamps = stamps
        self.first = list(first)
        self.rest = list(steps)
        #: every step Alembic runs, in order (stamps aside)
        self.alembic_steps = self.first + self.rest
        #: the version rows the steps start from, once stamped
        self.start = start
        self.steps = []
        for step in self.first:
            self._add(step, branches)
        for branch, revision in stamps:
            self.steps.append(Step('stamp', branch,
                                   branches.revisions[revision]))
        for step in self.rest:
            self._add(step, branches)
        #: what the data checks of the steps found (datachecks.Finding)
        self.findings = []
        #: applied revisions whose scripts changed (ledger.Change), and
        #: what upgrade does about them ([migrations] verify)
        self.changed = []
        self.verify = 'fail'

    def _add(self, step, branches):
        script = alembic_private.step_script(step)
        self.steps.append(Step(
            'upgrade' if alembic_private.step_is_upgrade(step)
            else 'downgrade',
            branches.branch_of(script.revision), script,
            getattr(script.module, 'transactional', True)))

    def as_json(self):
        return json.dumps({'steps': [s.as_dict() for s in self.steps],
                           'findings': [f.as_dict() for f in self.findings],
                           'changed': [c.as_dict() for c in self.changed]},
                          indent=2, sort_keys=True)

    def __str__(self):
        if not self.steps and not self.changed:
            return 'Nothing to do: every branch asked for is there already.'
        rows = [s.cells() for s in self.steps]
        widths = [max([len(row[i]) for row in rows], default=0)
                  for i in range(2)]
        return '\n'.join([f'{a:<{widths[0]}}  {b:<{widths[1]}}  {c}'
                          for a, b, c in rows] + [
            f'Data check failed: {finding}' for finding in self.findings] + [
            f'Changed since it ran: revision {c.revision} of branch '
            f'{c.branch} ({c.path})' for c in self.changed])

    @property
    def refusal(self):
        """Why `upgrade` would stop before it changes anything, or None."""
        if self.changed and self.verify == 'fail':
            return changed_message(self.changed)
        if self.findings:
            many = len(self.findings) > 1
            return (f'{len(self.findings)} data check{"s" if many else ""} '
                    f'failed: the upgrade would stop before it changes '
                    f'anything')
        return None

    @property
    def upgrades(self):
        """The scripts the plan upgrades to, in order."""
        return [alembic_private.step_script(s) for s in self.alembic_steps
                if alembic_private.step_is_upgrade(s)]


class Created(list):
    """The branches `create` created or adopted, in order."""

    #: how many entries the network allocator's pool gained
    pool_added = 0


def _at_base(branch):
    """What a downgrade to base leaves to decide: the extension is still
    enabled, so the servers refuse to start without its tables."""
    if branch in BUILT_IN:
        return (f'branch {branch} is at base now, without its tables: the '
                f'servers refuse to start until {state.CREATE} makes them '
                f'again')
    return (f'branch {branch} is at base now, without its tables, and its '
            f'extension is still enabled: the servers refuse to start until '
            f'{state.CREATE} makes them again, or until it is taken out of '
            f'[extensions] to retire it')


class Schema:
    """The schema of one application's database."""

    def __init__(self, app, report=report):
        haas = app.extensions['haas']
        self.config = haas.config
        self.allocator = haas.allocator
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
            return state.inspect(connection, self.branches, self.tables_of,
                                 self.probe)
        except sa.exc.OperationalError as e:
            # 55P03: lock_not_available
            if getattr(e.orig, 'pgcode', None) != '55P03':
                raise
            raise DatabaseError(
                f'a table is locked by another session, and reading the '
                f'schema waited for it {self.settings.lock_timeout:g} s '
                f'([migrations] lock_timeout): let that session finish, or '
                f'stop it, then run this again') from None

    def status(self, wait=None):
        with self.reading() as connection:
            status = self.inspect(connection)
        deadline = time.monotonic() + (wait or 0)
        while not status.current and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            with self.reading() as connection:
                status = self.inspect(connection)
        return status

    def require_current(self):
        """DatabaseError unless the servers may run on this database."""
        status = self.status()
        advice = status.serving_advice()
        if advice is not None:
            raise DatabaseError(advice.message)
        self._warn(status)

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

    def _upgrade_plan(self, connection, status, target, involved):
        """The stamps that adopt tables, then the steps, for `target`.

        Every adoptable branch is stamped at the revision its tables match
        before the steps are planned; a stamp is kept if its branch is one
        asked for or one the steps run, which a branch asked for needs.
        """
        rows, _ = self.visible_rows(connection)
        adopt = [(b.branch, b.adopt_at)
                 for b in status.enabled(state.ADOPTABLE) if b.adopt_at]
        start = self._minimal(list(rows) + [r for _, r in adopt])
        with revision_errors(self.branches, target):
            steps = self._upgrade_steps(target, start)
        touched = {self._branch_of_step(s) for s in steps} | set(involved)
        stamps = [(b, r) for b, r in adopt if b in touched]
        if len(stamps) != len(adopt):
            start = self._minimal(list(rows) + [r for _, r in stamps])
            with revision_errors(self.branches, target):
                steps = self._upgrade_steps(target, start)
        first, rest = self._ledger_first(steps)
        if not first and LEDGER in involved:
            # Any upgrade but of one other branch brings the ledger up too.
            first, _ = self._ledger_first(
                self._upgrade_steps(f'{LEDGER}@head', start))
        return Plan(stamps, rest, self.branches, start, first=first)

    def _ledger_first(self, steps):
        """(the ledger's steps, the others): the ledger depends on no
        branch and none on it, so it may go first, and record the rest."""
        first = [s for s in steps if self._branch_of_step(s) == LEDGER]
        return first, [s for s in steps if s not in first]

    # Alembic computes the steps; see haas.migrations.alembic_private.

    def _upgrade_steps(self, target, start):
        return alembic_private.upgrade_steps(self.branches.script, target,
                                             start)

    def _downgrade_steps(self, target, start):
        return alembic_private.downgrade_steps(self.branches.script, target,
                                               start)

    def _stamp_steps(self, revision, start):
        return alembic_private.stamp_steps(self.branches.script, revision,
                                           start)

    def _branch_of_step(self, step):
        return self.branches.branch_of(
            alembic_private.step_script(step).revision)

    def _refuse(self, status, behind=False):
        blocked = status.blocked
        if blocked is not None:
            raise MigrationError(blocked.message)
        if behind and status.enabled(state.BEHIND):
            raise MigrationError(status.advice().message)

    # --- create -------------------------------------------------------------

    @contextlib.contextmanager
    def _probing(self):
        """Start the adoption probe while connecting, in case a branch needs
        adopting (the first upgrade of a HaaS 0.2 database); stop it after."""
        self.probe.start(speculative=True)
        try:
            yield
        finally:
            self.probe.close()

    def create(self, lock_wait=None):
        """See haas.migrations.create."""
        with self._probing():
            return self._create(lock_wait)

    def _create(self, lock_wait):
        created = []
        with self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            self._refuse(status, behind=True)
            self._warn(status)
            hidden = self._prepare(connection)
            adoptable = status.enabled(state.ADOPTABLE)
            if adoptable and LEDGER in self._new(status):
                # First, so that the ledger records the adoption.
                with begin(connection):
                    self._create_branches(connection, [LEDGER], hidden)
                    self._record(connection)
                created.append(LEDGER)
            if adoptable:
                names = [b.branch for b in adoptable]
                heads = self._minimal([self.branches.heads[b] for b in names])
                self._adopt_and_upgrade(connection, status, heads, names,
                                        hidden)
                created += names
                status = self.inspect(connection)
            new = [b for b in self._new(status) if b not in created]
            with begin(connection):
                self._create_branches(connection, new, hidden)
                added = self.allocator.populate(connection)
                self._record(connection)
            created += new
            for branch in created:  # once committed
                if branch in new or branch == LEDGER:
                    self.report(f'stamped {branch} at '
                                f'{self.branches.heads[branch]}')
        result = Created(created)
        result.pool_added = added or 0
        return result

    def _new(self, status):
        return [b.branch for b in status.enabled(state.NOT_CREATED)]

    def _create_branches(self, connection, new, hidden):
        """Create the tables of branches `new` from the models and stamp
        their heads, in the caller's transaction."""
        # Their verdict says none of these tables exists.
        db.metadata.create_all(connection, tables=branch_tables(new),
                               checkfirst=False)
        if not new:
            return
        started, clock = time.time(), time.monotonic()
        heads, _ = self.visible_rows(connection)
        before = self.branches.effective(list(heads))
        # All heads at once: Alembic then leaves the rows that stamping
        # them one by one, or `upgrade heads`, leaves.
        runner = self.runner()
        runner.report = None  # it would name only some branches
        # One transaction: the labels are written by the caller, and
        # the ledger's rows below.
        runner.after_step = []
        runner.ledger = None
        runner.run(connection, self._stamp_steps(
            self._minimal([self.branches.heads[b] for b in new]), heads),
            hidden, in_transaction=True)
        if LEDGER in new:
            ledger.backfill(connection, self.branches, before)
        if LEDGER in new or ledger.exists(connection):
            duration = time.monotonic() - clock
            ledger.write(connection, [
                ledger.entry(b, self.branches.heads[b], ledger.CREATE,
                             started_at=ledger.utc(started),
                             duration=duration) for b in new])

    def _adopt_and_upgrade(self, connection, status, target, involved,
                           hidden):
        plan = self._upgrade_plan(connection, status, target, involved)
        runner = self.runner()
        findings = datachecks.before(connection, self.branches,
                                     plan.upgrades, runner.passed)
        if findings:
            raise MigrationError(datachecks.refusal(findings))
        if not plan.stamps:
            runner.run(connection, plan.alembic_steps, hidden)
            return plan
        if plan.first:
            runner.run(connection, plan.first, hidden)
        for branch, revision in plan.stamps:
            heads, _ = self.visible_rows(connection)
            runner.run(connection, self._stamp_steps(revision, heads),
                       hidden)
        runner.run(connection, plan.rest, hidden)
        return plan

    # --- upgrade ----------------------------------------------------------

    def upgrade_target(self, revision, extension):
        if isinstance(revision, releases.Release):
            return self._release_target(revision, extension)
        if not revision:
            raise MigrationError(NO_REVISION)
        if extension is None:
            return revision, self.branches.names
        branch = self._branch(extension)
        if revision in ('heads', 'head'):
            return f'{branch}@head', [branch]
        return self._on_branch(revision, branch), [branch]

    def _release_target(self, release, extension):
        """The revisions of `release` for the enabled branches (or
        `extension`'s alone) that it has."""
        if extension is not None:
            branch = self._branch(extension)
            if branch not in release.revisions:
                raise MigrationError(f'branch {branch} is not part of '
                                     f'{release}: it is not HaaS\'s own')
            return (release.revisions[branch],), [branch]
        involved = [b for b in self.branches.names if b in release.revisions]
        targets = self._minimal([release.revisions[b] for b in involved])
        return targets, involved + [LEDGER]

    def _refuse_past(self, status, release, involved):
        """MigrationError if a branch is past `release` (when upgrading to
        a release): an upgrade does not go back."""
        if not isinstance(release, releases.Release):
            return
        past = [(b, r) for b, r in status.revisions.items()
                if b in involved and b in release.revisions
                and r != release.revisions[b]
                and release.revisions[b] in self.branches.redundant(
                    [r, release.revisions[b]])]
        if past:
            where = f'{past[0][0]} at {past[0][1]}' + (
                f' and {len(past) - 1} more branches' if len(past) > 1
                else '')
            raise MigrationError(
                f'the database is past {release} ({where}): an upgrade does '
                f'not go back; restore the backup taken before, or run '
                f'`haas-admin db downgrade`')

    def _on_branch(self, revision, branch):
        """`revision` (an id, relative, or `<branch>@...`) on `branch`."""
        named = revision.split('@', 1)[0] if '@' in revision else None
        if named not in (None, branch):
            raise MigrationError(f'{revision} is a revision of branch '
                                 f'{named}, not of --extension {branch}')
        return revision if named else f'{branch}@{revision}'

    def _branch(self, extension):
        return self.branches.require(extension)

    def upgrade(self, revision='heads', extension=None, plan=False,
                lock_wait=None):
        """See haas.migrations.upgrade; returns the Plan with `plan`."""
        target, involved = self.upgrade_target(revision, extension)
        if plan:
            with self.reading() as connection:
                status = self.inspect(connection)
                self._refuse(status)
                self._refuse_past(status, revision, involved)
                the_plan = self._upgrade_plan(connection, status, target,
                                              involved)
                the_plan.findings = datachecks.before(
                    connection, self.branches, the_plan.upgrades)
                the_plan.changed = self._changed(connection, status)
                the_plan.verify = self.settings.verify
                return the_plan
        with self._probing(), self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            self._refuse(status)
            self._refuse_past(status, revision, involved)
            self._warn(status)
            self._verify_before(connection, status)
            hidden = self._prepare(connection)
            ran = self._adopt_and_upgrade(connection, status, target,
                                          involved, hidden)
            if self.inspect(connection).advice() is None:
                # As `create` does: an upgrade from nothing fills the pool.
                with begin(connection):
                    added = self.allocator.populate(connection)
                    self._record(connection)
                if added and not ran.steps:
                    self.report(f'added {added} entries to the network '
                                f'allocator\'s pool')
        return None

    def upgrade_sql(self, revision='heads', extension=None, plan=False,
                    output=None):
        """The SQL of an upgrade: from nothing (or from the start of a
        ``start:end`` range), or, with `plan`, from the database's rows."""
        output = output or sys.stdout
        target, _ = self.upgrade_target(revision, extension)
        start = ()
        if plan:
            the_plan = self.upgrade(revision, extension, plan=True)
            start, steps = the_plan.start, the_plan.alembic_steps
        else:
            if ':' in target:
                first, target = target.split(':', 1)
                start = self._resolve(first)
            with revision_errors(self.branches, target):
                steps = sum(self._ledger_first(
                    self._upgrade_steps(target, start)), [])
        self.runner().sql(self.engine.dialect.name, steps, start, output)

    # --- lint -------------------------------------------------------------

    def lint(self, since=None, extension=None):
        """(the lint Findings, how many revisions were read)."""
        from haas.migrations import linting
        named = None if extension is None else self._branch(extension)
        if since is None:
            plan = self.upgrade('heads', extension, plan=True)
            steps, start = plan.alembic_steps, plan.start
            return linting.lint(self.runner(), self.branches, steps,
                                start), len(steps)
        if since == 'base' or since.endswith('@base'):
            # From the start: what the branch's first script depends on is
            # written out too, but only the branch is read.
            branch = named or since.split('@', 1)[0]
            if branch == 'base':
                raise MigrationError("--since base needs --extension MODULE: "
                                     "the branch to read from its start")
            self.branches.require(branch)
            start = ()
        else:
            with revision_errors(self.branches, since):
                script = self.branches.script.get_revision(since)
            branch = self.branches.branch_of(script.revision)
            if named is not None and named != branch:
                raise MigrationError(f'{since} is a revision of branch '
                                     f'{branch}, not of --extension '
                                     f'{extension}')
            start = (script.revision,)
        with revision_errors(self.branches, since):
            steps = self._upgrade_steps(f'{branch}@head', start)
        findings = linting.lint(self.runner(), self.branches, steps, start)
        read = [s for s in steps if self._branch_of_step(s) == branch]
        return [f for f in findings if f.branch == branch], len(read)

    # --- the ledger -------------------------------------------------------

    def _ledger_status(self, status):
        if status.revisions.get(LEDGER) is None:
            advice = status.advice()
            todo = advice.message if advice else 'run `haas-admin db create`'
            raise MigrationError(
                f'the database has no migration ledger yet: {todo}')

    def log(self, extension=None):
        """The ledger's rows, oldest first; of one branch with `extension`."""
        with self.reading() as connection:
            self._ledger_status(self.inspect(connection))
            rows = ledger.rows(connection)
        if extension is None:
            return rows
        if extension not in self.branches.folders and \
                not any(row['branch'] == extension for row in rows):
            raise MigrationError(
                f'{extension} is neither an enabled branch nor one the '
                f'ledger names (branches: {", ".join(self.branches.names)})')
        return [row for row in rows if row['branch'] == extension]

    def verify(self):
        """(the Changes, how many applied revisions were checked)."""
        with self.reading() as connection:
            status = self.inspect(connection)
            self._ledger_status(status)
            return ledger.changes(connection, self.branches, status.revisions)

    def accept(self, revision, reason):
        """Record that the change to applied `revision` was reviewed."""
        if not (reason or '').strip():
            raise MigrationError('give the reason the change is accepted: '
                                 '--reason TEXT')
        with self.writing() as connection:
            status = self.inspect(connection)
            self._ledger_status(status)
            changes, _ = ledger.changes(connection, self.branches,
                                        status.revisions)
            matches = [c for c in changes if c.revision.startswith(revision)]
            if len(matches) != 1:
                changed = ', '.join(c.revision for c in changes) or 'none'
                raise MigrationError(
                    f'{revision} is not {"one" if not matches else "only one"}'
                    f' of the applied revisions whose script changed since '
                    f'it ran (changed: {changed})')
            change, = matches
            with begin(connection):
                ledger.write(connection, [ledger.entry(
                    change.branch, change.revision, ledger.ACCEPT,
                    started_at=ledger.utc(), fingerprint=change.now,
                    reason=reason.strip())])
            return change

    def _changed(self, connection, status):
        """The applied revisions whose scripts changed since they ran; none
        on a database without a ledger."""
        if status.revisions.get(LEDGER) is None:
            return []
        changes, _ = ledger.changes(connection, self.branches,
                                    status.revisions)
        return changes

    def _verify_before(self, connection, status):
        """Refuse (or warn, with [migrations] verify = warn) when applied
        scripts changed since they ran."""
        changes = self._changed(connection, status)
        if not changes:
            return
        message = changed_message(changes)
        if self.settings.verify == 'fail':
            raise MigrationError(message)
        self.report(f'Warning: {message}')

    # --- downgrade --------------------------------------------------------

    def downgrade_target(self, revision, extension):
        if not revision:
            raise MigrationError("no revision given: name one, such as "
                                 "'<branch>@-1' or '<branch>@base'")
        if extension is not None:
            return self._on_branch(revision, self._branch(extension))
        return revision

    def _downgrade_plan(self, connection, target, cascade):
        heads, hidden = self.visible_rows(connection)
        self._check_relative(connection, target)
        with revision_errors(self.branches, target):
            steps = self._downgrade_steps(target, heads)
        plan = Plan([], steps, self.branches)
        named = self._named_branch(target)
        touched = []
        for step in plan.steps:
            if step.branch not in touched:
                touched.append(step.branch)
        dependants = [b for b in touched if named and b != named]
        if dependants and not cascade:
            raise MigrationError(
                f'downgrading {named} that far would also downgrade '
                f'{", ".join(dependants)}, which depend'
                f'{"s" if len(dependants) == 1 else ""} on it: downgrade '
                f'{"it" if len(dependants) == 1 else "them"} first, or give '
                f'--cascade')
        removed = {s.script.revision for s in plan.steps}
        view = state.read_view(connection, self.branches)
        for row in hidden:
            label = view.label_of(row)
            if label is not None and removed & set(label.requires):
                raise MigrationError(
                    f'the orphaned branch {label.branch} depends on '
                    f'revisions this downgrade removes: enable its extension '
                    f'to downgrade it too, or `haas-admin db forget '
                    f'{label.branch}` first')
        return plan, dependants

    def _named_branch(self, target):
        if '@' in target:
            return target.split('@', 1)[0]
        if target == 'base':
            return None
        return self.branches.branch_of(target)

    def _check_relative(self, connection, target):
        match = _RELATIVE.match(target)
        if not match or not match.group('n').startswith('-'):
            return
        branch = match.group('branch')
        if branch is None or branch not in self.branches.folders:
            return
        heads, _ = self.visible_rows(connection)
        current = self.branches.effective(heads).get(branch)
        applied = self.branches.position(branch, current)
        wanted = -int(match.group('n'))
        if wanted > applied:
            raise MigrationError(
                f'{target} goes below the base of branch {branch}: it has '
                f'{applied} revision{"s" if applied != 1 else ""} applied; '
                f'{branch}@base reverts all of them')

    def downgrade(self, revision, extension=None, plan=False, cascade=False,
                  lock_wait=None):
        """See haas.migrations.downgrade; returns the Plan with `plan`."""
        target = self.downgrade_target(revision, extension)
        if plan:
            with self.reading() as connection:
                return self._downgrade_plan(connection, target, cascade)[0]
        with self.writing(lock_wait) as connection:
            # The orphans said as `upgrade` says them, before anything runs.
            self._warn(self.inspect(connection))
            hidden = self._prepare(connection)
            the_plan, dependants = self._downgrade_plan(connection, target,
                                                        cascade)
            if dependants:
                self.report(f'Downgrading {", ".join(dependants)} first: '
                            f'they depend on {self._named_branch(target)}')
            self.runner().run(connection, the_plan.alembic_steps, hidden)
            with begin(connection):
                self._record(connection)
            taken = {step.branch for step in the_plan.steps}
            for branch in self.inspect(connection).enabled(state.NOT_CREATED):
                if branch.branch in taken:
                    self.report(f'Warning: {_at_base(branch.branch)}')
        return None

    def downgrade_sql(self, revision, extension=None, output=None):
        """The SQL of a downgrade: from START to END for a ``START:END``
        range, without the database; else from the database's revisions."""
        target = self.downgrade_target(revision, extension)
        if ':' in target:
            first, target = target.split(':', 1)
            start = self._resolve(first)
            with revision_errors(self.branches, target):
                steps = self._downgrade_steps(target, start)
        else:
            with self.reading() as connection:
                steps = self._downgrade_plan(connection, target,
                                             True)[0].alembic_steps
                start, _ = self.visible_rows(connection)
        self.runner().sql(self.engine.dialect.name, steps, start,
                          output or sys.stdout)

    # --- stamp, forget ------------------------------------------------------

    def stamp(self, revision, purge=False, sql=False, output=None,
              lock_wait=None):
        if not revision:
            raise MigrationError(NO_REVISION)
        if sql:
            with revision_errors(self.branches, revision):
                steps = self._stamp_steps(revision, ())
            self.runner().sql(self.engine.dialect.name, steps, (),
                              output or sys.stdout)
            return
        with self.writing(lock_wait) as connection:
            hidden = self._prepare(connection)
            heads, _ = self.visible_rows(connection)
            with revision_errors(self.branches, revision):
                steps = self._stamp_steps(revision,
                                          () if purge else heads)
            with begin(connection):
                if purge:
                    bookkeeping.delete_rows(
                        connection, bookkeeping.version_rows(connection))
                self.runner().run(connection, steps, hidden,
                                  in_transaction=True)
                self._record(connection)

    def forget(self, name, drop_tables=False, lock_wait=None):
        """See haas.migrations.forget; returns the tables dropped."""
        if name in BUILT_IN:
            raise MigrationError(f'{name} is a branch of HaaS itself, which '
                                 f'is always enabled: it cannot be forgotten')
        if name in self.branches.folders:
            raise MigrationError(
                f'{name} is enabled: take it out of [extensions] first (to '
                f'remove its tables from an enabled extension, downgrade it: '
                f'`haas-admin db downgrade --extension {name} base`)')
        with self.writing(lock_wait) as connection:
            status = self.inspect(connection)
            orphan = next((b for b in status.orphans
                           if name in (b.branch, b.revision)), None)
            if orphan is None:
                raise MigrationError(
                    f'the database has no orphaned branch or revision {name}'
                    f' (`haas-admin db status` lists them)')
            tables = self._orphan_tables(connection, orphan)
            if drop_tables:
                self._check_references(connection, orphan, tables)
            self._prepare(connection)
            with begin(connection):
                bookkeeping.delete_rows(connection, [orphan.revision])
                if orphan.branch is not None:
                    bookkeeping.forget_label(connection, orphan.branch)
                if drop_tables:
                    metadata = sa.MetaData()
                    metadata.reflect(connection, only=tables)
                    # reflect() adds the tables they refer to; drop only
                    # theirs.
                    for table in reversed(metadata.sorted_tables):
                        if table.name in tables:
                            table.drop(connection)
        return tables if drop_tables else []

    def _orphan_tables(self, connection, orphan):
        label = bookkeeping.labels(connection).get(orphan.branch)
        if label is not None:
            names = label.tables
        elif orphan.branch is not None and orphan.installed:
            from haas import extensions
            extensions.load(orphan.branch)
            names = tables_of(orphan.branch)
        else:
            names = ()
        present = set(sa.inspect(connection).get_table_names())
        return [t for t in names if t in present]

    def _check_references(self, connection, orphan, tables):
        if not tables:
            raise MigrationError(
                f'HaaS does not know the tables of '
                f'{orphan.branch or orphan.revision}: forget it without '
                f'--drop-tables, then drop them by hand')
        inspector = sa.inspect(connection)
        for other in sorted(set(inspector.get_table_names()) - set(tables)):
            for fk in inspector.get_foreign_keys(other):
                if fk['referred_table'] in tables:
                    raise MigrationError(
                        f'table {other} refers to {fk["referred_table"]} of '
                        f'{orphan.branch}: remove what uses it first, or '
                        f'forget it without --drop-tables')


def changed_message(changes):
    """One line on applied scripts that changed since they ran."""
    names = '; '.join(f'revision {c.revision} of branch {c.branch} '
                      f'({c.path})' for c in changes)
    many = len(changes) > 1
    revision = 'REVISION' if many else changes[0].revision
    return (f'{len(changes)} applied script{"s" if many else ""} changed '
            f'since {"they" if many else "it"} ran: {names}; review the '
            f'change{"s" if many else ""}, then record '
            f'{"each" if many else "it"} with `haas-admin db verify --accept '
            f'{revision} --reason TEXT`')

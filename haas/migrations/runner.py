"""Running migration steps: one transaction per revision, told as it goes.

Every run of scripts, online or as SQL, goes through `Runner`, which the
verbs use directly; env.py, through `run_environment`, serves only the
Alembic commands that HaaS runs itself to write scripts.  Each revision
runs in its own transaction, with PostgreSQL's ``lock_timeout`` and
``statement_timeout`` set inside it (a script may set its own), and is
retried with backoff when it hits the lock timeout.  A script that sets
``transactional = False`` runs outside a transaction, for ``CREATE INDEX
CONCURRENTLY``; an invalid index that an earlier failed attempt left is
dropped first.
"""

import contextlib
import dataclasses
import functools
import logging
import time

import sqlalchemy as sa
from alembic.runtime.environment import EnvironmentContext
from alembic.util import CommandError

from haas.errors import MigrationError, first_line, squashed
from haas.migrations import alembic_private, datachecks

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Settings:
    """How migrations wait; from haas.cfg's [migrations] section."""

    lock_wait: float = 600
    lock_timeout: float = 10
    statement_timeout: float = 3600
    lock_retries: int = 5
    backoff: float = 1
    #: the longest wait between two attempts
    max_backoff: float = 30
    #: `upgrade --phase expand`'s lock_timeout and retries: short waits,
    #: so that the servers' requests queued behind a waiting ALTER wait
    #: little, and many tries
    expand_lock_timeout: float = 0.5
    expand_lock_retries: int = 40
    #: what a changed applied script does to `upgrade`: 'fail' or 'warn'
    verify: str = 'fail'

    @classmethod
    def from_config(cls, config):
        return cls(
            verify=config.choice('migrations', 'verify', ('fail', 'warn'),
                                 cls.verify),
            lock_wait=config.seconds('migrations', 'lock_wait', cls.lock_wait),
            lock_timeout=config.seconds('migrations', 'lock_timeout',
                                        cls.lock_timeout),
            statement_timeout=config.seconds(
                'migrations', 'statement_timeout', cls.statement_timeout),
            lock_retries=config.count('migrations', 'lock_retries',
                                      cls.lock_retries),
            expand_lock_timeout=config.seconds(
                'migrations', 'expand_lock_timeout', cls.expand_lock_timeout),
            expand_lock_retries=config.count(
                'migrations', 'expand_lock_retries', cls.expand_lock_retries))

    def for_expand(self):
        """The settings of `upgrade --phase expand`."""
        return dataclasses.replace(
            self, lock_timeout=self.expand_lock_timeout,
            lock_retries=self.expand_lock_retries,
            backoff=min(self.backoff, 0.2), max_backoff=2)


class RevisionFailed(MigrationError):
    """A revision's script failed; its transaction was rolled back."""

    def __init__(self, message, error):
        super().__init__(message)
        self.error = error

    @property
    def lock_timeout(self):
        return getattr(getattr(self.error, 'orig', None), 'pgcode',
                       None) == '55P03'


def message_of(script):
    """The first line of a revision's message."""
    doc = (script.doc or '').strip().splitlines()
    return doc[0] if doc else ''


def describe(script):
    """``<revision> (<first line of its message>)``."""
    message = message_of(script)
    return f'{script.revision} ({message})' if message else script.revision


def _error_line(error):
    if isinstance(error, MigrationError):
        return str(error)
    orig = getattr(error, 'orig', None)
    if orig is not None:
        return first_line(orig)
    return f'{type(error).__name__}: {squashed(error)}'


def _milliseconds(seconds):
    return f"'{int(round(seconds * 1000))}ms'"


class Runner:
    """Runs the steps of a plan on a connection, or writes their SQL."""

    def __init__(self, branches, settings=None, report=None,
                 target_metadata=None, after_step=(), after_failure=(),
                 ledger=None, data_checks=True, version_table=None):
        self.branches = branches
        self.settings = settings or Settings()
        self.report = report
        self.target_metadata = target_metadata
        self.after_step = list(after_step)
        #: called with no argument after a failed revision's rollback
        self.after_failure = list(after_failure)
        #: a haas.migrations.ledger.Writer, or None to record nothing
        self.ledger = ledger
        #: whether each revision runs its data checks first
        self.data_checks = data_checks
        #: where Alembic keeps the version rows, if not alembic_version
        #: (haas.migrations.phases)
        self.version_table = version_table
        #: (revision, sql) of the checks that ran clean before the upgrade,
        #: in the same command: not run again (haas.migrations.datachecks)
        self.passed = set()
        #: offline, {revision: error} of the scripts that could not be
        #: written out, to go on without them; None to fail on the first
        self.unrendered = None
        self._started = None
        self._started_at = None
        self._current = None

    def options(self, dialect_name):
        from haas.migrations import hooks
        return dict(
            target_metadata=self.target_metadata,
            include_object=hooks.include_object,
            process_revision_directives=hooks.process_revision_directives,
            compare_type=True,
            render_as_batch=dialect_name == 'sqlite',
            # HaaS's engine makes SQLite DDL transactional too (haas.app).
            transactional_ddl=True,
            transaction_per_migration=True,
            on_version_apply=[self._applied],
            **({'version_table': self.version_table}
               if self.version_table else {}),
        )

    # --- online ---------------------------------------------------------

    def run(self, connection, steps, hidden=(), in_transaction=False):
        """Run `steps` (Alembic's migration steps) on `connection`.

        Alembic is shown the version rows minus `hidden` (rows of branches
        that are not enabled, which it cannot place).  After a lock
        timeout the revision that failed, and those after it, run again.
        Each revision commits on its own, unless `in_transaction`: then
        they all run in the caller's transaction.
        """
        if not in_transaction and connection.in_transaction():
            connection.rollback()  # what was read so far; nothing written
        steps = list(steps)
        done = set()
        attempt = 0
        while True:
            try:
                self._run_once(connection, [s for s in steps
                                            if id(s) not in done],
                               hidden, done)
                return
            except RevisionFailed as failure:
                if in_transaction:
                    raise  # the caller's transaction: not this to retry
                connection.rollback()
                for callback in self.after_failure:
                    callback()
                e = self._explained(connection, failure)
                self._record_failure(connection, e)
                if not e.lock_timeout or attempt >= self.settings.lock_retries:
                    if e is failure:
                        raise
                    raise e from failure.error
                attempt += 1
                delay = min(self.settings.backoff * 2 ** (attempt - 1),
                            self.settings.max_backoff)
                self._tell(f'{e}; retry {attempt} of '
                           f'{self.settings.lock_retries} in {delay:g} s')
                time.sleep(delay)

    def _run_once(self, connection, steps, hidden, done):
        env = EnvironmentContext(self.branches.config, self.branches.script,
                                 fn=self._steps(steps, done))
        with env:
            env.configure(connection=connection,
                          **self.options(connection.dialect.name))
            alembic_private.hide_rows(env.get_context(), hidden)
            with env.begin_transaction():
                env.run_migrations()

    # --- offline ----------------------------------------------------------

    def sql(self, dialect_name, steps, start, output):
        """Write the SQL of `steps`, from version rows `start`, to
        `output`."""
        # Offline, Alembic takes the version rows from `starting_rev`.
        env = EnvironmentContext(self.branches.config, self.branches.script,
                                 fn=self._steps(steps, set()), as_sql=True,
                                 starting_rev=tuple(start) or None)
        with env:
            env.configure(dialect_name=dialect_name, literal_binds=True,
                          output_buffer=output,
                          **self.options(dialect_name))
            with env.begin_transaction():
                env.run_migrations()

    # --- each step --------------------------------------------------------

    def _steps(self, steps, done):
        def fn(heads, context):
            for step in steps:
                if alembic_private.is_revision_step(step):
                    self._wrap(step, context)
                elif alembic_private.checkpoint_of(step) is not None:
                    self._wrap_checkpoint(step, context)
                self._current = step
                yield step
                done.add(id(step))
        return fn

    def _wrap(self, step, context):
        script = alembic_private.step_script(step)
        upgrade = alembic_private.step_is_upgrade(step)
        module = script.module
        branch = self.branches.branch_of(script.revision)
        postgresql = context.dialect.name == 'postgresql'
        transactional = getattr(module, 'transactional', True) or \
            not postgresql
        lock_timeout = getattr(module, 'lock_timeout',
                               self.settings.lock_timeout)
        statement_timeout = getattr(module, 'statement_timeout',
                                    self.settings.statement_timeout)
        where = f'revision {describe(script)} of branch {branch}'

        def timeouts(scope):
            if postgresql:
                _settings(context, (
                    f'SET {scope} lock_timeout = '
                    f'{_milliseconds(lock_timeout)}',
                    f'SET {scope} statement_timeout = '
                    f'{_milliseconds(statement_timeout)}'))

        def run_revision(original, **kw):
            self._started = time.monotonic()
            self._started_at = time.time()
            checks = self._checks(script, passed=False) \
                if upgrade and self.data_checks else []
            if context.as_sql:
                alembic_private.write_comment(
                    context,
                    f'-- {"upgrade" if upgrade else "downgrade"} '
                    f'{branch}: {describe(script)}')
                for sql, message in checks:
                    alembic_private.write_comment(
                        context, f'-- data check, must return no rows '
                        f'({message}): {datachecks.as_comment(sql)}')
            else:
                self._check(context.connection, script, checks, where)
            try:
                if transactional:
                    timeouts('LOCAL')
                    original(**kw)
                    return
                with context.autocommit_block():
                    if not context.as_sql:
                        self._drop_invalid_indexes(context.connection)
                    timeouts('SESSION')
                    try:
                        original(**kw)
                    finally:
                        if postgresql:
                            _settings(context, ('RESET lock_timeout',
                                                'RESET statement_timeout'))
            except RevisionFailed:
                raise
            except Exception as e:
                if context.as_sql and self.unrendered is not None:
                    # A script that reads data cannot be written out.
                    self.unrendered[script.revision] = _error_line(e)
                    return
                log.debug('%s failed', where, exc_info=True)
                kept = ('nothing of it was applied' if transactional else
                        'it is not transactional: what it did before the '
                        'error stays')
                raise RevisionFailed(
                    f'{where} failed: {_error_line(e)} ({kept}; the '
                    f'database stays at the last revision that completed)',
                    e) from e

        alembic_private.wrap_migration(
            step, lambda original: functools.partial(run_revision, original))

    def _wrap_checkpoint(self, step, context):
        """Run a checkpoint as a revision runs: timed, its failure said in
        one line, its place written into the SQL."""
        checkpoint = alembic_private.checkpoint_of(step)
        where = f'{checkpoint} ({len(checkpoint.replaces)} revisions at once)'

        def run_checkpoint(original, **kw):
            self._started = time.monotonic()
            self._started_at = time.time()
            if context.as_sql:
                alembic_private.write_comment(
                    context, f'-- upgrade {checkpoint.branch}: {where}')
            elif context.dialect.name == 'postgresql':
                _settings(context, (
                    f'SET LOCAL lock_timeout = '
                    f'{_milliseconds(self.settings.lock_timeout)}',
                    f'SET LOCAL statement_timeout = '
                    f'{_milliseconds(self.settings.statement_timeout)}'))
            try:
                original(**kw)
            except Exception as e:
                log.debug('%s failed', where, exc_info=True)
                raise RevisionFailed(
                    f'{where} failed: {_error_line(e)} (nothing of it was '
                    f'applied; the branch stays without tables)', e) from e

        alembic_private.wrap_migration(
            step, lambda original: functools.partial(run_checkpoint,
                                                     original))

    def _checks(self, script, passed):
        """The (sql, message) data checks of `script` that ran clean before
        the upgrade (`passed`), or those that did not."""
        return [(sql, message) for sql, message in datachecks.declared(script)
                if ((script.revision, sql) in self.passed) == passed]

    def _check(self, connection, script, checks, where):
        """Run a revision's data checks in its own transaction: those on
        the tables that the revisions before it made, or all of them where
        the upgrade did not check first."""
        for sql, message in checks:
            try:
                finding = datachecks.run(connection, self.branches, script,
                                         sql, message)
            except sa.exc.DBAPIError as e:
                raise RevisionFailed(
                    f'{where}: its data check ({message}) failed: '
                    f'{_error_line(e)} (nothing of it was applied; the '
                    f'database stays at the last revision that completed)',
                    e) from e
            if finding is not None:
                raise _stopped_by(finding)

    def _explained(self, connection, error):
        """`error`, or, where the failed revision's data checks passed
        before the upgrade and find something now (rows an earlier
        revision of the upgrade wrote, or a server), their finding."""
        step = self._current
        if not alembic_private.is_revision_step(step) or \
                not alembic_private.step_is_upgrade(step):
            return error
        script = alembic_private.step_script(step)
        for sql, message in self._checks(script, passed=True):
            try:
                finding = datachecks.run(connection, self.branches, script,
                                         sql, message)
            except sa.exc.DBAPIError:
                finding = None
            finally:
                connection.rollback()
            if finding is not None:
                return _stopped_by(finding)
        return error

    def _drop_invalid_indexes(self, connection):
        """Drop what a failed CREATE INDEX CONCURRENTLY leaves behind: the
        invalid indexes of the schema that no session is building now (an
        index being built is invalid until it is done)."""
        invalid = connection.execute(sa.text(
            'SELECT c.relname FROM pg_index i '
            'JOIN pg_class c ON c.oid = i.indexrelid '
            'JOIN pg_namespace n ON n.oid = c.relnamespace '
            'WHERE NOT i.indisvalid AND n.nspname = current_schema() '
            'AND i.indexrelid NOT IN (SELECT index_relid '
            '                         FROM pg_stat_progress_create_index) '
            'ORDER BY 1')).scalars().all()
        quote = connection.dialect.identifier_preparer.quote
        for name in invalid:
            self._tell(f'dropping invalid index {name}, left by an earlier '
                       f'failed attempt')
            connection.exec_driver_sql(
                f'DROP INDEX CONCURRENTLY IF EXISTS {quote(name)}')

    def _record_failure(self, connection, error):
        step = self._current
        if self.ledger is None or not alembic_private.is_revision_step(step):
            return
        now = time.monotonic()
        elapsed = now - (self._started or now)
        self.ledger.failed(connection, alembic_private.step_script(step),
                           alembic_private.step_is_upgrade(step),
                           self._started_at or time.time(), elapsed,
                           _error_line(error.error))

    def _applied(self, ctx, step, heads, run_args):
        if ctx.as_sql:
            return
        now = time.monotonic()
        elapsed = now - (self._started or now)
        started_at = self._started_at or time.time()
        self._started = self._started_at = None
        for callback in self.after_step:
            callback(ctx.connection, self._current, heads)
        checkpoint = alembic_private.checkpoint_of(self._current)
        if self.ledger is not None:
            current = self.branches.effective(
                [h for h in heads if h in self.branches.revisions])
            self.ledger.applied(ctx.connection, step, started_at, elapsed,
                                current, checkpoint)
        if checkpoint is not None:
            self._tell(f'built {checkpoint.branch} at '
                       f'{describe(step.up_revision)} from its checkpoint, '
                       f'in place of {len(checkpoint.replaces)} revisions, '
                       f'in {elapsed:.2f} s')
            return
        if step.is_stamp:
            for revision in step.up_revision_ids:
                self._tell(f'stamped {self.branches.branch_of(revision)} at '
                           f'{revision}')
            return
        script = step.up_revision
        branch = self.branches.branch_of(script.revision)
        if step.is_upgrade:
            self._tell(f'upgraded {branch} to {describe(script)} in '
                       f'{elapsed:.2f} s')
        else:
            down = ', '.join(alembic_private.down_revisions(script)) or \
                'base'
            self._tell(f'downgraded {branch} from {describe(script)} to '
                       f'{down} in {elapsed:.2f} s')

    def _tell(self, line):
        if self.report is not None:
            self.report(line)


def _stopped_by(finding):
    """The RevisionFailed of a revision whose data check found rows."""
    return RevisionFailed(
        f'{finding}; nothing of it was applied; the database stays at the '
        f'last revision that completed', MigrationError(finding.message))


def _settings(context, statements):
    """Run SET statements: in one round trip, or one per line in a script
    for a DBA to read."""
    if context.as_sql:
        for statement in statements:
            context.execute(statement)
    else:
        context.execute('; '.join(statements))


#: The key, in an Alembic configuration's ``attributes``, by which HaaS
#: marks the Alembic commands it runs itself (`db revision --autogenerate`,
#: `db migrate`, `db merge`); its value names the command.  env.py runs
#: only for a command so marked.
OWN_COMMAND = 'haas_own_command'

#: What env.py says to every other command.  Upgrades, downgrades and
#: stamps do not go through env.py at all: `Runner` runs them under the
#: schema lock, with the ledger and the data checks.
REFUSAL = ("use `haas-admin db` instead (`haas-admin db upgrade heads`, "
           "`downgrade`, `stamp`, `current`, `migrate`): HaaS's migrations "
           "run only through it, under the schema lock, with the migration "
           "ledger and the data checks")


@contextlib.contextmanager
def own_command(config, name):
    """Mark the Alembic command that HaaS runs on Alembic configuration
    `config` meanwhile, so that env.py runs for it."""
    config.attributes[OWN_COMMAND] = name
    try:
        yield
    finally:
        del config.attributes[OWN_COMMAND]


def run_environment(context):
    """What env.py does: run Alembic's command with HaaS's options, if it is
    one that HaaS runs itself; else refuse, naming the command to use.

    `flask_migrate.upgrade()` and `alembic upgrade` would otherwise change
    the schema without the lock, the ledger or the data checks.  Alembic's
    CommandError is what both turn into one line and an exit status.
    """
    if context.config.attributes.get(OWN_COMMAND) is None:
        raise CommandError(REFUSAL)
    from haas.model import db
    branches = context.config.attributes['haas_branches']
    runner = Runner(branches, target_metadata=db.metadata)
    if context.is_offline_mode():
        context.configure(url=db.engine.url, literal_binds=True,
                          **runner.options(db.engine.dialect.name))
        with context.begin_transaction():
            context.run_migrations()
        return
    with db.engine.connect() as connection:
        context.configure(connection=connection,
                          **runner.options(connection.dialect.name))
        with context.begin_transaction():
            context.run_migrations()

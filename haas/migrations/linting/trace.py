"""`db lint --trace`: the pending revisions run on the database itself, in
one transaction that is rolled back, with what PostgreSQL says each
statement locked (pg_locks) and rewrote (a new relfilenode).

The revisions run through the same Runner as `upgrade`, one step at a
time, so that each statement is told to the revision that ran it.  A
sequence that a revision advanced (nextval ignores the rollback) is set
back where it was.
"""

import dataclasses

import sqlalchemy as sa

from haas.errors import MigrationError, first_line
from haas.migrations import alembic_private, bookkeeping
from haas.migrations.linting import short
from haas.migrations.linting import sql as statements
from haas.migrations.runner import RevisionFailed

_TABLES = ("SELECT c.oid, c.relname, c.relfilenode FROM pg_class c "
           "WHERE c.relnamespace = current_schema()::regnamespace "
           "AND c.relkind IN ('r', 'p', 'm')")
_LOCKS = ("SELECT c.relname, l.mode FROM pg_locks l "
          "JOIN pg_class c ON c.oid = l.relation "
          "WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' "
          "AND l.granted "
          "AND c.relnamespace = current_schema()::regnamespace "
          "AND c.relkind IN ('r', 'p', 'm')")
_SEQUENCES = ("SELECT schemaname, sequencename, last_value "
              "FROM pg_sequences WHERE schemaname = current_schema()")


@dataclasses.dataclass
class Traced:
    """One statement of a pending revision, as the database ran it."""

    branch: str
    revision: str
    statement: str
    #: (table, the strongest lock held on it after the statement)
    locks: list = dataclasses.field(default_factory=list)
    rewrites: list = dataclasses.field(default_factory=list)
    #: why the revision was not run, for one that was not
    skipped: str | None = None

    def as_dict(self):
        return {'branch': self.branch, 'revision': self.revision,
                'statement': self.statement,
                'locks': [{'table': t, 'mode': m} for t, m in self.locks],
                'rewrites': self.rewrites, 'skipped': self.skipped}

    def __str__(self):
        where = f'{self.branch} {self.revision}: traced: '
        if self.skipped is not None:
            return where + f'not run: {self.skipped}'
        said = [f'{mode} on {table}' + (
            ', rewrite' if table in self.rewrites else '')
            for table, mode in self.locks]
        said += [f'rewrite of {t}' for t in self.rewrites
                 if t not in dict(self.locks)]
        return where + f'{short(self.statement)}: {"; ".join(said)}'


class _Recorder:
    """Listens to a connection's statements, and reads what each of them
    locked and rewrote, while `current` names a revision."""

    def __init__(self, connection):
        self.connection = connection
        self.current = None  # (branch, revision)
        self.traced = []
        self._before = None
        sa.event.listen(connection, 'before_cursor_execute', self.before)
        sa.event.listen(connection, 'after_cursor_execute', self.after)

    def close(self):
        sa.event.remove(self.connection, 'before_cursor_execute', self.before)
        sa.event.remove(self.connection, 'after_cursor_execute', self.after)

    @staticmethod
    def _read(cursor):
        with cursor.connection.cursor() as own:
            own.execute(_TABLES)
            files = {oid: (name, node) for oid, name, node in own.fetchall()}
            own.execute(_LOCKS)
            locks = set(own.fetchall())
        return files, locks

    def before(self, conn, cursor, statement, parameters, context,
               executemany):
        self._before = self._read(cursor) if self.current else None

    def after(self, conn, cursor, statement, parameters, context,
              executemany):
        if self._before is None:
            return
        (files, locks), (now_files, now_locks) = self._before, \
            self._read(cursor)
        self._before = None
        rewrites = sorted(name for oid, (name, node) in now_files.items()
                          if oid in files and files[oid][1] != node)
        # pg_locks has a row per mode held: a mode the statement asked for
        # first is a new row; for a table it names whose mode the
        # transaction held already, the mode it asks for, from its tree.
        asked = _locks_of(statement)
        strongest = dict(asked)
        for table, mode in now_locks - locks:
            if mode not in statements.LOCKS:
                continue  # a predicate lock of a serializable transaction
            held = strongest.get(table)
            if held is None or statements.LOCKS.index(mode) > \
                    statements.LOCKS.index(held):
                strongest[table] = mode
        for table in bookkeeping.TABLES:
            strongest.pop(table, None)
        if strongest or rewrites:
            self.traced.append(Traced(*self.current, statement.strip(),
                                      sorted(strongest.items()), rewrites))


def _locks_of(statement):
    """{table: the lock `statement` asks for on it}, where it parses (a
    statement with bound parameters does not)."""
    try:
        parsed = list(statements.parse(statement))
    except MigrationError:
        return {}
    catalog = statements.Catalog()
    return {t: m for text, node in parsed
            for t, m in statements.read(text, node, catalog).locks.items()}


def _sequences(connection):
    return connection.exec_driver_sql(_SEQUENCES).all()


def trace(schema, plan, lock_wait=None):
    """The Traced statements of `plan` (an upgrade Plan), run on the
    database (PostgreSQL's) in one transaction that is then rolled
    back."""
    runner = schema.runner()
    runner.report = None
    runner.after_step, runner.after_failure = [], []
    runner.ledger = None
    runner.data_checks = False
    with schema.writing(lock_wait) as connection:
        sequences = _sequences(connection)
        connection.commit()
        recorder = _Recorder(connection)
        transaction = connection.begin()
        try:
            _run(schema, runner, recorder, connection, plan)
        finally:
            transaction.rollback()
            recorder.close()
            _restore(connection, sequences)
    return recorder.traced


def _run(schema, runner, recorder, connection, plan):
    _, hidden = schema.visible_rows(connection)
    steps = list(plan.first)
    for step in steps:
        _run_step(schema, runner, recorder, connection, step, hidden)
    for _, revision in plan.stamps:
        heads, _ = schema.visible_rows(connection)
        runner.run(connection, schema._stamp_steps(revision, heads), hidden,
                   in_transaction=True)
    rest = list(plan.rest)
    for index, step in enumerate(rest):
        script = alembic_private.step_script(step)
        if not getattr(script.module, 'transactional', True):
            later = len(rest) - index - 1
            recorder.traced.append(Traced(
                schema.branches.branch_of(script.revision), script.revision,
                '', skipped=(
                    'it runs outside a transaction, which a trace cannot '
                    'roll back' + (f'; nor the {later} revision'
                                   f'{"s" if later > 1 else ""} after it'
                                   if later else ''))))
            return
        _run_step(schema, runner, recorder, connection, step, hidden)


def _run_step(schema, runner, recorder, connection, step, hidden):
    script = alembic_private.step_script(step)
    recorder.current = (schema.branches.branch_of(script.revision),
                        script.revision)
    try:
        runner.run(connection, [step], hidden, in_transaction=True)
    except RevisionFailed as e:
        error = getattr(e.error, 'orig', None) or e.error
        raise MigrationError(
            f'--trace stopped at revision {script.revision} of branch '
            f'{recorder.current[0]}, which failed: {first_line(error)} '
            f'(everything the trace ran is rolled back)') from e
    finally:
        recorder.current = None


def _restore(connection, sequences):
    """Set back the sequences that the rolled back revisions advanced."""
    now = {(s, n): v for s, n, v in _sequences(connection)}
    quote = connection.dialect.identifier_preparer.quote
    for schema_name, name, value in sequences:
        if (schema_name, name) in now and now[schema_name, name] != value:
            qualified = f'{quote(schema_name)}.{quote(name)}'
            if value is None:
                connection.exec_driver_sql(
                    f"ALTER SEQUENCE {qualified} RESTART")
            else:
                connection.execute(sa.text('SELECT setval(:s, :v)'),
                                   {'s': qualified, 'v': value})
    connection.commit()


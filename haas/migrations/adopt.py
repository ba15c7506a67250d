"""Adoption: which revision a branch's unversioned tables are at, if any.

Tables of a branch can exist without its version row: a HaaS 0.2 database
from before schema versioning, a row dropped by hand, tables made by hand,
or another application's tables that happen to share a name.  The schema
of every revision of every branch is built once in a scratch SQLite
database, by running the scripts; the database's tables are compared with
it in a form both backends share (column names, generic types and
nullability, keys, unique sets, indexes).  Constraint names and sequences
are not compared: the baselines rename those themselves.
"""

import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import os
import pickle
import threading

import sqlalchemy as sa

from haas.migrations import alembic_private
from haas.migrations.runner import Runner
from haas.model import sqlite_like_postgresql

#: What Branches.remembered keeps the probe's schemas under.
SCHEMAS = 'probe schemas'

# A branch's first script may adopt the tables it finds: it then declares
# `legacy_tables`, {legacy table name: today's name} ({} when no name
# changed); Branches.legacy_tables reads it.


def shapes(inspector, tables):
    """{table: its schema in a form SQLite and PostgreSQL share}, for
    `tables`, reflected a kind of object at a time."""
    if not tables:
        return {}
    names = dict(filter_names=sorted(tables))
    columns = inspector.get_multi_columns(**names)
    keys = inspector.get_multi_pk_constraint(**names)
    foreign = inspector.get_multi_foreign_keys(**names)
    uniques = inspector.get_multi_unique_constraints(**names)
    indexes = inspector.get_multi_indexes(**names)
    found = {}
    for table in sorted(tables):
        key = (None, table)
        primary_key = tuple(sorted(keys[key]['constrained_columns']))
        index = indexes.get(key, [])
        found[table] = {
            # SQLite reports a primary key column declared without NOT
            # NULL as nullable; it is not.
            'columns': {c['name']: (c['type']._type_affinity.__name__,
                                    c['nullable']
                                    and c['name'] not in primary_key)
                        for c in columns[key]},
            'primary_key': primary_key,
            'foreign_keys': sorted(
                (tuple(fk['constrained_columns']), fk['referred_table'],
                 tuple(fk['referred_columns']))
                for fk in foreign.get(key, [])),
            'unique': sorted(
                {tuple(sorted(u['column_names']))
                 for u in uniques.get(key, [])}
                | {tuple(sorted(i['column_names'])) for i in index
                   if i['unique']}),
            'indexes': sorted(tuple(i['column_names']) for i in index
                              if not i['unique']),
        }
    return found


def _nullable(flag):
    return 'nullable' if flag else 'NOT NULL'


def differences(table, expected, actual):
    """How table `actual` differs from `expected`, in words."""
    found = []
    want, have = expected['columns'], actual['columns']
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    if missing:
        found.append(f'{table} lacks column{"s" if len(missing) > 1 else ""}'
                     f' {", ".join(missing)}')
    if extra:
        found.append(f'{table} has unexpected column'
                     f'{"s" if len(extra) > 1 else ""} {", ".join(extra)}')
    for name in want:
        if name in have and have[name] != want[name]:
            found.append(
                f'{table}.{name} is {have[name][0]} {_nullable(have[name][1])}'
                f', not {want[name][0]} {_nullable(want[name][1])}')
    for key, what in (('primary_key', 'primary key'),
                      ('foreign_keys', 'foreign keys'),
                      ('unique', 'unique keys'), ('indexes', 'indexes')):
        if expected[key] != actual[key]:
            found.append(f'{table} has {what} {_words(actual[key])}, not '
                         f'{_words(expected[key])}')
    return found


def _words(value):
    if not value:
        return 'none'
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return f'({", ".join(value)})'
    parts = []
    for item in value:
        if len(item) == 3:
            parts.append(f'({", ".join(item[0])}) -> {item[1]}'
                         f'({", ".join(item[2])})')
        else:
            parts.append(f'({", ".join(item)})')
    return ', '.join(parts)


class Verdict:
    """What to do with a branch's unversioned tables."""

    def __init__(self, revision=None, problems=(), closest=None):
        #: the revision to stamp before upgrading (None: the branch's first
        #: script adopts the tables itself)
        self.revision = revision
        self.problems = list(problems)
        self.closest = closest

    @property
    def adoptable(self):
        return not self.problems


#: Set in the thread (or forked child) that runs scripts on a scratch
#: database.
_scratch_thread = threading.local()


class _ScratchSilence(logging.Filter):
    """Drops the log records of scripts run on a scratch database.

    Whatever [general] log_level says: those runs are how HaaS reads its
    own scripts, not migrations of the operator's database, and Alembic's
    "Running upgrade" lines would say otherwise.  A filter, not a level,
    because the scratch runs may share the process with real ones (a
    thread of a server), which must still log.
    """

    def filter(self, record):
        return not getattr(_scratch_thread, 'active', False)


_SILENCE = _ScratchSilence()


@contextlib.contextmanager
def _silenced():
    """Log nothing of Alembic's or the runner's in this thread meanwhile.

    A logger's filter sees only the records logged on that very logger,
    not its children's, so it goes on each one Alembic has made."""
    names = ['alembic', 'haas.migrations.runner'] + [
        name for name in list(logging.root.manager.loggerDict)
        if name.startswith('alembic.')]
    for name in names:
        logger = logging.getLogger(name)
        if _SILENCE not in logger.filters:
            logger.addFilter(_SILENCE)
    _scratch_thread.active = True
    try:
        yield
    finally:
        _scratch_thread.active = False


@contextlib.contextmanager
def scratch(branches, after_step=()):
    """A connection to an in-memory SQLite database on which every
    enabled branch's scripts have run, up to its head; `after_step`
    callbacks see each revision as it is applied.  Nothing of those runs
    is logged."""
    engine = sa.create_engine('sqlite://', poolclass=sa.pool.StaticPool)
    sqlite_like_postgresql(engine)
    try:
        with _silenced(), engine.connect() as connection:
            connection.exec_driver_sql('PRAGMA foreign_keys=OFF')
            # The scratch database is empty: no data to check.
            Runner(branches, after_step=after_step, data_checks=False).run(
                connection, alembic_private.upgrade_steps(branches.script,
                                                          'heads', ()))
            yield connection
    finally:
        engine.dispose()


class Probe:
    """The schema of every revision of the enabled branches.

    They follow from the scripts alone, and are kept with the scripts
    (Branches.remembered): a process that probes again (a server's
    checks, a test suite) does not run every script again.
    """

    def __init__(self, branches):
        self.branches = branches
        self._building = None
        found = branches.recalled(SCHEMAS)
        if found is not None:
            self.__dict__['schemas'] = found

    def start(self):
        """Build the schemas beside the caller, so that it can read the
        database meanwhile; `schemas` waits for them.

        A single-threaded process builds them in a forked child, on the
        other core; one with threads running (a server, a test runner),
        where forking is unsafe, in a thread of its own.  It starts only
        once the database is known to hold a branch's tables without its
        version row: building every revision's schema costs a third of a
        second of CPU, which a command that adopts nothing should not
        spend, even on another core.
        """
        if 'schemas' in self.__dict__ or self._building is not None:
            return
        forks = hasattr(os, 'fork') and threading.active_count() == 1
        # The revision map is built here, once, before anything runs beside.
        self.branches.script.get_revisions('heads')
        if forks:
            self._building = _Child(self._build_by_id)
            return
        executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix='haas-probe')
        # In the caller's context: a script may use the application's.
        self._building = executor.submit(contextvars.copy_context().run,
                                         self._build)
        executor.shutdown(wait=False)  # the thread ends with its one task

    def wait(self):
        """Wait for a build that `start` began, whatever its outcome."""
        if isinstance(self._building, _Child):
            self._building.result()
        elif self._building is not None:
            concurrent.futures.wait([self._building])

    @functools.cached_property
    def schemas(self):
        """Branch -> [(revision Script, {table: shape})], first to last."""
        return self.branches.remembered(SCHEMAS, self._built)

    def _built(self):
        if isinstance(self._building, _Child):
            by_id = self._building.result()
            if by_id is None:  # the child failed: fail here, with its error
                return self._build()
            get = self.branches.script.get_revision
            return {branch: [(get(revision), tables)
                             for revision, tables in steps]
                    for branch, steps in by_id.items()}
        if self._building is not None:
            return self._building.result()
        return self._build()

    def _build_by_id(self):
        return {branch: [(script.revision, tables) for script, tables in steps]
                for branch, steps in self._build().items()}

    def _build(self):
        schemas = {b: [] for b in self.branches.names}
        owner = {}
        tables = set()
        heads = set(self.branches.heads.values())

        def after(connection, step, _):
            nonlocal tables
            inspector = sa.inspect(connection)
            now = set(inspector.get_table_names()) - {'alembic_version'}
            script = step.revision
            branch = self.branches.branch_of(script.revision)
            for name in now - tables:
                owner[name] = branch
            for name in tables - now:
                owner.pop(name, None)
            tables = now
            # A script touches only its own branch's tables: a head's are
            # as it left them at the end, and are read then, all at once.
            own = None if script.revision in heads else shapes(
                inspector, [name for name in now if owner.get(name) == branch])
            schemas[branch].append((script, own))

        with scratch(self.branches, [after]) as connection:
            found = shapes(sa.inspect(connection), [
                name for name in tables
                if schemas[owner[name]][-1][1] is None])
        for steps in schemas.values():
            if steps and steps[-1][1] is None:
                script, _ = steps[-1]
                branch = self.branches.branch_of(script.revision)
                steps[-1] = (script, {name: shape
                                      for name, shape in found.items()
                                      if owner[name] == branch})
        return schemas

    def names(self, branch):
        """Every table name the branch has had, legacy names included."""
        found = set()
        for script, tables in self.schemas[branch]:
            found.update(tables)
        found.update(self.branches.legacy_tables(branch) or ())
        return found

    def legacy_names(self):
        renamed = {}
        for branch in self.schemas:
            renamed.update(self.branches.legacy_tables(branch) or {})
        return renamed

    def judge(self, branch, found):
        """The Verdict on `branch`'s tables, given `found`, the shapes of
        the database's tables (of at least every name the branch has had
        that the database has)."""
        renamed = self.legacy_names()
        actual = {}
        for name in self.names(branch) & set(found):
            actual[name] = dict(found[name], foreign_keys=sorted(
                (cols, renamed.get(target, target), refs)
                for cols, target, refs in found[name]['foreign_keys']))
        best = None
        legacy = self.branches.legacy_tables(branch)
        for index, (script, expected) in enumerate(self.schemas[branch]):
            partial = index == 0 and legacy is not None
            problems = _compare(expected, actual, legacy or {}, partial)
            if not problems:
                return Verdict(revision=None if partial else script.revision)
            if best is None or len(problems) < len(best[1]):
                best = (script, problems)
        script, problems = best
        return Verdict(problems=problems, closest=script.revision)


def _compare(expected, actual, legacy, partial):
    """Problems of tables `actual` (name -> shape) against a revision's
    `expected` tables; with `partial`, missing tables are created by the
    script, and legacy names stand for today's."""
    problems = []
    renamed = {new: old for old, new in legacy.items()}
    seen = set()
    for table, want in expected.items():
        name = table if table in actual else renamed.get(table)
        if name not in actual:
            if not partial:
                problems.append(f'table {table} is missing')
            continue
        seen.add(name)
        problems.extend(differences(name, want, actual[name]))
    for name in sorted(set(actual) - seen):
        problems.append(f'table {name} is not in this revision')
    return problems


class _Child:
    """`compute()` run in a forked child process, its result read back
    through a pipe; None if it failed there.

    The child shares the parent's open files, database connections among
    them: it leaves them alone, and ends with os._exit, which closes its
    copies without a word to the server, runs no clean-up and flushes no
    buffer the parent also holds.
    """

    def __init__(self, compute):
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(read)
                try:
                    data = pickle.dumps(compute(), pickle.HIGHEST_PROTOCOL)
                except BaseException:
                    data = b''
                with open(write, 'wb') as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(write)
        self._read = read
        self._done = False
        self._value = None

    def result(self):
        if not self._done:
            self._done = True
            with open(self._read, 'rb') as pipe:
                data = pipe.read()
            os.waitpid(self.pid, 0)
            if data:
                self._value = pickle.loads(data)
        return self._value

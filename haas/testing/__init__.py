"""Checks of an extension's migrations, for its author's tests and for
`haas-admin db test`.

`Harness(extension, new_database)` runs each check on fresh databases that
`new_database()` makes (a SQLAlchemy URI each), with the extension enabled
beside what it needs (the null auth backend and network allocator, unless
it is one):

- its branch upgrades from base to head on an empty database;
- `upgrade heads` builds the same tables and version rows as `db create`;
- every revision goes up, down and up again with the rows the extension
  seeds unchanged (`rows_at(revision)` gives them: {table: [row, ...]});
- autogenerate finds nothing to do for its models;
- its scripts import neither the models nor the extension;
- each checkpoint of its branches builds what the revisions it replaces
  build (haas.migrations.checkpoints).

Each check returns the problems it found, one line each.  An author opts
into the same checks as pytest tests with `MigrationTests` (see
haas.testing.plugin for the fixtures).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import itertools
import typing

if typing.TYPE_CHECKING:
    import os
    from collections.abc import (
        Callable,
        Container,
        Iterator,
        Mapping,
        Sequence,
    )
    from typing import Any

    from alembic.script import Script
    from flask import Flask
    from sqlalchemy.engine import URL, Connection

    from haas.config import Config
    from haas.migrations.schema import Schema
    from haas.migrations.scripts import Branches

    #: The rows to seed at a revision: {table: [{column: value}, ...]}.
    Rows = Mapping[str, Sequence[Mapping[str, Any]]]

#: Tables that describe the branches; not the extension's data.
BOOKKEEPING = ('alembic_version', 'haas_schema_branch', 'haas_schema_ledger')


def companions(extension: str) -> list[str]:
    """The extensions to enable beside `extension`: exactly one auth
    backend and one network allocator are required."""
    from haas import auth, extensions, network_allocator
    extensions.load(extension)
    found = [extension]
    if extension not in auth.backends:
        found.append('haas.ext.auth.null')
    if extension not in network_allocator.allocators:
        found.append('haas.ext.network_allocators.null')
    return found


class Harness:
    """The migration checks of one extension."""

    CHECKS: tuple[str, ...] = (
        'upgrade_from_empty', 'upgrade_equals_create', 'round_trip',
        'no_drift', 'scripts_import_no_models', 'checkpoints_equal_history')

    def __init__(self, extension: str, new_database: Callable[[], str],
                 config: str = '',
                 rows_at: Callable[[str], Rows | None] | None = None
                 ) -> None:
        self.extension = extension
        self.new_database = new_database
        self.config = config
        module = importlib.import_module(extension)
        self.rows_at: Callable[[str], Rows | None] = (
            rows_at if rows_at else getattr(module, 'haas_testing_rows',
                                            lambda revision: {}))
        self.extensions = companions(extension)
        #: the progress lines of the commands the checks ran
        self.heard: list[str] = []

    # --- databases and apps ---------------------------------------------

    def config_text(self, uri: str) -> str:
        lines = ['[database]', f'uri = {uri}', '[extensions]']
        lines += [f'{name} =' for name in self.extensions]
        return '\n'.join(lines) + '\n' + self.config

    @contextlib.contextmanager
    def app(self, uri: str | None = None) -> Iterator[Flask]:
        """An app on `uri` (a new database by default), in its context."""
        from haas.app import create_app
        from haas.config import Config
        from haas.model import db
        app = create_app(Config.from_string(self.config_text(
            uri or self.new_database())))
        with app.app_context():
            try:
                yield app
            finally:
                for engine in db.engines.values():
                    engine.dispose()

    @property
    def branches(self) -> Branches:
        from haas.migrations.scripts import Branches
        return Branches(self.extensions)

    def branch_names(self) -> list[str]:
        """The branches the extension owns."""
        return [b for b in self.branches.names
                if b == self.extension or b.startswith(self.extension + '.')]

    # --- the checks -------------------------------------------------------

    def run(self) -> dict[str, list[str]]:
        """{check: its problems} for every check."""
        return {name: getattr(self, name)() for name in self.CHECKS}

    def upgrade_from_empty(self) -> list[str]:
        problems = self._no_branch()
        if problems:
            return problems
        with self.app():
            migrations = self._schema()
            for branch in self.branch_names():
                problems += self._guarded(
                    f'upgrade {branch}@head',
                    lambda: migrations.upgrade(f'{branch}@head'))
            if not problems:
                status = migrations.status()
                problems += [f'branch {b.branch} is {b.verdict} after the '
                             f'upgrade' for b in status.enabled()
                             if b.branch in self.branch_names()
                             and b.verdict != 'up to date']
        return problems

    def upgrade_equals_create(self) -> list[str]:
        from haas.migrations.tables import tables_of
        built: dict[str, dict[str, Any]] = {}
        for verb, run in (('create', lambda s: s.create()),
                          ('upgrade heads', lambda s: s.upgrade('heads'))):
            with self.app() as app:
                schema = self._schema()
                problems = self._guarded(verb, lambda: run(schema))
                if problems:
                    return problems
                built[verb] = _schema_of(app, {
                    t for b in self.branch_names() for t in tables_of(b)})
        problems = []
        created, upgraded = built['create'], built['upgrade heads']
        for key in sorted(set(created) | set(upgraded)):
            if created.get(key) != upgraded.get(key):
                problems.append(f'{key}: db create builds '
                                f'{created.get(key)!r}, upgrade heads '
                                f'{upgraded.get(key)!r}')
        return problems

    def round_trip(self) -> list[str]:
        problems = self._no_branch()
        with self.app():
            migrations = self._schema(pool=False)
            for branch in self.branch_names():
                parent = None
                for script in self.branches.by_branch[branch]:
                    # What the revision depends on is there first, so that
                    # `before` holds what its downgrade leaves.
                    for dependency in _dependencies(script):
                        problems += self._guarded(
                            f'upgrade to {dependency}',
                            lambda: migrations.upgrade(dependency))
                    if parent is not None:
                        problems += self._seed(parent)
                    before = _rows()
                    problems += self._guarded(
                        f'upgrade to {script.revision}',
                        lambda: migrations.upgrade(script.revision))
                    after = _rows()
                    problems += self._guarded(
                        f'downgrade {script.revision}',
                        lambda: migrations.downgrade(
                            parent or f'{branch}@base'))
                    if not problems and _rows() != before:
                        problems.append(
                            f'revision {script.revision}: its downgrade does '
                            f'not give back the rows it was upgraded from')
                    problems += self._guarded(
                        f'upgrade to {script.revision} again',
                        lambda: migrations.upgrade(script.revision))
                    if not problems and _rows() != after:
                        problems.append(
                            f'revision {script.revision}: upgraded again, it '
                            f'does not give the rows it gave the first time')
                    if problems:
                        return problems
                    parent = script.revision
        return problems

    def no_drift(self) -> list[str]:
        from haas.migrations.checks import drift
        prefixes = tuple(f'branch {b}:' for b in self.branch_names())
        return [line for line in drift(self.branches)
                if line.startswith(prefixes)]

    def scripts_import_no_models(self) -> list[str]:
        problems: list[str] = []
        forbidden = ('haas.model', self.extension)
        for branch in self.branch_names():
            for script in self.branches.by_branch[branch]:
                with open(script.path, encoding='utf-8') as f:
                    tree = ast.parse(f.read(), script.path)
                for name in _imports(tree):
                    if any(name == f or name.startswith(f + '.')
                           for f in forbidden):
                        problems.append(
                            f'{script.path} imports {name}: a script must '
                            f'not depend on the models, which change after '
                            f'it was written')
        return problems

    def checkpoints_equal_history(self) -> list[str]:
        from haas.migrations import checkpoints
        from haas.model import db
        branches = self.branches
        problems = self._checkpoint_problems(branches)
        for branch in self.branch_names():
            for checkpoint in checkpoints.of(branches).get(branch, []):
                built = []
                for use in (False, True):
                    with self.app():
                        schema = self._schema(pool=False)
                        schema.checkpoints = use
                        problems += self._guarded(
                            f'upgrade to {checkpoint.revision}'
                            + (' from its checkpoint' if use else ''),
                            lambda: schema.upgrade(checkpoint.revision))
                        with db.engine.connect() as connection:
                            built.append(checkpoints.snapshot(connection))
                if problems:
                    return problems
                problems += checkpoints.compare(checkpoint, *built)
        return problems

    def _checkpoint_problems(self, branches: Branches) -> list[str]:
        """The extension's checkpoints that cannot be used, and why."""
        from haas.migrations import checkpoints
        folders = [branches.folders[b] for b in self.branch_names()]
        return [line for line in checkpoints.problems(branches)
                if any(line.startswith(f) for f in folders)]

    # --- helpers ----------------------------------------------------------

    def _schema(self, pool: bool = True) -> Schema:
        """The verbs' work on the app's database, with its progress kept
        in `heard` instead of printed.  Without `pool`, an upgrade that
        reaches every head leaves the allocator's pool alone: what the
        scripts alone do is compared."""
        from flask import current_app

        from haas.migrations.schema import Schema
        schema = Schema(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            report=self.heard.append)
        if not pool:
            schema.allocator = _NoPool()
        return schema

    def _no_branch(self) -> list[str]:
        if not self.branch_names():
            return [f'{self.extension} has no branch: register its folder '
                    f'in haas.migrations.paths and write its first script']
        return []

    def _guarded(self, what: str, run: Callable[[], object]) -> list[str]:
        from haas.errors import HaasError
        try:
            run()
        except HaasError as e:
            return [f'{what}: {e}']
        return []

    def _seed(self, revision: str) -> list[str]:
        import sqlalchemy as sa

        from haas.model import db
        rows = self.rows_at(revision) or {}
        if not rows:
            return []
        problems: list[str] = []
        with db.engine.begin() as connection:
            metadata = sa.MetaData()
            metadata.reflect(connection, only=list(rows))
            for table, values in rows.items():
                columns = set(metadata.tables[table].columns.keys())
                unknown = sorted({k for row in values for k in row} - columns)
                if unknown:
                    problems.append(
                        f'the rows seeded at {revision} name column'
                        f'{"s" if len(unknown) > 1 else ""} '
                        f'{", ".join(unknown)}, which {table} lacks there')
                    continue
                connection.execute(metadata.tables[table].insert(), values)
        return problems


class _NoPool:
    """An allocator whose pool a round trip leaves alone."""

    def populate(self, connection: Connection) -> int:
        return 0


def _dependencies(script: Script) -> tuple[str, ...]:
    """The revisions of other branches that a script depends on."""
    depends = script.dependencies or ()
    return (depends,) if isinstance(depends, str) else tuple(depends)


def _imports(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and \
                not node.level:
            yield node.module


def _rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the bookkeeping, ordered."""
    import sqlalchemy as sa

    from haas.migrations.snapshot import tables_to_read
    from haas.model import db
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as connection:
        for name, table in tables_to_read(connection).items():
            if name not in BOOKKEEPING:
                found[name] = [tuple(r) for r in connection.execute(
                    sa.select(table).order_by(*table.columns))]
    return found


def _schema_of(app: Flask, tables: Container[str]) -> dict[str, Any]:
    """{'table <name>': its schema, 'version rows': ...}, for `tables`."""
    from haas import migrations
    from haas.model import db
    with db.engine.connect() as connection:
        snapshot = migrations.schema_snapshot(connection)
        rows = sorted(connection.exec_driver_sql(
            'SELECT version_num FROM alembic_version').scalars())
    found = {f'table {name}': shape
             for name, shape in snapshot['tables'].items() if name in tables}
    found['version rows'] = rows
    return found


def test_extension(extension: str, config: Config | None = None,
                   postgresql: str | URL | None = None
                   ) -> dict[str, list[str]]:
    """{check: problems} of `extension`, on fresh SQLite databases in a
    temporary folder, or on databases made on the PostgreSQL server at
    `postgresql`; `config` (a haas.config.Config) gives the sections other
    than [database] and [extensions]."""
    import tempfile

    from haas.errors import MigrationError
    extra = ''
    if config is not None:
        for section in config.parser.sections():
            if section not in ('database', 'extensions'):
                extra += f'[{section}]\n' + ''.join(
                    f'{key} = {value}\n'
                    for key, value in config.parser.items(section, raw=True))
    try:
        companions(extension)
    except Exception as e:  # not importable, or not an extension
        raise MigrationError(f'cannot test {extension}: {e}') from None
    with contextlib.ExitStack() as stack:
        if postgresql is not None:
            try:
                new = stack.enter_context(postgresql_databases(postgresql))
            except ConnectionError as e:
                raise MigrationError(str(e)) from None
        else:
            new = sqlite_databases(
                stack.enter_context(tempfile.TemporaryDirectory()))
        return Harness(extension, new, extra).run()


def sqlite_databases(folder: str | os.PathLike[str]) -> Callable[[], str]:
    """A factory of new SQLite database URIs, files in `folder`."""
    names = itertools.count()
    return lambda: f'sqlite:///{folder}/haas-{next(names)}.db'


@contextlib.contextmanager
def postgresql_databases(url: str | URL) -> Iterator[Callable[[], str]]:
    """A factory of new databases on the PostgreSQL server at `url`, each
    dropped at the end.  ConnectionError if the server cannot be used.

    A test database is thrown away, so its commits do not wait for the
    disk (`synchronous_commit = off`, set on the database): a migration
    commits once per revision, and a test suite makes many."""
    import os
    import uuid

    import sqlalchemy as sa
    url = sa.make_url(url)
    if url.drivername == 'postgresql':
        url = url.set(drivername='postgresql+psycopg2')
    try:
        admin = sa.create_engine(url, isolation_level='AUTOCOMMIT',
                                 poolclass=sa.pool.NullPool)
    except ImportError as e:
        raise ConnectionError(f'no driver for PostgreSQL ({e}): install '
                              f'haas[postgresql]') from None
    try:
        with admin.connect():
            pass
    except sa.exc.DBAPIError as e:
        raise ConnectionError(f'PostgreSQL at {url.render_as_string()} '
                              f'cannot be used: {e.orig}') from None
    made: list[str] = []

    def new() -> str:
        name = f'haas_test_{os.getpid()}_{uuid.uuid4().hex[:10]}'
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE {name}')
            connection.exec_driver_sql(
                f'ALTER DATABASE {name} SET synchronous_commit = off')
        made.append(name)
        return url.set(database=name).render_as_string(hide_password=False)
    try:
        yield new
    finally:
        with admin.connect() as connection:
            for name in made:
                connection.exec_driver_sql(
                    f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
        admin.dispose()


class MigrationTests:
    """The checks as pytest tests, for an extension author to opt into::

        from haas.testing import MigrationTests

        class TestMigrations(MigrationTests):
            extension = 'my_extension'

    They run on SQLite and on PostgreSQL (`haas_databases`, from the
    plugin); override `rows_at(revision)` to seed rows for the round trip,
    and set `config` for the extension's own haas.cfg sections.
    """

    extension: str | None = None
    config: str = ''

    def rows_at(self, revision: str) -> Rows | None:
        """{table: [row, ...]} to insert once the database is at
        `revision`, before the next revision goes down and up; by default
        the extension's own `haas_testing_rows(revision)`, if it has one."""
        module = importlib.import_module(typing.cast(str, self.extension))
        return getattr(module, 'haas_testing_rows', lambda r: {})(revision)

    def harness(self, new_database: Callable[[], str]) -> Harness:
        return Harness(typing.cast(str, self.extension), new_database,
                       self.config, self.rows_at)

    def test_upgrades_from_base_to_head_on_an_empty_database(
            self, haas_databases: Callable[[], str]) -> None:
        assert self.harness(haas_databases).upgrade_from_empty() == []

    def test_upgrade_heads_builds_what_create_builds(
            self, haas_databases: Callable[[], str]) -> None:
        assert self.harness(haas_databases).upgrade_equals_create() == []

    def test_every_revision_goes_down_and_up_with_its_rows(
            self, haas_databases: Callable[[], str]) -> None:
        assert self.harness(haas_databases).round_trip() == []

    def test_autogenerate_finds_nothing_to_do(
            self, haas_databases: Callable[[], str]) -> None:
        assert self.harness(haas_databases).no_drift() == []

    def test_scripts_import_no_models(
            self, haas_databases: Callable[[], str]) -> None:
        assert self.harness(haas_databases).scripts_import_no_models() == []

    def test_checkpoints_build_what_their_history_builds(
            self, haas_databases: Callable[[], str]) -> None:
        assert self.harness(
            haas_databases).checkpoints_equal_history() == []

"""Unsafe-DDL lint: what a revision would lock or rewrite on a busy table.

Each revision's PostgreSQL SQL is rendered offline, as `upgrade --sql`
writes it, and each statement parsed by PostgreSQL's own grammar
(haas.migrations.linting.sql).  The run starts from the tables the
database has: a revision that creates a table the database already holds
adopts it (an adopting baseline), and only a table the run itself creates
is new.  The script itself is read for data migrations written as Python
loops.  A revision waives a rule with a reason of its own::

    lint_waivers = {'index-not-concurrent': 'tag has a few hundred rows'}
"""

import ast
import dataclasses
import io
import re

import sqlalchemy as sa

from haas.errors import MigrationError
from haas.migrations.linting import sql as statements

RULES = {
    'index-not-concurrent':
        'an index built without CONCURRENTLY blocks writes to the table '
        'until it is built',
    'not-null-without-default':
        'a NOT NULL column added without a DEFAULT fails on a table with '
        'rows',
    'type-change-rewrites':
        'this column type change rewrites the whole table under an ACCESS '
        'EXCLUSIVE lock',
    'constraint-not-valid':
        'a foreign key or check added without NOT VALID scans the whole '
        'table under lock (add it NOT VALID, then VALIDATE CONSTRAINT)',
    'breaking-rename-or-drop':
        'a rename or drop breaks the code still running against the table '
        'during the upgrade',
    'python-loop-data-migration':
        'a data migration written as a Python loop over rows: write it as '
        'set-based SQL (INSERT ... SELECT, UPDATE ... FROM)',
    'drop-table':
        'dropping a table that holds rows loses them, and breaks the code '
        'still running against it during the upgrade',
    'volatile-default-rewrites':
        'a column added with a volatile DEFAULT (random(), '
        'gen_random_uuid(), a serial), or with any DEFAULT before '
        'PostgreSQL 11, rewrites the whole table under an ACCESS EXCLUSIVE '
        'lock',
    'set-not-null-without-check':
        'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock '
        'unless a validated CHECK (column IS NOT NULL) proves it first '
        '(PostgreSQL 12 on)',
    'missing-lock-timeout':
        'a lock taken on a table with rows without lock_timeout waits '
        'behind every running transaction, and every query queues behind '
        'it',
}


@dataclasses.dataclass
class Finding:
    branch: str
    revision: str
    rule: str
    statement: str
    reason: str | None = None  # why the revision waives it, if it does

    @property
    def waived(self):
        return self.reason is not None

    def as_dict(self):
        return {'branch': self.branch, 'revision': self.revision,
                'rule': self.rule, 'statement': self.statement,
                'waived': self.waived, 'reason': self.reason}

    def __str__(self):
        line = (f'{self.branch} {self.revision}: {self.rule}: '
                f'{RULES[self.rule]}: {short(self.statement)}')
        return line + (f' (waived: {self.reason})' if self.waived else '')


def short(statement, width=120):
    text = ' '.join(statement.split())
    return text if len(text) <= width else text[:width - 3] + '...'


_MARKER = re.compile(r'^-- upgrade (?P<branch>\S+): (?P<revision>\w+).*$',
                     re.MULTILINE)


def postgresql_version(text):
    """server_version_num of a version written `15`, `12.4` or `9.6`;
    MigrationError if it is none."""
    parts = text.strip().split('.')
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise MigrationError(f'--postgresql-version {text!r} is not a '
                             f'PostgreSQL version (such as 12 or 15.4)')
    numbers = [int(p) for p in parts] + [0, 0]
    if numbers[0] >= 10:
        return numbers[0] * 10000 + numbers[1]
    return numbers[0] * 10000 + numbers[1] * 100 + numbers[2]


def offline(version=None):
    """The Catalog of a run read without a database: every table it does
    not create holds rows; PostgreSQL `version`, or the default."""
    return statements.Catalog(version=version or statements.DEFAULT_VERSION)


def catalog_of(connection, branches, version=None):
    """What lint starts from on `connection`'s database: its tables (a
    legacy table under today's name too), and on PostgreSQL their columns'
    types, the validated NOT NULL checks, the functions that are not
    volatile, and the server's version unless `version` is given."""
    existing = set(sa.inspect(connection).get_table_names())
    renamed = {}
    for name in branches.names:
        for old, new in (branches.legacy_tables(name) or {}).items():
            if old in existing:
                renamed[old] = new
    catalog = statements.Catalog(existing=existing | set(renamed.values()))
    if connection.dialect.name != 'postgresql':
        catalog.version = version or statements.DEFAULT_VERSION
        return catalog
    catalog.version = version or int(connection.exec_driver_sql(
        'SHOW server_version_num').scalar())
    for table, column, kind in connection.exec_driver_sql(
            "SELECT c.relname, a.attname, "
            "format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p') AND a.attnum > 0 "
            "AND NOT a.attisdropped"):
        catalog.columns[renamed.get(table, table), column] = \
            statements.parse_type(kind)
    for table, name, definition, valid in connection.exec_driver_sql(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid), "
            "k.convalidated FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "AND k.contype = 'c'"):
        table = renamed.get(table, table)
        column = statements.not_null_check(definition)
        if column is not None:
            catalog.checks[table, name] = column
            if valid:
                catalog.validated.add((table, column))
    catalog.stable = frozenset(connection.exec_driver_sql(
        "SELECT proname FROM pg_proc GROUP BY proname "
        "HAVING bool_and(provolatile <> 'v')").scalars())
    return catalog


_EXECUTES = ('execute', 'exec_driver_sql', 'bulk_insert')


def _loops(script):
    """Loops in the script's upgrade() that execute statements: a data
    migration over rows, in Python."""
    with open(script.path, encoding='utf-8') as f:
        source = f.read()
    tree = ast.parse(source, script.path)
    upgrade = next((node for node in tree.body
                    if isinstance(node, ast.FunctionDef)
                    and node.name == 'upgrade'), None)
    found = []
    for node in ast.walk(upgrade) if upgrade else ():
        if isinstance(node, (ast.For, ast.While)) and any(
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and inner.func.attr in _EXECUTES
                for statement in node.body for inner in ast.walk(statement)):
            line = source.splitlines()[node.lineno - 1].strip()
            found.append(f'line {node.lineno}: {line}')
    return found


#: Waivers of rules added after a release, for that release's revisions:
#: a released script is frozen (every ledger that ran it keeps its
#: fingerprint), so it cannot take a waiver of its own.
RELEASED_WAIVERS = {
    '956783fe5a7b': {
        'volatile-default-rewrites':
            'the table is rewritten for its new columns in the upgrade '
            'transaction, while the servers are stopped (HaaS 0.3)',
    },
}


def waivers(script):
    """{rule: reason} the script declares, with those RELEASED_WAIVERS
    gives it; MigrationError if malformed."""
    declared = getattr(script.module, 'lint_waivers', None) or {}
    if not isinstance(declared, dict):
        raise MigrationError(f'revision {script.revision}: lint_waivers is '
                             f'{{rule: reason}}, not {declared!r}')
    declared = {**RELEASED_WAIVERS.get(script.revision, {}), **declared}
    for rule, reason in declared.items():
        if rule not in RULES:
            raise MigrationError(
                f'revision {script.revision} waives {rule!r}, which is no '
                f'rule (rules: {", ".join(RULES)})')
        if not isinstance(reason, str) or not reason.strip():
            raise MigrationError(f'revision {script.revision} waives {rule} '
                                 f'without a reason')
    return declared


def sections(runner, steps, start):
    """(branch, revision, its SQL) of each of the upgrade `steps` from
    version rows `start`, rendered offline for PostgreSQL."""
    output = io.StringIO()
    runner.unrendered = {}
    runner.sql('postgresql', steps, start, output)
    sql = output.getvalue()
    marks = list(_MARKER.finditer(sql))
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sql)
        yield mark.group('branch'), mark.group('revision'), \
            sql[mark.end():end]


def read_revision(sql, catalog):
    """The Effects of a revision's `sql`, after the revisions `catalog`
    has read; with the rules each breaks.

    A CREATE TABLE of a table the database has is the revision adopting
    it (it creates only what is missing): none of its statements on such
    tables run, and none is read.
    """
    existing = catalog.existing or set()
    adopted = set()
    timeout = False
    found = []
    for text, node in statements.parse(sql):
        if isinstance(node, statements.ast.VariableSetStmt):
            timeout = statements.lock_timeout(node, timeout)
            continue
        effect = statements.read(text, node, catalog)
        adopted |= set(effect.creates) & existing
        catalog.created |= set(effect.creates) - existing
        touched = set(effect.locks) | set(effect.creates)
        if touched and touched <= adopted:
            continue
        if not timeout and any(
                catalog.live(table) and statements.LOCKS.index(mode)
                >= statements.BLOCKING for table, mode in effect.locks.items()
                if table not in effect.creates):
            effect.rule('missing-lock-timeout')
        found.append(effect)
    return found


def lint(runner, branches, rendered, catalog=None):
    """The Findings of the `rendered` sections (what `sections` gave for
    `runner`), on the database `catalog` describes (None: without one,
    every table the sections do not create counts as holding rows)."""
    catalog = catalog or statements.Catalog()
    findings = []
    for branch, revision, sql in rendered:
        script = branches.revisions[revision]
        waived = waivers(script)
        try:
            effects = read_revision(sql, catalog)
        except MigrationError as e:
            raise MigrationError(f'revision {revision} of branch {branch} '
                                 f'cannot be linted: {e}') from e
        found = [(rule, effect.statement) for effect in effects
                 for rule in effect.rules]
        loops = _loops(script)
        found += [('python-loop-data-migration', loop) for loop in loops]
        error = runner.unrendered.get(script.revision)
        if error is not None and not loops:
            raise MigrationError(
                f'revision {script.revision} of branch {branch} cannot be '
                f'written out as SQL, so it cannot be linted: {error}')
        findings += [Finding(branch, script.revision, rule, statement,
                             waived.get(rule)) for rule, statement in found]
    return findings

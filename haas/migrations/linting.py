"""Unsafe-DDL lint: what a revision would lock or rewrite on a busy table.

Each revision's PostgreSQL SQL is rendered offline, as `upgrade --sql`
writes it, and read statement by statement; a table is "existing" unless a
revision linted before it in the same run creates it.  The script itself
is read for data migrations written as Python loops.  A revision waives a
rule with a reason of its own::

    lint_waivers = {'index-not-concurrent': 'tag has a few hundred rows'}
"""

import ast
import dataclasses
import io
import re

from haas.errors import MigrationError

RULES = {
    'index-not-concurrent':
        'an index built without CONCURRENTLY blocks writes to the table '
        'until it is built',
    'not-null-without-default':
        'a NOT NULL column added without a DEFAULT fails on a table with '
        'rows',
    'type-change-rewrites':
        'a column type change may rewrite the whole table under an ACCESS '
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
                f'{RULES[self.rule]}: {_short(self.statement)}')
        return line + (f' (waived: {self.reason})' if self.waived else '')


def _short(statement, width=120):
    text = ' '.join(statement.split())
    return text if len(text) <= width else text[:width - 3] + '...'


_MARKER = re.compile(r'^-- upgrade (?P<branch>\S+): (?P<revision>\w+)',
                     re.MULTILINE)
_NAME = r'"?(?P<table>\w+)"?'
_CREATE_TABLE = re.compile(rf'^CREATE TABLE (?:IF NOT EXISTS )?{_NAME}', re.I)
_CREATE_INDEX = re.compile(
    rf'^CREATE (?:UNIQUE )?INDEX (?P<concurrently>CONCURRENTLY )?'
    rf'(?:IF NOT EXISTS )?\S+ ON (?:ONLY )?{_NAME}', re.I)
_ALTER = re.compile(rf'^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_NAME} '
                    rf'(?P<rest>.*)$', re.I | re.S)
_DROP_TABLE = re.compile(rf'^DROP TABLE (?:IF EXISTS )?{_NAME}', re.I)


def statements(sql):
    """The statements of `sql`, split where a line ends one."""
    for part in re.split(r';\s*\n', sql):
        lines = [line for line in part.splitlines()
                 if line.strip() and not line.lstrip().startswith('--')]
        if lines:
            yield '\n'.join(lines).strip()


def _rules_of(statement, created):
    """The rules `statement` breaks on an existing table: any but those
    the linted revisions `created` (new, so empty)."""
    match = _CREATE_INDEX.match(statement)
    if match:
        if not match.group('concurrently') and match.group('table') not in \
                created:
            yield 'index-not-concurrent'
        return
    match = _DROP_TABLE.match(statement)
    if match:
        if match.group('table') not in created:
            yield 'breaking-rename-or-drop'
        return
    match = _ALTER.match(statement)
    if not match or match.group('table') in created:
        return
    rest = ' '.join(match.group('rest').split()).upper()
    if rest.startswith('ADD COLUMN') or rest.startswith('ADD ') and \
            not rest.startswith('ADD CONSTRAINT') and 'FOREIGN KEY' not in \
            rest and not rest.startswith('ADD CHECK'):
        if 'NOT NULL' in rest and 'DEFAULT' not in rest:
            yield 'not-null-without-default'
    # A column may be called `type`: ALTER COLUMN type DROP DEFAULT.
    if re.search(r'\bALTER (?:COLUMN )?(?!COLUMN )\S+ (?:SET DATA )?TYPE\b',
                 rest):
        yield 'type-change-rewrites'
    if (re.search(r'\bFOREIGN KEY\b', rest) or re.search(r'\bCHECK\b', rest)) \
            and rest.startswith('ADD') and 'NOT VALID' not in rest:
        yield 'constraint-not-valid'
    if rest.startswith('ADD') and re.search(r'\b(UNIQUE|PRIMARY KEY)\b',
                                            rest):
        yield 'index-not-concurrent'
    if rest.startswith('RENAME') or re.search(
            r'\bDROP (?:COLUMN )?(?!CONSTRAINT|DEFAULT|NOT)', rest):
        yield 'breaking-rename-or-drop'


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


def waivers(script):
    """{rule: reason} the script declares; MigrationError if malformed."""
    declared = getattr(script.module, 'lint_waivers', None) or {}
    if not isinstance(declared, dict):
        raise MigrationError(f'revision {script.revision}: lint_waivers is '
                             f'{{rule: reason}}, not {declared!r}')
    for rule, reason in declared.items():
        if rule not in RULES:
            raise MigrationError(
                f'revision {script.revision} waives {rule!r}, which is no '
                f'rule (rules: {", ".join(RULES)})')
        if not isinstance(reason, str) or not reason.strip():
            raise MigrationError(f'revision {script.revision} waives {rule} '
                                 f'without a reason')
    return declared


def lint(runner, branches, steps, start):
    """The Findings of the upgrade `steps` from version rows `start`."""
    output = io.StringIO()
    runner.unrendered = {}
    runner.sql('postgresql', steps, start, output)
    sql = output.getvalue()
    marks = list(_MARKER.finditer(sql))
    created = set()
    findings = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sql)
        script = branches.revisions[mark.group('revision')]
        branch = mark.group('branch')
        waived = waivers(script)
        found = []
        for statement in statements(sql[mark.end():end]):
            table = _CREATE_TABLE.match(statement)
            if table:
                created.add(table.group('table'))
                continue
            found += [(rule, statement)
                      for rule in dict.fromkeys(_rules_of(statement,
                                                          created))]
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

"""`db lint`'s check that an expand revision only adds.

The previous release's servers run on what an expand revision leaves
(haas.migrations.phases), so its PostgreSQL SQL, rendered offline as `db
lint` renders it, must not drop, rename, make a column NOT NULL, add one
NOT NULL without a default, change a column's type, or delete rows, on a
table that a revision of the same run did not create.  No waiver: a
revision that must do one of these is a contract revision.
"""

import dataclasses
import io
import re

from haas.migrations import phases
from haas.migrations.linting.sql import parse as parse_sql

RULES = {
    'expand-drops':
        'a drop (of a table, a column, a default) or a delete removes what '
        'the previous release reads or relies on',
    'expand-renames':
        'a rename breaks the previous release, which uses the old name',
    'expand-sets-not-null':
        'a NOT NULL column refuses the previous release\'s inserts that '
        'leave it out',
    'expand-changes-type':
        'a type change may give the previous release values it cannot read',
}
ADVICE = 'make it additive, or declare it phase = \'contract\''

_MARKER = re.compile(r'^-- upgrade (?P<branch>\S+): (?P<revision>\w+)',
                     re.MULTILINE)
_NAME = r'"?(?P<table>\w+)"?'
_CREATE = re.compile(rf'^CREATE TABLE (?:IF NOT EXISTS )?{_NAME}', re.I)
_DROP = re.compile(rf'^(?:DROP (?:TABLE|VIEW|SEQUENCE|TYPE) '
                   rf'(?:IF EXISTS )?|DELETE FROM |TRUNCATE (?:TABLE )?)'
                   rf'{_NAME}', re.I)
_ALTER = re.compile(rf'^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_NAME} '
                    rf'(?P<rest>.*)$', re.I | re.S)


@dataclasses.dataclass
class Finding:
    """A statement of an expand revision that is not additive; as
    haas.migrations.linting's, never waived."""

    branch: str
    revision: str
    rule: str
    statement: str
    waived = False
    reason = None

    def as_dict(self):
        return {'branch': self.branch, 'revision': self.revision,
                'rule': self.rule, 'statement': self.statement,
                'waived': False, 'reason': None}

    def __str__(self):
        text = ' '.join(self.statement.split())
        if len(text) > 120:
            text = text[:117] + '...'
        return (f'{self.branch} {self.revision}: {self.rule}: '
                f'{RULES[self.rule]} ({ADVICE}): {text}')


def rules_of(statement, created=()):
    """The rules `statement` breaks, on a table not in `created`."""
    match = _DROP.match(statement)
    if match:
        if match.group('table') not in created:
            yield 'expand-drops'
        return
    match = _ALTER.match(statement)
    if not match or match.group('table') in created:
        return
    rest = ' '.join(match.group('rest').split()).upper()
    if rest.startswith('RENAME'):
        yield 'expand-renames'
    if re.search(r'\bDROP (?!CONSTRAINT|NOT NULL)', rest):
        yield 'expand-drops'
    if re.search(r'\bSET NOT NULL\b', rest) or (
            rest.startswith('ADD') and not rest.startswith('ADD CONSTRAINT')
            and 'NOT NULL' in rest and 'DEFAULT' not in rest):
        yield 'expand-sets-not-null'
    if re.search(r'\bALTER (?:COLUMN )?(?!COLUMN )\S+ (?:SET DATA )?TYPE\b',
                 rest):
        yield 'expand-changes-type'


def findings(runner, branches, steps, start):
    """The Findings of the expand revisions among the upgrade `steps` from
    version rows `start`: their PostgreSQL SQL, read statement by
    statement."""
    output = io.StringIO()
    runner.unrendered = {}
    runner.sql('postgresql', steps, start, output)
    sql = output.getvalue()
    marks = list(_MARKER.finditer(sql))
    created = set()
    found = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sql)
        script = branches.revisions[mark.group('revision')]
        expand = phases.phase_of(script) == phases.EXPAND
        # The statements after the marker's line, read by PostgreSQL's
        # parser (the linter's own).
        body = sql[mark.end():end].partition('\n')[2]
        for statement, _ in parse_sql(body):
            table = _CREATE.match(statement)
            if table:
                created.add(table.group('table'))
            elif expand:
                found += [Finding(mark.group('branch'), script.revision,
                                  rule, statement)
                          for rule in dict.fromkeys(rules_of(statement,
                                                             created))]
    return found

"""Every finding of squawk, the PostgreSQL migration linter, in a rule
class that `db lint` claims, is matched by a `db lint` finding of that
class on the same statement: on the SQL of the upgrade of the HaaS 0.2
dump, stamped at 0.2, to the heads."""

import json
import os
import subprocess
import sys

import pglast
import pytest

from support.commands import cli
from support.config import LEGACY_EXTENSIONS, config_text
from support.legacy import load_dump

SQUAWK = os.path.join(os.path.dirname(sys.executable), 'squawk')

#: squawk's rule -> the `db lint` rule that claims its class.  squawk says
#: a UNIQUE constraint is missing NOT VALID too (it scans the table):
#: `db lint` says so as index-not-concurrent (it builds the index under
#: lock), which disallowed-unique-constraint also maps to.
CLAIMED = {
    'require-concurrent-index-creation': 'index-not-concurrent',
    'disallowed-unique-constraint': 'index-not-concurrent',
    'adding-required-field': 'not-null-without-default',
    'changing-column-type': 'type-change-rewrites',
    'constraint-missing-not-valid': ('constraint-not-valid',
                                     'index-not-concurrent'),
    'adding-foreign-key-constraint': 'constraint-not-valid',
    'renaming-column': 'breaking-rename-or-drop',
    'renaming-table': 'breaking-rename-or-drop',
    'ban-drop-column': 'breaking-rename-or-drop',
    'ban-drop-table': 'drop-table',
    'adding-field-with-default': 'volatile-default-rewrites',
    'adding-not-nullable-field': 'set-not-null-without-check',
}


def squashed(statement):
    return ' '.join(statement.split())


def statement_at(sql, line):
    """The statement of `sql` that covers `line` (counted from 0, as squawk
    counts)."""
    data = sql.encode('utf-8')
    for raw in pglast.parse_sql(sql):
        end = raw.stmt_location + raw.stmt_len if raw.stmt_len else len(data)
        first = data[:raw.stmt_location].count(b'\n')
        text = data[raw.stmt_location:end].decode('utf-8')
        last = first + text.count('\n')
        if first <= line <= last:
            lines = [x for x in text.splitlines()
                     if x.strip() and not x.lstrip().startswith('--')]
            return squashed('\n'.join(lines))
    raise AssertionError(f'no statement at line {line}')


@pytest.fixture
def stamped_at_0_2(pg_databases, dump):
    uri = pg_databases.new()
    load_dump(uri, dump)
    config = config_text(uri, LEGACY_EXTENSIONS)
    assert cli(['db', 'upgrade', '--to-release', '0.2'],
               config).exit_code == 0
    return config


def test_every_squawk_finding_db_lint_claims_is_a_db_lint_finding(
        stamped_at_0_2, tmp_path):
    sql = cli(['db', 'upgrade', '--sql', '--plan'], stamped_at_0_2).stdout
    path = tmp_path / 'upgrade.sql'
    path.write_text(sql, encoding='utf-8')
    squawk = subprocess.run([SQUAWK, '--reporter', 'json', '--pg-version',
                             '15', str(path)], capture_output=True,
                            text=True, timeout=120)
    linted = cli(['db', 'lint', '--json', '--postgresql-version', '15'],
                 stamped_at_0_2)

    claimed = {(f['rule_name'], statement_at(sql, f['line']))
               for f in json.loads(squawk.stdout)
               if f['rule_name'] in CLAIMED}
    found = {(f['rule'], squashed(f['statement']))
             for f in json.loads(linted.stdout)['findings']}
    unmatched = {(rule, statement) for rule, statement in claimed
                 if not any((ours, statement) in found
                            for ours in rules_of(rule))}
    assert len(claimed) >= 30  # 35 pairs of rule and statement today
    assert unmatched == set()


def rules_of(squawk_rule):
    ours = CLAIMED[squawk_rule]
    return (ours,) if isinstance(ours, str) else ours

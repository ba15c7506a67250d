"""Pre-migration data checks: SQL that must return no rows before a
revision may run, such as "no two nodes share a label" before a unique
constraint on node.label.

A script declares them next to its revision identifiers::

    data_checks = [
        ('SELECT label, count(*) FROM node GROUP BY label '
         'HAVING count(*) > 1',
         'node labels must be unique: rename the duplicates'),
    ]

A check that SQL cannot state (one that needs the key file to decrypt,
`haas.migrations.ops.key_check`) is a function in place of the SQL: it
takes the connection and returns the offending rows.

`upgrade` runs the checks of every pending revision before it runs any of
them, and `upgrade --plan` shows what they find.  A check on a table that a
pending revision creates cannot run that early; it runs at the start of the
revision's own transaction.  A check that ran clean before is not run again
there, where on a big table it would cost a second scan: a row written in
between (by an earlier revision of the same upgrade, or by a server) that
breaks the rule breaks the constraint that the revision adds too, and when a
revision fails its checks run again, to name the rows instead of the
constraint.  A rule that no constraint of the revision enforces, on data
that an earlier revision of the same upgrade writes, is that revision's to
keep.
"""

import dataclasses

import sqlalchemy as sa

from haas.errors import MigrationError

#: The offending rows a finding shows.
SAMPLE = 3


@dataclasses.dataclass
class Finding:
    """A check that returned rows."""

    branch: str
    revision: str
    message: str
    count: int
    sample: list

    def __str__(self):
        rows = ', '.join(_row(r) for r in self.sample)
        more = ', ...' if self.count > len(self.sample) else ''
        return (f'revision {self.revision} of branch {self.branch} cannot '
                f'run: {self.message} ({self.count} '
                f'row{"s" if self.count != 1 else ""}: {rows}{more})')

    def as_dict(self):
        return {'branch': self.branch, 'revision': self.revision,
                'message': self.message, 'count': self.count,
                'sample': [[str(v) for v in row] for row in self.sample]}


def _row(row):
    return '(' + ', '.join(str(v) for v in row) + ')'


def declared(script):
    """The (sql, message) checks a script declares; `sql` may be a
    function of the connection that returns the offending rows."""
    checks = getattr(script.module, 'data_checks', None) or ()
    for check in checks:
        if not (isinstance(check, tuple) and len(check) == 2
                and (isinstance(check[0], str) or callable(check[0]))
                and isinstance(check[1], str)):
            raise MigrationError(
                f'revision {script.revision}: data_checks holds '
                f'(sql, message) pairs of strings, not {check!r}')
    return list(checks)


def run(connection, branches, script, sql, message):
    """The Finding of one check, or None; DBAPIError if it cannot run."""
    if callable(sql):
        found = [tuple(r) for r in sql(connection)]
        sample, count = found[:SAMPLE], len(found)
    else:
        result = connection.execute(sa.text(sql))
        sample, count = [], 0
        for rows in iter(lambda: result.fetchmany(1000), []):
            if len(sample) < SAMPLE:
                sample += [tuple(r) for r in rows[:SAMPLE - len(sample)]]
            count += len(rows)
    if not count:
        return None
    return Finding(branches.branch_of(script.revision), script.revision,
                   message, count, sample)


def before(connection, branches, scripts, passed=None):
    """The Findings of the checks of `scripts` (to be upgraded), on the
    database as it is; a check that cannot run yet is left out (its
    revision runs it).  Each (revision, sql) that ran and found nothing is
    added to the set `passed`, if given."""
    findings = []
    for script in scripts:
        for sql, message in declared(script):
            try:
                with connection.begin_nested():
                    finding = run(connection, branches, script, sql, message)
            except sa.exc.DBAPIError:
                continue  # a table a pending revision creates, say
            if finding is not None:
                findings.append(finding)
            elif passed is not None:
                passed.add((script.revision, sql))
    return findings


def as_comment(sql):
    """A check as it is written into offline SQL: its statement, or what
    a function checks, which no SQL can."""
    if callable(sql):
        return (f'run by haas-admin db upgrade, not SQL: '
                f'{" ".join((sql.__doc__ or sql.__name__).split())}')
    return " ".join(sql.split())


def refusal(findings):
    """One line for an upgrade that `findings` stop."""
    return '; '.join(str(f) for f in findings) + (
        '; nothing was changed')

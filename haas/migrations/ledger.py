"""The migration ledger: what ran on this database, when, and which code.

Every revision applied or reverted, every stamp, every `create` and every
accepted change leaves a row in haas_schema_ledger, a table of the built-in
branch haas.migrations.ledger.  A row carries the fingerprint of the code
that ran: a hash of the script's syntax tree, without docstrings and
without the function of the other direction, so that reformatting a
script or editing a comment leaves it as it was.  `db verify` compares
the fingerprints of the applied revisions with their scripts as they are
now.
"""

import ast
import dataclasses
import datetime
import functools
import hashlib

import sqlalchemy as sa

from haas.migrations import alembic_private
from haas.migrations.registry import LEDGER
from haas.model import db

LEDGER_TABLE = 'haas_schema_ledger'

#: What a row records.  'before ledger' rows were back-filled when the
#: ledger was created, for the revisions the database had then.
UPGRADE, DOWNGRADE, STAMP, UNSTAMP, CREATE, ACCEPT = (
    'upgrade', 'downgrade', 'stamp', 'unstamp', 'create', 'accept')
#: A branch built from its checkpoint (haas.migrations.checkpoints), with
#: the checkpoint's fingerprint: none of the revisions it replaces ran.
CHECKPOINT = 'checkpoint'

OK, FAILED, BEFORE_LEDGER = 'ok', 'failed', 'before ledger'

ledger_table = db.Table(
    LEDGER_TABLE,
    db.Column('id', db.Integer, primary_key=True),
    db.Column('branch', db.String(255), nullable=False),
    db.Column('revision', db.String(32), nullable=False),
    db.Column('direction', db.String(16), nullable=False),
    db.Column('outcome', db.String(16), nullable=False),
    # UTC; unknown for the rows back-filled when the ledger was created.
    db.Column('started_at', db.DateTime, nullable=True),
    db.Column('duration', db.Float, nullable=True),
    db.Column('haas_version', db.String(64), nullable=False),
    db.Column('fingerprint', db.String(64), nullable=True),
    db.Column('error', db.Text, nullable=True),
    db.Column('reason', db.Text, nullable=True),
    info={'module': __name__},
)


# --- fingerprints ---------------------------------------------------------

def fingerprint(path, direction=UPGRADE):
    """The fingerprint of the script at `path` for `direction`."""
    with open(path, 'rb') as f:
        return _fingerprint(f.read(), path, direction)


@functools.lru_cache(maxsize=1024)
def _fingerprint(source, path, direction):
    # Each revision applied, checked or listed asks again: a script's
    # bytes are parsed once per process.
    tree = ast.parse(source, path)
    other = DOWNGRADE if direction == UPGRADE else UPGRADE
    # A `phase` (haas.migrations.phases) says when a script may run, not
    # what it does: declared on a script that ran already, it changes
    # nothing that ran.
    tree.body = [node for node in tree.body
                 if not (isinstance(node, (ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                         and node.name == other)
                 and not _declares_phase(node)]
    parts = []
    _flatten(tree, parts)
    return hashlib.sha256('\0'.join(parts).encode('utf-8')).hexdigest()


def _declares_phase(node):
    return isinstance(node, ast.Assign) and [
        getattr(t, 'id', None) for t in node.targets] == ['phase']


_WITH_DOCSTRINGS = (ast.Module, ast.ClassDef, ast.FunctionDef,
                    ast.AsyncFunctionDef)


def _flatten(node, parts):
    """`node` as strings: its type, then each field that is set, with its
    value; docstrings left out.  Fields that are None or empty are left out
    too, so that the ones a newer Python adds to its nodes (empty in older
    code) change nothing."""
    parts.append(type(node).__name__)
    for name in node._fields:
        value = getattr(node, name, None)
        if name == 'body' and isinstance(node, _WITH_DOCSTRINGS) and \
                _is_docstring(value[0] if value else None):
            value = value[1:]
        if value is None or value == []:
            continue
        parts.append(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST):
                _flatten(item, parts)
            else:
                parts.append(repr(item))


def _is_docstring(statement):
    return (isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


# --- rows -----------------------------------------------------------------

def utc(timestamp=None):
    """The time rows record, of `timestamp` (time.time()'s) or now: UTC,
    without a zone, which SQLite would not keep."""
    if timestamp is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    else:
        moment = datetime.datetime.fromtimestamp(timestamp,
                                                 datetime.timezone.utc)
    return moment.replace(tzinfo=None)


def entry(branch, revision, direction, outcome=OK, started_at=None,
          duration=None, fingerprint=None, error=None, reason=None):
    from haas.version import __version__
    return {'branch': branch, 'revision': revision, 'direction': direction,
            'outcome': outcome, 'started_at': started_at,
            'duration': duration, 'haas_version': __version__,
            'fingerprint': fingerprint, 'error': error, 'reason': reason}


def exists(connection):
    return sa.inspect(connection).has_table(LEDGER_TABLE)


def write(connection, entries):
    if entries:
        connection.execute(ledger_table.insert(), list(entries))


def applied(branches, current):
    """(branch, Script) of every revision applied, given `current`, each
    branch's revision: each branch's scripts up to and including it."""
    found = []
    for branch in branches.names:  # in the order of the branches
        if current.get(branch) is not None:
            found += [(branch, script) for script in branches.by_branch[
                branch][:branches.position(branch, current[branch])]]
    return found


def backfill(connection, branches, current):
    """The rows of the revisions a database had before its ledger, with
    the fingerprints of their scripts as they are now."""
    write(connection, [
        entry(branch, script.revision, UPGRADE, BEFORE_LEDGER,
              fingerprint=fingerprint(script.path))
        for branch, script in applied(branches, current)
        if branch != LEDGER])


class Writer:
    """Writes the rows of the revisions a Runner applies: in the
    revision's transaction, or after its rollback for a failure."""

    def __init__(self, branches):
        self.branches = branches
        self._present_on = None  # the connection known to have the table

    def _present(self, connection):
        if self._present_on is not connection:
            if not exists(connection):
                return False
            self._present_on = connection
        return True

    def applied(self, connection, step, started, duration, current,
                checkpoint=None):
        """After `step` (Alembic's MigrationInfo), which began at `started`
        (time.time()) and took `duration` seconds; `current` is each
        branch's revision once it is applied; `checkpoint` the checkpoint
        the step ran, if it ran one."""
        started_at = utc(started)
        script = step.up_revision
        branch = self.branches.branch_of(script.revision)
        first_of_ledger = (branch == LEDGER
                           and not alembic_private.down_revisions(script))
        if first_of_ledger and not step.is_upgrade:
            self._present_on = None  # its downgrade dropped the table
            return
        if not self._present(connection):
            return
        if first_of_ledger and step.is_upgrade and not step.is_stamp:
            backfill(connection, self.branches, current)
        if checkpoint is not None:
            write(connection, [entry(
                checkpoint.branch, checkpoint.revision, CHECKPOINT,
                started_at=started_at, duration=duration,
                fingerprint=fingerprint(checkpoint.path))])
            return
        if step.is_stamp:
            direction = STAMP if step.is_upgrade else UNSTAMP
            write(connection, [
                entry(self.branches.branch_of(revision), revision, direction,
                      started_at=started_at, duration=duration)
                for revision in step.up_revision_ids])
            return
        direction = UPGRADE if step.is_upgrade else DOWNGRADE
        write(connection, [entry(
            branch, script.revision, direction, started_at=started_at,
            duration=duration, fingerprint=fingerprint(script.path,
                                                       direction))])

    def failed(self, connection, script, upgrade, started, duration, error):
        """After the rollback of `script`'s failed revision, in a
        transaction of its own."""
        started_at = utc(started)
        self._present_on = None
        if connection.in_transaction():
            connection.rollback()
        direction = UPGRADE if upgrade else DOWNGRADE
        with connection.begin():
            if not exists(connection):
                return  # the ledger's own first revision failed
            write(connection, [entry(
                self.branches.branch_of(script.revision), script.revision,
                direction, FAILED, started_at=started_at, duration=duration,
                fingerprint=fingerprint(script.path, direction),
                error=error)])


# --- reading --------------------------------------------------------------

def rows(connection, branch=None):
    """The ledger's rows, oldest first; only `branch`'s if given."""
    query = sa.select(ledger_table).order_by(ledger_table.c.id)
    if branch is not None:
        query = query.where(ledger_table.c.branch == branch)
    return [dict(row) for row in connection.execute(query).mappings()]


@dataclasses.dataclass
class Change:
    """An applied revision whose script changed since it ran."""

    branch: str
    revision: str
    path: str
    recorded: str        # the fingerprint the ledger has
    now: str             # the script's fingerprint now
    since: datetime.datetime | None  # of the row that recorded it, if known
    outcome: str         # of the row that recorded it
    direction: str       # of that row: upgrade, or accept

    def as_dict(self):
        return {'branch': self.branch, 'revision': self.revision,
                'file': self.path, 'recorded': self.recorded,
                'now': self.now, 'outcome': self.outcome,
                'direction': self.direction,
                'since': None if self.since is None else
                self.since.isoformat(timespec='seconds') + 'Z'}


def changes(connection, branches, current):
    """The Changes among the applied revisions of `current`, each branch's
    revision, and how many applied revisions have a fingerprint."""
    last = {}
    for row in rows(connection):
        if row['fingerprint'] is not None and row['outcome'] != FAILED and \
                row['direction'] in (UPGRADE, ACCEPT):
            last[row['revision']] = row
    found, checked = [], 0
    for branch, script in applied(branches, current):
        row = last.get(script.revision)
        if row is None:
            continue  # created from the models, or stamped: nothing ran
        checked += 1
        now_ = fingerprint(script.path)
        if now_ != row['fingerprint']:
            found.append(Change(branch, script.revision, script.path,
                                row['fingerprint'], now_, row['started_at'],
                                row['outcome'], row['direction']))
    return found, checked
